import Glibc

/// Runs a program that daemonises once it is ready (pasta, passt) until it returns, and collects what it
/// prints: its standard input is /dev/null, its standard output and error one pipe, which the daemon it
/// leaves behind lets go of when it switches to /dev/null. It starts with default signal handling and no
/// blocked signals, whatever our caller set (an inherited SIG_IGN for SIGQUIT would outlive a stop
/// request). Used by podman-netplugin (pasta) and kata-passt-endpoint (passt).
public enum ProcessLauncher {
    public struct Outcome: Equatable {
        /// Exit status, or 128 + the signal that ended it.
        public let status: Int32
        /// It had not returned within the time limit and was killed.
        public let timedOut: Bool
        /// What it printed, up to `keptOutputBytes`.
        public let output: String
    }

    /// The program could not be started (no pipe, or posix_spawn failed).
    public struct LaunchError: Error, CustomStringConvertible, Equatable {
        public let description: String
    }

    /// What the program prints is kept up to this size; more is only echoed (if asked) or dropped.
    public static let keptOutputBytes = 16 * 1024
    /// After its exit, how long to wait for the end of its output (the daemon's copy of the pipe).
    public static let outputDrainMilliseconds = 200

    /// Runs `executable` with `arguments` until it exits (killed after `timeoutSeconds`); with
    /// `echoOutput`, what it prints is also copied to our standard error as it comes.
    public static func run(_ executable: String, arguments: [String], timeoutSeconds: Int,
                           echoOutput: Bool = false) throws(LaunchError) -> Outcome {
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw LaunchError(description: "can't make a pipe: \(errorText(errno))") }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        // Close-on-exec for both: the program gets the write end only as its stdout and stderr (dup2 clears
        // the flag).
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        defer { close(readEnd) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, executable, &actions, &attributes, argv, environ)
        close(writeEnd)
        guard spawned == 0 else { throw LaunchError(description: "can't run \(executable): \(errorText(spawned))") }

        var output: [UInt8] = []
        var status: Int32 = 0
        var exitedAt: Int?
        var endOfOutput = false
        var chunk = [UInt8](repeating: 0, count: 4096)
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
            let count = chunk.withUnsafeMutableBytes { Glibc.read(readEnd, $0.baseAddress!, $0.count) }
            if count > 0 {
                let taken = chunk[..<count]
                if echoOutput { _ = taken.withUnsafeBytes { write(2, $0.baseAddress!, $0.count) } }
                if output.count < keptOutputBytes { output += taken.prefix(keptOutputBytes - output.count) }
            } else if count == 0 || errno != EINTR {
                endOfOutput = true
            }
        }
        // Wait status: the low 7 bits are the terminating signal, 0 for a normal exit (then the code above
        // them); WIFEXITED and WEXITSTATUS are macros Swift can't import.
        let signal = status & 0x7f
        let code = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return Outcome(status: code, timedOut: false, output: String(decoding: output, as: UTF8.self))
    }

    private static func monotonicMilliseconds() -> Int {
        var clock = timespec()
        clock_gettime(CLOCK_MONOTONIC, &clock)
        return clock.tv_sec * 1000 + clock.tv_nsec / 1_000_000
    }

    private static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
