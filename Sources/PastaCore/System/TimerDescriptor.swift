import CLinux
import Glibc

/// A monotonic timerfd, for periodic work inside the event loop.
public final class TimerDescriptor {
    public let descriptor: Descriptor

    public init(intervalMilliseconds: Int) throws {
        descriptor = Descriptor(try retryingEINTR("timerfd_create") { CLinux_timerfd_create() })
        try retryingEINTR("timerfd_settime") {
            CLinux_timerfd_arm(descriptor.raw, intervalMilliseconds, intervalMilliseconds)
        }
    }

    /// A timer that is armed on demand with `arm(afterMilliseconds:)`.
    public init() throws {
        descriptor = Descriptor(try retryingEINTR("timerfd_create") { CLinux_timerfd_create() })
    }

    /// Fires once after `milliseconds`, or every `milliseconds` from then on with `repeating`.
    public func arm(afterMilliseconds milliseconds: Int, repeating: Bool = false) {
        _ = CLinux_timerfd_arm(descriptor.raw, milliseconds, repeating ? milliseconds : 0)
    }

    /// Stops it.
    public func disarm() {
        _ = CLinux_timerfd_arm(descriptor.raw, 0, 0)
    }

    /// Consumes the expiration count so the descriptor stops being readable.
    public func acknowledge() {
        var expirations: UInt64 = 0
        _ = Glibc.read(descriptor.raw, &expirations, 8)
    }
}
