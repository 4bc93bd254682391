@testable import PastaCore

/// How the link between the guest and us misbehaves, per direction.
struct LinkFaults {
    var loss = 0.0
    var duplicate = 0.0
    /// Extra delay (ms) drawn per frame from 0...jitter: frames overtake each other.
    var jitter = 0
    var delay = 0
    /// Frames lost on purpose: the Nth frame this way (from 0), for tests that need one particular loss.
    var drop: Set<Int> = []

    static let none = LinkFaults()
}

/// The guest's end of the datapath as the engine sees it (GuestFrameOutput): a backend queue of bounded
/// length that drains at a fixed rate (the engine's `port.isFull`, and `resume` when it drains), then a
/// link that loses, duplicates, delays and reorders frames by the seed, then the guest. Also carries the
/// guest's frames to the engine, with their own faults, in batches as the event loop reads them.
final class SimulatedLink: GuestFrameOutput {
    let scheduler: SimulationScheduler
    var random: SimulationRandom
    var toGuest: LinkFaults
    var toEngine: LinkFaults
    /// Frames the backend holds at most, and drains per millisecond.
    let backendCapacity: Int
    let drainPerMillisecond: Int
    let segmentationOffload: Bool
    /// Buffers of this size are lent for frames (see FrameLoan), the first of each frame holding its
    /// headers; a frame takes a slot of the backend's queue as a sent one does.
    let lentBufferSize: Int?
    private let loan = FrameLoan()
    private var lentMemory: UnsafeMutableRawPointer?
    let guestMAC: [UInt8] = FrameFixtures.guestMAC.bytes
    private(set) var isFull = false
    private var queued = 0
    private var draining = false
    /// While paused (a stopped VM), nothing reaches the guest or comes from it.
    var pausedUntil = 0

    var deliverToGuest: (([UInt8]) -> Void)?
    var deliverToEngine: (([[UInt8]]) -> Void)?
    var drained: (() -> Void)?
    /// Every frame the engine sent, in order, and what became of it (for the resend bounds).
    private(set) var sent: [(frame: [UInt8], lost: Bool, time: Int)] = []
    private var batches: [Int: [[UInt8]]] = [:]

    init(scheduler: SimulationScheduler, random: SimulationRandom, toGuest: LinkFaults, toEngine: LinkFaults,
         backendCapacity: Int, drainPerMillisecond: Int, segmentationOffload: Bool, lentBufferSize: Int? = nil) {
        self.scheduler = scheduler
        self.random = random
        self.toGuest = toGuest
        self.toEngine = toEngine
        self.backendCapacity = backendCapacity
        self.drainPerMillisecond = drainPerMillisecond
        self.segmentationOffload = segmentationOffload
        self.lentBufferSize = lentBufferSize
        if let lentBufferSize {
            lentMemory = .allocate(byteCount: (FrameLoan.maximumParts + FrameLoan.maximumFrames) * lentBufferSize, alignment: 16)
        }
    }

    deinit { lentMemory?.deallocate() }

    func borrowFrames(headerLength: Int, payloadLimit: Int, bytes: Int) -> FrameLoanOutcome {
        guard let lentBufferSize, let lentMemory, headerLength < lentBufferSize else { return .unavailable }
        guard !isFull else { return .full }
        guard queued < backendCapacity else {
            isFull = true
            return .full
        }
        loan.reset(headerLength: headerLength)
        var left = bytes
        var buffer = 0
        // Buffers are handed out in order, so neighbours of one frame are never adjacent by accident of
        // the test: each lies lentBufferSize bytes apart, with garbage between what is filled.
        while left > 0, !loan.isFull, queued + loan.frameCount < backendCapacity, loan.hasRoomForPart {
            let header = lentMemory + buffer * lentBufferSize
            buffer += 1
            loan.beginFrame(header: header, payloadLimit: min(left, payloadLimit))
            loan.addPart(header + headerLength, count: lentBufferSize - headerLength)
            while loan.frameRoomLeft > 0, loan.hasRoomForPart {
                loan.addPart(lentMemory + buffer * lentBufferSize, count: lentBufferSize)
                buffer += 1
            }
            left -= loan.currentFrameRoom
        }
        return .lent(loan)
    }

