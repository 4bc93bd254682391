import Glibc

/// Bounded reads of /proc/PID files. procfs reports size 0, so these read until EOF or the limit; a
/// file that ends early or holds something unexpected is the caller's "can't tell", never a crash.
enum ProcFiles {
    enum ReadResult {
        case bytes([UInt8])
        case failed(Int32)
    }

    static func read(_ path: String, limit: Int) -> ReadResult {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failed(errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: limit)
        var filled = 0
        while filled < limit {
            let count = buffer.withUnsafeMutableBytes { raw in Glibc.read(fd, raw.baseAddress! + filled, limit - filled) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return .failed(errno) }
            if count == 0 { break }
            filled += count
        }
        return .bytes(Array(buffer[..<filled]))
    }

    /// The state letter of /proc/PID/stat ("R", "S", "Z"...). The second field is the command name in
    /// parentheses and may itself contain ") Z (" or spaces: the state follows the *last* ')'.
    static func state(fromStat bytes: [UInt8]) -> Character? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")), close + 2 < bytes.count,
              bytes[close + 1] == UInt8(ascii: " ") else { return nil }
        let letter = bytes[close + 2]
        guard letter >= UInt8(ascii: "A"), letter <= UInt8(ascii: "z") else { return nil }
        return Character(Unicode.Scalar(letter))
    }

    /// /proc/PID/cmdline: arguments separated (and ended) by NUL bytes.
    static func arguments(fromCmdline bytes: [UInt8]) -> [String] {
        var parts = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if parts.last == "" { parts.removeLast() }
        return parts
    }

    /// The target of /proc/PID/exe, or the errno of readlink.
    static func executable(of pid: pid_t) -> Result<String, ErrnoCode> {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard count >= 0 else { return .failure(ErrnoCode(value: errno)) }
        return .success(String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}

struct ErrnoCode: Error {
    let value: Int32
}
