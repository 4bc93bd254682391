import Glibc
@testable import PastaCore

/// A frame backend for tests: records what the flows send, takes at most `room` frames (nil: any number)
/// and is watched through a pipe of its own, so a GuestPort can register it.
final class CapturingBackend: FrameBackend {
    var frames: [[UInt8]] = []
    var room: Int?
    private var pipe: [Int32] = [-1, -1]

    init(room: Int? = nil) {
        self.room = room
        _ = Glibc.pipe(&pipe)
    }

    deinit { pipe.forEach { Glibc.close($0) } }

    var eventDescriptor: Int32 { pipe[0] }

    func receive(into batch: FrameBatch) throws -> FrameReceipt {
        batch.removeAll()
        return .frames(0, drained: true)
    }

    func send(_ offered: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        let taken = min(offered.count, room ?? offered.count)
        for frame in offered.prefix(taken) { frames.append(Array(frame)) }
        if room != nil { room! -= taken }
        return taken
    }

    func drain() -> Bool { room.map { $0 > 0 } ?? true }
}
