import CLinux
import Glibc

/// A command started in a new network namespace, and unless told otherwise a new user namespace that
/// owns it. It waits, unshared, until `start()` says the namespace is connected, then execs.
public final class SpawnedCommand {
    public let pid: pid_t
    /// Whether the command got a user namespace of its own (joined next, when we lack the privilege to
    /// enter its network namespace directly).
    public let ownsUserNamespace: Bool
    private let goWrite: Descriptor

    /// Forks; the child unshares its namespaces and waits. Returns once they exist and, for a new user
    /// namespace, once its ID maps are written. Without `newUserNamespace` the network namespace belongs
    /// to our current user namespace (`--netns-only`, or `--userns` joined before).
    public init(command: [String], newUserNamespace: Bool) throws {
        var go: [Int32] = [0, 0], ready: [Int32] = [0, 0]
        guard CLinux_pipe_cloexec(&go) == 0 else { throw SystemError("pipe2") }
        guard CLinux_pipe_cloexec(&ready) == 0 else {
            Glibc.close(go[0]); Glibc.close(go[1])
            throw SystemError("pipe2")
        }
        let argv = command.isEmpty ? [SpawnedCommand.defaultShell()] : command
        let flags = CLinux_CLONE_NEWNET | (newUserNamespace ? CLinux_CLONE_NEWUSER : 0)
        // Built before fork: the child only makes system calls until exec.
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let child = CLinux_fork()
        if child < 0 {
            [go[0], go[1], ready[0], ready[1]].forEach { Glibc.close($0) }
            throw SystemError("fork")
        }
        if child == 0 {
            Glibc.close(go[1]); Glibc.close(ready[0])
            _ = CLinux_set_parent_death_signal(SIGTERM)
            // The parent learns unshare's errno (0: done) and reports it: one message, from one process.
            var outcome: Int32 = CLinux_unshare(flags) == 0 ? 0 : errno
            _ = Glibc.write(ready[1], &outcome, MemoryLayout<Int32>.size)
            if outcome != 0 { _exit(1) }
            var byte: UInt8 = 0
            guard Glibc.read(go[0], &byte, 1) == 1 else { _exit(1) }  // pasta gave up: don't run the command
            CLinux_unblock_all_signals()
            execvp(cArgs[0]!, &cArgs)
            SpawnedCommand.childFail("can't run \(argv[0]): \(String(cString: strerror(errno)))", status: 127)
        }
        Glibc.close(go[0]); Glibc.close(ready[1])
        pid = child
        ownsUserNamespace = newUserNamespace
        goWrite = Descriptor(go[1])
        var outcome: Int32 = -1
        let n = Glibc.read(ready[0], &outcome, MemoryLayout<Int32>.size)
        Glibc.close(ready[0])
        guard n == MemoryLayout<Int32>.size, outcome == 0 else {
            terminate()
            let what = newUserNamespace ? "user and network namespaces" : "a network namespace"
            let reason = n == MemoryLayout<Int32>.size ? String(cString: strerror(outcome)) : "the child ended"
            // A network namespace alone needs CAP_SYS_ADMIN; a user namespace grants it to its creator.
            let hint = !newUserNamespace && outcome == EPERM
                ? " (without a user namespace of its own, that takes CAP_SYS_ADMIN: drop --netns-only)" : ""
            throw OptionError("can't create \(what) for the command: \(reason)\(hint)")
        }
        if newUserNamespace { try mapIdentity() }
    }

    /// Makes us root in the new user namespace: every ID our own namespace has, where we may map them
    /// (all of them on the host; only those mapped into ours inside another user namespace, such as the
    /// one ID of `unshare -r`); else, or if the kernel refuses that, just our own, as pasta does
    /// (`0 UID 1`, after denying setgroups(2), which such a gid_map requires), with a warning.
    private func mapIdentity() throws {
        let base = "/proc/\(pid)/"
        let mayMapAll = Capabilities.mayMapAnyIdentity
        do {
            if !mayMapAll || !writeWideMap(base + "uid_map", of: "/proc/self/uid_map") {
                try writeFile(base + "uid_map", "0 \(geteuid()) 1\n")
            }
            if !mayMapAll || !writeWideMap(base + "gid_map", of: "/proc/self/gid_map") {
                try writeFile(base + "setgroups", "deny\n")
                try writeFile(base + "gid_map", "0 \(getegid()) 1\n")
            }
        } catch {
            terminate()
            throw OptionError("can't set up ID mappings for the command's user namespace: \(error)")
        }
    }

    /// Maps in the child every ID of our own namespace's map (each range to itself); false, after a
    /// warning, if the map can't be read or the kernel refuses it.
    private func writeWideMap(_ path: String, of own: String) -> Bool {
        guard let bytes = try? readSmallFile(own, limit: 16384),
              let ranges = IdentityMap.insideRanges(String(decoding: bytes, as: UTF8.self)), !ranges.isEmpty else {
            logWarning("can't read \(own): the command's user namespace maps only our own ID")
            return false
        }
        let text = ranges.map { "\($0.first) \($0.first) \($0.count)\n" }.joined()
        do {
            try writeFile(path, text)
            return true
        } catch {
            logWarning("the kernel refused a map of every ID for the command (\(error)): it maps only our own")
            return false
        }
    }

    private func writeFile(_ path: String, _ text: String) throws {
        let fd = try Descriptor.open(path, O_WRONLY)
        try fd.writeAll(text)
    }

    public var networkNamespacePath: String { "/proc/\(pid)/ns/net" }
    public var userNamespacePath: String { "/proc/\(pid)/ns/user" }

    /// Lets the command run.
    public func start() {
        var byte: UInt8 = 1
        _ = Glibc.write(goWrite.raw, &byte, 1)
        goWrite.close()
    }

    /// Stops a command that never started (its pipe closes, it exits) and reaps it.
    public func terminate() {
        goWrite.close()
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// The exit status to pass on if the command has ended, nil while it runs.
    public func reap() -> Int32? {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        if status & 0x7f == 0 { return (status >> 8) & 0xff }  // WIFEXITED: WEXITSTATUS
        return 128 + (status & 0x7f)  // killed by a signal, as shells report it
    }

    static func defaultShell() -> String {
        if let shell = getenv("SHELL"), shell.pointee != 0 { return String(cString: shell) }
        return "/bin/sh"
    }

    private static func childFail(_ message: String, status: Int32 = 1) -> Never {
        let line = "pasta: \(message)\n"
        _ = line.withCString { Glibc.write(2, $0, strlen($0)) }
        _exit(status)
    }
}
