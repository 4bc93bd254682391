import AdapterSupport
import Glibc

/// Finds passt and runs it until it returns (passt daemonises once its socket listens), keeping what it
/// prints off our standard output, which carries only the JSON answer.
enum PasstLauncher {
    /// passt next to this program (an installation of pasta-swift), else the first `passt` on PATH.
    static func locate() throws(Failure) -> String {
        if case .success(let own) = ProcFiles.executable(of: getpid()) {
            let directory = own.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            let beside = directory + "/passt"
            if isExecutableFile(beside) { return beside }
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        for entry in path.split(separator: ":") where entry.hasPrefix("/") {
            let candidate = String(entry) + "/passt"
            if isExecutableFile(candidate) { return candidate }
        }
        throw Failure(.passtNotFound, "no executable passt next to kata-passt-endpoint or on PATH "
            + "(install pasta with its passt link: scripts/install.sh)")
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }

    /// Runs passt until it returns (ProcessLauncher): what it prints goes on to our standard error as it
    /// comes, and is kept for the JSON answer.
    static func run(_ passt: String, arguments: [String], timeoutSeconds: Int) throws(Failure) -> ProcessLauncher.Outcome {
        do {
            return try ProcessLauncher.run(passt, arguments: arguments, timeoutSeconds: timeoutSeconds, echoOutput: true)
        } catch {
            throw Failure(.passtFailed, error.description)
        }
    }
}
