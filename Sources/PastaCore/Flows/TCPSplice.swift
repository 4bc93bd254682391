import Glibc

/// Joins a local connection (one a `-T` listener accepted, or a `-t` one from a loopback address) to a new
/// socket on the other side, and hands the pair to a splice worker. Workers start on first use, in the
/// process that runs the loop (threads don't survive the fork that daemonises).
final class TCPSplice {
    private var workers: [SpliceWorker] = []
    private var next = 0
    /// None in passt mode, where nothing is spliced (SpliceTargets never answers).
    private let namespace: NetworkNamespace?
    private var failureLogged = false
    /// Numbers for the connections' log lines, and their first lines with `-d` (workers log the last).
    private var number: UInt32 = 0
    private let flowLog = FlowLog()
    static let pooledPipesPerWorker = 16
    static let connectionsPerWorker = 32768

    init(namespace: NetworkNamespace?) { self.namespace = namespace }

    /// Connects to destination:port on `side` and splices `accepted` (from client:clientPort) to it; on
    /// failure the client is reset.
    func join(_ accepted: Descriptor, from client: IPAddress, port clientPort: UInt16, to destination: IPAddress,
              port: UInt16, on side: ForwardingSide, now: Int) {
        guard startWorkers() else { return reset(accepted) }
        let family = destination.family
        // The error travels with the result: the socket may be made on the namespace's own thread.
        let open = { SocketCalls.open(family: family, type: SocketCalls.stream) }
        let made = (side == .namespace ? namespace?.inside(open) : open())
            ?? .failure(SystemError("can't enter the namespace", code: EPERM))
        let fd: Int32
        switch made {
        case .success(let descriptor): fd = descriptor
        case .failure(let error):
            logOnce("can't open a socket \(side == .namespace ? "in the namespace" : "on the host"): \(error)")
            return reset(accepted)
        }
        SocketCalls.setNoDelay(fd)
        SocketCalls.setNoDelay(accepted.raw)
        if let error = SocketCalls.connect(fd, family: family, address: destination.networkBytes, port: port) {
            logDebug("TCP splice: connect to \(destination) port \(port): \(error)")
            Glibc.close(fd)
            return reset(accepted)
        }
        next = (next + 1) % workers.count
        number &+= 1
        flowLog.log(now: now, "TCP splice #\(number): \(client) port \(clientPort) -> \(destination) port \(port) "
                    + (side == .namespace ? "in the namespace" : "on the host"))
        guard workers[next].hand(accepted: accepted.raw, connecting: fd, number: number) else {
            Glibc.close(fd)
            return reset(accepted)
        }
        _ = accepted.release()
    }

    private func startWorkers() -> Bool {
        guard workers.isEmpty else { return true }
        do {
            for number in 0..<min(SocketCalls.onlineCPUs, 8) {
                let worker = try SpliceWorker(name: "splice worker \(number)", capacity: Self.connectionsPerWorker,
                                              pooledPipes: Self.pooledPipesPerWorker)
                try worker.start()
                workers.append(worker)
            }
        } catch {
            logOnce("TCP splice: \(error)")
        }
        return !workers.isEmpty
    }

    private func reset(_ socket: Descriptor) {
        SocketCalls.setLingerReset(socket.raw)
        socket.close()
    }

    private func logOnce(_ message: String) {
        guard !failureLogged else { return logDebug(message) }
        failureLogged = true
        logError(message)
    }
}
