import CLinux
import Glibc

/// A command started in a new user and network namespace. It waits, unshared, until `start()` says
/// the namespace is connected, then execs.
public final class SpawnedCommand {
    public let pid: pid_t
    private let goWrite: Descriptor

    /// Forks; the child unshares its namespaces and waits. Returns once the namespaces exist.
    public init(command: [String]) throws {
        var go: [Int32] = [0, 0], ready: [Int32] = [0, 0]
        guard CLinux_pipe_cloexec(&go) == 0, CLinux_pipe_cloexec(&ready) == 0 else { throw SystemError("pipe2") }
        let argv = command.isEmpty ? [SpawnedCommand.defaultShell()] : command
        let privileged = geteuid() == 0
        let uid = getuid(), gid = getgid()
        // Built before fork: the child only makes system calls until exec.
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let child = CLinux_fork()
        if child < 0 { throw SystemError("fork") }
        if child == 0 {
            Glibc.close(go[1]); Glibc.close(ready[0])
            _ = CLinux_set_parent_death_signal(SIGTERM)
            var status: UInt8 = CLinux_unshare(CLinux_CLONE_NEWUSER | CLinux_CLONE_NEWNET) == 0 ? 0 : 1
            let unshareErrno = errno
            _ = Glibc.write(ready[1], &status, 1)
            if status != 0 {
                SpawnedCommand.childFail("can't create user and network namespaces: \(String(cString: strerror(unshareErrno)))")
            }
            var byte: UInt8 = 0
            guard Glibc.read(go[0], &byte, 1) == 1 else { _exit(1) }  // pasta gave up: don't run the command
            CLinux_unblock_all_signals()
            execvp(cArgs[0]!, &cArgs)
            SpawnedCommand.childFail("can't run \(argv[0]): \(String(cString: strerror(errno)))", status: 127)
        }
        Glibc.close(go[0]); Glibc.close(ready[1])
        pid = child
        goWrite = Descriptor(go[1])
        var status: UInt8 = 1
        let n = Glibc.read(ready[0], &status, 1)
        Glibc.close(ready[0])
        guard n == 1, status == 0 else {
            var ignored: Int32 = 0
            waitpid(child, &ignored, 0)
            throw OptionError("can't create user and network namespaces for the command")
        }
        try mapIdentity(privileged: privileged, uid: uid, gid: gid)
    }

    /// Makes us root in the new user namespace: all IDs when we are privileged, else just our own.
    private func mapIdentity(privileged: Bool, uid: uid_t, gid: gid_t) throws {
        let base = "/proc/\(pid)/"
        do {
            if privileged {
                try writeFile(base + "uid_map", "0 0 4294967295\n")
                try writeFile(base + "gid_map", "0 0 4294967295\n")
            } else {
                try writeFile(base + "setgroups", "deny\n")
                try writeFile(base + "uid_map", "0 \(uid) 1\n")
                try writeFile(base + "gid_map", "0 \(gid) 1\n")
            }
        } catch {
            terminate()
            throw OptionError("can't set up ID mappings for the command's user namespace: \(error)")
        }
    }

    private func writeFile(_ path: String, _ text: String) throws {
        let fd = try Descriptor.open(path, O_WRONLY)
        try fd.writeAll(text)
    }

    public var networkNamespacePath: String { "/proc/\(pid)/ns/net" }

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
