/// A token bucket for the ICMP errors we send the guest (as a router limits them, RFC 1812 4.3.2.8):
/// `burst` at once, then `perSecond`. What is earned is kept to the millisecond, so a caller asking at
/// any pace gets the rate, not less; a full bucket earns nothing while it waits.
struct ErrorRateLimit {
    let perSecond: Int
    let burst: Int
    private var tokens: Int
    private var refilledAt = 0

    init(perSecond: Int, burst: Int) {
        self.perSecond = perSecond
        self.burst = burst
        tokens = burst
    }

    /// One error's worth at `now` (milliseconds), if any is left.
    mutating func take(now: Int) -> Bool {
        let earned = (now - refilledAt) * perSecond / 1000
        if earned > 0 {
            tokens = min(burst, tokens + earned)
            refilledAt = tokens == burst ? now : refilledAt + earned * 1000 / perSecond
        }
        guard tokens > 0 else { return false }
        tokens -= 1
        return true
    }
}
