import CLinux

/// Memory another process shares with us and may shrink under us (a vhost-user frontend's memfd): an
/// access past its new end raises SIGBUS. Inside a guarded range the signal is absorbed (a zero page
/// takes the lost one's place) and counted, so the owner can give the memory up; anywhere else SIGBUS
/// keeps its default action.
enum SharedMemoryGuard {
    /// False if the table of ranges is full (the range is then unguarded).
    static func guardRange(_ start: UnsafeMutableRawPointer, length: Int) -> Bool {
        CLinux_guard_range(start, length) == 0
    }

    static func unguard(_ start: UnsafeMutableRawPointer) { CLinux_unguard_range(start) }

    /// Faults absorbed so far, in all ranges.
    static var faults: UInt { UInt(CLinux_guard_faults()) }
}
