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
    /// Its connections' last lines with `-d` (the main loop logs their first).
    private let flowLog = FlowLog()

    init(name: String, capacity: Int, pooledPipes: Int) throws {
        self.name = name
        poll = try EventPoll()
        let handoff = try SocketCalls.pipe().get()
        handoffRead = Descriptor(handoff.read)
        handoffWrite = Descriptor(handoff.write)
        try handoffRead.setNonBlocking()
        try handoffWrite.setNonBlocking()  // a worker that fell behind refuses instead of stalling the loop
        connections = SlotTable(capacity: capacity)
        pipes = PipePool(capacity: pooledPipes)
        try poll.add(handoffRead.raw, EventReference(.spliceHandoff))
    }

    func start() throws {
        let context = Unmanaged.passRetained(self).toOpaque()  // workers live as long as the process
        guard SocketCalls.startThread({ raw in
            Unmanaged<SpliceWorker>.fromOpaque(raw!).takeUnretainedValue().run()
        }, context) else { throw SystemError("pthread_create") }
    }

    /// From the main loop: `accepted` and `connecting` (a connect() in progress or done) become ours;
    /// `number` names the connection in log lines. False if the worker can't take them; the caller still
    /// owns them then.
    func hand(accepted: Int32, connecting: Int32, number: UInt32) -> Bool {
        var record: (Int32, Int32, UInt32) = (accepted, connecting, number)
        // 12 bytes: below PIPE_BUF, so the write is atomic and never interleaves with another.
        return withUnsafeBytes(of: &record) { Glibc.write(handoffWrite.raw, $0.baseAddress, $0.count) } == 12
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
        var record: (Int32, Int32, UInt32) = (-1, -1, 0)
        while withUnsafeMutableBytes(of: &record, { Glibc.read(handoffRead.raw, $0.baseAddress, $0.count) }) == 12 {
            adopt(accepted: record.0, connecting: record.1, number: record.2)
        }
    }

    private func adopt(accepted: Int32, connecting: Int32, number: UInt32) {
        guard let first = pipes.take() else { return refuse(accepted, connecting) }
        guard let second = pipes.take() else {
            pipes.give(first, empty: true)
            return refuse(accepted, connecting)
        }
        guard let connection = connections.insert({ index, generation in
            SplicedConnection(index: index, generation: generation, accepted: accepted, connecting: connecting,
                              number: number, pipes: (first, second))
        }) else {
            pipes.give(first, empty: true)
            pipes.give(second, empty: true)
            return refuse(accepted, connecting)
        }
        if !updateInterest(connection) { close(connection, reset: true) }
    }

    private func refuse(_ accepted: Int32, _ connecting: Int32) {
        SocketCalls.setLingerReset(accepted)
        Glibc.close(accepted)
        Glibc.close(connecting)
    }

    private func socketEvent(_ reference: EventReference, events: UInt32) {
        let side = Int(reference.index & 1)
        guard let connection = connections[Int(reference.index >> 1)], connection.generation == reference.generation
        else { return }
        if events & EventPoll.error != 0 { return close(connection, reset: true) }
        if !connection.connected {
            // Only our socket is watched until its connect() completes; data waits in the accepted one.
            guard side == 1, SocketCalls.pendingError(connection.sockets[1]) == 0, events & EventPoll.hangup == 0 else {
                return close(connection, reset: true)
            }
            connection.connected = true
            if connection.pump(0) == .failed || connection.pump(1) == .failed { return close(connection, reset: true) }
        } else {
            // Readable (or hung up): move data away from this socket; writable: move what waits for it.
            if events & (EventPoll.readable | EventPoll.hangup) != 0, connection.pump(side) == .failed {
                return close(connection, reset: true)
            }
            if events & EventPoll.writable != 0, connection.pump(1 - side) == .failed {
                return close(connection, reset: true)
            }
        }
        if connection.bothFinished { return close(connection, reset: false) }
        if !updateInterest(connection) { close(connection, reset: true) }
    }

    /// Registers, changes or unregisters each socket so epoll watches exactly what it is waiting for.
    private func updateInterest(_ connection: SplicedConnection) -> Bool {
        for side in 0..<2 {
            let wanted = connection.interest(side), current = connection.registered[side]
            guard wanted != current else { continue }
            let fd = connection.sockets[side]
            do {
                if wanted == 0 {
                    poll.remove(fd)
                } else if current == 0 {
                    try poll.add(fd, connection.reference(side: side), events: wanted)
                } else {
                    try poll.modify(fd, connection.reference(side: side), events: wanted)
                }
            } catch {
                return false
            }
            connection.registered[side] = wanted
        }
        return true
    }

    /// Closes both sockets; `reset` sends RST on both (a failure on one side is passed on to the other).
    private func close(_ connection: SplicedConnection, reset: Bool) {
        flowLog.log(now: MonotonicClock.milliseconds(),
                    "TCP splice #\(connection.number) ended\(reset ? ", reset" : connection.connected ? "" : " before it connected"): "
                    + "\(connection.directions[0].moved) bytes from the client, \(connection.directions[1].moved) to it")
        for (side, socket) in connection.sockets.enumerated() {
            if connection.registered[side] != 0 { poll.remove(socket) }
            if reset { SocketCalls.setLingerReset(socket) }
            Glibc.close(socket)
        }
        for direction in connection.directions { pipes.give(direction.pipe, empty: direction.pending == 0) }
        connections.remove(at: connection.index)
    }
}
