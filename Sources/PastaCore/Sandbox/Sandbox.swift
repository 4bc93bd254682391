import CLinux
import Glibc

/// The sandbox, in three named stages. Every frame we parse comes from a guest or container that may be
/// hostile: once running, the process holds no capabilities, sees an empty filesystem, and may make only
/// the system calls its mode needs.
///
/// 1. `initial`, first thing at start: descriptors we inherited are closed.
/// 2. `isolate`, once everything is open (tap or passt socket, namespace descriptors, auto mode's /proc
///    files, pcap, log, PID file, control and API sockets) in the process that will serve: as root, the
///    `--runas` identity or `nobody`; no capabilities; new mount, IPC and UTS namespaces (and a PID
///    namespace for passt, entered by its daemonising fork); an empty read-only tmpfs as root.
/// 3. `confine`, in the process that runs the loop, after the daemonising fork: not dumpable, no new
///    privileges, and the syscall filter of the mode (`SyscallFilter`).
///
/// passt isolates before it daemonises, so that its fork enters the new PID namespace; pasta daemonises
/// first, since the thread that stays in the target namespace (`NetworkNamespace.settle()`) must be
/// started, while we may still enter the namespace, by the process that serves.
public enum Sandbox {
    /// What stage 2 needs to know.
    struct Plan {
        /// Who to become: `--runas`, or `nobody` when started as root; nil to stay who we are.
        var identity: (uid: uid_t, gid: gid_t)?
        /// pasta's target namespace, whose sockets are made by its resident thread from now on.
        var namespace: NetworkNamespace?
        /// Socket files we listen on, removed at exit by the socket janitor.
        var socketFiles: [String] = []
        /// `--config-net` following the host: its requests go through the netlink relay from now on.
        var namespaceReconfiguration: NamespaceReconfiguration?
        /// passt, daemonising: a PID namespace of its own, which the daemonising fork enters.
        var newPIDNamespace = false
        /// passt, daemonising after isolating: what daemonising opens is opened now.
        var daemonizesLater = false
    }

    /// Whether stage 2 ran: paths outside the empty root can no longer be reached.
    public private(set) static var isolated = false
    private static var janitor: SocketJanitor?

    /// Stage 1.
    static func initial(keeping keep: Set<Int32>) {
        ProcessSetup.closeInheritedDescriptors(keeping: keep)
    }

    /// Stage 2.
    static func isolate(_ plan: Plan) throws {
        if plan.daemonizesLater {
            // While there is a /dev: daemonising points standard input and output at /dev/null, and
            // the system logger's socket is connected now.
            ProcessSetup.prepareNullDevice()
            Logger.shared.connectSystemLoggerEarly()
        }
        // The time zone, for the system logger's timestamps, is read while /etc is there.
        tzset()
        if !plan.socketFiles.isEmpty { janitor = SocketJanitor.start(removing: plan.socketFiles) }
        plan.namespaceReconfiguration?.relayThroughHelper()
        FilesystemIsolation.enter(newPIDNamespace: plan.newPIDNamespace)
        // Started before we lose the right to enter the namespace; it keeps no capability either.
        try plan.namespace?.settle()
        // The bounding sets first, while we hold CAP_SETPCAP: switching away from root empties the rest.
        _ = CLinux_drop_bounding_set(0)
        _ = plan.namespace?.inside { CLinux_drop_bounding_set(0) }
        if let identity = plan.identity { try SandboxIdentity.switchTo(uid: identity.uid, gid: identity.gid) }
        guard Capabilities.dropAll() else { throw SystemError("capset") }
        if let namespace = plan.namespace, namespace.inside({ Capabilities.dropAll() }) != true {
            throw OptionError("can't drop the capabilities of the thread in the target namespace")
        }
        isolated = true
    }

    /// Stage 3.
    static func confine(_ profile: SyscallFilter.Profile) throws {
        guard CLinux_set_dumpable(0) == 0 else { throw SystemError("prctl PR_SET_DUMPABLE") }
        guard CLinux_set_no_new_privileges() == 0 else { throw SystemError("prctl PR_SET_NO_NEW_PRIVS") }
        try SyscallFilter.install(profile)
        ForbiddenSyscallTrigger.arm()
    }

    /// At exit, after the loop: the socket files go (the janitor removes them; we no longer see them).
    static func finish() {
        janitor?.finish()
        janitor = nil
    }
}
