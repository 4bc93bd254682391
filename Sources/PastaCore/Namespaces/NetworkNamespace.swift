import CLinux
import Glibc

/// An open handle on a network namespace. Set-up work runs on a short-lived thread that joins it. Sockets
/// made per connection (splice, `-T`/`-U` listeners) are made by the calling thread stepping in and back
/// out, or, where we may not step back, by a thread that stays in the namespace while the caller waits.
public final class NetworkNamespace {
    public let descriptor: Descriptor
    public let path: String
    /// The namespace we started in, to step back into.
    private let home: Descriptor
    /// Whether a thread may enter the namespace and return home. Returning takes CAP_SYS_ADMIN over our
    /// home namespace, which we give up by joining the target's user namespace (pasta as an ordinary user).
    private var mayStepBack: Bool
    private let resident: NamespaceResidentThread

    /// Opens `path`, checks that it is a namespace file, and finds out whether we may step in and back.
    public init(path: String) throws {
        self.path = path
        do {
            descriptor = try Descriptor.open(path, O_RDONLY)
        } catch let error as SystemError {
            throw OptionError("can't open network namespace \(path): \(String(cString: strerror(error.code)))")
        }
        guard CLinux_fstatfs_type(descriptor.raw) == CLinux_NSFS_MAGIC else {
            throw OptionError("\(path) is not a network namespace")
        }
        home = try Descriptor.open("/proc/thread-self/ns/net", O_RDONLY)
        let (target, home) = (descriptor.raw, home.raw)
        // Tried on a thread of its own: if stepping back fails, that thread ends where it is.
        mayStepBack = NetworkNamespace.onNewThread {
            CLinux_setns(target, CLinux_CLONE_NEWNET) == 0 && CLinux_setns(home, CLinux_CLONE_NEWNET) == 0
        } ?? false
        resident = NamespaceResidentThread(namespace: target)
        if !mayStepBack { logDebug("sockets in \(path) are made by a thread that stays there") }
    }

    /// Before the sandbox takes our capabilities: from now on every socket in the namespace is made by
    /// the resident thread, started now, while it may still join.
    public func settle() throws {
        mayStepBack = false
        guard resident.run({ true }) == true else {
            throw OptionError("can't start a thread in network namespace \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Runs `body` inside the namespace while the calling thread waits (a socket made there stays there);
    /// nil when the namespace can't be joined (after dropping privileges, say).
    public func inside<T>(_ body: () -> T) -> T? {
        let fd = descriptor.raw
        guard mayStepBack else { return resident.run(body) }
        guard CLinux_setns(fd, CLinux_CLONE_NEWNET) == 0 else { return nil }
        let result = body()
        if CLinux_setns(home.raw, CLinux_CLONE_NEWNET) != 0 {
            // Staying in the wrong namespace would send host traffic into the container: stop instead.
            logError("can't return to our own network namespace: \(String(cString: strerror(errno)))")
            exit(1)
        }
        return result
    }

    /// Runs `body` inside the namespace and returns its result (or rethrows its error).
    public func run<T>(_ body: () throws -> T) throws -> T {
        let fd = descriptor.raw
        let path = self.path
        let outcome = NetworkNamespace.onNewThread { () -> Result<T, Error> in
            guard CLinux_setns(fd, CLinux_CLONE_NEWNET) == 0 else {
                let code = errno
                // EPERM: the namespace's owner grants us nothing. As an ordinary user that means it isn't
                // ours, or its user namespace wasn't joined first (--netns-only, or a --netns without --userns).
                let hint = code == EPERM
                    ? " (no CAP_SYS_ADMIN in the user namespace that owns it: another user's, or give that one with --userns)"
                    : ""
                return .failure(OptionError("can't join network namespace \(path): \(String(cString: strerror(code)))\(hint)"))
            }
            return Result { try body() }
        }
        guard let outcome else { throw SystemError("pthread_create") }
        return try outcome.get()
    }

    /// Runs `body` on a new thread and waits for it; nil when no thread could be started. The thread may
    /// change namespaces: they end with it.
    private static func onNewThread<T>(_ body: () -> T) -> T? {
        var result: T?
        withoutActuallyEscaping(body) { escapable in
            let call = ThreadCall { result = escapable() }
            let context = Unmanaged.passRetained(call)
            defer { context.release() }
            _ = CLinux_run_on_thread({ raw in
                Unmanaged<ThreadCall>.fromOpaque(raw!).takeUnretainedValue().work()
            }, context.toOpaque())
        }
        return result
    }
}

/// The work handed to a namespace thread.
private final class ThreadCall {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}
