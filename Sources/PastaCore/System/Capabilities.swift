import CLinux

/// What our effective capabilities, in our own user namespace, allow. They decide whether we may enter
/// a namespace directly or must first join the user namespace that owns it, and how the spawned
/// command's identities are mapped.
public enum Capabilities {
    /// CAP_SYS_ADMIN: enough to join any network namespace owned by our user namespace or one below it.
    public static var mayJoinNamespaces: Bool { holds(CLinux_CAP_SYS_ADMIN) }

    /// CAP_SETUID and CAP_SETGID: enough to map every ID into a new user namespace, not just our own.
    public static var mayMapAnyIdentity: Bool { holds(CLinux_CAP_SETUID) && holds(CLinux_CAP_SETGID) }

    static func holds(_ capability: Int32) -> Bool { CLinux_has_effective_capability(capability) == 1 }

    /// Gives up every capability of the calling thread (capabilities are per thread): permitted,
    /// effective, inheritable, ambient, and the bounding set where we may shrink it.
    public static func dropAll() -> Bool { CLinux_drop_capabilities(0) == 0 }
}
