import CLinux
import Glibc

/// A listening UNIX stream socket at a path only our user may use (mode 0600), non-blocking. A socket file
/// left by a process that is gone (connecting is refused) is taken over; one a live process accepts on is
/// not. `remove()` unlinks the path if it is still our socket. Paths longer than a socket address holds
/// (107 bytes; Podman's API socket paths can be) are reached through the directory's /proc/self/fd entry.
public final class UnixListener {
    public let path: String
    public let descriptor: Descriptor
    private let inode: ino_t

    public init(path: String, backlog: Int32 = 16, purpose: String) throws {
        let previous = umask(0o177)
        defer { umask(previous) }
        guard let (address, directory) = Self.socketAddress(path) else { throw Self.failure(path, purpose) }
        defer { directory?.close() }
        var fd = CLinux_unix_listen(address, backlog)
        if fd < 0 && errno == EADDRINUSE {
            guard Self.isSocketFile(path) else { throw OptionError("can't use \(path) as \(purpose): the file exists") }
            let probe = CLinux_unix_connect(address)
            if probe >= 0 {
                Glibc.close(probe)
                throw OptionError("\(purpose) \(path) is in use by another process")
            }
            guard errno == ECONNREFUSED else { throw Self.failure(path, purpose) }
            unlink(path)
            fd = CLinux_unix_listen(address, backlog)
        }
        guard fd >= 0 else { throw Self.failure(path, purpose) }
        descriptor = Descriptor(fd)
        self.path = path
        // The umask made it 0600 already; say so explicitly, whatever the filesystem did.
        chmod(path, 0o600)
        var status = stat()
        inode = lstat(path, &status) == 0 ? status.st_ino : 0
    }

    /// sizeof(sockaddr_un.sun_path), with its terminating NUL.
    static let addressLimit = 108

    /// What to bind or connect to for `path`: the path itself, or for a long one its name in the directory
    /// held open (the descriptor must stay open until then); nil (errno set) when that can't be had.
    static func socketAddress(_ path: String) -> (String, Descriptor?)? {
        guard path.utf8.count >= addressLimit else { return (path, nil) }
        let slash = path.lastIndex(of: "/")
        let parent = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        let fd = CLinux_open(parent, CLinux_O_PATH | CLinux_O_DIRECTORY | CLinux_O_CLOEXEC, 0)
        guard fd >= 0 else { return nil }
        let address = "/proc/self/fd/\(fd)/\(name)"
        guard address.utf8.count < addressLimit else {
            Glibc.close(fd)
            errno = ENAMETOOLONG
            return nil
        }
        return (address, Descriptor(fd))
    }

    /// A blocking connection to the socket at `path` (any length), or -1 with errno.
    public static func connect(_ path: String) -> Int32 {
        guard let (address, directory) = socketAddress(path) else { return -1 }
        let fd = CLinux_unix_connect(address)
        let saved = errno
        directory?.close()
        errno = saved
        return fd
    }

    private static func isSocketFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFSOCK
    }

    private static func failure(_ path: String, _ purpose: String) -> OptionError {
        OptionError("can't listen on \(purpose) \(path): \(String(cString: strerror(errno)))")
    }

    /// The next waiting client (non-blocking, close-on-exec), if any.
    public func accept() -> Descriptor? {
        let fd = CLinux_accept(descriptor.raw)
        return fd >= 0 ? Descriptor(fd) : nil
    }

    /// At exit: the path goes, unless another process has put its own socket there since.
    public func remove() {
        // Sandboxed, the path leads nowhere: the socket janitor removes the file.
        guard !Sandbox.isolated else { return descriptor.close() }
        var status = stat()
        if lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK, status.st_ino == inode { unlink(path) }
        descriptor.close()
    }
}
