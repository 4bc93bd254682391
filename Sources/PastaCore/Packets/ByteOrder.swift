/// Big-endian field access on raw packet bytes. Readers assume the caller checked the bounds; the
/// views and parsers do so before every access.
extension UnsafeRawBufferPointer {
    @inline(__always)
    func bigEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    @inline(__always)
    func bigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndianUInt16(at: offset)) << 16 | UInt32(bigEndianUInt16(at: offset + 2))
    }

    @inline(__always)
    func bigEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndianUInt32(at: offset)) << 32 | UInt64(bigEndianUInt32(at: offset + 4))
    }

    /// The 16 bytes at `offset` as an IPv6 address.
    func ipv6Address(at offset: Int) -> IPv6Address {
        IPv6Address(high: bigEndianUInt64(at: offset), low: bigEndianUInt64(at: offset + 8))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func storeBigEndian(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    @inline(__always)
    func storeBigEndian(_ value: UInt32, at offset: Int) {
        storeBigEndian(UInt16(value >> 16), at: offset)
        storeBigEndian(UInt16(truncatingIfNeeded: value), at: offset + 2)
    }

    @inline(__always)
    func storeBigEndian(_ value: UInt64, at offset: Int) {
        storeBigEndian(UInt32(value >> 32), at: offset)
        storeBigEndian(UInt32(truncatingIfNeeded: value), at: offset + 4)
    }

    func store(_ address: IPv6Address, at offset: Int) {
        storeBigEndian(address.high, at: offset)
        storeBigEndian(address.low, at: offset + 8)
    }

    func copy<C: Collection>(_ bytes: C, at offset: Int) where C.Element == UInt8 {
        var index = offset
        for byte in bytes {
            self[index] = byte
            index += 1
        }
    }
}
