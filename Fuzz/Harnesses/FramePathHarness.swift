@testable import PastaCore

/// The guest's frames through the whole datapath (passt's, with the lab's addresses): a batch of frames
/// goes into GuestFrames, which learns the guest's MAC, sends TCP to the flows and ARP, DHCP, NDP and
/// DHCPv6 to the services, and drops the rest; then the batch is finished as the event loop does. What it
/// sends is recorded by a backend of our own and must be well-formed.
///
/// Nothing may open a host socket: UDP and ICMP are off (`--no-udp --no-icmp`: those frames are dropped
/// after classification), and a TCP SYN without ACK, the only segment that makes the flows connect a
/// socket, loses its SYN flag before it goes in. So TCP is covered up to the flow lookup and the reset
/// for unknown connections; established connections and UDP/ICMP flows are not.
///
/// Input: records of a kind byte, a 16-bit length and that many bytes, until the input ends. The kind's
/// low four bits say what the bytes are (see `Kind`), bits 4-5 pick the destination, bit 6 sends from the
/// unspecified address.
enum FramePathHarness {
    static let harness = Harness(
        name: "frame-path", summary: "guest frames through GuestFrames: demultiplexing, services, TCP resets",
        run: run, seeds: seeds)

    enum Kind: UInt8 {
        case raw = 0, tcp4, tcp6, dhcp, dhcpv6, icmp6, arp, ipv4, ipv6, udp4, icmp4, routerAdvertisement
    }

    static let destinations4 = [IPv4Address(203, 0, 113, 10), ServiceVariants.gateway4, IPv4Address(0xFFFF_FFFF),
                                IPv4Address(198, 51, 100, 53)]
    static let destinations6 = [IPv6Address("2001:db8:2::10")!, IPv6Address("2001:db8:1::1")!, IPv6Address("ff02::1")!,
                                IPv6Address("fe80::1")!]

    /// Built once: the flows' state carries over between inputs as it does between batches, and since no
    /// connection can be opened there is little of it (the guest's MAC and addresses).
    final class Path {
        let poll: EventPoll
        let backend = RecordingBackend()
        let datapath: Datapath
        let frames: GuestFrames

