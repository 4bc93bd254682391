/// qemu's stream socket framing (`-netdev stream`, and passt's own wire format): each Ethernet frame is
/// preceded by its length, a 32-bit big-endian number, with no virtio-net header. A read may end anywhere,
/// in a length or in a frame: `next` finds whole frames in what has arrived and says how much is left over.
enum StreamFraming {
    static let lengthSize = 4
    /// An Ethernet header; shorter "frames" mean the peer is not speaking this protocol.
    static let minimumFrame = 14
    static let maximumFrame = 65535
    /// Frames shorter than this are padded on the way out (Ethernet's minimum without the FCS).
    static let minimumSentFrame = 60

    enum Next: Equatable {
        /// A whole frame at `offset` of `length` bytes; the next one starts at `offset + length`.
        case frame(offset: Int, length: Int)
        /// What is left (from `from`) is part of a frame or of a length: read more.
        case incomplete(from: Int)
        /// A length no Ethernet frame has: the stream can't be trusted any further.
        case badLength(Int)
    }

    /// The frame starting at `offset` in `bytes`, if it has arrived whole.
    static func next(in bytes: UnsafeRawBufferPointer, at offset: Int) -> Next {
        guard bytes.count - offset >= lengthSize else { return .incomplete(from: offset) }
        let length = Int(bytes.bigEndianUInt32(at: offset))
        guard length >= minimumFrame, length <= maximumFrame else { return .badLength(length) }
        guard bytes.count - offset - lengthSize >= length else { return .incomplete(from: offset) }
        return .frame(offset: offset + lengthSize, length: length)
    }
}
