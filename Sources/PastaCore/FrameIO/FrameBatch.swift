/// The frames one receive produced: views into the backend's own buffers, valid until its next receive.
/// The loop hands them to the flows, which may keep them (queued guest data) until the batch is finished.
public final class FrameBatch {
    public static let capacity = 64
    /// The largest frame: 64 KiB of IP packet plus the Ethernet header, and spare room.
    public static let frameCapacity = 65536 + 16
    public private(set) var count = 0
    private let views: UnsafeMutablePointer<UnsafeRawBufferPointer>

    public init() {
        views = .allocate(capacity: Self.capacity)
        views.initialize(repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: Self.capacity)
    }

    deinit { views.deallocate() }

    public var isFull: Bool { count == Self.capacity }

    public subscript(index: Int) -> UnsafeRawBufferPointer {
        precondition(index < count)
        return views[index]
    }

    public func removeAll() { count = 0 }

    /// Adds a frame; the backend checks `isFull` first.
    public func append(_ frame: UnsafeRawBufferPointer) {
        precondition(count < Self.capacity)
        views[count] = frame
        count += 1
    }
}
