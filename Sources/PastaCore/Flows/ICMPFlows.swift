import Glibc

/// One echo flow: the guest's pings with one identifier to one peer, through an unprivileged ping socket.
final class ICMPFlow {
    let index: Int
    let generation: UInt32
    let key: FlowKey
    let socket: Descriptor
    var lastActivity: Int
    /// A reply came back: the peer answers pings.
    var answered = false
    /// The TTL (hop limit) the socket sends with: the guest's, so traceroute -I works (64, Linux's
    /// default, to begin with).
    var timeToLive: UInt8 = 64

    init(index: Int, generation: UInt32, key: FlowKey, socket: Descriptor, now: Int) {
        self.index = index
        self.generation = generation
        self.key = key
        self.socket = socket
        lastActivity = now
    }
}

/// ICMP and ICMPv6 echo through ping sockets (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6): no privileges needed where
/// net.ipv4.ping_group_range includes our group. The guest's identifier is kept where bind() allows it;
/// either way, replies reach the guest with its own identifier.
public final class ICMPFlows {
    /// Flows go after 60 s idle; sooner (10 s) if no reply ever came: a guest pinging addresses that don't
    /// answer holds a ping socket per identifier and peer only that long.
    static let idleTimeout = 60_000
    static let unansweredTimeout = 10_000
    static let echoRequest4: UInt8 = 8, echoReply4: UInt8 = 0
    static let echoRequest6: UInt8 = 128, echoReply6: UInt8 = 129

    private let table = FlowTable<ICMPFlow>(capacity: 1024)
    private let poll: EventPoll
    private let port: GuestPort
    private let ourMAC: MACAddress
    var translation: AddressTranslation
    private let frame: UnsafeMutableRawBufferPointer
    private var notPermittedLogged = false
    /// Each flow's first and last line with `-d`.
    private let flowLog = FlowLog()
    private let errors: ICMPErrorRelay

    init(configuration: RuntimeConfiguration, poll: EventPoll, port: GuestPort, errors: ICMPErrorRelay) {
        self.errors = errors
        self.poll = poll
        self.port = port
        ourMAC = configuration.ourMAC
        translation = AddressTranslation(configuration)
        frame = UnsafeMutableRawBufferPointer.allocate(byteCount: FrameBatch.frameCapacity, alignment: 64)
    }

    deinit { frame.deallocate() }

    /// The identifier of a well-formed echo request (type, code 0, at least the 8-byte header, correct
    /// checksum), or nil for anything else.
    static func echoIdentifier(ipv4 packet: IPv4Packet) -> UInt16? {
        let message = packet.payload
        guard packet.protocolNumber == IPProtocol.icmp, message.count >= 8, message[0] == echoRequest4,
              message[1] == 0
        else { return nil }
        var sum = InternetChecksum()
        sum.add(message)
        return sum.value == 0 ? message.bigEndianUInt16(at: 4) : nil
    }

    static func echoIdentifier(ipv6 packet: IPv6Packet) -> UInt16? {
        let message = packet.payload
        guard packet.nextHeader == IPProtocol.icmpv6, message.count >= 8, message[0] == echoRequest6,
              message[1] == 0,
              InternetChecksum.ipv6(source: packet.source, destination: packet.destination,
                                    nextHeader: IPProtocol.icmpv6, segment: message) == 0
        else { return nil }
        return message.bigEndianUInt16(at: 4)
    }

    /// An ICMP message from the guest; only well-formed echo requests are forwarded.
    public func handle(ipv4 packet: IPv4Packet, now: Int) {
        guard let identifier = Self.echoIdentifier(ipv4: packet) else { return logDebug("ICMP: not a valid echo request") }
        let key = FlowKey(guest: FlowAddress(ipv4: packet.sourceAddress.value),
                          remote: FlowAddress(ipv4: packet.destinationAddress.value),
                          guestPort: identifier, remotePort: 0)
        forward(packet.payload, key: key, timeToLive: packet.timeToLive, now: now)
    }

    public func handle(ipv6 packet: IPv6Packet, now: Int) {
        guard let identifier = Self.echoIdentifier(ipv6: packet) else { return logDebug("ICMPv6: not a valid echo request") }
        let message = packet.payload
        let source = packet.sourceAddress, destination = packet.destinationAddress
        if destination.isMulticast { return }
        let key = FlowKey(guest: FlowAddress(high: source.high, low: source.low),
                          remote: FlowAddress(high: destination.high, low: destination.low),
                          guestPort: identifier, remotePort: 0)
        forward(message, key: key, timeToLive: packet.hopLimit, now: now)
    }

