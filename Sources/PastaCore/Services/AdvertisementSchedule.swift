/// When to send the next unsolicited Router Advertisement (RFC 4861 section 6.2.4): at a random interval
/// between the minimum and maximum, but no more than 16 s apart for the first three.
struct AdvertisementSchedule {
    static let initialAdvertisements = 3
    static let maximumInitialInterval = 16

    private var nextSecond: Int
    private var sent = 0

    /// The first advertisement goes out one second after `now`, once the interface had a moment to come up.
    init(now: Int) { nextSecond = now + 1 }

    /// True when an advertisement is due at `now`; the following one is then scheduled.
    mutating func due(now: Int) -> Bool {
        guard now >= nextSecond else { return false }
        sent += 1
        var interval = Int.random(in: NDPResponder.minimumAdvertisementInterval...NDPResponder.maximumAdvertisementInterval)
        if sent < Self.initialAdvertisements { interval = min(interval, Self.maximumInitialInterval) }
        nextSecond = now + interval
        return true
    }
}
