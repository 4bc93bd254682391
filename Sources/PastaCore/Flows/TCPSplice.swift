import CLinux
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
    static let pooledPipesPerWorker = 16
    static let connectionsPerWorker = 32768

    init(namespace: NetworkNamespace?) { self.namespace = namespace }

    /// Connects to destination:port on `side` and splices `accepted` to it; on failure the client is reset.
    func join(_ accepted: Descriptor, to destination: IPAddress, port: UInt16, on side: ForwardingSide) {
        guard startWorkers() else { return reset(accepted) }
        let family = destination.family, type = Int32(SOCK_STREAM.rawValue)
        // errno travels with the result: the socket may be made on the namespace's own thread.
        let socketAndError = { () -> (Int32, Int32) in
            let fd = CLinux_socket(family, type)
            return (fd, fd < 0 ? errno : 0)
        }
        let (fd, error) = (side == .namespace ? namespace?.inside(socketAndError) : socketAndError()) ?? (-1, EPERM)
        guard fd >= 0 else {
            logOnce("can't open a socket \(side == .namespace ? "in the namespace" : "on the host"): \(String(cString: strerror(error)))")
            return reset(accepted)
        }
        CLinux_set_nodelay(fd)
        CLinux_set_nodelay(accepted.raw)
        if CLinux_connect_ip(fd, family, destination.networkBytes, port) != 0 && errno != EINPROGRESS {
            logDebug("TCP splice: connect to \(destination) port \(port): \(String(cString: strerror(errno)))")
            Glibc.close(fd)
            return reset(accepted)
        }
        next = (next + 1) % workers.count
        guard workers[next].hand(accepted: accepted.raw, connecting: fd) else {
            Glibc.close(fd)
            return reset(accepted)
        }
        _ = accepted.release()
    }

    private func startWorkers() -> Bool {
        guard workers.isEmpty else { return true }
        do {
            for number in 0..<min(CLinux_online_cpus(), 8) {
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
        CLinux_set_linger_reset(socket.raw)
        socket.close()
    }

    private func logOnce(_ message: String) {
        guard !failureLogged else { return logDebug(message) }
        failureLogged = true
        logError(message)
    }
}
