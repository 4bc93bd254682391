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
    /// Payloads that lie in further buffers (see ScatteredPayload): the parts of all the batch's, in order,
    /// and each frame's range and size.
    public static let payloadPartCapacity = 1024
    private let payloadParts: UnsafeMutablePointer<UnsafeRawBufferPointer>
    private var payloadPartCount = 0
    /// Where the parts added for the next frame begin.
    private var nextFramesParts = 0
    private var nextFramesBytes = 0
    private var scatteredRanges = [(start: Int, count: Int, bytes: Int)](repeating: (0, 0, 0), count: FrameBatch.capacity)

    public init() {
        views = .allocate(capacity: Self.capacity)
        views.initialize(repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: Self.capacity)
        payloadParts = .allocate(capacity: Self.payloadPartCapacity)
        payloadParts.initialize(repeating: UnsafeRawBufferPointer(start: nil, count: 0), count: Self.payloadPartCapacity)
    }

    deinit {
        views.deallocate()
        payloadParts.deallocate()
    }

    public var isFull: Bool { count == Self.capacity }

    public subscript(index: Int) -> UnsafeRawBufferPointer {
        precondition(index < count)
        return views[index]
    }

    public func removeAll() {
        count = 0
        payloadPartCount = 0
        nextFramesParts = 0
        nextFramesBytes = 0
    }

    /// Whether `parts` more payload parts fit (the backend asks before adding a frame's).
    func hasRoom(forPayloadParts parts: Int) -> Bool { payloadPartCount + parts <= Self.payloadPartCapacity }

    /// A part of the next frame's payload, which lies in further buffers; the frame, appended next, is
    /// then its headers alone.
    func addPayloadPart(_ part: UnsafeRawBufferPointer) {
        precondition(payloadPartCount < Self.payloadPartCapacity)
        guard !part.isEmpty else { return }
        payloadParts[payloadPartCount] = part
        payloadPartCount += 1
        nextFramesBytes += part.count
    }

    /// The payload of frame `index` that lies in further buffers (none for most frames).
    func scattered(_ index: Int) -> ScatteredPayload {
        precondition(index < count)
        let range = scatteredRanges[index]
        return ScatteredPayload(parts: UnsafeBufferPointer(start: payloadParts + range.start, count: range.count),
                                byteCount: range.bytes)
    }

    /// Adds a frame; the backend checks `isFull` first.
    public func append(_ frame: UnsafeRawBufferPointer) { append(frame, offload: ReceivedOffload()) }

    func append(_ frame: UnsafeRawBufferPointer, offload: ReceivedOffload) {
        precondition(count < Self.capacity)
        views[count] = frame
        offloads[count] = offload
        scatteredRanges[count] = (nextFramesParts, payloadPartCount - nextFramesParts, nextFramesBytes)
        nextFramesParts = payloadPartCount
        nextFramesBytes = 0
        count += 1
    }

    func offload(_ index: Int) -> ReceivedOffload { offloads[index] }
}
