/// struct virtio_net_hdr (virtio spec section 5.1.6, linux/virtio_net.h), in front of every frame of a tap
/// opened with IFF_VNET_HDR: how the frame's checksum and segmentation are to be finished. All fields are
/// little-endian on x86 (the tap's native order unless TUNSETVNETBE).
struct VirtioNetHeader: Equatable {
    static let size = VirtioNetValues.size
    static let needsChecksum = VirtioNetValues.needsChecksum
    static let gsoNone = VirtioNetValues.gsoNone
    static let gsoTCPv4 = VirtioNetValues.gsoTCPv4
    static let gsoTCPv6 = VirtioNetValues.gsoTCPv6
    static let gsoUDP = VirtioNetValues.gsoUDP
    static let gsoECN = VirtioNetValues.gsoECN
    static let dataValid = VirtioNetValues.dataValid

    var flags: UInt8 = 0
    var gsoType: UInt8 = 0
    /// Bytes of headers before the payload that segmentation repeats in each segment.
    var headerLength: UInt16 = 0
    /// Payload per segment when the frame is to be segmented.
    var gsoSize: UInt16 = 0
    /// With NEEDS_CSUM: the checksum covers the frame from `checksumStart`, and goes `checksumOffset`
    /// bytes after it; the field holds the pseudo-header's sum meanwhile.
    var checksumStart: UInt16 = 0
    var checksumOffset: UInt16 = 0

    init(flags: UInt8 = 0, gsoType: UInt8 = 0, headerLength: UInt16 = 0, gsoSize: UInt16 = 0,
         checksumStart: UInt16 = 0, checksumOffset: UInt16 = 0) {
        self.flags = flags
        self.gsoType = gsoType
        self.headerLength = headerLength
        self.gsoSize = gsoSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
    }

    /// The header at the start of `bytes`; nil if they're too few.
    init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.size else { return nil }
        func le16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        self.init(flags: bytes[0], gsoType: bytes[1], headerLength: le16(2), gsoSize: le16(4),
                  checksumStart: le16(6), checksumOffset: le16(8))
    }

    var needsChecksum: Bool { flags & Self.needsChecksum != 0 }

    /// What this header says about the frame that follows it, if the two agree: a partial checksum inside
    /// the frame, and a segmentation type that matches the packet (TCP over IPv4 or IPv6 for TSO, UDP
    /// whose length field covers its whole IP payload for USO, always with a partial checksum). Anything
    /// else (a type we didn't offer, a size of 0, lengths that don't add up) is nil: the frame is dropped.
    func received(_ frame: UnsafeRawBufferPointer) -> ReceivedOffload? { received(frame, length: frame.count) }

    /// The same for a frame of `length` bytes of which `frame` is the start, its headers at least (the
    /// rest lies in further buffers): only a TCP segment can be such a frame.
    func received(_ frame: UnsafeRawBufferPointer, length: Int) -> ReceivedOffload? {
        var offload = ReceivedOffload()
        if needsChecksum {
            guard let partial = partialChecksum(frameLength: length) else { return nil }
            offload.partialChecksum = partial
            offload.checksumTrusted = true
        } else if flags & Self.dataValid != 0 {
            offload.checksumTrusted = true
        }
        let type = gsoType & ~Self.gsoECN
        if type == Self.gsoNone { return offload }
        guard needsChecksum, gsoSize > 0, let transport = Self.transport(of: frame, length: length) else { return nil }
        switch type {
        case Self.gsoTCPv4, Self.gsoTCPv6:
            guard transport.protocolNumber == IPProtocol.tcp, transport.ipv4 == (type == Self.gsoTCPv4),
                  Int(checksumStart) == transport.offset, checksumOffset == 16 else { return nil }
        case Self.gsoUDP:
            guard length == frame.count, transport.protocolNumber == IPProtocol.udp, Int(checksumStart) == transport.offset,
                  checksumOffset == 6, transport.offset + 8 <= frame.count,
                  Int(frame.bigEndianUInt16(at: transport.offset + 4)) == frame.count - transport.offset
            else { return nil }
            offload.datagramSize = Int(gsoSize)
        default:
            return nil
        }
        return offload
    }

    /// The transport header of an IPv4 or IPv6 frame of `length` bytes (PartialChecksum.transport) whose IP
    /// header is sound and whose IP length covers exactly the rest of the frame (a segmented frame has no
    /// padding), or nil.
    private static func transport(of frame: UnsafeRawBufferPointer, length: Int) -> PartialChecksum.Transport? {
        guard let transport = PartialChecksum.transport(of: frame) else { return nil }
        if transport.ipv4 {
            guard frame[14] >> 4 == 4, transport.offset >= 14 + 20,
                  Int(frame.bigEndianUInt16(at: 16)) == length - 14 else { return nil }
        } else {
            guard frame[14] >> 4 == 6, Int(frame.bigEndianUInt16(at: 18)) == length - 14 - 40 else { return nil }
        }
        return transport
    }

    func partialChecksum(frameLength length: Int) -> PartialChecksum? {
        guard needsChecksum else { return nil }
        let start = Int(checksumStart), field = Int(checksumStart) + Int(checksumOffset)
        guard start < length, field + 2 <= length else { return nil }
        return PartialChecksum(start: start, field: field)
    }

    /// The header for a frame we built for the namespace: TCP's checksum is left to the namespace's
    /// stack (our TCP frames carry the pseudo-header's sum), and a TCP segment longer than the MTU allows
    /// is marked for segmentation in pieces of `segmentPayload4` or `segmentPayload6` bytes. Other frames
    /// are complete as they are.
    static func forOutgoing(_ frame: UnsafeRawBufferPointer, segmentPayload4: Int, segmentPayload6: Int) -> VirtioNetHeader {
        guard let tcp = PartialChecksum.ofTCP(frame) else { return VirtioNetHeader() }
        let ipv4 = frame[12] == 0x08 && frame[13] == 0x00
        let headers = tcp.start + Int(frame[tcp.start + 12] >> 4) * 4
        guard headers <= frame.count else {
            return VirtioNetHeader(flags: Self.needsChecksum, checksumStart: UInt16(tcp.start), checksumOffset: 16)
        }
        return forTCP(ipv4: ipv4, transportStart: tcp.start, headersLength: headers, payloadLength: frame.count - headers,
                      segmentPayload: ipv4 ? segmentPayload4 : segmentPayload6)
    }

    /// The header of a TCP frame of ours whose checksum is partial: `headersLength` bytes of headers, the
    /// TCP header from `transportStart`; segmented by the guest's stack when the payload passes `segmentPayload`.
    static func forTCP(ipv4: Bool, transportStart: Int, headersLength: Int, payloadLength: Int,
                       segmentPayload: Int) -> VirtioNetHeader {
        var header = VirtioNetHeader(flags: Self.needsChecksum, checksumStart: UInt16(transportStart), checksumOffset: 16)
        if payloadLength > segmentPayload {
            header.gsoType = ipv4 ? Self.gsoTCPv4 : Self.gsoTCPv6
            header.gsoSize = UInt16(segmentPayload)
            header.headerLength = UInt16(headersLength)
        }
        return header
    }

    func write(to buffer: UnsafeMutableRawPointer) {
        func le16(_ value: UInt16, _ at: Int) {
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: at, as: UInt8.self)
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: value >> 8), toByteOffset: at + 1, as: UInt8.self)
        }
        buffer.storeBytes(of: flags, as: UInt8.self)
        buffer.storeBytes(of: gsoType, toByteOffset: 1, as: UInt8.self)
        le16(headerLength, 2)
        le16(gsoSize, 4)
        le16(checksumStart, 6)
        le16(checksumOffset, 8)
    }
}

