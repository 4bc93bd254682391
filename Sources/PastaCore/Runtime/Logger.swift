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
            let fd = try Descriptor.open(path, O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
            var status = stat()
            fstat(fd.raw, &status)
            file = fd
            fileSize = Int(status.st_size)
            fileLimit = options.logSize
            filePath = path
        }
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
        guard let bytes = try? readSmallFile(filePath, limit: fileLimit * 2) else { return }
        var keep = bytes.suffix(fileLimit / 2)
        if let newline = keep.firstIndex(of: 10) { keep = keep[(newline + 1)...] }
        guard let out = try? Descriptor.open(filePath, O_WRONLY | O_TRUNC) else { return }
        keep.withUnsafeBytes { try? out.writeAll($0) }
        fileSize = keep.count
    }
}

public func logError(_ message: @autoclosure () -> String) { Logger.shared.log(.error, message()) }
public func logWarning(_ message: @autoclosure () -> String) { Logger.shared.log(.warning, message()) }
public func logNotice(_ message: @autoclosure () -> String) { Logger.shared.log(.notice, message()) }
public func logInfo(_ message: @autoclosure () -> String) { Logger.shared.log(.info, message()) }
public func logDebug(_ message: @autoclosure () -> String) { Logger.shared.log(.debug, message()) }
public func logTrace(_ message: @autoclosure () -> String) { Logger.shared.log(.trace, message()) }
