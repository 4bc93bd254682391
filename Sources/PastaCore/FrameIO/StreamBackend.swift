import Glibc

/// passt's frame backend: one connected client (qemu's `-netdev stream`, libvirt, Kata) on a UNIX stream
/// socket, speaking StreamFraming. Reads take many frames at once and may end inside one; what is left
/// waits for the next read. Writes gather many frames (length, frame, padding) in one sendmsg; when the
/// socket takes part of a frame, the rest is kept and goes out before anything else, so the framing stays
/// whole, and the backend is full until it has.
public final class StreamBackend: FrameBackend {
    /// Socket buffers asked for: bursts of 64 KiB frames wait in the kernel rather than in us.
    static let socketBuffer: Int32 = 8 << 20
    static let receiveCapacity = 1 << 20
    /// Frames per sendmsg: three iovecs each (length, frame, padding) within what one send gathers, and
    /// no more than 42 (what bench/run.sh's stream rows were measured with).
    static let framesPerSend = min(42, SocketCalls.maximumParts / 3)

    public let socket: Descriptor
    private let received: UnsafeMutableRawBufferPointer
    /// What `received` holds: bytes before `parsed` were handed out in the last batch; bytes from
    /// `parsed` to `filled` are the start of frames still arriving.
    private var parsed = 0
    private var filled = 0
    private let lengths: UnsafeMutablePointer<UInt32>
    private let bases: UnsafeMutablePointer<UnsafeRawPointer?>
    private let sizes: UnsafeMutablePointer<Int>
    /// The unsent end of a frame the socket took only part of.
    private let carry: UnsafeMutableRawBufferPointer
    private var carryStart = 0
    private var carryEnd = 0
    private static let padding = UnsafeMutableRawBufferPointer.allocate(byteCount: StreamFraming.minimumSentFrame, alignment: 8)

    public init(socket: Descriptor) throws {
        self.socket = socket
        try socket.setNonBlocking()
        SocketCalls.setBufferSizes(socket.raw, Int(Self.socketBuffer))
        received = .allocate(byteCount: Self.receiveCapacity, alignment: 64)
        lengths = .allocate(capacity: Self.framesPerSend)
        bases = .allocate(capacity: Self.framesPerSend * 3)
        sizes = .allocate(capacity: Self.framesPerSend * 3)
        carry = .allocate(byteCount: StreamFraming.lengthSize + StreamFraming.maximumFrame + StreamFraming.minimumSentFrame,
                          alignment: 8)
        Self.padding.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        received.deallocate()
        lengths.deallocate()
        bases.deallocate()
        sizes.deallocate()
        carry.deallocate()
    }

    public var eventDescriptor: Int32 { socket.raw }

    // MARK: Receiving

    public func receive(into batch: FrameBatch) throws -> FrameReceipt {
        batch.removeAll()
        // The last batch is done with: move the start of an unfinished frame to the front.
        if parsed > 0 {
            let left = filled - parsed
            if left > 0 { received.baseAddress!.copyMemory(from: received.baseAddress! + parsed, byteCount: left) }
            filled = left
            parsed = 0
        }
        while true {
            if let closed = takeFrames(into: batch) { return closed }
            if batch.isFull { return .frames(batch.count, drained: false) }
            // A batch can't grow past the buffer: its frames point into it. Come back for the rest.
            if filled == received.count { return .frames(batch.count, drained: false) }
            let n: Int
            do {
                guard let count = try socket.read(into: received.baseAddress! + filled, count: received.count - filled) else {
                    return .frames(batch.count, drained: true)
                }
                n = count
            } catch let error as SystemError {
                return closing("read from the client: \(errorDescription(error.code))")
            }
            if n == 0 { return closing("the client closed the connection") }
            filled += n
        }
    }

    /// Hands out the whole frames that arrived; nil, or `.closed` if a length can't be right.
    private func takeFrames(into batch: FrameBatch) -> FrameReceipt? {
        let bytes = UnsafeRawBufferPointer(rebasing: received[0..<filled])
        while !batch.isFull {
            switch StreamFraming.next(in: bytes, at: parsed) {
            case .frame(let offset, let length):
                batch.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + length]))
                parsed = offset + length
            case .incomplete:
                return nil
            case .badLength(let length):
                return closing("the client sent a frame length of \(length) bytes (14 to 65535 expected)")
            }
        }
        return nil
    }

    private func closing(_ reason: String) -> FrameReceipt {
        logInfo("guest: \(reason)")
        return .closed
    }

    // MARK: Sending

    public func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        guard flushCarry() else { return 0 }
        var taken = 0
        while taken < frames.count {
            let chunk = min(Self.framesPerSend, frames.count - taken)
            let accepted = sendChunk(UnsafeBufferPointer(rebasing: frames[taken..<taken + chunk]))
            taken += accepted
            if accepted < chunk || carryEnd > carryStart { break }
        }
        return taken
    }

    /// One sendmsg for up to `framesPerSend` frames; returns how many were taken (a frame taken in part
    /// counts, its rest is in the carry).
    private func sendChunk(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        var parts = 0
        for (index, frame) in frames.enumerated() {
            let padded = max(frame.count, StreamFraming.minimumSentFrame)
            lengths[index] = UInt32(padded).bigEndian
            bases[parts] = UnsafeRawPointer(lengths + index)
            sizes[parts] = StreamFraming.lengthSize
            bases[parts + 1] = frame.baseAddress
            sizes[parts + 1] = frame.count
            parts += 2
            if padded > frame.count {
                bases[parts] = UnsafeRawPointer(Self.padding.baseAddress)
                sizes[parts] = padded - frame.count
                parts += 1
            }
        }
        var written: Int
        switch SocketCalls.send(socket.raw, bases: bases, lengths: sizes, count: parts) {
        case .done(let count): written = count
        case .wouldBlock: return 0
        case .failed: return frames.count  // a peer that went away is noticed by the next read; until then its frames are lost
        }
        // Walk the frames to where the socket stopped.
        var part = 0
        for index in 0..<frames.count {
            let count = frames[index].count < StreamFraming.minimumSentFrame ? 3 : 2
            var frameBytes = 0
            for p in part..<part + count { frameBytes += sizes[p] }
            if written >= frameBytes {
                written -= frameBytes
                part += count
                continue
            }
            if written == 0 { return index }
            // Part of this frame left: keep the rest to send before anything else.
            carryStart = 0
            carryEnd = 0
            for p in part..<part + count {
                let skip = min(written, sizes[p])
                written -= skip
                let rest = sizes[p] - skip
                if rest > 0 {
                    (carry.baseAddress! + carryEnd).copyMemory(from: bases[p]! + skip, byteCount: rest)
                    carryEnd += rest
                }
            }
            return index + 1
        }
        return frames.count
    }

    /// Sends what is left of a frame taken in part; true once nothing is.
    private func flushCarry() -> Bool {
        while carryEnd > carryStart {
            let rest = UnsafeRawBufferPointer(start: carry.baseAddress! + carryStart, count: carryEnd - carryStart)
            switch SocketCalls.send(socket.raw, rest) {
            case .done(let n): carryStart += n
            case .wouldBlock: return false
            case .failed: carryStart = carryEnd  // the peer is gone: the read side will notice
            }
        }
        carryStart = 0
        carryEnd = 0
        return true
    }

    public func drain() -> Bool { flushCarry() }
}
