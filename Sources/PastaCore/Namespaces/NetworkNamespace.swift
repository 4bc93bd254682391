import CLinux
import Glibc

/// An open handle on a network namespace. Set-up work runs on a short-lived thread that joins it; sockets
/// made per connection (splice, `-T`/`-U` listeners) are made by the calling thread stepping in and back out.
public final class NetworkNamespace {
    public let descriptor: Descriptor
    public let path: String
    /// The namespace we started in, to step back into.
    private let home: Descriptor

    /// Opens `path` and checks that it is a namespace file.
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
    }

    /// Runs `body` on the calling thread inside the namespace (a socket made there stays there), then
    /// returns to our own; nil when the namespace can't be joined (after dropping privileges, say).
    public func onCallingThread<T>(_ body: () -> T) -> T? {
        guard CLinux_setns(descriptor.raw, CLinux_CLONE_NEWNET) == 0 else { return nil }
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
        var result: Result<T, Error> = .failure(SystemError("setns", code: EINVAL))
        let fd = descriptor.raw
        let path = self.path
        try withoutActuallyEscaping(body) { escapable in
            let call = ThreadCall {
                if CLinux_setns(fd, CLinux_CLONE_NEWNET) != 0 {
                    result = .failure(OptionError("can't join network namespace \(path): \(String(cString: strerror(errno)))"))
                    return
                }
                result = Result { try escapable() }
            }
            let context = Unmanaged.passRetained(call)
            defer { context.release() }
            let rc = CLinux_run_on_thread({ raw in
                Unmanaged<ThreadCall>.fromOpaque(raw!).takeUnretainedValue().work()
            }, context.toOpaque())
            if rc != 0 { throw SystemError("pthread_create") }
        }
        return try result.get()
    }
}

/// The work handed to a namespace thread.
private final class ThreadCall {
    let work: () -> Void
    init(_ work: @escaping () -> Void) { self.work = work }
}

/// Joins the user namespace at `path` unless we are already in it. Must run while single-threaded.
public func joinUserNamespace(path: String) throws {
    let target = try Descriptor.open(path, O_RDONLY)
    var targetStatus = stat(), ownStatus = stat()
    fstat(target.raw, &targetStatus)
    if stat("/proc/self/ns/user", &ownStatus) == 0, ownStatus.st_ino == targetStatus.st_ino,
       ownStatus.st_dev == targetStatus.st_dev
    {
        return
    }
    guard CLinux_setns(target.raw, CLinux_CLONE_NEWUSER) == 0 else {
        throw OptionError("can't join user namespace \(path): \(String(cString: strerror(errno)))")
    }
}
