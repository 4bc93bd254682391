/// The frames one receive produced: views into the backend's own buffers, valid until its next receive.
/// The loop hands them to the flows, which may keep them (queued guest data) until the batch is finished.
public final class FrameBatch {
    public static let capacity = 64
    /// The largest frame: 64 KiB of IP packet plus the Ethernet header, and spare room.
    public static let frameCapacity = 65536 + 16
    public private(set) var count = 0
    private let views: UnsafeMutablePointer<UnsafeRawBufferPointer>
    /// What each frame's virtio-net header said (a tap with offloads): checksums left for us or vouched
    /// for, UDP datagrams sent as one frame.
    private var offloads = [ReceivedOffload](repeating: ReceivedOffload(), count: FrameBatch.capacity)

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
    public func append(_ frame: UnsafeRawBufferPointer) { append(frame, offload: ReceivedOffload()) }

    func append(_ frame: UnsafeRawBufferPointer, offload: ReceivedOffload) {
        precondition(count < Self.capacity)
        views[count] = frame
        offloads[count] = offload
        count += 1
    }

    func offload(_ index: Int) -> ReceivedOffload { offloads[index] }
}
