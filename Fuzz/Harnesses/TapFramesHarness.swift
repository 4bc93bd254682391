@testable import PastaCore

/// What a tap with offloads hands us: a virtio-net header, then a frame. Input: a control byte, the
/// 10-byte header, then the frame's bytes.
///
/// Control bit 0 set: the frame is built around the bytes as a TCP (bit 1 clear) or UDP (set) packet over
/// IPv4 (bit 2 clear) or IPv6, with IP and UDP lengths filled in, so mutations of the header meet frames
/// whose lengths hold; clear: the bytes are the frame. VirtioNetHeader.received must either drop the frame
/// or accept it with claims that hold: a partial checksum inside the frame, and a datagram size only for
/// UDP whose IP and UDP lengths cover the frame exactly. An accepted frame then goes through GuestFrames
/// of the frame-path harness's datapath (a partial checksum finished in place where a service needs it)
/// and must not trap.
enum TapFramesHarness {
    static let harness = Harness(
        name: "tap-frames", summary: "a tap's virtio-net header and frame: VirtioNetHeader.received, then GuestFrames",
        maximumLength: 70_000, run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let control = input.byte()
        let headerBytes = input.bytes(VirtioNetHeader.size)
        let body = input.rest()
        var frame = control & 1 == 0 ? body : build(body, udp: control & 2 != 0, ipv4: control & 4 == 0)
        guard let header = headerBytes.withUnsafeBytes({ VirtioNetHeader($0) }) else { return }
        if control & 8 != 0 { return scattered(frame, header: header, cut: Int(control >> 4)) }
        guard let offload = frame.withUnsafeBytes({ header.received($0) }) else { return }
        if let partial = offload.partialChecksum {
            guard partial.start < frame.count, partial.field + 2 <= frame.count else {
                fatalError("tap-frames: partial checksum at \(partial) outside \(frame.count) bytes")
            }
        }
        if offload.datagramSize > 0 { requireSegmentedUDP(frame) }
        FramePathHarness.withoutConnectionOpeners(&frame)
        let path = FramePathHarness.path
        frame.withUnsafeMutableBytes { path.frames.handle(UnsafeRawBufferPointer($0), offload: offload, now: 1_000) }
        path.datapath.finishBatch()
        for sent in path.backend.sent { sent.withUnsafeBytes { SentFrameCheck.require($0, from: harness.name) } }
        path.backend.sent.removeAll(keepingCapacity: true)
        guard path.datapath.tcp.table.count == 0 else { fatalError("tap-frames: a TCP connection was opened") }
    }