    private func forward(_ message: UnsafeRawBufferPointer, key: FlowKey, timeToLive: UInt8, now: Int) {
        let destination = translation.hostDestination(for: key.remote.ip)
        let flow: ICMPFlow
        if let index = table.index(of: key), let existing = table[index] {
            flow = existing
        } else {
            guard let created = open(key, destination: destination, now: now) else { return }
            flow = created
        }
        flow.lastActivity = now
        if flow.timeToLive != timeToLive, SocketCalls.setTimeToLive(flow.socket.raw, ipv4: key.guest.isIPv4, timeToLive) {
            flow.timeToLive = timeToLive
        }
        // The kernel fills in the socket's identifier and the checksum. A send an ICMP error failed (it
        // arrived since the last one) goes again.
        if SocketCalls.failedOnReportedError(SocketCalls.send(flow.socket.raw, message, to: destination, port: 0)) {
            _ = SocketCalls.send(flow.socket.raw, message, to: destination, port: 0)
        }
    }

    private func open(_ key: FlowKey, destination: IPAddress, now: Int) -> ICMPFlow? {
        let isIPv4 = destination.family == AF_INET
        let opened = SocketCalls.open(family: destination.family, type: SocketCalls.datagram,
                                      protocolNumber: isIPv4 ? Int32(IPPROTO_ICMP) : Int32(IPPROTO_ICMPV6))
        guard case .success(let fd) = opened else {
            if case .failure(let error) = opened, !notPermittedLogged {
                logWarning("ICMP: can't open a ping socket (\(errorDescription(error.code))): echo requests are dropped; see net.ipv4.ping_group_range")
                notPermittedLogged = true
            }
            return nil
        }
        let socket = Descriptor(fd)
        SocketCalls.queueErrors(fd, ipv4: isIPv4)
        let any = [UInt8](repeating: 0, count: isIPv4 ? 4 : 16)
        // The identifier is the socket's "port": keep the guest's if it is free, else let the kernel pick.
        if SocketCalls.bind(fd, family: destination.family, address: any, port: key.guestPort, device: nil) != nil {
            _ = SocketCalls.bind(fd, family: destination.family, address: any, port: 0, device: nil)
        }
        guard let flow = table.insert(key, { index, generation in
            ICMPFlow(index: index, generation: generation, key: key, socket: socket, now: now)
        }) else { return nil }
        do {
            try poll.add(fd, EventReference(.icmpSocket, index: UInt32(flow.index), generation: flow.generation))
        } catch {
            table.remove(key)
            return nil
        }
        flowLog.log(now: now, "ICMP: echo \(key.guestPort) from guest \(key.guest.ip) to \(key.remote.ip) (via \(destination)) started")
        return flow
    }

    /// Echo replies from a ping socket go to the guest with its identifier and the peer as the guest saw it;
    /// errors it queued (EPOLLERR: unreachable, a router's time exceeded) as ICMP errors.
    public func socketEvent(_ reference: EventReference, events: UInt32, now: Int) {
        guard let flow = table[Int(reference.index)], flow.generation == reference.generation else { return }
        if events & EventPoll.error != 0 {
            flow.lastActivity = now
            errors.drain(flow.socket.raw, key: flow.key, sent: .echo,
                         hostDestination: translation.hostDestination(for: flow.key.remote.ip), hopLimit: flow.timeToLive, now: now)
        }
        let ipv4 = flow.key.guest.isIPv4
        let offset = ipv4 ? ReplyFrame.icmp4MessageOffset : ReplyFrame.icmp6MessageOffset
        while true {
            let n = recv(flow.socket.raw, frame.baseAddress! + offset, frame.count - offset, Int32(MSG_DONTWAIT))
            if n < 8 { return }
            flow.lastActivity = now
            flow.answered = true
            frame.storeBigEndian(flow.key.guestPort, at: offset + 4)
            let length: Int
            if ipv4 {
                guard n <= 65535 - 20, frame[offset] == Self.echoReply4 else { continue }
                length = ReplyFrame.completeICMPv4(
                    frame, messageLength: n, sourceMAC: ourMAC, destinationMAC: port.guestMAC,
                    source: IPv4Address(UInt32(truncatingIfNeeded: flow.key.remote.low)),
                    destination: IPv4Address(UInt32(truncatingIfNeeded: flow.key.guest.low)))
            } else {
                guard n <= 65535, frame[offset] == Self.echoReply6 else { continue }
                length = ReplyFrame.completeICMPv6(
                    frame, messageLength: n, sourceMAC: ourMAC, destinationMAC: port.guestMAC,
                    source: IPv6Address(high: flow.key.remote.high, low: flow.key.remote.low),
                    destination: IPv6Address(high: flow.key.guest.high, low: flow.key.guest.low), hopLimit: 64)
            }
            port.send(UnsafeRawBufferPointer(start: frame.baseAddress, count: length))
        }
    }

    public func tick(now: Int) {
        var expired: [ICMPFlow] = []
        table.forEach { flow in
            if now - flow.lastActivity > (flow.answered ? Self.idleTimeout : Self.unansweredTimeout) { expired.append(flow) }
        }
        for flow in expired {
            poll.remove(flow.socket.raw)
            table.remove(flow.key)
            flowLog.log(now: now, "ICMP: echo \(flow.key.guestPort) from guest \(flow.key.guest.ip) to \(flow.key.remote.ip) expired"
                        + (flow.answered ? "" : ", unanswered"))
        }
    }

}
