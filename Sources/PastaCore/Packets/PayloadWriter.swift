/// Appends protocol fields to a preallocated buffer. Writing past the end sets `overflowed` and writes
/// nothing more, so a builder checks once at the end instead of before every field.
struct PayloadWriter {
    let buffer: UnsafeMutableRawBufferPointer
    let start: Int
    private(set) var offset: Int
    private(set) var overflowed = false

    init(_ buffer: UnsafeMutableRawBufferPointer, at start: Int) {
        self.buffer = buffer
        self.start = start
        offset = start
        overflowed = start > buffer.count
    }

    /// Bytes written since `start`.
    var length: Int { offset - start }

    private mutating func claim(_ count: Int) -> Int? {
        guard !overflowed, count <= buffer.count - offset else {
            overflowed = true
            return nil
        }
        defer { offset += count }
        return offset
    }

    mutating func uint8(_ value: UInt8) {
        if let at = claim(1) { buffer[at] = value }
    }

    mutating func uint16(_ value: UInt16) {
        if let at = claim(2) { buffer.storeBigEndian(value, at: at) }
    }

    mutating func uint32(_ value: UInt32) {
        if let at = claim(4) { buffer.storeBigEndian(value, at: at) }
    }

    mutating func bytes<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if let at = claim(bytes.count) { buffer.copy(bytes, at: at) }
    }

    mutating func ipv6(_ address: IPv6Address) {
        if let at = claim(16) { buffer.store(address, at: at) }
    }

    mutating func zeros(_ count: Int) {
        if let at = claim(count) {
            for index in at..<at + count { buffer[index] = 0 }
        }
    }

    /// Reserves a 16-bit field to be filled by `patch` once what follows is written.
    mutating func placeholder16() -> Int? { claim(2) }

    func patch(_ value: UInt16, at position: Int?) {
        if let position { buffer.storeBigEndian(value, at: position) }
    }
}
