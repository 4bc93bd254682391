import Glibc

/// Errors the host sockets of UDP and echo flows learn about what the guest sent (IP_RECVERR: a port or
/// host unreachable, a router's time exceeded, a smaller path MTU) go to the guest as the ICMP or ICMPv6
/// error a router on its path would have sent: from the address that reported it, quoting the guest's
/// packet. So a UDP client gets ECONNREFUSED at once, traceroute sees every hop, and a guest sending
/// datagrams too large for the path learns its MTU.
///
/// At most one error per packet the host's stack reports on, and no more than 20 at once and 100 a second
/// after that (ErrorRateLimit): a guest flooding closed ports can't make us flood it back.
final class ICMPErrorRelay {

    private let port: GuestPort
    private let ourMAC: MACAddress
    /// Who the guest hears an error from (AddressTranslation.guestReporter).
    var translation: AddressTranslation
    /// What an error quotes of the packet, behind room for a UDP header of ours.
    private let quote = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
    private let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: ICMPErrorFrame.largestFrame, alignment: 16)
    private var limit = ErrorRateLimit(perSecond: 100, burst: 20)

    init(configuration: RuntimeConfiguration, port: GuestPort) {
        self.port = port
        ourMAC = configuration.ourMAC
        translation = AddressTranslation(configuration)
    }

    deinit {
        quote.deallocate()
        frame.deallocate()
    }

    /// What the guest sent that an error is about.
    enum Sent {
        /// A UDP datagram: the error queue gives back its payload, the header is rebuilt from the flow.
        case udp
        /// An echo request: the error queue gives back the message as the ping socket sent it (with the
        /// socket's identifier, which goes back to the guest's).
        case echo
    }

    /// Reads every error queued on `fd`, the host socket of the flow `key` (as the guest sees it) whose
    /// packets go to `hostDestination`, and relays those a router would report.
    func drain(_ fd: Int32, key: FlowKey, sent: Sent, hostDestination: IPAddress, hopLimit: UInt8, now: Int) {
        let headerRoom = 8
        let payload = UnsafeMutableRawBufferPointer(rebasing: quote[headerRoom...])
        defer {
            // An error the kernel could not queue (the socket's buffer full) stays pending and keeps
            // EPOLLERR up: SO_ERROR takes it.
            _ = SocketCalls.pendingError(fd)
        }
        while let (error, length) = SocketCalls.receiveError(fd, into: payload) {
            guard error.error != 0, let kind = Self.relayable(error, ipv4: key.guest.isIPv4) else { continue }
            let transport: UnsafeMutableRawBufferPointer
            let protocolNumber: UInt8
            switch sent {
            case .udp:
                transport = UnsafeMutableRawBufferPointer(rebasing: quote[0..<headerRoom + length])
                quoteUDP(transport, key: key)
                protocolNumber = IPProtocol.udp
            case .echo:
                guard length >= 8 else { continue }
                transport = UnsafeMutableRawBufferPointer(rebasing: payload[0..<length])
                quoteEcho(transport, key: key)
                protocolNumber = key.guest.isIPv4 ? IPProtocol.icmp : IPProtocol.icmpv6
            }
            let reporter = translation.guestReporter(of: error.offender, peer: key.remote.ip, hostDestination: hostDestination,
                                                     guest: key.guest.ip)
            guard let built = ICMPErrorFrame.build(into: frame, type: kind.type, code: kind.code, info: kind.info,
                                                   reporter: reporter, guest: key.guest.ip, remote: key.remote.ip,
                                                   protocolNumber: protocolNumber, hopLimit: hopLimit,
                                                   transport: UnsafeRawBufferPointer(transport), sourceMAC: ourMAC,
                                                   destinationMAC: port.guestMAC) else { continue }
            guard limit.take(now: now) else { continue }
            port.send(UnsafeRawBufferPointer(start: frame.baseAddress, count: built))
        }
    }

    /// The ICMP error to send for one the socket reported, if a router would send one: destination
    /// unreachable (any code: port, host, net, prohibited, fragmentation needed with its MTU) and time
    /// exceeded, and the same for ICMPv6 with packet too big; a datagram too large for the path MTU the
    /// host's stack knows already (a local EMSGSIZE) as fragmentation needed / packet too big.
    static func relayable(_ error: QueuedSocketError, ipv4: Bool) -> (type: UInt8, code: UInt8, info: UInt32)? {
        let originLocal = QueuedSocketError.originLocal, originICMP = QueuedSocketError.originICMP
        let originICMP6 = QueuedSocketError.originICMP6
        switch (error.origin, ipv4) {
        case (originICMP, true):
            guard error.type == ICMPErrorFrame.destinationUnreachable4 || error.type == ICMPErrorFrame.timeExceeded4 else { return nil }
            let fragmentation = error.type == ICMPErrorFrame.destinationUnreachable4 && error.code == ICMPErrorFrame.fragmentationNeeded4
            return (error.type, error.code, fragmentation ? error.info : 0)
        case (originICMP6, false):
            switch error.type {
            case ICMPErrorFrame.destinationUnreachable6, ICMPErrorFrame.timeExceeded6: return (error.type, error.code, 0)
            case ICMPErrorFrame.packetTooBig6: return (error.type, 0, error.info)
            default: return nil
            }
        case (originLocal, true) where error.error == EMSGSIZE && error.info >= 68:
            return (ICMPErrorFrame.destinationUnreachable4, ICMPErrorFrame.fragmentationNeeded4, error.info)
        case (originLocal, false) where error.error == EMSGSIZE && error.info >= 1280:
            return (ICMPErrorFrame.packetTooBig6, 0, error.info)
        default:
            return nil
        }
    }

    /// The guest's UDP header in front of the payload the error quoted: its ports, the length of what we
    /// have, and a checksum over that.
    private func quoteUDP(_ datagram: UnsafeMutableRawBufferPointer, key: FlowKey) {
        datagram.storeBigEndian(key.guestPort, at: 0)
        datagram.storeBigEndian(key.remotePort, at: 2)
        datagram.storeBigEndian(UInt16(truncatingIfNeeded: datagram.count), at: 4)
        datagram.storeBigEndian(UInt16(0), at: 6)
        var sum: UInt16
        switch (key.guest.ip, key.remote.ip) {
        case (.v4(let guest), .v4(let remote)):
            sum = guest.bytes.withUnsafeBytes { g in remote.bytes.withUnsafeBytes { r in
                InternetChecksum.ipv4(source: g, destination: r, protocolNumber: IPProtocol.udp, segment: UnsafeRawBufferPointer(datagram))
            } }
        case (.v6(let guest), .v6(let remote)):
            sum = guest.bytes.withUnsafeBytes { g in remote.bytes.withUnsafeBytes { r in
                InternetChecksum.ipv6(source: g, destination: r, nextHeader: IPProtocol.udp, segment: UnsafeRawBufferPointer(datagram))
            } }
        default:
            return
        }
        if sum == 0 { sum = 0xFFFF }
        datagram.storeBigEndian(sum, at: 6)
    }

    /// The echo request as the guest sent it: its identifier back in place, the checksum redone.
    private func quoteEcho(_ message: UnsafeMutableRawBufferPointer, key: FlowKey) {
        message.storeBigEndian(key.guestPort, at: 4)
        message.storeBigEndian(UInt16(0), at: 2)
        switch (key.guest.ip, key.remote.ip) {
        case (.v4, .v4):
            var sum = InternetChecksum()
            sum.add(UnsafeRawBufferPointer(message))
            message.storeBigEndian(sum.value, at: 2)
        case (.v6(let guest), .v6(let remote)):
            let sum = guest.bytes.withUnsafeBytes { g in remote.bytes.withUnsafeBytes { r in
                InternetChecksum.ipv6(source: g, destination: r, nextHeader: IPProtocol.icmpv6, segment: UnsafeRawBufferPointer(message))
            } }
            message.storeBigEndian(sum, at: 2)
        default:
            break
        }
    }
}