    /// The frame as passt --vhost-user hands on a Linux guest's TSO frame: its first bytes (the headers,
    /// if the cut falls right) where they are, the rest as the parts of a ScatteredPayload.
    static func scattered(_ frame: [UInt8], header: VirtioNetHeader, cut: Int) {
        let headLength = min(frame.count, 54 + cut * 2)
        let head = UnsafeMutableRawBufferPointer.allocate(byteCount: max(headLength, 1), alignment: 8)
        let tail = UnsafeMutableRawBufferPointer.allocate(byteCount: max(frame.count - headLength, 1), alignment: 8)
        defer {
            head.deallocate()
            tail.deallocate()
        }
        frame.withUnsafeBytes {
            head.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<headLength]))
            tail.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[headLength...]))
        }
        let headView = UnsafeRawBufferPointer(rebasing: head[0..<headLength])
        guard let offload = header.received(headView, length: frame.count) else { return }
        // The rest in two parts, the first of them possibly empty.
        let middle = (frame.count - headLength) / 2
        let parts = [UnsafeRawBufferPointer(rebasing: tail[0..<middle]),
                     UnsafeRawBufferPointer(rebasing: tail[middle..<(frame.count - headLength)])]
        let path = FramePathHarness.path
        parts.withUnsafeBufferPointer { list in
            let payload = ScatteredPayload(parts: list, byteCount: frame.count - headLength)
            path.frames.handle(headView, offload: offload, scattered: payload, now: 1_000)
            path.datapath.finishBatch()
        }
        for sent in path.backend.sent { sent.withUnsafeBytes { SentFrameCheck.require($0, from: harness.name) } }
        path.backend.sent.removeAll(keepingCapacity: true)
        guard path.datapath.tcp.table.count == 0 else { fatalError("tap-frames: a TCP connection was opened") }
    }

    /// A USO frame's lengths must add up: IP length = the frame, UDP length = the IP payload.
    static func requireSegmentedUDP(_ frame: [UInt8]) {
        guard frame.count >= 14 + 40 else { fatalError("tap-frames: USO frame of \(frame.count) bytes") }
        let ipv4 = frame[12] == 0x08 && frame[13] == 0x00
        let transport = ipv4 ? 14 + Int(frame[14] & 0x0F) * 4 : 14 + 40
        let ipLength = ipv4 ? Int(frame[16]) << 8 | Int(frame[17]) : 40 + (Int(frame[18]) << 8 | Int(frame[19]))
        let protocolNumber = ipv4 ? frame[23] : frame[20]
        guard protocolNumber == IPProtocol.udp, ipLength == frame.count - 14, transport + 8 <= frame.count,
              Int(frame[transport + 4]) << 8 | Int(frame[transport + 5]) == frame.count - transport
        else { fatalError("tap-frames: accepted a USO frame whose lengths don't add up") }
    }

    static func build(_ bytes: [UInt8], udp: Bool, ipv4: Bool) -> [UInt8] {
        let protocolNumber = udp ? IPProtocol.udp : IPProtocol.tcp
        var transport = Array(bytes.prefix(65535 - 40))
        while transport.count < (udp ? 8 : 20) { transport.append(0) }
        if udp {
            transport[4] = UInt8(transport.count >> 8); transport[5] = UInt8(transport.count & 0xFF)
        }
        let source4 = ServiceVariants.guestAddress4, destination4 = IPv4Address(203, 0, 113, 10)
        return ipv4 ? FrameBuilder.ipv4(protocolNumber, transport, source: source4, destination: destination4)
                    : FrameBuilder.ipv6(protocolNumber, transport, source: ServiceVariants.guestAddress6,
                                        destination: IPv6Address("2001:db8:2::10")!)
    }

    static func seeds() -> [[UInt8]] {
        func header(_ value: VirtioNetHeader) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: VirtioNetHeader.size)
            bytes.withUnsafeMutableBytes { value.write(to: $0.baseAddress!) }
            return bytes
        }
        let datagrams = [UInt8](repeating: 0xAB, count: 8 + 3 * 1400)
        let segment = [0xC3, 0x50, 0x1F, 0x40, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xFF, 0xFF, 0, 0, 0, 0]
            + [UInt8](repeating: 7, count: 3000)
        return [
            [0] + header(VirtioNetHeader()) + FrameBuilder.ipv4(IPProtocol.tcp, segment, source: ServiceVariants.guestAddress4,
                                                               destination: IPv4Address(203, 0, 113, 10)),
            [1] + header(VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.gsoTCPv4,
                                         headerLength: 54, gsoSize: 1448, checksumStart: 34, checksumOffset: 16)) + segment,
            [3] + header(VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.gsoUDP,
                                         headerLength: 42, gsoSize: 1400, checksumStart: 34, checksumOffset: 6)) + datagrams,
            [7] + header(VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.gsoUDP,
                                         headerLength: 62, gsoSize: 1400, checksumStart: 54, checksumOffset: 6)) + datagrams,
            [3] + header(VirtioNetHeader(flags: VirtioNetHeader.dataValid)) + Array(datagrams.prefix(300)),
            // Scattered: the headers (54 bytes) alone, the payload in parts.
            [9] + header(VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: 34, checksumOffset: 16)) + segment,
            [9] + header(VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.gsoTCPv4,
                                         headerLength: 54, gsoSize: 1448, checksumStart: 34, checksumOffset: 16)) + segment,
            [0x19] + header(VirtioNetHeader(flags: VirtioNetHeader.dataValid)) + segment,
        ]
    }
}
