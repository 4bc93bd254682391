import Glibc

/// detach: stops the passt of an index (SIGQUIT, as Kata does; SIGKILL after 5 s) and removes its PID
/// file and socket. Idempotent: an index with nothing running answers so and succeeds, after removing
/// stale files. A PID that is not provably our passt is never signalled.
enum DetachCommand {
    static func run(_ invocation: Invocation) throws(Failure) -> [(key: String, value: JSON)] {
        let paths = try EndpointPaths(index: invocation.index, directory: invocation.directory)
        try DirectoryLock.acquire(paths.directory, exclusive: true)
        if let passt = try? PasstLauncher.locate() { PasstIdentity.remember(launcher: passt) }

        var state = EndpointState.inspect(paths)
        let previous = state.summary
        var stopped: PasstStopper.Stopped?
        var message: String
        if let pid = state.runningPid {
            stopped = try stop(pid, paths: paths)
            message = "stopped passt \(pid)"
            state = EndpointState.inspect(paths)
        } else {
            message = "nothing was running"
        }
        var staleReason: String?
        var removed: [String] = []
        if state.summary == .stale {
            let reason = state.staleReasons.joined(separator: "; ")
            removed = try state.removeDebris()
            // After a stop, what is left is our own passt's PID file: only a previous state is news.
            if previous == .stale {
                staleReason = reason
                message += "; removed stale files (\(reason))"
            }
        }
        return [
            ("index", .int(paths.index)),
            ("state", .string(EndpointState.Summary.stopped.rawValue)),
            ("previousState", .string(previous.rawValue)),
            ("pid", .optional(stopped?.pid ?? state.pid)),
            ("socket", .string(paths.socket)),
            ("pidFile", .string(paths.pidFile)),
        ] + (stopped?.fields ?? []) + [
            ("removed", .array(removed.map { .string($0) })),
            ("staleReason", .optional(staleReason)),
            ("message", .string(message)),
        ]
    }

    /// Stops `pid` if it still is our passt for `paths` once a handle on it is open; a process that is
    /// gone by then counts as stopped.
    static func stop(_ pid: pid_t, paths: EndpointPaths) throws(Failure) -> PasstStopper.Stopped {
        switch ProcessHandle.open(pid, verifiedFor: paths) {
        case .success(let handle):
            return try PasstStopper.stop(handle, paths: paths)
        case .failure(let failure):
            if case .foreign(let why) = failure.verdict {
                throw Failure(.stopFailed, "not stopping process \(pid): \(why)", details: [("pid", .int(Int(pid)))])
            }
            return PasstStopper.Stopped(pid: pid, signal: "none (it had exited)", milliseconds: 0)
        }
    }
}
