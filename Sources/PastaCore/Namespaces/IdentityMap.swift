/// /proc/PID/uid_map and gid_map: lines of "inside outside count" (user_namespaces(7)).
enum IdentityMap {
    /// The ranges of IDs that exist inside the namespace (each line's first and count), or nil if the
    /// text isn't such a map: at most 340 lines (the kernel's limit), three unsigned numbers each, counts
    /// above zero and ranges within 32 bits.
    static func insideRanges(_ text: String) -> [(first: UInt32, count: UInt32)]? {
        var ranges: [(first: UInt32, count: UInt32)] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count == 3, ranges.count < 340,
                  let first = UInt32(fields[0]), UInt32(fields[1]) != nil, let count = UInt32(fields[2]),
                  count > 0, UInt64(first) + UInt64(count) <= 1 << 32 else { return nil }
            ranges.append((first, count))
        }
        return ranges
    }
}
