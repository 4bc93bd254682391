/// Frames from the guest, one by one: TCP, UDP and ICMP echo go to their flows; what the local services
/// answer (ARP, DHCP, NDP, DHCPv6) is answered; everything else is dropped. The guest's MAC address is
/// learned on the way, from frames that are packets.
final class GuestFrames {
    private let datapath: Datapath
    private let tracing: Bool
    private let replyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)

    init(datapath: Datapath) {
        self.datapath = datapath
        tracing = Logger.shared.enabled(.trace)
    }

    deinit { replyBuffer.deallocate() }

    /// `offload`: what the frame's virtio-net header said (nothing, from a backend without one).
    /// `scattered`: a TCP segment's payload where it lies in further buffers; `frame` is then its headers.
    func handle(_ frame: UnsafeRawBufferPointer, offload: ReceivedOffload = ReceivedOffload(),
                scattered: ScatteredPayload = .none, now: Int) {
        if tracing { logTrace("guest: \(frame.count + scattered.byteCount) bytes") }
        guard scattered.isEmpty else { return handleScattered(frame, offload: offload, payload: scattered, now: now) }
        guard let ethernet = EthernetFrame(frame) else { return }
        let d = datapath
        switch ethernet.etherType {
        case EtherType.ipv4:
            guard let packet = IPv4Packet(ethernet.payload) else { return }
            learnGuestMAC(from: ethernet)
            switch packet.protocolNumber {
            case IPProtocol.tcp:
                if d.tcpEnabled { d.tcp.handle(ipv4: packet, checksumTrusted: offload.checksumTrusted, now: now) }
                return
            case IPProtocol.udp where !Self.isServicePort(packet.payload, DHCPServer.serverPort):
                if d.udpEnabled { d.udp.handle(ipv4: packet, offload: offload, now: now) }
                return
            case IPProtocol.icmp:
                if d.icmpEnabled { d.icmp.handle(ipv4: packet, now: now) }
                return
            default:
                break
            }
        case EtherType.ipv6:
            guard let packet = IPv6Packet(ethernet.payload) else { return }
            learnGuestMAC(from: ethernet)
            switch packet.nextHeader {
            case IPProtocol.tcp:
                if d.tcpEnabled { d.tcp.handle(ipv6: packet, checksumTrusted: offload.checksumTrusted, now: now) }
                return
            case IPProtocol.udp where !Self.isServicePort(packet.payload, DHCPv6Server.serverPort):
                if d.udpEnabled { d.udp.handle(ipv6: packet, offload: offload, now: now) }
                return
            case IPProtocol.icmpv6 where packet.payload.first == ICMPFlows.echoRequest6:
                if d.icmpEnabled { d.icmp.handle(ipv6: packet, now: now) }
                return
            default:
                break
            }
        default:
            break
        }
        // The services verify checksums: one the guest left for us (UDP to DHCP's port) is finished first,
        // in the backend's own buffer.
        if let partial = offload.partialChecksum {
            guard offload.datagramSize == 0 else { return }
            partial.complete(UnsafeMutableRawBufferPointer(mutating: frame))
        }
        switch d.services.answer(frame, into: replyBuffer, seenGuestAddress4: d.guestAddresses.ipv4) {
        case .reply(let length):
            learnGuestMAC(from: ethernet)
            d.port.send(UnsafeRawBufferPointer(rebasing: replyBuffer[0..<length]))
        case .dropped(let reason):
            logDebug(reason)
        case .notForUs:
            break
        }
    }

    /// A TCP segment whose payload lies in further buffers: only the backend's word vouches for its
    /// checksum, and only TCP reads such a payload.
    private func handleScattered(_ headers: UnsafeRawBufferPointer, offload: ReceivedOffload, payload: ScatteredPayload,
                                 now: Int) {
        let d = datapath
        guard offload.checksumTrusted, d.tcpEnabled, let ethernet = EthernetFrame(headers) else { return }
        switch ethernet.etherType {
        case EtherType.ipv4:
            guard let packet = IPv4Packet(ethernet.payload, followedBy: payload.byteCount),
                  packet.protocolNumber == IPProtocol.tcp else { return }
            learnGuestMAC(from: ethernet)
            d.tcp.handle(ipv4: packet, checksumTrusted: true, scattered: payload, now: now)
        case EtherType.ipv6:
            guard let packet = IPv6Packet(ethernet.payload, followedBy: payload.byteCount),
                  packet.nextHeader == IPProtocol.tcp else { return }
            learnGuestMAC(from: ethernet)
            d.tcp.handle(ipv6: packet, checksumTrusted: true, scattered: payload, now: now)
        default:
            break
        }
    }

    /// Only a frame that parsed as a packet (or that a service answered) says who the guest is: garbage
    /// with a random source address would send our frames to nobody until the guest's next packet.
    private func learnGuestMAC(from ethernet: EthernetFrame) {
        if let mac = datapath.port.learn(from: ethernet, ours: datapath.services.settings.ourMAC) {
            logDebug("guest MAC address: \(mac)")
        }
    }

    /// A Router Advertisement nobody asked for, when the schedule says one is due.
    func advertiseRouter() {
        if let length = NDPResponder.unsolicitedAdvertisement(settings: datapath.services.settings, into: replyBuffer) {
            datapath.port.send(UnsafeRawBufferPointer(rebasing: replyBuffer[0..<length]))
        }
    }

    /// Whether a UDP payload is addressed to one of our services' ports (DHCP, DHCPv6).
    private static func isServicePort(_ udp: UnsafeRawBufferPointer, _ port: UInt16) -> Bool {
        udp.count >= 4 && udp.bigEndianUInt16(at: 2) == port
    }
}
