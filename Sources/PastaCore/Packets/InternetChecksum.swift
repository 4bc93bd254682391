/// The Internet checksum (RFC 1071): a ones'-complement sum of 16-bit big-endian words, accumulated in
/// 32 bits and folded at the end.
public struct InternetChecksum {
    private var sum: UInt64 = 0

    public init() {}

    /// Adds bytes as big-endian words; an odd trailing byte is padded with zero. Sums over several calls
    /// are only correct if every call but the last has an even length.
    ///
    /// The ones'-complement sum doesn't depend on byte order (RFC 1071 section 2B): the bytes are summed as
    /// native 32-bit words, eight bytes per step, and the folded result is byte-swapped once at the end.
    @inline(__always)
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        var native: UInt64 = 0
        var index = 0
        // Two 32-bit halves per 8-byte load: 2^32 additions of 2^32 can't overflow 64 bits.
        while index + 8 <= count {
            let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            native &+= (word & 0xFFFF_FFFF) &+ (word >> 32)
            index += 8
        }
        while index + 2 <= count {
            native &+= UInt64(base.loadUnaligned(fromByteOffset: index, as: UInt16.self))
            index += 2
        }
        if index < count {
            // The odd byte is the high byte of a big-endian word, the low byte of a little-endian one.
            native &+= UInt64(bytes[index]) << (1.littleEndian == 1 ? 0 : 8)
        }
        while native >> 16 != 0 { native = (native & 0xFFFF) &+ (native >> 16) }
        sum &+= UInt64(UInt16(bigEndian: UInt16(truncatingIfNeeded: native)))
    }

    @inline(__always)
    public mutating func add(_ word: UInt16) { sum &+= UInt64(word) }

    @inline(__always)
    public mutating func add(_ value: UInt32) { sum &+= UInt64(value >> 16) &+ UInt64(value & 0xFFFF) }

    /// The ones'-complement of the folded sum, as stored in a header.
    public var value: UInt16 {
        var folded = sum
        while folded >> 16 != 0 { folded = (folded & 0xFFFF) &+ (folded >> 16) }
        return ~UInt16(folded)
    }

    /// Checksum of the IPv4 pseudo-header (RFC 768) plus `segment`.
    public static func ipv4(source: UnsafeRawBufferPointer, destination: UnsafeRawBufferPointer,
                            protocolNumber: UInt8, segment: UnsafeRawBufferPointer) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(source)
        checksum.add(destination)
        checksum.add(UInt16(protocolNumber))
        checksum.add(UInt16(truncatingIfNeeded: segment.count))
        checksum.add(segment)
        return checksum.value
    }

    /// Checksum of the IPv6 pseudo-header (RFC 8200 section 8.1) plus `segment`.
    public static func ipv6(source: UnsafeRawBufferPointer, destination: UnsafeRawBufferPointer,
                            nextHeader: UInt8, segment: UnsafeRawBufferPointer) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(source)
        checksum.add(destination)
        checksum.add(UInt32(truncatingIfNeeded: segment.count))
        checksum.add(UInt16(nextHeader))
        checksum.add(segment)
        return checksum.value
    }
}