    func settle(_ loan: FrameLoan, frames: Int) -> Int {
        var part = 0
        for frame in 0..<frames {
            var bytes = Array(loan.header(frame))
            var left = loan.payloadLength(frame)
            while left > 0 {
                let piece = loan.payloadParts[part]
                let count = min(left, piece.count)
                bytes += UnsafeRawBufferPointer(rebasing: piece[0..<count])
                left -= count
                part += 1
            }
            // The next frame's parts start after this frame's last.
            while part < loan.partCount && !startsFrame(loan, part: part, frame: frame + 1) { part += 1 }
            queued += 1
            carryToGuest(bytes)
        }
        if !draining && queued > 0 { drain() }
        return frames
    }

    /// Whether payload part `part` is the first of frame `frame` (it follows that frame's header).
    private func startsFrame(_ loan: FrameLoan, part: Int, frame: Int) -> Bool {
        guard frame < loan.frameCount else { return false }
        return UnsafeRawPointer(loan.payloadParts[part].baseAddress!) == UnsafeRawPointer(loan.header(frame).baseAddress! + loan.headerLength)
    }

    func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        guard !isFull else { return 0 }
        var taken = 0
        for frame in frames {
            if queued >= backendCapacity {
                isFull = true
                break
            }
            queued += 1
            taken += 1
            carryToGuest(Array(frame))
        }
        if !draining && queued > 0 { drain() }
        return taken
    }

    @discardableResult
    func send(_ frame: UnsafeRawBufferPointer) -> Bool {
        withUnsafePointer(to: frame) { send(UnsafeBufferPointer(start: $0, count: 1)) == 1 }
    }

    private func drain() {
        draining = true
        scheduler.after(1) { [self] in
            queued = max(0, queued - drainPerMillisecond)
            draining = false
            if queued > 0 { drain() }
            if isFull && queued < backendCapacity {
                isFull = false
                drained?()
            }
        }
    }

    private var framesToGuest = 0
    private var framesToEngine = 0

    private func carryToGuest(_ frame: [UInt8]) {
        defer { framesToGuest += 1 }
        let lost = random.chance(toGuest.loss) || toGuest.drop.contains(framesToGuest)
        sent.append((frame, lost, scheduler.now))
        guard !lost else { return }
        let copies = random.chance(toGuest.duplicate) ? 2 : 1
        for _ in 0..<copies {
            let due = max(scheduler.now, pausedUntil) + toGuest.delay + (toGuest.jitter > 0 ? random.int(0...toGuest.jitter) : 0)
            scheduler.at(due) { [self] in
                if scheduler.now < pausedUntil { return carryLater(frame) }
                deliverToGuest?(frame)
            }
        }
    }

    /// A frame that reached a paused guest waits in its queue until it runs again.
    private func carryLater(_ frame: [UInt8]) {
        scheduler.at(pausedUntil) { [self] in deliverToGuest?(frame) }
    }

    /// A frame from the guest; frames due at the same millisecond reach the engine as one batch.
    func fromGuest(_ frame: [UInt8]) {
        defer { framesToEngine += 1 }
        guard !random.chance(toEngine.loss), !toEngine.drop.contains(framesToEngine) else { return }
        let copies = random.chance(toEngine.duplicate) ? 2 : 1
        for _ in 0..<copies {
            let due = max(scheduler.now, pausedUntil) + toEngine.delay + (toEngine.jitter > 0 ? random.int(0...toEngine.jitter) : 0)
            if batches[due] == nil {
                batches[due] = []
                scheduler.at(due) { [self] in
                    let batch = batches.removeValue(forKey: due) ?? []
                    deliverToEngine?(batch)
                }
            }
            batches[due]!.append(frame)
        }
    }
}
