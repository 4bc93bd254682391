import Glibc

/// Runs our pasta and waits until it is ready: pasta configures the namespace, binds its ports, forks its
/// daemon and exits 0, or prints why it can't and exits non-zero. Its standard output and error come
/// back through one pipe, whose end the daemon does not keep (it closes what it inherits).
public enum PastaLauncher {
    public struct Outcome {
        public var status: Int32
        public var output: String
    }

    public static func run(executable: String, arguments: [String], timeoutSeconds: Int) throws -> Outcome {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw HookError("can't make a pipe: \(errnoText())") }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        // Only pasta's stdout and stderr (the dup2 copies) may hold the write end.
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        defer { close(readEnd) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)

        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let spawned = (argv + [nil]).withUnsafeBufferPointer { list in
            posix_spawn(&child, executable, &actions, nil, UnsafeMutablePointer(mutating: list.baseAddress!), environ)
        }
        close(writeEnd)
        guard spawned == 0 else { throw HookError("can't run pasta \(executable): \(errnoText(spawned))") }

        let deadline = monotonicSeconds() + Double(timeoutSeconds)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var timedOut = false
        reading: while true {
            let left = deadline - monotonicSeconds()
            if left <= 0 { timedOut = true; break }
            var poller = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left, 1) * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break reading }
            if output.count < 16384 { output += chunk[0..<n] }
        }
        if timedOut { kill(child, SIGKILL) }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let text = String(decoding: output, as: UTF8.self)
        if timedOut {
            throw HookError("pasta was not ready within \(timeoutSeconds) s\(text.isEmpty ? "" : ": " + text)")
        }
        // WIFEXITED / WEXITSTATUS, which Swift can't import as macros.
        let exited = status & 0x7F == 0
        return Outcome(status: exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F), output: text)
    }

    static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
