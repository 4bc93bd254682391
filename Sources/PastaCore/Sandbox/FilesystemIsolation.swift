import CLinux
import Glibc

/// New mount, IPC and UTS namespaces (and PID, for passt) with an empty read-only tmpfs as the root:
/// nothing of the filesystem stays reachable but the descriptors already open.
enum FilesystemIsolation {
    /// Where the empty tmpfs is mounted before it becomes the root: any directory will do, as the old
    /// root is detached right after.
    static let mountPoints = ["/tmp", "/proc", "/"]

    /// Enters the namespaces and the empty root. Where we lack the privilege (an ordinary user that joined
    /// no user namespace), a user namespace of our own comes first. Failing that, we go on without, and
    /// say so: the identity, capabilities and syscall filter still apply.
    static func enter(newPIDNamespace: Bool) {
        let flags = CLinux_CLONE_NEWNS | CLinux_CLONE_NEWIPC | CLinux_CLONE_NEWUTS
            | (newPIDNamespace ? CLinux_CLONE_NEWPID : 0)
        if CLinux_unshare(flags) != 0 {
            guard errno == EPERM, geteuid() != 0, enterOwnUserNamespace(), CLinux_unshare(flags) == 0 else {
                let reason = String(cString: strerror(errno))
                return logWarning("sandbox: can't detach mount, IPC and UTS namespaces: \(reason)")
            }
        }
        guard CLinux_mount_private_tree() == 0 else {
            return logWarning("sandbox: can't make our mounts private: \(String(cString: strerror(errno)))")
        }
        var chrooted: Int32 = 0
        var lastError: Int32 = 0
        for mountPoint in mountPoints {
            if CLinux_enter_empty_root(mountPoint, &chrooted) == 0 {
                if chrooted != 0 { logDebug("sandbox: pivot_root failed, chroot into the empty tmpfs instead") }
                return
            }
            lastError = errno
        }
        logWarning("sandbox: can't enter an empty root: \(String(cString: strerror(lastError)))")
    }

    /// A user namespace where we are root, mapped to our own IDs, as an unprivileged passt needs to
    /// detach the others. Only while single-threaded.
    private static func enterOwnUserNamespace() -> Bool {
        let (uid, gid) = (geteuid(), getegid())
        guard CLinux_unshare(CLinux_CLONE_NEWUSER) == 0 else { return false }
        func write(_ path: String, _ text: String) -> Bool {
            guard let fd = try? Descriptor.open(path, O_WRONLY) else { return false }
            return (try? fd.writeAll(text)) != nil
        }
        return write("/proc/self/setgroups", "deny\n") && write("/proc/self/uid_map", "0 \(uid) 1\n")
            && write("/proc/self/gid_map", "0 \(gid) 1\n")
    }
}
