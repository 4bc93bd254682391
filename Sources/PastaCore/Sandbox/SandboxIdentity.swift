import CLinux
import Glibc

/// Who the sandboxed process runs as. Started as root (in the initial user namespace), it becomes
/// `--runas` or `nobody`, as passt and pasta do; otherwise it stays who it is (`--runas` naming ourselves
/// is fine, another user an error).
enum SandboxIdentity {
    /// The identity to switch to, resolved before anything starts (the user database is gone later).
    static func target(runAs: String?) throws -> (uid: uid_t, gid: gid_t)? {
        if let runAs { return try ProcessSetup.identity(runAs) }
        // Root in a user namespace of an ordinary user (rootless Podman's) is that user already.
        guard geteuid() == 0, inInitialUserNamespace() else { return nil }
        if let entry = getpwnam("nobody") { return (entry.pointee.pw_uid, entry.pointee.pw_gid) }
        return (65534, 65534)
    }

    /// The initial user namespace maps every ID to itself.
    static func inInitialUserNamespace() -> Bool {
        guard let bytes = try? readSmallFile("/proc/self/uid_map", limit: 4096) else { return true }
        let fields = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        return fields == ["0", "0", "4294967295"]
    }

    /// Switches every thread to `uid`/`gid` with no supplementary groups. From root, the kernel clears
    /// every capability as the user IDs change; `Capabilities.dropAll()` then empties what an ordinary
    /// user's process holds in a user namespace of its own.
    static func switchTo(uid: uid_t, gid: gid_t) throws {
        if uid == geteuid() && gid == getegid() && uid != 0 { return }
        guard setgroups(0, nil) == 0 || errno == EPERM, setgid(gid) == 0, setuid(uid) == 0 else {
            throw OptionError("--runas \(uid):\(gid): \(String(cString: strerror(errno)))")
        }
    }
}
