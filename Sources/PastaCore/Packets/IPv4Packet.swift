/// IP protocol numbers (IANA) this project handles.
public enum IPProtocol {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let icmpv6: UInt8 = 58
}

/// A validated view of an IPv4 packet: version 4, a header length within the packet, a total length
/// within the bytes given (trailing Ethernet padding is cut off), a correct header checksum, not a fragment.
public struct IPv4Packet {
    public static let minimumHeaderLength = 20
    public let bytes: UnsafeRawBufferPointer
    public let headerLength: Int

    public init?(_ bytes: UnsafeRawBufferPointer) { self.init(bytes, followedBy: 0) }

    /// A packet whose first bytes are `bytes` (its headers at least) and whose last `following` bytes lie
    /// in further buffers (see ScatteredPayload): its length must be exactly both, with no padding.
    public init?(_ bytes: UnsafeRawBufferPointer, followedBy following: Int) {
        guard bytes.count >= Self.minimumHeaderLength, bytes[0] >> 4 == 4, following >= 0 else { return nil }
        let headerLength = Int(bytes[0] & 0x0F) * 4
        let totalLength = Int(bytes.bigEndianUInt16(at: 2))
        guard headerLength >= Self.minimumHeaderLength, totalLength >= headerLength, headerLength <= bytes.count,
              following == 0 ? totalLength <= bytes.count : totalLength == bytes.count + following
        else { return nil }
        let header = UnsafeRawBufferPointer(rebasing: bytes[0..<headerLength])
        var checksum = InternetChecksum()
        checksum.add(header)
        guard checksum.value == 0 else { return nil }
        // More-fragments set or a non-zero offset: only whole datagrams are handled.
        guard bytes.bigEndianUInt16(at: 6) & 0x3FFF == 0 else { return nil }
        self.bytes = UnsafeRawBufferPointer(rebasing: bytes[0..<min(totalLength, bytes.count)])
        self.headerLength = headerLength
    }

    public var protocolNumber: UInt8 { bytes[9] }
    public var timeToLive: UInt8 { bytes[8] }
    public var source: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[12..<16]) }
    public var destination: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[16..<20]) }
    public var sourceAddress: IPv4Address { IPv4Address(bytes.bigEndianUInt32(at: 12)) }
    public var destinationAddress: IPv4Address { IPv4Address(bytes.bigEndianUInt32(at: 16)) }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[headerLength...]) }

    /// Writes a 20-byte header without options at `offset`, checksum included.
    public static func writeHeader(into buffer: UnsafeMutableRawBufferPointer, at offset: Int,
                                   source: IPv4Address, destination: IPv4Address, protocolNumber: UInt8,
                                   payloadLength: Int, timeToLive: UInt8 = 64) {
        buffer[offset] = 0x45
        buffer[offset + 1] = 0
        buffer.storeBigEndian(UInt16(truncatingIfNeeded: minimumHeaderLength + payloadLength), at: offset + 2)
        buffer.storeBigEndian(UInt16(0), at: offset + 4)
        buffer.storeBigEndian(UInt16(0x4000), at: offset + 6)  // don't fragment
        buffer[offset + 8] = timeToLive
        buffer[offset + 9] = protocolNumber
        buffer.storeBigEndian(UInt16(0), at: offset + 10)
        buffer.storeBigEndian(source.value, at: offset + 12)
        buffer.storeBigEndian(destination.value, at: offset + 16)
        var checksum = InternetChecksum()
        checksum.add(UnsafeRawBufferPointer(rebasing: buffer[offset..<offset + minimumHeaderLength]))
        buffer.storeBigEndian(checksum.value, at: offset + 10)
    }
}
