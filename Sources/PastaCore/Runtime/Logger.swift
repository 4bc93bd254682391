import CLinux
import Glibc

/// Log levels, most severe first; syslog priorities as raw values.
public enum LogLevel: Int32, Comparable {
    case error = 3
    case warning = 4
    /// What was asked for (`--stats`): shown even with `-q`.
    case notice = 5
    case info = 6
    case debug = 7
    case trace = 8

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Where messages go: standard error until we daemonise (or with -f/-e), a size-limited file with -l,
/// the system logger once standard error is gone.
///
/// The log file starts empty (as pasta's does), and its first line names the program, its version, its
/// binary and the PID of the process that serves: `pasta VERSION: PATH (PID)`. Lines logged before that
/// process is known (before daemonising) wait in memory for `startFile`.
public final class Logger {
    public static let shared = Logger()

    public var program = "pasta"
    public var maximumLevel: LogLevel = .info
    public var quiet = false
    private var toStandardError = true
    private var toSyslog = false
    private var file: Descriptor?
    private var fileLimit = 1 << 20
    private var fileSize = 0
    private var filePath = ""
    /// The file's first line, kept through rotation; empty until `startFile`.
    private var header = ""
    private var waiting: [String] = []
    private static let waitingLimit = 4096
    private var binary = ""
    /// Splice workers log from their own threads: one line at a time.
    private let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        return lock
    }()

    public func configure(options: Options) throws {
        program = options.mode.rawValue
        maximumLevel = options.trace ? .trace : options.debug ? .debug : .info
        quiet = options.quiet
        if let path = options.logFile {
            // Read and write: shrinking reads the file back through this descriptor, as the sandbox leaves
            // no path to open it by. Truncated: a log holds one run.
            file = try Descriptor.open(path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND, mode: 0o600)
            fileSize = 0
            fileLimit = max(options.logSize, 4096)
            filePath = path
            // The binary's path, while /proc is in sight (the sandbox hides it).
            var buffer = [CChar](repeating: 0, count: 4096)
            let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
            binary = n > 0 ? String(cString: buffer) : CommandLine.arguments.first ?? program
        }
    }

    /// The process that serves is known (the daemon after the fork, or this one): the log file gets its
    /// first line, then what waited. Later calls do nothing.
    public func startFile() {
        guard let file, header.isEmpty else { return }
        header = "\(program) \(Usage.version): \(binary) (\(getpid()))\n"
        try? file.writeAll(header)
        fileSize = header.utf8.count
        let lines = waiting
        waiting = []
        lines.forEach { writeLine(file, $0) }
    }

    /// Before the sandbox, when we will daemonise inside it: the system logger's socket is connected now,
    /// as its path will be out of sight.
    public func connectSystemLoggerEarly() {
        if file == nil { CLinux_openlog(program) }
    }

    /// Called once standard error points at /dev/null: from now on use syslog unless logging to a file.
    public func detachedFromTerminal(keepStandardError: Bool) {
        startFile()
        toStandardError = keepStandardError
        if file == nil && !keepStandardError {
            CLinux_openlog(program)
            toSyslog = true
        }
    }

    public func enabled(_ level: LogLevel) -> Bool { level <= maximumLevel && !(quiet && level == .info) }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard enabled(level) else { return }
        let text = message()
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        if let file {
            writeToFile(file, text)
            return
        }
        if toStandardError {
            var line = text + "\n"
            line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
        }
        if toSyslog { CLinux_syslog(min(level.rawValue, LogLevel.debug.rawValue), text) }
    }

    /// Timestamps the line (seconds and zero-padded milliseconds, so lines sort by time) and appends it,
    /// or keeps it until `startFile`.
    private func writeToFile(_ fd: Descriptor, _ text: String) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let milliseconds = String(now.tv_nsec / 1_000_000)
        let line = "\(now.tv_sec).\(String(repeating: "0", count: 3 - milliseconds.count))\(milliseconds) \(program): \(text)\n"
        guard !header.isEmpty else {
            if waiting.count < Self.waitingLimit { waiting.append(line) }
            return
        }
        writeLine(fd, line)
    }

    /// Appends a line; when it would pass the size limit, the oldest half of the lines go first.
    private func writeLine(_ fd: Descriptor, _ line: String) {
        if fileSize + line.utf8.count > fileLimit { shrinkFile() }
        try? fd.writeAll(line)
        fileSize += line.utf8.count
    }

    /// Keeps the first line and the newest lines in half the limit: the file is read back and written
    /// again, which works on any file system (tmpfs has no FALLOC_FL_COLLAPSE_RANGE).
    private func shrinkFile() {
        guard let fd = file else { return }
        let headerBytes = header.utf8.count
        let keepBytes = fileLimit / 2 - headerBytes
        let start = max(headerBytes, fileSize - keepBytes)
        var bytes = [UInt8](repeating: 0, count: max(0, fileSize - start))
        let n = bytes.withUnsafeMutableBytes { pread(fd.raw, $0.baseAddress, $0.count, off_t(start)) }
        guard n >= 0 else { return }
        var keep = bytes[0..<n]
        if start > headerBytes, let newline = keep.firstIndex(of: 10) { keep = keep[(newline + 1)...] }
        // O_APPEND: after the truncation, writes start at the new end.
        guard ftruncate(fd.raw, 0) == 0 else { return }
        try? fd.writeAll(header)
        keep.withUnsafeBytes { try? fd.writeAll($0) }
        fileSize = headerBytes + keep.count
    }
}

public func logError(_ message: @autoclosure () -> String) { Logger.shared.log(.error, message()) }
public func logWarning(_ message: @autoclosure () -> String) { Logger.shared.log(.warning, message()) }
public func logNotice(_ message: @autoclosure () -> String) { Logger.shared.log(.notice, message()) }
public func logInfo(_ message: @autoclosure () -> String) { Logger.shared.log(.info, message()) }
public func logDebug(_ message: @autoclosure () -> String) { Logger.shared.log(.debug, message()) }
public func logTrace(_ message: @autoclosure () -> String) { Logger.shared.log(.trace, message()) }
