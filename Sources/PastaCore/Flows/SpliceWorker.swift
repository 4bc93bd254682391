import CLinux
import Glibc

/// A thread that owns spliced connections: the main loop accepts and starts the connect on the other side,
/// then hands both sockets over through a pipe; from then on only this thread touches them. Connections
/// are independent, so several workers use several cores.
final class SpliceWorker: @unchecked Sendable {
    private let poll: EventPoll
    private let handoffRead: Descriptor
    private let handoffWrite: Descriptor
    private let connections: SlotTable<SplicedConnection>
    private let pipes: PipePool
    private let name: String

    init(name: String, capacity: Int, pooledPipes: Int) throws {
        self.name = name
        poll = try EventPoll()
        var fds: [Int32] = [-1, -1]
        guard CLinux_pipe_cloexec(&fds) == 0 else { throw SystemError("pipe") }
        handoffRead = Descriptor(fds[0])
        handoffWrite = Descriptor(fds[1])
        try handoffRead.setNonBlocking()
        connections = SlotTable(capacity: capacity)
        pipes = PipePool(capacity: pooledPipes)
        try poll.add(handoffRead.raw, EventReference(.spliceHandoff))
    }

    func start() throws {
        let context = Unmanaged.passRetained(self).toOpaque()  // workers live as long as the process
        guard CLinux_start_thread({ raw in
            Unmanaged<SpliceWorker>.fromOpaque(raw!).takeUnretainedValue().run()
        }, context) == 0 else { throw SystemError("pthread_create") }
    }

    /// From the main loop: `accepted` and `connecting` (a connect() in progress or done) become ours.
    /// False if the worker can't take them; the caller still owns them then.
    func hand(accepted: Int32, connecting: Int32) -> Bool {
        var record: (Int32, Int32) = (accepted, connecting)
        // 8 bytes: below PIPE_BUF, so the write is atomic and never interleaves with another.
        return withUnsafeBytes(of: &record) { Glibc.write(handoffWrite.raw, $0.baseAddress, $0.count) } == 8
    }

    private func run() {
        while true {
            do {
                try poll.wait(timeoutMilliseconds: -1) { event in
                    switch event.reference.kind {
                    case .spliceHandoff: takeHandoffs()
                    case .splicedSocket: socketEvent(event.reference, events: event.events)
                    default: break
                    }
                }
            } catch {
                logError("\(name): \(error)")
                return
            }
        }
    }

    private func takeHandoffs() {
        var record: (Int32, Int32) = (-1, -1)
        while withUnsafeMutableBytes(of: &record, { Glibc.read(handoffRead.raw, $0.baseAddress, $0.count) }) == 8 {
            adopt(accepted: record.0, connecting: record.1)
        }
    }

    private func adopt(accepted: Int32, connecting: Int32) {
        guard let first = pipes.take() else { return refuse(accepted, connecting) }
        guard let second = pipes.take() else {
            pipes.give(first, empty: true)
            return refuse(accepted, connecting)
        }
        guard let connection = connections.insert({ index, generation in
            SplicedConnection(index: index, generation: generation, accepted: accepted, connecting: connecting,
                              pipes: (first, second))
        }) else {
            pipes.give(first, empty: true)
            pipes.give(second, empty: true)
            return refuse(accepted, connecting)
        }
        let events = CLinux_EPOLLIN | CLinux_EPOLLOUT | CLinux_EPOLLRDHUP | CLinux_EPOLLET
        do {
            try poll.add(accepted, connection.reference(side: 0), events: events)
            try poll.add(connecting, connection.reference(side: 1), events: events)
        } catch {
            close(connection, reset: true)
        }
    }

    private func refuse(_ accepted: Int32, _ connecting: Int32) {
        CLinux_set_linger_reset(accepted)
        Glibc.close(accepted)
        Glibc.close(connecting)
    }

    private func socketEvent(_ reference: EventReference, events: UInt32) {
        let side = Int(reference.index & 1)
        guard let connection = connections[Int(reference.index >> 1)], connection.generation == reference.generation
        else { return }
        let failed = events & CLinux_EPOLLERR != 0
        var justConnected = false
        if !connection.connected {
            // Until our connect() completes, only its outcome matters; data waits in the accepted socket.
            if side == 1 {
                if failed || CLinux_socket_error(connection.sockets[1]) != 0 { return close(connection, reset: true) }
                guard events & CLinux_EPOLLOUT != 0 else { return }
                connection.connected = true
                justConnected = true
            } else {
                if failed { close(connection, reset: true) }
                return
            }
        }
        if failed { return close(connection, reset: true) }
        // Readable: data to move away from this socket; writable: room for what waits for it. Right after
        // the connect completes, both directions may have something waiting.
        let readable = events & (CLinux_EPOLLIN | CLinux_EPOLLRDHUP | CLinux_EPOLLHUP) != 0 || justConnected
        let writable = events & CLinux_EPOLLOUT != 0 || justConnected
        if readable && connection.pump(side) == .failed { return close(connection, reset: true) }
        if writable && connection.pump(1 - side) == .failed { return close(connection, reset: true) }
        if connection.bothFinished { close(connection, reset: false) }
    }

    /// Closes both sockets; `reset` sends RST on both (a failure on one side is passed on to the other).
    private func close(_ connection: SplicedConnection, reset: Bool) {
        for socket in connection.sockets {
            poll.remove(socket)
            if reset { CLinux_set_linger_reset(socket) }
            Glibc.close(socket)
        }
        for direction in connection.directions { pipes.give(direction.pipe, empty: direction.pending == 0) }
        connections.remove(at: connection.index)
    }
}
