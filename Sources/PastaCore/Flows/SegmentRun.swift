/// Which queued datagrams can leave as one UDP generic-segmentation send (UDP_SEGMENT): a run of payloads
/// of one size, of which only the last may be shorter, within the kernel's limits on segments and on the
/// size of the one packet they travel as until they are cut.
enum SegmentRun {
    /// The kernel's UDP_MAX_SEGMENTS (64 before Linux 6.4, 128 since).
    static let maximumSegments = 64
    /// Payload bytes of one segmented send: its IP packet (with an IPv6 header) must stay within 64 KiB.
    static let maximumBytes = 65_535 - 40 - 8

    /// How many datagrams from `start` on go together (1: none do). `lengths` holds `count` payload sizes.
    static func length(_ lengths: UnsafePointer<Int>, count: Int, from start: Int) -> Int {
        guard start < count else { return 0 }
        let segment = lengths[start]
        guard segment > 0 else { return 1 }
        var total = segment
        var end = start + 1
        while end < count && end - start < maximumSegments {
            let next = lengths[end]
            guard next > 0, next <= segment, total + next <= maximumBytes else { break }
            total += next
            end += 1
            if next < segment { break }  // a shorter one ends the run
        }
        return end - start
    }
}
