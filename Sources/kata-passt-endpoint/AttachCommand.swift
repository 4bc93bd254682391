import Glibc

/// attach: starts passt for an index, as Kata's passt endpoint does, and proves it serves before
/// answering with its PID and the qemu arguments. Whatever fails, nothing of this attempt keeps running.
enum AttachCommand {
    /// passt is ready when it returns; this only absorbs scheduling delays in the socket check.
    static let socketWaitMilliseconds = 1000

    static func run(_ invocation: Invocation) throws(Failure) -> [(key: String, value: JSON)] {
        let paths = try EndpointPaths(index: invocation.index, directory: invocation.directory)
        try DirectoryLock.acquire(paths.directory, exclusive: true)
        try paths.checkWritable()
        let passt = try PasstLauncher.locate()
        PasstIdentity.remember(launcher: passt)

        var state = EndpointState.inspect(paths)
        var replaced: PasstStopper.Stopped?
        if let pid = state.runningPid {
            guard invocation.replace else {
                throw Failure(.alreadyRunning, "passt \(pid) already serves index \(paths.index) on \(paths.socket): "
                    + "detach it first, or attach with --replace",
                    details: [("pid", .int(Int(pid))), ("socket", .string(paths.socket)), ("pidFile", .string(paths.pidFile))])
            }
            replaced = try DetachCommand.stop(pid, paths: paths)
            state = EndpointState.inspect(paths)
        }
        var staleReason: String?
        if state.summary == .stale {
            staleReason = state.staleReasons.joined(separator: "; ")
            _ = try state.removeDebris()
        }
        // Both paths are free now, and the lock keeps them so: whatever appears there is this attempt's.

        let arguments = ["-P", paths.pidFile, "-s", paths.socket] + invocation.passtOptions
        let outcome = try PasstLauncher.run(passt, arguments: arguments, timeoutSeconds: invocation.startTimeout)
        let output: [(key: String, value: JSON)] = [("passtOutput", .string(outcome.output))]
        if outcome.timedOut {
            let cleanup = abandon(paths)
            throw Failure(.passtFailed, "passt did not return within \(invocation.startTimeout) s and was killed",
                          details: output + cleanup)
        }
        guard outcome.status == 0 else {
            let cleanup = abandon(paths)
            let said = complaint(in: outcome.output).map { ": \($0)" } ?? ""
            throw Failure(.passtFailed, "passt exited with status \(outcome.status)\(said)",
                          details: [("passtStatus", .int(Int(outcome.status)))] + output + cleanup)
        }
        let started = EndpointState.inspect(paths)
        guard let pid = started.runningPid else {
            let why = started.staleReasons.joined(separator: "; ")
            let cleanup = abandon(paths)
            throw Failure(.passtNotReady, "passt returned 0, but \(why.isEmpty ? "left no PID file" : why)",
                          details: [("pid", .optional(started.pid))] + output + cleanup)
        }
        let deadline = monotonicMilliseconds() + socketWaitMilliseconds
        var socket = started.socket
        while !socket.isListening && monotonicMilliseconds() < deadline {
            usleep(10_000)
            socket = SocketProbe.probe(paths.socket)
        }
        guard socket.isListening else {
            let cleanup = abandon(paths)
            throw Failure(.passtNotReady, "passt \(pid) runs, but its socket \(paths.socket) is \(socket.description)",
                          details: [("pid", .int(Int(pid)))] + output + cleanup)
        }

        let mac = invocation.mac ?? MACAddress(defaultFor: paths.index)
        return [
            ("index", .int(paths.index)),
            ("pid", .int(Int(pid))),
            ("socket", .string(paths.socket)),
            ("pidFile", .string(paths.pidFile)),
            ("mac", .string(mac.text)),
            ("qemuArgs", .array(paths.qemuArguments(mac: mac).map { .string($0) })),
            ("passt", .string(passt)),
            ("replacedPid", .optional(replaced?.pid)),
            ("cleanedStale", .optional(staleReason)),
        ]
    }

    /// After a failed start: stops a passt of ours that did come up, removes the files of this attempt,
    /// and says what it did (or could not do) for the error answer.
    static func abandon(_ paths: EndpointPaths) -> [(key: String, value: JSON)] {
        var notes: [String] = []
        var state = EndpointState.inspect(paths)
        if let pid = state.runningPid {
            do {
                let stopped = try DetachCommand.stop(pid, paths: paths)
                notes.append("stopped passt \(pid) with \(stopped.signal)")
            } catch {
                notes.append(error.message)
            }
            state = EndpointState.inspect(paths)
        }
        if state.summary == .stale {
            do {
                let removed = try state.removeDebris()
                if !removed.isEmpty { notes.append("removed \(removed.joined(separator: ", "))") }
            } catch {
                notes.append(error.message)
            }
        }
        return notes.isEmpty ? [] : [("cleanup", .string(notes.joined(separator: "; ")))]
    }

    /// The line of passt's output that says what went wrong: the last one, unless that is getopt's
    /// "Try 'passt --help'" hint.
    static func complaint(in output: String) -> String? {
        output.split(separator: "\n")
            .last { !$0.allSatisfy(\.isWhitespace) && !$0.hasPrefix("Try '") }
            .map(String.init)
    }
}
