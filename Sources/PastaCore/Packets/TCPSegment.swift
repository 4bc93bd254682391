/// TCP header flags (RFC 9293 section 3.1).
public enum TCPFlags {
    public static let fin: UInt8 = 0x01
    public static let syn: UInt8 = 0x02
    public static let rst: UInt8 = 0x04
    public static let psh: UInt8 = 0x08
    public static let ack: UInt8 = 0x10
}

/// A bounds-checked view of a TCP segment: a data offset within the segment. Checksums from the tap are
/// not verified: the frames come from the guest's own kernel over a local device.
public struct TCPSegment {
    public static let minimumHeaderLength = 20
    public let bytes: UnsafeRawBufferPointer
    public let headerLength: Int
    /// The payload, when it lies in further buffers: then `bytes` is the header alone.
    public let scattered: ScatteredPayload

    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.minimumHeaderLength else { return nil }
        let headerLength = Int(bytes[12] >> 4) * 4
        guard headerLength >= Self.minimumHeaderLength, headerLength <= bytes.count else { return nil }
        self.bytes = bytes
        self.headerLength = headerLength
        scattered = .none
    }

    /// A segment whose header is `header`, exactly, and whose payload is `payload`.
    public init?(header: UnsafeRawBufferPointer, payload: ScatteredPayload) {
        guard let segment = TCPSegment(header), segment.headerLength == header.count else { return nil }
        bytes = header
        headerLength = header.count
        scattered = payload
    }

    public var sourcePort: UInt16 { bytes.bigEndianUInt16(at: 0) }
    public var destinationPort: UInt16 { bytes.bigEndianUInt16(at: 2) }
    public var sequence: UInt32 { bytes.bigEndianUInt32(at: 4) }
    public var acknowledgment: UInt32 { bytes.bigEndianUInt32(at: 8) }
    public var flags: UInt8 { bytes[13] & 0x3F }
    public var window: UInt16 { bytes.bigEndianUInt16(at: 14) }
    public var payloadLength: Int { bytes.count - headerLength + scattered.byteCount }
    /// The payload that follows the header (none when it is `scattered`).
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[headerLength...]) }

    public func has(_ flag: UInt8) -> Bool { bytes[13] & flag != 0 }

    /// The MSS, window scale and SACK-permitted options (RFC 9293 3.2, RFC 7323 2.2, RFC 2018 2), as sent
    /// on SYNs; a malformed option list ends the walk with what was found so far.
    public var synOptions: (maximumSegmentSize: UInt16?, windowScale: UInt8?, sackPermitted: Bool) {
        var mss: UInt16?, scale: UInt8?, sack = false
        forEachOption { kind, at, length in
            if kind == 2, length == 4 { mss = bytes.bigEndianUInt16(at: at + 2) }
            if kind == 3, length == 3 { scale = min(bytes[at + 2], 14) }
            if kind == 4, length == 2 { sack = true }
        }
        return (mss, scale, sack)
    }

    /// The SACK blocks above `acknowledgment` (at most four), sorted by left edge, as (left, right) pairs:
    /// what the receiver has past the holes. Malformed blocks and those not above the acknowledgment are
    /// left out.
    public func sackBlocks(above acknowledgment: UInt32) -> [(left: UInt32, right: UInt32)] {
        var blocks: [(left: UInt32, right: UInt32)] = []
        forEachOption { kind, at, length in
            guard kind == 5, length >= 10, (length - 2) % 8 == 0 else { return }
            var block = at + 2
            while block + 8 <= at + length && blocks.count < 4 {
                let left = bytes.bigEndianUInt32(at: block), right = bytes.bigEndianUInt32(at: block + 4)
                if Int32(bitPattern: left &- acknowledgment) > 0, Int32(bitPattern: right &- left) > 0 {
                    blocks.append((left, right))
                }
                block += 8
            }
        }
        return blocks.sorted { Int32(bitPattern: $0.left &- $1.left) < 0 }
    }

    /// Walks the option list: kind, offset and length of each option with a length byte.
    private func forEachOption(_ body: (UInt8, Int, Int) -> Void) {
        var index = Self.minimumHeaderLength
        while index < headerLength {
            let kind = bytes[index]
            if kind == 0 { break }
            if kind == 1 { index += 1; continue }
            guard index + 2 <= headerLength else { break }
            let length = Int(bytes[index + 1])
            guard length >= 2, index + length <= headerLength else { break }
            body(kind, index, length)
            index += length
        }
    }
}
