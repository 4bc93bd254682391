import CLinux
import Glibc

/// An eventfd: vhost-user's kick (the driver says a ring has new entries) and call (we tell the driver
/// we used some). Non-blocking; the frontend usually sends the descriptors, `make` is for tests.
enum EventCounter {
    static func make() -> Int32 { CLinux_eventfd() }

    /// Adds one: the other side wakes up. A full counter (2^64 - 2) would block; it never fills in practice.
    @inline(__always)
    static func signal(_ fd: Int32) {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
    }

    /// Reads and clears the counter; true if it was non-zero.
    @discardableResult
    static func take(_ fd: Int32) -> Bool {
        var value: UInt64 = 0
        return withUnsafeMutableBytes(of: &value) { Glibc.read(fd, $0.baseAddress, 8) } == 8 && value > 0
    }
}
