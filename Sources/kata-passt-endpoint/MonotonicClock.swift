import Glibc

/// Milliseconds on CLOCK_MONOTONIC, for deadlines and for reporting how long a step took.
func monotonicMilliseconds() -> Int {
    var clock = timespec()
    clock_gettime(CLOCK_MONOTONIC, &clock)
    return clock.tv_sec * 1000 + clock.tv_nsec / 1_000_000
}
