/// Why a command failed. Each kind has its own exit status, so a runtime can tell them apart without
/// parsing the message; `--help` lists them.
enum FailureKind: String, CaseIterable {
    case alreadyRunning = "already-running"
    case usage
    case badDirectory = "bad-directory"
    case passtNotFound = "passt-not-found"
    case passtFailed = "passt-failed"
    case passtNotReady = "passt-not-ready"
    case stopFailed = "stop-failed"
    case inTheWay = "in-the-way"
    case busy

    var exitStatus: Int32 {
        switch self {
        case .alreadyRunning: return 1
        case .usage: return 2
        case .badDirectory: return 3
        case .passtNotFound: return 4
        case .passtFailed: return 5
        case .passtNotReady: return 6
        case .stopFailed: return 7
        case .inTheWay: return 8
        case .busy: return 9
        }
    }

    var meaning: String {
        switch self {
        case .alreadyRunning: return "attach: passt already runs for this index (see --replace)"
        case .usage: return "bad command line: subcommand, option, --index, --mac, or a passt option this helper sets itself"
        case .badDirectory: return "--dir is missing, not a directory, not writable, or too long for a socket path"
        case .passtNotFound: return "no passt next to this program or on PATH"
        case .passtFailed: return "passt exited with an error (its output is in the JSON) or did not return in time"
        case .passtNotReady: return "passt returned, but its PID file names no live passt or its socket does not accept"
        case .stopFailed: return "a passt could not be signalled, or survived SIGKILL"
        case .inTheWay: return "a file at the PID file or socket path is not ours to remove"
        case .busy: return "another kata-passt-endpoint kept the directory locked for too long"
        }
    }
}

/// A failed command: the kind, a message for people, and fields that help a program (a PID, passt's output).
struct Failure: Error {
    let kind: FailureKind
    let message: String
    var details: [(key: String, value: JSON)] = []

    init(_ kind: FailureKind, _ message: String, details: [(key: String, value: JSON)] = []) {
        self.kind = kind
        self.message = message
        self.details = details
    }
}
