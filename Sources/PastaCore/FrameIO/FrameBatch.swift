/// The frames one receive produced: views into the backend's own buffers, valid until its next receive.
/// The loop hands them to the flows, which may keep them (queued guest data) until the batch is finished.
public final class FrameBatch {
    public static let capacity = 64
    /// The largest frame: 64 KiB of IP packet plus the Ethernet header, and spare room.
    public static let frameCapacity = 65536 + 16
    public private(set) var count = 0
    private let views: UnsafeMutablePointer<UnsafeRawBufferPointer>
    /// Frames whose checksum the sender left for us to finish (a tap with offloads): we don't need it for
    /// TCP, but a capture file shows it finished.
    private var partialChecksums = [PartialChecksum?](repeating: nil, count: FrameBatch.capacity)

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
    public func append(_ frame: UnsafeRawBufferPointer) { append(frame, partialChecksum: nil) }

    func append(_ frame: UnsafeRawBufferPointer, partialChecksum: PartialChecksum?) {
        precondition(count < Self.capacity)
        views[count] = frame
        partialChecksums[count] = partialChecksum
        count += 1
    }

    func partialChecksum(_ index: Int) -> PartialChecksum? { partialChecksums[index] }
}
