import CLinux
import Glibc

/// Joining a user namespace. The whole process moves (setns(2) refuses a multithreaded caller) and from
/// then on holds every capability over the namespaces that user namespace owns, and none over the ones it
/// came from: a thread that visits such a network namespace can't come back (see `NetworkNamespace`).
public enum UserNamespace {
    /// Joins the user namespace at `path` unless we are already in it. Must run while single-threaded.
    public static func join(path: String) throws {
        let target: Descriptor
        do {
            target = try Descriptor.open(path, O_RDONLY)
        } catch let error as SystemError {
            let hint = error.code == EACCES ? " (another user's process?)" : ""
            throw OptionError("can't open user namespace \(path): \(String(cString: strerror(error.code)))\(hint)")
        }
        guard CLinux_fstatfs_type(target.raw) == CLinux_NSFS_MAGIC else {
            throw OptionError("\(path) is not a user namespace")
        }
        var targetStatus = stat(), ownStatus = stat()
        if fstat(target.raw, &targetStatus) == 0, stat("/proc/self/ns/user", &ownStatus) == 0,
           ownStatus.st_ino == targetStatus.st_ino, ownStatus.st_dev == targetStatus.st_dev
        {
            return
        }
        guard CLinux_setns(target.raw, CLinux_CLONE_NEWUSER) == 0 else {
            let code = errno
            let hint: String
            switch code {
            case EPERM: hint = " (no CAP_SYS_ADMIN in it: another user's, or one above ours)"
            case EINVAL: hint = " (not a user namespace?)"
            default: hint = ""
            }
            throw OptionError("can't join user namespace \(path): \(String(cString: strerror(code)))\(hint)")
        }
    }
}
