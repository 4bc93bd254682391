/// Reads a fuzz input front to back: control bytes that steer a harness, then data. Reading past the end
/// gives zeros and empty slices, so every input means something.
struct FuzzInput {
    private let bytes: UnsafeRawBufferPointer
    private(set) var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }
    var isEmpty: Bool { remaining == 0 }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    /// Up to `count` bytes: fewer when the input ends first.
    mutating func bytes(_ count: Int) -> [UInt8] {
        let taken = max(0, min(count, remaining))
        defer { offset += taken }
        return Array(bytes[offset..<offset + taken])
    }

    /// Everything not read yet.
    mutating func rest() -> [UInt8] { bytes(remaining) }

    /// The rest as text: invalid UTF-8 becomes U+FFFD, as when a file or argument is decoded.
    mutating func restAsText() -> String { String(decoding: rest(), as: UTF8.self) }
}
