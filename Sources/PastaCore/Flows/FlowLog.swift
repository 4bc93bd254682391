/// A flow's start and end, one debug line each (`-d`), at most `perSecond` lines a second per log: a
/// flood of connections can't fill a disk (and `--log-size` bounds the file anyway). What was left out is
/// counted and said with the next line let through.
final class FlowLog {
    static let perSecond = 200
    private var second = Int.min
    private var lines = 0
    private var suppressed = 0

    /// Logs `message` if debug logging is on and this second's budget allows, `now` in milliseconds.
    func log(now: Int, _ message: @autoclosure () -> String) {
        guard Logger.shared.enabled(.debug) else { return }
        if now / 1000 != second {
            second = now / 1000
            lines = 0
        }
        guard lines < Self.perSecond else {
            suppressed += 1
            return
        }
        lines += 1
        if suppressed > 0 {
            logDebug("(\(suppressed) flow lines left out: more than \(Self.perSecond) a second)")
            suppressed = 0
        }
        logDebug(message())
    }
}
