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

    public func configure(options: Options) throws {
        program = options.mode.rawValue
        maximumLevel = options.trace ? .trace : options.debug ? .debug : .info
        quiet = options.quiet
        if let path = options.logFile {
            // Read and write: shrinking reads the file back through this descriptor, as the sandbox leaves
            // no path to open it by.
            let fd = try Descriptor.open(path, O_RDWR | O_CREAT | O_APPEND, mode: 0o600)
            var status = stat()
            fstat(fd.raw, &status)
            file = fd
            fileSize = Int(status.st_size)
            fileLimit = options.logSize
            filePath = path
        }
    }

    /// Before the sandbox, when we will daemonise inside it: the system logger's socket is connected now,
    /// as its path will be out of sight.
    public func connectSystemLoggerEarly() {
        if file == nil { CLinux_openlog(program) }
    }

    /// Called once standard error points at /dev/null: from now on use syslog unless logging to a file.
    public func detachedFromTerminal(keepStandardError: Bool) {
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

    /// Appends to the log file; when it would pass the size limit, drops the oldest half first.
    private func writeToFile(_ fd: Descriptor, _ text: String) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let line = "\(now.tv_sec).\(String(now.tv_nsec / 1_000_000)) \(program): \(text)\n"
        if fileSize + line.utf8.count > fileLimit {
            shrinkFile()
        }
        try? fd.writeAll(line)
        fileSize += line.utf8.count
    }

    private func shrinkFile() {
        guard let fd = file else { return }
        let keepBytes = fileLimit / 2
        let start = max(0, fileSize - keepBytes)
        var bytes = [UInt8](repeating: 0, count: fileSize - start)
        let n = bytes.withUnsafeMutableBytes { pread(fd.raw, $0.baseAddress, $0.count, off_t(start)) }
        guard n >= 0 else { return }
        var keep = bytes[0..<n]
        if let newline = keep.firstIndex(of: 10) { keep = keep[(newline + 1)...] }
        // O_APPEND: after the truncation, writes start at the new end.
        guard ftruncate(fd.raw, 0) == 0 else { return }
        keep.withUnsafeBytes { try? fd.writeAll($0) }
        fileSize = keep.count
    }
}

public func logError(_ message: @autoclosure () -> String) { Logger.shared.log(.error, message()) }
public func logWarning(_ message: @autoclosure () -> String) { Logger.shared.log(.warning, message()) }
public func logNotice(_ message: @autoclosure () -> String) { Logger.shared.log(.notice, message()) }
public func logInfo(_ message: @autoclosure () -> String) { Logger.shared.log(.info, message()) }
public func logDebug(_ message: @autoclosure () -> String) { Logger.shared.log(.debug, message()) }
public func logTrace(_ message: @autoclosure () -> String) { Logger.shared.log(.trace, message()) }
