import Glibc

/// Seconds of CLOCK_MONOTONIC: immune to wall-clock changes, for timeouts and schedules.
enum MonotonicClock {
    static func seconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int(now.tv_sec)
    }
}
