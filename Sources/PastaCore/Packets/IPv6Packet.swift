/// A validated view of an IPv6 packet: version 6 and a payload length within the bytes given (trailing
/// Ethernet padding is cut off). Extension headers are not walked: `nextHeader` is the first one.
public struct IPv6Packet {
    public static let headerLength = 40
    public let bytes: UnsafeRawBufferPointer

    public init?(_ bytes: UnsafeRawBufferPointer) { self.init(bytes, followedBy: 0) }

    /// A packet whose first bytes are `bytes` (its headers at least) and whose last `following` bytes lie
    /// in further buffers (see ScatteredPayload): its length must be exactly both, with no padding.
    public init?(_ bytes: UnsafeRawBufferPointer, followedBy following: Int) {
        guard bytes.count >= Self.headerLength, bytes[0] >> 4 == 6, following >= 0 else { return nil }
        let payloadLength = Int(bytes.bigEndianUInt16(at: 4))
        let length = Self.headerLength + payloadLength
        guard following == 0 ? length <= bytes.count : length == bytes.count + following else { return nil }
        self.bytes = UnsafeRawBufferPointer(rebasing: bytes[0..<min(length, bytes.count)])
    }

    public var nextHeader: UInt8 { bytes[6] }
    public var hopLimit: UInt8 { bytes[7] }
    public var source: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[8..<24]) }
    public var destination: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[24..<40]) }
    public var sourceAddress: IPv6Address { IPv6Address(high: bytes.bigEndianUInt64(at: 8), low: bytes.bigEndianUInt64(at: 16)) }
    public var destinationAddress: IPv6Address {
        IPv6Address(high: bytes.bigEndianUInt64(at: 24), low: bytes.bigEndianUInt64(at: 32))
    }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[Self.headerLength...]) }

    /// Writes a 40-byte header at `offset`.
    public static func writeHeader(into buffer: UnsafeMutableRawBufferPointer, at offset: Int,
                                   source: IPv6Address, destination: IPv6Address, nextHeader: UInt8,
                                   payloadLength: Int, hopLimit: UInt8 = 64) {
        buffer.storeBigEndian(UInt32(0x6000_0000), at: offset)
        buffer.storeBigEndian(UInt16(truncatingIfNeeded: payloadLength), at: offset + 4)
        buffer[offset + 6] = nextHeader
        buffer[offset + 7] = hopLimit
        buffer.store(source, at: offset + 8)
        buffer.store(destination, at: offset + 24)
    }
}
