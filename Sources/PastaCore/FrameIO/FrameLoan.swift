/// Room for frames in the guest's own receive buffers, lent by a backend that has them (vhost-user) so
/// that a payload read from a host socket lands where the guest reads it: one copy, made by the kernel.
///
/// Each frame has `headerLength` contiguous bytes for its Ethernet, IP and TCP headers, then its payload's
/// parts. The parts of all frames follow each other in `parts`, so one scattered peek fills the frames in
/// order; `fill` then says how much each got. The borrower writes the headers and hands the loan back
/// (`FrameBackend.settle`): frames it filled go to the guest, the rest of the buffers back to the ring.
public final class FrameLoan {
    /// Frames and payload parts of one loan: one peek's worth (a socket read takes at most
    /// `TCPSocket.maximumParts` parts).
    static let maximumFrames = 32
    static let maximumParts = 128

    public private(set) var frameCount = 0
    public private(set) var partCount = 0
    public private(set) var headerLength = 0
    /// Where each frame's headers go.
    private let headers: UnsafeMutablePointer<UnsafeMutableRawPointer>
    /// Each frame's payload room, and after `fill` the bytes it holds.
    private let room: UnsafeMutablePointer<Int>
    private let filled: UnsafeMutablePointer<Int>
    private let parts: UnsafeMutablePointer<UnsafeMutableRawBufferPointer>
    /// The payload room of all frames together.
    public private(set) var capacity = 0
    /// The room the frame being lent may still take.
    private var frameLimit = 0

    public init() {
        headers = .allocate(capacity: Self.maximumFrames)
        room = .allocate(capacity: Self.maximumFrames)
        filled = .allocate(capacity: Self.maximumFrames)
        parts = .allocate(capacity: Self.maximumParts)
    }

    deinit {
        headers.deallocate()
        room.deallocate()
        filled.deallocate()
        parts.deallocate()
    }

    // MARK: The lender

    /// Starts over, for frames with `headerLength` bytes of headers.
    public func reset(headerLength: Int) {
        self.headerLength = headerLength
        frameCount = 0
        partCount = 0
        capacity = 0
    }

    public var isFull: Bool { frameCount == Self.maximumFrames }
    public var hasRoomForPart: Bool { partCount < Self.maximumParts }

    /// A new frame whose headers go at `header`, with room for at most `payloadLimit` bytes of payload.
    public func beginFrame(header: UnsafeMutableRawPointer, payloadLimit: Int) {
        precondition(frameCount < Self.maximumFrames)
        headers[frameCount] = header
        room[frameCount] = 0
        filled[frameCount] = 0
        frameLimit = payloadLimit
        frameCount += 1
    }

    /// Adds a buffer to the current frame's payload, cut to what the frame may still take.
    public func addPart(_ base: UnsafeMutableRawPointer, count: Int) {
        let used = min(count, frameLimit)
        guard used > 0, partCount < Self.maximumParts else { return }
        parts[partCount] = UnsafeMutableRawBufferPointer(start: base, count: used)
        partCount += 1
        room[frameCount - 1] += used
        capacity += used
        frameLimit -= used
    }

    /// The payload room the current frame may still take.
    public var frameRoomLeft: Int { frameLimit }

    /// The current frame's payload room so far.
    public var currentFrameRoom: Int { frameCount > 0 ? room[frameCount - 1] : 0 }

    /// Takes back the current frame (it got no payload room).
    public func abandonFrame() {
        guard frameCount > 0 else { return }
        frameCount -= 1
        capacity -= room[frameCount]
        frameLimit = 0
    }

    // MARK: The borrower

    /// What one scattered read fills, frame after frame.
    public var payloadParts: UnsafeBufferPointer<UnsafeMutableRawBufferPointer> {
        UnsafeBufferPointer(start: parts, count: partCount)
    }

    /// `bytes` were read into `payloadParts`: spreads them over the frames in order. Returns how many
    /// frames hold some.
    public func fill(_ bytes: Int) -> Int {
        var left = bytes
        var count = 0
        for index in 0..<frameCount {
            filled[index] = min(left, room[index])
            left -= filled[index]
            if filled[index] > 0 { count = index + 1 }
        }
        return count
    }

    public func header(_ frame: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: headers[frame], count: headerLength)
    }

    /// The payload bytes frame `frame` holds, after `fill`.
    public func payloadLength(_ frame: Int) -> Int { filled[frame] }
}

/// What asking the guest's side for frames to fill brought.
public enum FrameLoanOutcome {
    /// The loan, with room for at least one frame.
    case lent(FrameLoan)
    /// The guest has no buffers free: the port is full until it drains.
    case full
    /// This backend doesn't lend (or not for these frames, or not now): build the frames in our memory.
    case unavailable
}
