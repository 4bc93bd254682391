import Glibc

/// An endpoint as found on disk and in /proc: its PID file, whether that PID is our passt, its socket.
struct EndpointState {
    enum Summary: String {
        /// The PID file names a live passt serving this endpoint.
        case running
        /// Neither file exists.
        case stopped
        /// Files are left by a dead or foreign process (or are not what they should be).
        case stale
    }

    let paths: EndpointPaths
    let pidFile: PidFileContents
    /// nil unless the PID file holds a PID.
    let verdict: PasstIdentity.Verdict?
    let socket: SocketProbe

    static func inspect(_ paths: EndpointPaths) -> EndpointState {
        let pidFile = PidFileContents.read(paths.pidFile)
        var verdict: PasstIdentity.Verdict?
        if case .pid(let pid) = pidFile { verdict = PasstIdentity.check(pid, for: paths) }
        return EndpointState(paths: paths, pidFile: pidFile, verdict: verdict, socket: SocketProbe.probe(paths.socket))
    }

    var summary: Summary {
        if runningPid != nil { return .running }
        if case .absent = pidFile, case .absent = socket { return .stopped }
        return .stale
    }

    /// The PID the file names, whatever runs there.
    var pid: pid_t? {
        if case .pid(let pid) = pidFile { return pid }
        return nil
    }

    /// The PID when it is our passt.
    var runningPid: pid_t? {
        if case .ours = verdict { return pid }
        return nil
    }

    /// Why the endpoint is stale (empty otherwise).
    var staleReasons: [String] {
        guard summary == .stale else { return [] }
        var reasons: [String] = []
        switch pidFile {
        case .absent: reasons.append("no PID file")
        case .pid: break
        case .malformed(let why): reasons.append("the PID file is malformed (\(why))")
        case .notRegular(let kind): reasons.append("the PID file path is \(kind)")
        case .unreadable(let error): reasons.append("the PID file can't be read: \(error)")
        }
        switch verdict {
        case .notRunning(let why)?, .foreign(let why)?: reasons.append(why)
        default: break
        }
        switch socket {
        case .absent: break
        case .refused: reasons.append("a socket file nobody listens on")
        case .listening: reasons.append("something listens on the socket, but the PID file names no passt of ours")
        case .notASocket(let kind): reasons.append("the socket path is \(kind)")
        case .unknown(let error): reasons.append("the socket can't be probed: \(error)")
        }
        return reasons
    }

    var fields: [(key: String, value: JSON)] {
        let reasons = staleReasons
        return [
            ("index", .int(paths.index)),
            ("state", .string(summary.rawValue)),
            ("pid", .optional(pid)),
            ("socket", .string(paths.socket)),
            ("pidFile", .string(paths.pidFile)),
            ("socketListening", .bool(socket.isListening)),
            ("reason", reasons.isEmpty ? .null : .string(reasons.joined(separator: "; "))),
        ]
    }

    /// Removes what a dead or foreign process left behind, but only what is provably debris: a regular
    /// PID file (or a link planted in its place) and a socket file nobody listens on. Anything else is
    /// reported and left alone, and nothing is removed unless everything can be. Returns what it removed.
    func removeDebris() throws(Failure) -> [String] {
        precondition(summary != .running, "a running endpoint is stopped, not cleaned")
        var doomed: [String] = []
        switch pidFile {
        case .absent: break
        case .pid, .malformed, .notRegular("a symbolic link"): doomed.append(paths.pidFile)
        case .notRegular(let kind):
            throw Failure(.inTheWay, "\(paths.pidFile) is \(kind), not a PID file: left alone")
        case .unreadable(let error):
            throw Failure(.inTheWay, "\(paths.pidFile) can't be read (\(error)): left alone")
        }
        switch socket {
        case .absent: break
        case .refused: doomed.append(paths.socket)
        case .listening:
            throw Failure(.inTheWay, "something listens on \(paths.socket) but the PID file names no passt of ours: left alone",
                          details: [("pid", .optional(pid))])
        case .notASocket(let kind):
            throw Failure(.inTheWay, "\(paths.socket) is \(kind), not a socket: left alone")
        case .unknown(let error):
            throw Failure(.inTheWay, "\(paths.socket) can't be probed (\(error)): left alone")
        }
        for path in doomed where unlink(path) != 0 && errno != ENOENT {
            throw Failure(.inTheWay, "can't remove \(path): \(errnoText())")
        }
        return doomed
    }
}
