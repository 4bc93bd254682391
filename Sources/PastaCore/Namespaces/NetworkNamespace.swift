import CLinux
import Glibc

/// An open handle on a network namespace; work that must happen inside it runs on a short-lived
/// thread that joins it, so the calling thread never leaves its own namespace.
public final class NetworkNamespace {
    public let descriptor: Descriptor
    public let path: String

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
