/// The Internet checksum (RFC 1071): a ones'-complement sum of 16-bit big-endian words, accumulated in
/// 32 bits and folded at the end.
public struct InternetChecksum {
    private var sum: UInt64 = 0

    public init() {}

    /// Adds bytes as big-endian words; an odd trailing byte is padded with zero. Sums over several calls
    /// are only correct if every call but the last has an even length.
    ///
    /// The ones'-complement sum doesn't depend on byte order (RFC 1071 section 2B): the bytes are summed as
    /// native words and the folded result is byte-swapped once at the end.
    @inline(__always)
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        // Whole 64-bit words with end-around carry: 2^64 is 1 modulo 2^16 - 1, so each overflow counts one.
        // Four independent accumulators per 32 bytes keep the additions from waiting on each other.
        var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0, carries: UInt64 = 0
        var index = 0
        while index + 32 <= count {
            var overflow: Bool
            (a, overflow) = a.addingReportingOverflow(base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            carries &+= overflow ? 1 : 0
            (b, overflow) = b.addingReportingOverflow(base.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self))
            carries &+= overflow ? 1 : 0
            (c, overflow) = c.addingReportingOverflow(base.loadUnaligned(fromByteOffset: index + 16, as: UInt64.self))
            carries &+= overflow ? 1 : 0
            (d, overflow) = d.addingReportingOverflow(base.loadUnaligned(fromByteOffset: index + 24, as: UInt64.self))
            carries &+= overflow ? 1 : 0
            index += 32
        }
        var native = carries &+ (a & 0xFFFF_FFFF) &+ (a >> 32) &+ (b & 0xFFFF_FFFF) &+ (b >> 32)
        native &+= (c & 0xFFFF_FFFF) &+ (c >> 32) &+ (d & 0xFFFF_FFFF) &+ (d >> 32)
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

    /// The folded, uncomplemented sum of the pseudo-header alone: what a segment's checksum field holds
    /// while a device (or the tap's reader) is left to finish the checksum (CHECKSUM_PARTIAL).
    public static func partial(source: UnsafeRawBufferPointer, destination: UnsafeRawBufferPointer,
                               protocolNumber: UInt8, length: Int) -> UInt16 {
        var checksum = InternetChecksum()
        checksum.add(source)
        checksum.add(destination)
        checksum.add(UInt32(truncatingIfNeeded: length))
        checksum.add(UInt16(protocolNumber))
        return ~checksum.value
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
