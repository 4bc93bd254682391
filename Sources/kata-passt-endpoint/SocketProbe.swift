import Glibc

/// What is at a socket path: nothing, a socket something listens on, a socket file nobody serves (left by
/// a passt that died), or some other file.
enum SocketProbe {
    case absent
    case listening
    case refused
    case notASocket(String)
    /// connect() failed otherwise (EACCES...): it can't be told whether someone listens.
    case unknown(String)

    /// A non-blocking connect, closed at once: passt accepts it as a client and, when it closes, goes
    /// back to listening for the VM. EAGAIN means the listener's backlog is full, so it is alive too.
    static func probe(_ path: String) -> SocketProbe {
        var info = stat()
        if lstat(path, &info) != 0 {
            return errno == ENOENT ? .absent : .unknown(errnoText())
        }
        guard info.st_mode & S_IFMT == S_IFSOCK else { return .notASocket(fileKind(info.st_mode)) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .unknown(errnoText()) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let fits = withUnsafeMutableBytes(of: &address.sun_path) { raw -> Bool in
            guard bytes.count < raw.count else { return false }
            raw.copyBytes(from: bytes)
            return true
        }
        guard fits else { return .unknown("path too long for a UNIX socket") }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result == 0 { return .listening }
        switch errno {
        case EAGAIN, EINPROGRESS: return .listening
        case ECONNREFUSED: return .refused
        case ENOENT: return .absent
        case let code: return .unknown(errnoText(code))
        }
    }

    var isListening: Bool {
        if case .listening = self { return true }
        return false
    }

    var description: String {
        switch self {
        case .absent: return "absent"
        case .listening: return "listening"
        case .refused: return "nobody listens"
        case .notASocket(let kind): return "not a socket but \(kind)"
        case .unknown(let error): return "can't be probed: \(error)"
        }
    }
}
