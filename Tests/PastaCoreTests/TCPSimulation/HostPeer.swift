@testable import PastaCore

/// The program on the host at the other end of the socket: it writes its stream in chunks, reads ours at
/// its own pace, and then closes, half-closes or resets, as the scenario says.
final class HostPeer {
    enum Ending {
        /// FIN once everything is written.
        case close
        /// A reset once `after` bytes are written (pending data is lost).
        case reset(after: Int)
        /// Neither: it writes its bytes and then waits.
        case stayOpen
    }

    struct Behaviour {
        var length = 0
        var ending = Ending.close
        /// Largest chunk per write and pause between writes (ms, drawn from 0...).
        var chunk = 16384
        var writePause = 2
        /// Bytes read per read, and the pause between reads.
        var readChunk = 65536
        var readPause = 1
        /// It writes its first chunk, and its FIN if that is all, the moment it is connected.
        var speaksFirst = false
    }

    let socket: FakeHostSocket
    let behaviour: Behaviour
    let outgoing: StreamPattern
    private let scheduler: SimulationScheduler
    private var random: SimulationRandom
    /// Hands readiness to the engine, as epoll would.
    private let notify: (SocketReadiness) -> Void
    private var written = 0
    private(set) var received: [UInt8] = []
    private(set) var endOfStreamReads = 0
    private(set) var didReset = false
    private var reading = false

    init(socket: FakeHostSocket, behaviour: Behaviour, outgoing: StreamPattern, scheduler: SimulationScheduler,
         random: SimulationRandom, notify: @escaping (SocketReadiness) -> Void) {
        self.socket = socket
        self.behaviour = behaviour
        self.outgoing = outgoing
        self.scheduler = scheduler
        self.random = random
        self.notify = notify
    }

    /// The connection is up on the host's side.
    func start() {
        if behaviour.speaksFirst { writeChunk() } else { scheduler.after(random.int(0...behaviour.writePause)) { self.writeChunk() } }
        scheduleRead()
    }

    var doneWriting: Bool { written == behaviour.length || didReset }

    private func writeChunk() {
        guard !didReset, !socket.closed else { return }
        if case .reset(let after) = behaviour.ending, written >= after { return reset() }
        var limit = behaviour.length - written
        if case .reset(let after) = behaviour.ending { limit = min(limit, after - written) }
        let count = min(limit, random.int(1...max(1, behaviour.chunk)))
        if count > 0 {
            socket.peerWrites(outgoing.bytes(written..<written + count))
            written += count
        }
        if written == behaviour.length, case .close = behaviour.ending {
            socket.peerFinished = true
            return notify([.readable, .peerClosed])
        }
        if count > 0 { notify(.readable) }
        scheduler.after(random.int(0...behaviour.writePause)) { self.writeChunk() }
    }

    private func reset() {
        didReset = true
        socket.broken = true
        socket.error = 104  // ECONNRESET
        notify([.readable, .peerClosed, .error])
    }

    private func scheduleRead() {
        guard !reading else { return }
        reading = true
        scheduler.after(max(1, behaviour.readPause)) {
            self.reading = false
            self.read()
        }
    }

    private func read() {
        guard !didReset, !(socket.closed && socket.aborted) else { return }
        let bytes = socket.peerReads(upTo: behaviour.readChunk)
        received += bytes
        // Our FIN follows what we sent: after a shutdown, or a close that wasn't an abort.
        if (socket.writeShutdown || socket.closed) && socket.unsentToPeer == 0 {
            endOfStreamReads += 1
            return
        }
        if !bytes.isEmpty && socket.watchingWritable && socket.reportsWritable { notify(.writable) }
        scheduleRead()
    }
}
