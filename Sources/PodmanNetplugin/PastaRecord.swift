import Glibc

/// What the hook keeps per container in its run directory (`ID.pid`): the pasta it started and the
/// container process pasta serves, each with its start time, so that a later stage signals only that
/// pasta and only once that container process is gone.
public struct PastaRecord: Equatable {
    public var pasta: ProcessIdentity
    public var target: ProcessIdentity

    public init(pasta: ProcessIdentity, target: ProcessIdentity) {
        self.pasta = pasta
        self.target = target
    }

    /// One line: `PASTA_PID PASTA_START TARGET_PID TARGET_START`.
    public var text: String { "\(pasta.pid) \(pasta.startTime) \(target.pid) \(target.startTime)\n" }

    public init(parsing text: String) throws {
        guard text.utf8.count <= 128 else { throw HookError("PID record longer than 128 bytes") }
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 4,
              let pastaPID = Int32(fields[0]), pastaPID > 0, let pastaStart = UInt64(fields[1]),
              let targetPID = Int32(fields[2]), targetPID > 0, let targetStart = UInt64(fields[3])
        else { throw HookError("PID record '\(HookError.printable(text))' is not 'PID START PID START'") }
        pasta = ProcessIdentity(pid: pastaPID, startTime: pastaStart)
        target = ProcessIdentity(pid: targetPID, startTime: targetStart)
    }

    /// Is `pasta` still the pasta we started for `target`? Its start time matches and its command
    /// line names the target's network namespace.
    public var pastaIsOurs: Bool {
        guard pasta.isRunning, let arguments = pasta.commandLine else { return false }
        let namespace = "/proc/\(target.pid)/ns/net"
        return zip(arguments, arguments.dropFirst()).contains { $0 == "--netns" && $1 == namespace }
    }
}
