/// The command line: a subcommand, its options, and (attach only) passt's own options after `--`.
struct Invocation {
    enum Command: String {
        case attach, detach, status
    }

    /// The highest --index accepted: Kata numbers a sandbox's endpoints from 0, and a bound keeps file
    /// names and the default MAC address (two bytes of index) well formed.
    static let maximumIndex = 65535
    /// Seconds attach waits for passt to return (it daemonises once its socket listens, in milliseconds).
    static let defaultStartTimeout = 10

    var command: Command
    var index: Int
    var directory = "/tmp"
    var mac: MACAddress?
    var replace = false
    var startTimeout = Invocation.defaultStartTimeout
    var passtOptions: [String] = []

    /// nil for --help.
    static func parse(_ arguments: [String]) throws(Failure) -> Invocation? {
        guard let first = arguments.first else {
            throw Failure(.usage, "no subcommand: expected attach, detach or status (see --help)")
        }
        if ["-h", "--help", "help"].contains(first) { return nil }
        guard let command = Command(rawValue: first) else {
            throw Failure(.usage, "unknown subcommand '\(first)': expected attach, detach or status (see --help)")
        }
        var index: Int?
        var directory: String?
        var mac: MACAddress?
        var replace = false
        var timeout: Int?
        var passtOptions: [String] = []
        var rest = arguments.dropFirst()
        while let argument = rest.popFirst() {
            if argument == "--" {
                guard command == .attach else {
                    throw Failure(.usage, "'--' and passt options are for attach only")
                }
                passtOptions = Array(rest)
                break
            }
            if argument == "-h" || argument == "--help" { return nil }
            guard argument.hasPrefix("--") else {
                throw Failure(.usage, "unexpected argument '\(argument)' (passt options go after '--')")
            }
            let (name, inline) = splitOption(argument)
            func value() throws(Failure) -> String {
                if let inline { return inline }
                guard let next = rest.popFirst() else { throw Failure(.usage, "option '\(name)' needs a value") }
                return next
            }
            func once<T>(_ slot: T?) throws(Failure) {
                if slot != nil { throw Failure(.usage, "option '\(name)' given twice") }
            }
            switch name {
            case "--index":
                try once(index)
                index = try parseIndex(try value())
            case "--dir":
                try once(directory)
                let given = try value()
                guard !given.isEmpty else { throw Failure(.usage, "--dir needs a directory") }
                directory = given
            case "--mac" where command == .attach:
                try once(mac)
                let given = try value()
                guard let parsed = MACAddress(given) else {
                    throw Failure(.usage, "--mac '\(given)' is not a unicast MAC address like 52:54:00:12:34:56")
                }
                mac = parsed
            case "--replace" where command == .attach:
                guard inline == nil else { throw Failure(.usage, "--replace takes no value") }
                replace = true
            case "--timeout" where command == .attach:
                try once(timeout)
                let given = try value()
                guard let seconds = parseDecimal(given, maximumDigits: 3), (1...600).contains(seconds) else {
                    throw Failure(.usage, "--timeout '\(given)' is not a number of seconds from 1 to 600")
                }
                timeout = seconds
            case "--mac", "--replace", "--timeout":
                throw Failure(.usage, "option '\(name)' is for attach only")
            default:
                throw Failure(.usage, "unknown option '\(name)' (passt options go after '--')")
            }
        }
        guard let index else { throw Failure(.usage, "\(command.rawValue) needs --index N") }
        if let conflict = PasstOptionConflicts.find(in: passtOptions) {
            throw Failure(.usage, "passt option '\(conflict)' is not allowed: kata-passt-endpoint sets the PID file "
                + "and socket itself and needs passt to daemonise and stay up (no -P, -s, -F, -f or -1)")
        }
        var invocation = Invocation(command: command, index: index)
        invocation.directory = directory ?? "/tmp"
        invocation.mac = mac
        invocation.replace = replace
        invocation.startTimeout = timeout ?? defaultStartTimeout
        invocation.passtOptions = passtOptions
        return invocation
    }

    private static func splitOption(_ argument: String) -> (String, String?) {
        guard let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    static func parseIndex(_ text: String) throws(Failure) -> Int {
        guard let value = parseDecimal(text, maximumDigits: 5), value <= maximumIndex else {
            throw Failure(.usage, "--index '\(text)' is not a number from 0 to \(maximumIndex)")
        }
        return value
    }
}

/// A non-negative decimal of at most `maximumDigits` ASCII digits (no sign, no spaces); nil otherwise.
/// The digit limit comes first, so no input can overflow.
func parseDecimal(_ text: String, maximumDigits: Int) -> Int? {
    let bytes = Array(text.utf8)
    guard !bytes.isEmpty, bytes.count <= maximumDigits else { return nil }
    var value = 0
    for byte in bytes {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
    }
    return value
}
