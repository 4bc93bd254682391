@testable import PastaCore

/// A host socket in memory, with the kernel's behaviour the engine relies on: a receive queue it peeks
/// into from a peek offset (SO_PEEK_OFF, which moves back by what is discarded), a bounded send buffer
/// (EAGAIN when full; short writes), shutdown, a pending error, and the end of the peer's stream.
/// The host peer (HostPeer) fills and drains the other ends; `interestChanged` tells the simulation when
/// the engine changed what it watches (epoll reports what is ready then).
final class FakeHostSocket: HostSocket {
    // The peer's stream towards us: bytes from `receiveHead` on are still queued.
    private var receiveBytes: [UInt8] = []
    private var receiveHead = 0
    private(set) var peekOffset = 0
    /// The peer's FIN follows what is queued.
    var peerFinished = false
    /// SO_ERROR, and whether calls fail (after a reset by the peer).
    var error: Int32 = 0
    var broken = false

    // Our stream towards the peer.
    private var sendBytes: [UInt8] = []
    private var sendHead = 0
    let sendCapacity: Int
    /// At most this many bytes per send (short writes), if set.
    var sendLimit: Int?
    private(set) var writeShutdown = false

    private(set) var index = -1
    private(set) var generation: UInt32 = 0
    private(set) var watched = false
    private(set) var watchingWritable = false
    private(set) var closed = false
    private(set) var aborted = false
    /// Calls made after close: there must be none that matter (a closed socket is forgotten).
    private(set) var callsAfterClose = 0
    var interestChanged: ((FakeHostSocket) -> Void)?

    init(sendCapacity: Int) { self.sendCapacity = sendCapacity }

    // MARK: The peer's side

    var queuedForUs: Int { receiveBytes.count - receiveHead }
    var unsentToPeer: Int { sendBytes.count - sendHead }
    var sendRoom: Int { max(0, sendCapacity - unsentToPeer) }
    /// Linux reports a TCP socket writable (EPOLLOUT) when its free space is at least half of what is
    /// queued (sk_stream_is_writeable), not as soon as one byte fits.
    var reportsWritable: Bool { sendRoom > 0 && sendRoom >= unsentToPeer / 2 }

    func peerWrites(_ bytes: [UInt8]) { receiveBytes += bytes }

    /// What we sent that the peer reads now, up to `limit` bytes.
    func peerReads(upTo limit: Int) -> [UInt8] {
        let count = min(limit, unsentToPeer)
        let bytes = Array(sendBytes[sendHead..<sendHead + count])
        sendHead += count
        if sendHead > 65536 && sendHead * 2 > sendBytes.count {
            sendBytes.removeFirst(sendHead)
            sendHead = 0
        }
        return bytes
    }

    // MARK: HostSocket

    func send(_ parts: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> IOResult {
        if closed { callsAfterClose += 1 }
        if broken { return .failed(104) }  // ECONNRESET
        if writeShutdown { return .failed(32) }  // EPIPE
        var room = min(sendRoom, sendLimit ?? .max)
        guard room > 0 else { return .wouldBlock }
        var taken = 0
        for part in parts where room > 0 {
            let count = min(room, part.count)
            sendBytes += UnsafeRawBufferPointer(rebasing: part[0..<count])
            taken += count
            room -= count
        }
        return .done(taken)
    }

    func peek(into buffers: UnsafeBufferPointer<UnsafeMutableRawBufferPointer>) -> IOResult {
        if closed { callsAfterClose += 1 }
        if broken { return .failed(104) }
        var available = queuedForUs - peekOffset
        if available <= 0 { return peerFinished ? .done(0) : .wouldBlock }
        var copied = 0
        for buffer in buffers where available > 0 {
            let count = min(available, buffer.count)
            let from = receiveHead + peekOffset + copied
            receiveBytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + from, byteCount: count) }
            copied += count
            available -= count
        }
        peekOffset += copied
        return .done(copied)
    }

    func setPeekOffset(_ offset: Int) { peekOffset = max(0, offset) }

    func discard(_ count: Int) -> Int {
        if closed { callsAfterClose += 1 }
        let removed = min(count, queuedForUs)
        receiveHead += removed
        peekOffset = max(0, peekOffset - removed)
        if receiveHead > 65536 && receiveHead * 2 > receiveBytes.count {
            receiveBytes.removeFirst(receiveHead)
            receiveHead = 0
        }
        return removed
    }

    func shutdownWrite() { writeShutdown = true }

    func sendMemory() -> (size: Int, queued: Int)? { (sendCapacity, unsentToPeer) }

    var sendBufferSize: Int { sendCapacity }

    func pendingError() -> Int32 {
        defer { error = 0 }
        return error
    }

    func watch(index: Int, generation: UInt32, connecting: Bool) -> Bool {
        self.index = index
        self.generation = generation
        watched = true
        watchingWritable = connecting
        return true
    }

    func watchWritable(_ writable: Bool) -> Bool {
        watchingWritable = writable
        interestChanged?(self)
        return true
    }

    func close(abort: Bool) {
        closed = true
        aborted = abort
        watched = false
    }
}
