import Glibc

/// passt's listening UNIX socket, where qemu (or libvirt, or the Kata runtime) connects. Only our own
/// user may connect (the file is made with umask 077). A socket file whose passt is gone (connecting to
/// it is refused) is taken over, so a passt killed with SIGKILL doesn't block the next one.
public final class PasstSocket {
    /// `-s` default: the first free /tmp/passt_N.socket.
    static let defaultPaths = (1...64).map { "/tmp/passt_\($0).socket" }
    static let backlog: Int32 = 16

    public let path: String
    let listener: Descriptor

    private init(path: String, listener: Descriptor) {
        self.path = path
        self.listener = listener
    }

    /// Listens at `path`, or at the first free default path.
    public static func open(path: String?) throws -> PasstSocket {
        if let path {
            guard let socket = try listen(at: path) else {
                throw OptionError("socket \(path) is in use by another process")
            }
            return socket
        }
        for candidate in defaultPaths {
            if let socket = try listen(at: candidate) { return socket }
        }
        throw OptionError("no free socket path: /tmp/passt_1.socket to /tmp/passt_64.socket are all in use")
    }

    /// Nil when a live process accepts on `path`.
    private static func listen(at path: String) throws -> PasstSocket? {
        let previous = umask(0o077)
        defer { umask(previous) }
        var listening = SocketCalls.unixListen(path, backlog: backlog)
        if case .failure(let error) = listening, error.code == EADDRINUSE {
            guard isSocketFile(path) else { throw OptionError("can't use \(path) as a socket: the file exists") }
            switch SocketCalls.unixConnect(path) {
            case .success(let probe):
                Glibc.close(probe)
                return nil
            case .failure(let error) where error.code != ECONNREFUSED:
                throw failure(path, error.code)
            case .failure:
                break
            }
            logInfo("reusing \(path): the passt that made it is gone")
            unlink(path)
            listening = SocketCalls.unixListen(path, backlog: backlog)
        }
        switch listening {
        case .success(let fd): return PasstSocket(path: path, listener: Descriptor(fd))
        case .failure(let error): throw failure(path, error.code)
        }
    }

    private static func isSocketFile(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFSOCK
    }

    private static func failure(_ path: String, _ code: Int32) -> OptionError {
        OptionError("can't listen on UNIX socket \(path): \(errorDescription(code))")
    }

    /// The next waiting client, if any.
    func accept() -> Descriptor? {
        guard case .done(let fd) = SocketCalls.unixAccept(listener.raw) else { return nil }
        return Descriptor(Int32(fd))
    }

    /// At exit: the path is free for the next passt.
    public func remove() {
        // Sandboxed, the path leads nowhere: the socket janitor removes the file.
        guard !Sandbox.isolated else { return }
        if Self.isSocketFile(path) { unlink(path) }
    }
}
