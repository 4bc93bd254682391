import CLinux
import Glibc

/// The small processes forked before the sandbox to do what the sandboxed daemon no longer may (the
/// socket janitor, the namespace's netlink relay): a socket pair to reach them, and the start each
/// child makes before confining itself as its job needs.
enum HelperProcess {
    /// Forks `child`, which gets its end of a fresh socket pair of `type` and never returns; our end, or
    /// nil (and a warning: "sandbox: no NAME (why): WITHOUT") when it can't be had.
    static func start(_ name: String, socketType type: Int32, without: String, child: (Int32) -> Never) -> Descriptor? {
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            logWarning("sandbox: no \(name) (socketpair): \(without)")
            return nil
        }
        let pid = CLinux_fork()
        if pid < 0 {
            Glibc.close(pair[0]); Glibc.close(pair[1])
            logWarning("sandbox: no \(name) (fork): \(without)")
            return nil
        }
        if pid == 0 {
            Glibc.close(pair[0])
            child(pair[1])
        }
        Glibc.close(pair[1])
        return Descriptor(pair[0])
    }

    /// In the child: nothing inherited but `keeping`, standard streams on /dev/null, and no signals from
    /// the terminal or a process group (it ends when our side of its socket closes, or when we ask).
    static func detach(keeping: Set<Int32>) {
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { Glibc.signal(signal, SIG_IGN) }
        let null = open("/dev/null", O_RDWR)
        if null >= 0 { dup2(null, 0); dup2(null, 1); dup2(null, 2) }
        ProcessSetup.closeInheritedDescriptors(keeping: keeping)
    }
}
