import CLinux
import Glibc

/// The seccomp filter: each mode's list of system calls (Sources/CLinux/syscalls.c, beside the wrappers
/// that make them); any other call kills the process with SIGSYS.
public enum SyscallFilter {
    public enum Profile {
        case pasta, passt, slirp4netns

        var shim: CLinux_syscall_profile {
            switch self {
            case .pasta: return CLinux_SYSCALLS_PASTA
            case .passt: return CLinux_SYSCALLS_PASST
            case .slirp4netns: return CLinux_SYSCALLS_SLIRP4NETNS
            }
        }
    }

    /// Installs `profile`'s filter on every thread of the process.
    static func install(_ profile: Profile) throws {
        guard CLinux_install_syscall_filter(profile.shim) == 0 else {
            if errno == ENOSYS { return logWarning("sandbox: no system call list for this architecture") }
            throw SystemError("seccomp")
        }
        logDebug("sandbox: \(CLinux_syscall_filter_count(profile.shim)) system calls allowed")
    }
}

/// For the test that shows the filter kills: with PASTA_TEST_FORBIDDEN_SYSCALL=SECONDS in the
/// environment, the event loop makes a system call on no list that many seconds after the filter is in.
enum ForbiddenSyscallTrigger {
    private static var deadline: Int?

    static func arm() {
        guard let value = getenv("PASTA_TEST_FORBIDDEN_SYSCALL"),
              let seconds = Int(String(cString: value)) else { return }
        deadline = MonotonicClock.milliseconds() + seconds * 1000
    }

    /// From the loop's housekeeping.
    static func check(now: Int) {
        guard let deadline, now >= deadline else { return }
        self.deadline = nil
        logInfo("making a forbidden system call (PASTA_TEST_FORBIDDEN_SYSCALL)")
        _ = CLinux_make_forbidden_syscall()
    }
}
