/// When to look at the host again after notifications: once they have been quiet for `quiet`
/// milliseconds, so a burst (an interface brought up with its addresses and routes, a flapping link)
/// is read once, settled; but at least every `longest` milliseconds while they keep coming.
struct ChangeDebounce {
    let quiet: Int
    let longest: Int
    private var firstChange: Int?
    private var lastChange = 0

    init(quietMilliseconds: Int = 200, longestMilliseconds: Int = 2000) {
        quiet = quietMilliseconds
        longest = longestMilliseconds
    }

    var isPending: Bool { firstChange != nil }

    mutating func changed(now: Int) {
        if firstChange == nil { firstChange = now }
        lastChange = now
    }

    /// True once, when the pending changes are due to be read; the next change starts a new round.
    mutating func due(now: Int) -> Bool {
        guard let first = firstChange, now - lastChange >= quiet || now - first >= longest else { return false }
        firstChange = nil
        return true
    }
}
