import Glibc

/// CLOCK_MONOTONIC in seconds or milliseconds: immune to wall-clock changes, for timeouts and schedules.
enum MonotonicClock {
    static func seconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int(now.tv_sec)
    }

    static func milliseconds() -> Int {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int(now.tv_sec) * 1000 + Int(now.tv_nsec) / 1_000_000
    }
}
