import Glibc

/// What a target (`NamespaceTarget`) resolves to: the network namespace to connect, the path to watch for
/// its end, and the command spawned for it, if any. Resolving joins the user namespace that owns the
/// network namespace when we need its capabilities to enter it, so it runs while we are single-threaded.
struct TargetNamespaces {
    let networkNamespacePath: String
    let watchPath: String?
    let command: SpawnedCommand?

    /// `spawned` hears of a command as soon as it exists, so a later failure can stop it.
    static func resolve(_ options: Options, spawned: (SpawnedCommand) -> Void) throws -> TargetNamespaces {
        // Without CAP_SYS_ADMIN (pasta as an ordinary user) a network namespace can only be entered from
        // the user namespace that owns it, as rootless Podman's `unshare -rn` child or our own command's.
        let mustJoinOwner = !Capabilities.mayJoinNamespaces
        switch options.target {
        case .pid(let pid):
            if kill(pid, 0) != 0 {
                if errno == ESRCH { throw OptionError("no process with PID \(pid)") }
                if errno == EPERM && mustJoinOwner {
                    throw OptionError("process \(pid) belongs to another user: its namespaces aren't ours to join")
                }
            }
            if let userPath = options.userNamespace {
                try UserNamespace.join(path: userPath)
            } else if mustJoinOwner && !options.netnsOnly {
                try UserNamespace.join(path: "/proc/\(pid)/ns/user")
            }
            let path = "/proc/\(pid)/ns/net"
            return TargetNamespaces(networkNamespacePath: path, watchPath: path, command: nil)
        case .path(let path):
            if let userPath = options.userNamespace { try UserNamespace.join(path: userPath) }
            return TargetNamespaces(networkNamespacePath: path, watchPath: path, command: nil)
        case .spawn(let argv):
            // With --userns the command's network namespace is made inside that user namespace.
            if let userPath = options.userNamespace { try UserNamespace.join(path: userPath) }
            let command = try SpawnedCommand(
                command: argv, newUserNamespace: options.userNamespace == nil && !options.netnsOnly)
            spawned(command)
            if command.ownsUserNamespace && mustJoinOwner { try UserNamespace.join(path: command.userNamespacePath) }
            return TargetNamespaces(networkNamespacePath: command.networkNamespacePath, watchPath: nil, command: command)
        }
    }
}
