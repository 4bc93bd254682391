import Glibc
@testable import PastaCore

/// A frame backend that keeps what the datapath sends instead of writing it anywhere; watched through a
/// pipe of its own, so a GuestPort can register it with epoll. Nothing ever arrives on it.
final class RecordingBackend: FrameBackend {
    var sent: [[UInt8]] = []
    private var pipe: [Int32] = [-1, -1]

    init() {
        guard Glibc.pipe(&pipe) == 0 else { fatalError("pipe: \(errno)") }
    }

    deinit { pipe.forEach { Glibc.close($0) } }

    var eventDescriptor: Int32 { pipe[0] }

    func receive(into batch: FrameBatch) throws -> FrameReceipt {
        batch.removeAll()
        return .frames(0, drained: true)
    }

    func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        for frame in frames { sent.append(Array(frame)) }
        return frames.count
    }

    func drain() -> Bool { true }
}
