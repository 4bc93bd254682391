import Glibc

/// What a PID file holds. It sits in a shared directory (/tmp) and may be left by a crash, truncated, or
/// written by anyone, so it is read with a size bound and parsed strictly: passt writes "%d\n".
enum PidFileContents {
    case absent
    case pid(pid_t)
    /// A regular file whose contents are not a PID: why.
    case malformed(String)
    /// Not a regular file (a directory, a symbolic link, a FIFO...): what it is.
    case notRegular(String)
    /// It exists but can't be read: the error.
    case unreadable(String)

    /// PID_MAX_LIMIT on 64-bit Linux: no process ID is ever higher.
    static let maximumPid = 4_194_304
    /// A PID file longer than this is not one: "4194304\n" is 8 bytes; room is left for whitespace.
    static let maximumBytes = 32

    static func read(_ path: String) -> PidFileContents {
        // O_NOFOLLOW: a link planted at the path is reported, not followed; O_NONBLOCK: a FIFO doesn't hang us.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            let code = errno
            if code == ENOENT { return .absent }
            if code == ELOOP { return .notRegular("a symbolic link") }
            return .unreadable(errnoText(code))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .unreadable(errnoText()) }
        guard info.st_mode & S_IFMT == S_IFREG else { return .notRegular(fileKind(info.st_mode)) }
        var buffer = [UInt8](repeating: 0, count: maximumBytes + 1)
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { raw in
                Glibc.read(fd, raw.baseAddress! + filled, raw.count - filled)
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return .unreadable(errnoText()) }
            if count == 0 { break }
            filled += count
        }
        if filled > maximumBytes { return .malformed("longer than \(maximumBytes) bytes") }
        switch parse(Array(buffer[..<filled])) {
        case .success(let pid): return .pid(pid)
        case .failure(let problem): return .malformed(problem.reason)
        }
    }

    struct Problem: Error {
        let reason: String
    }

    /// Decimal digits without sign or leading zero, optionally followed by whitespace, from 1 to
    /// `maximumPid`. 0 and negative numbers matter most: kill(0) and kill(-1) signal whole groups.
    static func parse(_ bytes: [UInt8]) -> Result<pid_t, Problem> {
        var end = bytes.count
        while end > 0, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[end - 1]) { end -= 1 }
        let digits = bytes[..<end]
        guard !digits.isEmpty else { return .failure(Problem(reason: "empty")) }
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return .failure(Problem(reason: "not a decimal number"))
        }
        guard digits.first != UInt8(ascii: "0") else {
            return .failure(Problem(reason: digits.count == 1 ? "0 is not a process" : "a number with a leading zero"))
        }
        // Seven digits cover maximumPid; counting first keeps the arithmetic from overflowing.
        guard digits.count <= 7 else { return .failure(Problem(reason: "out of range for a PID")) }
        let value = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        guard value <= maximumPid else { return .failure(Problem(reason: "out of range for a PID")) }
        return .success(pid_t(value))
    }
}

/// A file type in words, for messages.
func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: return "a regular file"
    case S_IFDIR: return "a directory"
    case S_IFLNK: return "a symbolic link"
    case S_IFIFO: return "a FIFO"
    case S_IFSOCK: return "a socket"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    default: return "a file of unknown type"
    }
}
