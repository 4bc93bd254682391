/// `--stats DELAY`: how many events of each kind the main loop handled, logged at most every DELAY
/// seconds (and only when something happened), so a busy or a stuck instance can be told apart.
final class EventStatistics {
    private let intervalMilliseconds: Int
    private var counts = [Int](repeating: 0, count: 256)
    private var total = 0
    private var lastReport: Int

    init(intervalSeconds: Int, now: Int) {
        intervalMilliseconds = intervalSeconds * 1000
        lastReport = now
    }

    func record(_ kind: EventKind) {
        counts[Int(kind.rawValue)] &+= 1
        total &+= 1
    }

    /// Logs the counts since the last report, if DELAY has passed; `now` in milliseconds.
    func reportIfDue(now: Int) {
        guard now - lastReport >= intervalMilliseconds, total > 0 else { return }
        let parts = (0..<counts.count).compactMap { raw -> String? in
            guard counts[raw] > 0, let kind = EventKind(rawValue: UInt8(raw)) else { return nil }
            return "\(kind) \(counts[raw])"
        }
        let elapsed = now - lastReport
        logNotice("stats: \(total) events in \(elapsed / 1000).\(elapsed % 1000 / 100) s: " + parts.joined(separator: ", "))
        counts = [Int](repeating: 0, count: 256)
        total = 0
        lastReport = now
    }
}
