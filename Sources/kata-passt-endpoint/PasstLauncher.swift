import Glibc

/// Finds passt and runs it until it returns (passt daemonises once its socket listens), keeping what it
/// prints off our standard output, which carries only the JSON answer.
enum PasstLauncher {
    /// What passt prints is kept up to this size for the JSON answer; more is only forwarded.
    static let keptOutputBytes = 16 * 1024
    /// After passt's exit, how long to wait for the end of its output (the daemon lets go of the pipe
    /// when it switches to /dev/null).
    static let outputDrainMilliseconds = 200

    /// passt next to this program (an installation of pasta-swift), else the first `passt` on PATH.
    static func locate() throws(Failure) -> String {
        if case .success(let own) = ProcFiles.executable(of: getpid()) {
            let directory = own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            let beside = directory + "/passt"
            if isExecutableFile(beside) { return beside }
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        for entry in path.split(separator: ":") where entry.hasPrefix("/") {
            let candidate = String(entry) + "/passt"
            if isExecutableFile(candidate) { return candidate }
        }
        throw Failure(.passtNotFound, "no executable passt next to kata-passt-endpoint or on PATH "
            + "(install pasta with its passt link: scripts/install.sh)")
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }

    struct Outcome {
        /// Exit status, or 128 + the signal that ended it.
        let status: Int32
        let timedOut: Bool
        let output: String
    }

    static func run(_ passt: String, arguments: [String], timeoutSeconds: Int) throws(Failure) -> Outcome {
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw Failure(.passtFailed, "pipe: \(errnoText())") }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        // Close-on-exec for both: passt gets the write end only as its stdout and stderr (dup2 clears the flag).
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        defer { close(readEnd) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        // passt starts with default signal handling and no blocked signals, whatever our caller set:
        // an inherited SIG_IGN for SIGQUIT would make detach wait for SIGKILL.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([passt] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, passt, &actions, &attributes, argv, environ)
        close(writeEnd)
        guard spawned == 0 else { throw Failure(.passtFailed, "can't run \(passt): \(errnoText(spawned))") }

        var output: [UInt8] = []
        var status: Int32 = 0
        var exitedAt: Int?
        var endOfOutput = false
        let deadline = monotonicMilliseconds() + timeoutSeconds * 1000
        while true {
            if exitedAt == nil, waitpid(child, &status, WNOHANG) == child { exitedAt = monotonicMilliseconds() }
            if let exitedAt, endOfOutput || monotonicMilliseconds() - exitedAt >= outputDrainMilliseconds { break }
            if exitedAt == nil, monotonicMilliseconds() >= deadline {
                // Still our child (not reaped), so its PID can't have been reused.
                kill(child, SIGKILL)
                while waitpid(child, &status, 0) < 0 && errno == EINTR {}
                return Outcome(status: 128 + SIGKILL, timedOut: true, output: String(decoding: output, as: UTF8.self))
            }
            if endOfOutput {
                usleep(5000)
                continue
            }
            var entry = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 20) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { Glibc.read(readEnd, $0.baseAddress!, $0.count) }
            if count > 0 {
                let taken = chunk[..<count]
                _ = taken.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) }
                if output.count < keptOutputBytes { output += taken.prefix(keptOutputBytes - output.count) }
            } else if count == 0 || errno != EINTR {
                endOfOutput = true
            }
        }
        // Wait status: the low 7 bits are the terminating signal, 0 for a normal exit (then the code above them).
        let signal = status & 0x7f
        let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return Outcome(status: code, timedOut: false, output: String(decoding: output, as: UTF8.self))
    }
}
