/// The SACK blocks a receiver reports (RFC 2018 section 4): the stretches of data it holds above its
/// acknowledgment, each as (left edge, right edge past the last byte).
enum SACKBlocks {
    /// Merges held segments (in sequence order, as the segment pool keeps them) into at most `limit`
    /// blocks, lowest first. Segments that are empty or don't lie wholly above `acknowledgment` are left
    /// out; adjoining or overlapping ones make one block.
    static func covering<Held: Sequence>(_ held: Held, above acknowledgment: UInt32, limit: Int = 4)
        -> [(left: UInt32, right: UInt32)] where Held.Element == (sequence: UInt32, length: Int) {
        var blocks: [(left: UInt32, right: UInt32)] = []
        for segment in held where segment.length > 0 && sequenceLess(acknowledgment, segment.sequence) {
            let end = segment.sequence &+ UInt32(truncatingIfNeeded: segment.length)
            if let last = blocks.last, sequenceLessOrEqual(segment.sequence, last.right) {
                if sequenceLess(last.right, end) { blocks[blocks.count - 1].right = end }
                continue
            }
            if blocks.count == limit { break }
            blocks.append((segment.sequence, end))
        }
        return blocks
    }
}