        init() {
            do {
                let options = try Options.parse(ServiceVariants.lab.filter { $0 != "--dhcp-dns" && $0 != "--dhcp-search" }
                                                + ["--no-udp", "--no-icmp"], mode: .passt)
                let configuration = RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: ""))
                poll = try EventPoll()
                datapath = try Datapath(configuration: configuration, namespace: nil, poll: poll, pcap: nil)
                try datapath.port.attach(backend)
                frames = GuestFrames(datapath: datapath)
            } catch {
                fatalError("frame-path: can't build the datapath: \(error)")
            }
        }
    }

    static let path = Path()

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        var batch: [[UInt8]] = []
        var advertise = false
        while !input.isEmpty && batch.count < FrameBatch.capacity {
            let kindByte = input.byte()
            let length = Int(input.uint16())
            let bytes = input.bytes(length)
            if Kind(rawValue: kindByte & 0x0F) == .routerAdvertisement { advertise = true; continue }
            var frame = build(kindByte, bytes)
            withoutConnectionOpeners(&frame)
            batch.append(frame)
        }
        // Checksums count as vouched for (a tap's DATA_VALID), so TCP goes past its checksum check.
        for frame in batch {
            frame.withUnsafeBytes { path.frames.handle($0, offload: ReceivedOffload(checksumTrusted: true), now: 1_000) }
        }
        if advertise { path.frames.advertiseRouter() }
        path.datapath.finishBatch()
        for frame in path.backend.sent {
            frame.withUnsafeBytes { SentFrameCheck.require($0, from: harness.name) }
        }
        path.backend.sent.removeAll(keepingCapacity: true)
        guard path.datapath.tcp.table.count == 0 else { fatalError("frame-path: a TCP connection was opened") }
    }

    static func build(_ kindByte: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        let unspecified = kindByte & 0x40 != 0
        let source4 = unspecified ? IPv4Address.any : ServiceVariants.guestAddress4
        let source6 = unspecified ? IPv6Address.any : ServiceVariants.guestAddress6
        let destination4 = destinations4[Int(kindByte >> 4 & 3)]
        let destination6 = destinations6[Int(kindByte >> 4 & 3)]
        switch Kind(rawValue: kindByte & 0x0F) ?? .raw {
        case .raw, .routerAdvertisement:
            return bytes
        case .tcp4:
            return FrameBuilder.ipv4(IPProtocol.tcp, bytes, source: source4, destination: destination4)
        case .tcp6:
            return FrameBuilder.ipv6(IPProtocol.tcp, bytes, source: source6, destination: destination6)
        case .dhcp:
            return FrameBuilder.udp4(bytes, source: source4, destination: destination4, sourcePort: 68, destinationPort: 67)
        case .dhcpv6:
            return FrameBuilder.udp6(bytes, source: ServiceVariants.guestLinkLocal, destination: DHCPv6Server.allServersAndRelays,
                                     sourcePort: 546, destinationPort: 547)
        case .icmp6:
            return FrameBuilder.icmp6(bytes, source: unspecified ? .any : ServiceVariants.guestLinkLocal,
                                      destination: destination6)
        case .arp:
            return FrameBuilder.ethernet(EtherType.arp, bytes)
        case .ipv4:
            return FrameBuilder.ipv4(bytes.first ?? 0, Array(bytes.dropFirst()), source: source4, destination: destination4)
        case .ipv6:
            return FrameBuilder.ipv6(bytes.first ?? 0, Array(bytes.dropFirst()), source: source6, destination: destination6)
        case .udp4:
            let ports = bytes + [0, 0, 0, 0]
            return FrameBuilder.udp4(Array(bytes.dropFirst(4)), source: source4, destination: destination4,
                                     sourcePort: UInt16(ports[0]) << 8 | UInt16(ports[1]),
                                     destinationPort: UInt16(ports[2]) << 8 | UInt16(ports[3]))
        case .icmp4:
            return FrameBuilder.icmp4(bytes, source: source4, destination: destination4)
        }
    }

    /// Clears the SYN flag of a TCP segment without ACK, as GuestFrames would find it: the one segment that
    /// makes the flows open a host socket.
    static func withoutConnectionOpeners(_ frame: inout [UInt8]) {
        let flagsOffset: Int? = frame.withUnsafeBytes { raw in
            guard let ethernet = EthernetFrame(raw) else { return nil }
            switch ethernet.etherType {
            case EtherType.ipv4:
                guard let packet = IPv4Packet(ethernet.payload), packet.protocolNumber == IPProtocol.tcp,
                      TCPSegment(packet.payload) != nil
                else { return nil }
                return EthernetFrame.headerLength + packet.headerLength + 13
            case EtherType.ipv6:
                guard let packet = IPv6Packet(ethernet.payload), packet.nextHeader == IPProtocol.tcp,
                      TCPSegment(packet.payload) != nil
                else { return nil }
                return EthernetFrame.headerLength + IPv6Packet.headerLength + 13
            default:
                return nil
            }
        }
        guard let flagsOffset, frame[flagsOffset] & TCPFlags.syn != 0, frame[flagsOffset] & TCPFlags.ack == 0 else { return }
        frame[flagsOffset] &= ~TCPFlags.syn
    }

    /// A record: kind, length, bytes.
    static func record(_ kind: Kind, destination: UInt8 = 0, _ bytes: [UInt8]) -> [UInt8] {
        [kind.rawValue | destination << 4, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes
    }

    static func tcpSegment(flags: UInt8, payload: [UInt8] = []) -> [UInt8] {
        [0xC3, 0x50, 0x00, 0x50, 0, 0, 0x03, 0xE8, 0, 1, 0x2C, 0xC8, 0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0] + payload
    }

    static func seeds() -> [[UInt8]] {
        let arp = ArpHarness.request(sender: [198, 51, 100, 2], target: [198, 51, 100, 1])
        let discover = DHCPHarness.message([53, 1, 1])
        let routerSolicitation: [UInt8] = [133, 0, 0, 0, 0, 0, 0, 0, 1, 1] + FrameBuilder.guestMAC.bytes
        let neighborSolicitation: [UInt8] = [135, 0, 0, 0, 0, 0, 0, 0] + IPv6Address("2001:db8:1::1")!.bytes
        let solicit = [1, 0, 0, 1] + DHCPv6Harness.option(1, [0, 3, 0, 1] + FrameBuilder.guestMAC.bytes)
            + DHCPv6Harness.option(3, [UInt8](repeating: 0, count: 12))
        let data = tcpSegment(flags: TCPFlags.ack | TCPFlags.psh, payload: Array("GET / HTTP/1.0\r\n\r\n".utf8))
        return [
            record(.arp, arp) + record(.dhcp, destination: 2, discover),
            record(.icmp6, destination: 2, routerSolicitation) + record(.icmp6, destination: 1, neighborSolicitation)
                + record(.dhcpv6, solicit),
            record(.tcp4, data) + record(.tcp6, tcpSegment(flags: TCPFlags.fin | TCPFlags.ack)),
            record(.tcp4, tcpSegment(flags: TCPFlags.syn)) + record(.tcp4, tcpSegment(flags: TCPFlags.rst)),
            record(.udp4, [0x30, 0x39, 0, 53] + [1, 2, 3, 4]) + record(.icmp4, [8, 0, 0, 0, 0, 1, 0, 1])
                + record(.routerAdvertisement, []),
            record(.raw, FrameBuilder.ethernet(EtherType.arp, arp)),
        ]
    }
}
