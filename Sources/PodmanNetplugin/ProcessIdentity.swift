import Glibc

/// A process told apart from a later one that reuses its PID: the PID with its start time (clock ticks
/// since boot, field 22 of /proc/PID/stat).
public struct ProcessIdentity: Equatable {
    public var pid: Int32
    public var startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// The running (not zombie) process `pid`, or nil.
    public static func current(_ pid: Int32) -> ProcessIdentity? {
        guard pid > 0, let stat = readProcFile("/proc/\(pid)/stat"),
              let fields = parseStat(stat), fields.state != "Z", fields.state != "X"
        else { return nil }
        return ProcessIdentity(pid: pid, startTime: fields.startTime)
    }

    /// Is this very process still running?
    public var isRunning: Bool { ProcessIdentity.current(pid) == self }

    /// State and start time from /proc/PID/stat text; the command name in parentheses may hold anything,
    /// so fields are counted from the last ')'.
    static func parseStat(_ text: String) -> (state: String, startTime: UInt64)? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); starttime is field 22.
        guard fields.count > 19, let start = UInt64(fields[19]) else { return nil }
        return (String(fields[0]), start)
    }

    /// The arguments the process was started with.
    public var commandLine: [String]? {
        guard let text = readProcFile("/proc/\(pid)/cmdline") else { return nil }
        return text.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
    }
}

/// A small file from /proc (up to 64 KiB), or nil.
func readProcFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    guard let bytes = try? ContainerFiles.readAll(fd, what: path), bytes.count <= 65536 else { return nil }
    return String(decoding: bytes, as: UTF8.self)
}