/// What a frame's virtio-net header says: a checksum left for us (never needed for TCP or UDP, finished
/// where the frame leaves another way), a checksum the sender vouches for, UDP datagrams in one frame.
struct ReceivedOffload: Equatable {
    var partialChecksum: PartialChecksum?
    /// NEEDS_CSUM or DATA_VALID: the transport checksum is not to be verified.
    var checksumTrusted = false
    /// USO: the UDP payload is datagrams of this many bytes, the last possibly shorter (0: one datagram).
    var datagramSize = 0
}

/// A checksum left for the receiver to finish: the sum runs from `start` to the end of the frame and is
/// stored (complemented) at `field`, which holds the pseudo-header's sum until then.
struct PartialChecksum: Equatable {
    let start: Int
    let field: Int

    /// Where a TCP segment's checksum is in `frame` (IPv4 or IPv6 without extension headers, as we build
    /// them), if it is one whose headers fit.
    static func ofTCP(_ frame: UnsafeRawBufferPointer) -> PartialChecksum? {
        of(frame, protocolNumber: IPProtocol.tcp, headerLength: 20, checksumOffset: 16)
    }

    /// The same for a UDP datagram.
    static func ofUDP(_ frame: UnsafeRawBufferPointer) -> PartialChecksum? {
        of(frame, protocolNumber: IPProtocol.udp, headerLength: 8, checksumOffset: 6)
    }

    private static func of(_ frame: UnsafeRawBufferPointer, protocolNumber: UInt8, headerLength: Int,
                           checksumOffset: Int) -> PartialChecksum? {
        guard let transport = transport(of: frame), transport.protocolNumber == protocolNumber,
              transport.offset + headerLength <= frame.count else { return nil }
        return PartialChecksum(start: transport.offset, field: transport.offset + checksumOffset)
    }

    typealias Transport = (offset: Int, protocolNumber: UInt8, ipv4: Bool)

    /// Where the transport header starts in an IPv4 or IPv6 frame (no IPv6 extension headers, as we and
    /// the namespace's stack build them), and its protocol; nil for other frames or fewer than 54 bytes.
    static func transport(of frame: UnsafeRawBufferPointer) -> Transport? {
        guard frame.count >= 14 + 40 else { return nil }
        if frame[12] == 0x08 && frame[13] == 0x00 { return (14 + Int(frame[14] & 0x0F) * 4, frame[14 + 9], true) }
        if frame[12] == 0x86 && frame[13] == 0xDD { return (14 + 40, frame[14 + 6], false) }
        return nil
    }

    /// Finishes it in place. A result of 0 is stored as 0xFFFF, the same number in ones' complement: UDP
    /// would read 0 as "no checksum" (RFC 768).
    func complete(_ frame: UnsafeMutableRawBufferPointer) {
        var sum = InternetChecksum()
        sum.add(UnsafeRawBufferPointer(rebasing: frame[start...]))
        let value = sum.value
        frame.storeBigEndian(value == 0 ? 0xFFFF : value, at: field)
    }
}
