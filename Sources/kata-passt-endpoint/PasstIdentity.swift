import Glibc

/// Whether a PID is the passt serving an endpoint. A PID from a file may have been reused by any program
/// since, so it counts as ours only when /proc shows a live process whose executable is passt (or pasta,
/// the same binary, or whatever binary this helper runs as passt) and whose command line names this
/// endpoint's PID file and socket.
enum PasstIdentity {
    enum Verdict {
        case ours
        /// Gone or a zombie: nothing to signal.
        case notRunning(String)
        /// Alive but not provably our passt: never to be signalled.
        case foreign(String)
    }

    /// Debian's passt may re-exec itself as passt.avx2.
    static let executableNames: Set<String> = ["passt", "pasta", "passt.avx2", "pasta.avx2"]
    static let statLimit = 4096
    /// Device and inode of the passt this helper runs, when one was found: an installation may name the
    /// binary otherwise (a passt link to a differently named file).
    static var launcherExecutable: (device: dev_t, inode: ino_t)?
    static let cmdlineLimit = 128 * 1024

    static func check(_ pid: pid_t, for paths: EndpointPaths) -> Verdict {
        switch ProcFiles.read("/proc/\(pid)/stat", limit: statLimit) {
        case .failed(let code) where code == ENOENT || code == ESRCH:
            return .notRunning("process \(pid) is not running")
        case .failed(let code):
            return .foreign("can't read /proc/\(pid)/stat: \(errnoText(code))")
        case .bytes(let bytes):
            guard let state = ProcFiles.state(fromStat: bytes) else {
                return .foreign("/proc/\(pid)/stat has no state field")
            }
            if state == "Z" || state == "X" {
                return .notRunning("process \(pid) is not running (exited, not reaped yet)")
            }
        }
        let executable: String
        switch ProcFiles.executable(of: pid) {
        case .failure(let code) where code.value == ENOENT:
            return .foreign("process \(pid) has no executable (a kernel thread, or it is exiting)")
        case .failure(let code):
            return .foreign("can't read /proc/\(pid)/exe to identify process \(pid): \(errnoText(code.value))")
        case .success(let path):
            executable = path
        }
        var name = executable.split(separator: "/").last.map(String.init) ?? executable
        if name.hasSuffix(" (deleted)") { name.removeLast(" (deleted)".count) }  // upgraded since it started
        guard executableNames.contains(name) || isLauncherExecutable(pid) else {
            return .foreign("process \(pid) is not passt: it runs \(executable)")
        }
        guard case .bytes(let bytes) = ProcFiles.read("/proc/\(pid)/cmdline", limit: cmdlineLimit) else {
            return .foreign("can't read /proc/\(pid)/cmdline")
        }
        let arguments = ProcFiles.arguments(fromCmdline: bytes)
        guard sets(arguments, short: "P", long: ["pid"], to: paths.pidFile),
              sets(arguments, short: "s", long: ["socket", "socket-path"], to: paths.socket) else {
            return .foreign("process \(pid) is a \(name) for another endpoint (its command line names other files)")
        }
        return .ours
    }

    static func isLauncherExecutable(_ pid: pid_t) -> Bool {
        guard let launcher = launcherExecutable else { return false }
        var info = stat()
        // stat() follows the /proc link to the very inode the process runs, even if it was deleted since.
        return stat("/proc/\(pid)/exe", &info) == 0 && info.st_dev == launcher.device && info.st_ino == launcher.inode
    }

    static func remember(launcher path: String) {
        var info = stat()
        if stat(path, &info) == 0 { launcherExecutable = (info.st_dev, info.st_ino) }
    }

    /// Whether the command line sets the option (`-P V`, `-PV`, `--pid V`, `--pid=V`) to `value`.
    static func sets(_ arguments: [String], short: Character, long: [String], to value: String) -> Bool {
        for (i, argument) in arguments.enumerated() {
            let next = i + 1 < arguments.count ? arguments[i + 1] : nil
            if argument == "-\(short)" || long.contains(where: { argument == "--\($0)" }) {
                if next == value { return true }
            } else if argument == "-\(short)\(value)" || long.contains(where: { argument == "--\($0)=\(value)" }) {
                return true
            }
        }
        return false
    }
}
