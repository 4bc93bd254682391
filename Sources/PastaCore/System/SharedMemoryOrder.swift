import CLinux

/// Loads and stores of indexes in memory another party (a VM's driver) writes at the same time: the
/// virtqueues' available and used indexes. Acquire on load, release on store, and a full fence where
/// a store must be seen before a load (publishing used entries, then reading whether to notify).
enum SharedMemoryOrder {
    @inline(__always)
    static func loadAcquire(_ address: UnsafeRawPointer) -> UInt16 { CLinux_load_acquire_u16(address) }

    @inline(__always)
    static func storeRelease(_ address: UnsafeMutableRawPointer, _ value: UInt16) { CLinux_store_release_u16(address, value) }

    @inline(__always)
    static func fence() { CLinux_fence() }
}
