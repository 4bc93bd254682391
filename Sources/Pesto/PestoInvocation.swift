import PastaCore

/// pesto's command line: `pesto [-d] [-s] [-A] [-D] [-C PIF] [-t|-u|-T|-U SPEC]... PATH`. Without -A or
/// -D, the first `-t`/`-u` replaces the HOST table and the first `-T`/`-U` the SPLICE table (later ones
/// add to it); `-A`, `-D` and `-C` apply from left to right. Options and PATH may come in any order.
public struct PestoInvocation: Equatable {
    public enum Edit: Equatable {
        case clear(ForwardingPif)
        case add(ForwardingPif, [ForwardingRule])
        case delete(ForwardingPif, [ForwardingRule])
    }

    public var debug = false
    public var show = false
    public var help = false
    public var version = false
    public var path = ""
    public var edits: [Edit] = []

    static let definitions: [OptionDefinition] = [
        .init("debug", "d"), .init("show", "s"), .init("add", "A"), .init("delete", "D"),
        .init("clear", "C", value: true), .init("tcp-ports", "t", value: true), .init("udp-ports", "u", value: true),
        .init("tcp-ns", "T", value: true), .init("udp-ns", "U", value: true), .init("help", "h"), .init("version"),
    ]

    public static func parse(_ arguments: [String]) throws -> PestoInvocation {
        let parser = CommandLineParser(program: "pesto", definitions: definitions)
        var invocation = PestoInvocation()
        var mode: Mode = .replace
        var replaced = Set<ForwardingPif>()
        let positionals: [String]
        do {
            positionals = try parser.parsePermuted(arguments) { option in
                try invocation.apply(option, mode: &mode, replaced: &replaced)
            }
        } catch let error as CommandLineError {
            throw OptionError(error.description)
        }
        if invocation.help || invocation.version { return invocation }
        guard positionals.count == 1 else {
            throw OptionError(positionals.isEmpty ? "the control socket's PATH is missing" : "one PATH expected, got \(positionals.count): \(positionals.joined(separator: " "))")
        }
        invocation.path = positionals[0]
        return invocation
    }

    private enum Mode {
        case replace
        case add
        case delete
    }

    private mutating func apply(_ option: ParsedOption, mode: inout Mode, replaced: inout Set<ForwardingPif>) throws {
        let value = option.value ?? ""
        switch option.definition.long {
        case "debug": debug = true
        case "show": show = true
        case "help": help = true
        case "version": version = true
        case "add": mode = .add
        case "delete": mode = .delete
        case "clear":
            guard let pif = ForwardingPif(name: value), pif != .tap else {
                throw OptionError("\(option.spelling): unknown table '\(value)' (HOST or SPLICE)")
            }
            edits.append(.clear(pif))
        default:
            let long = option.definition.long
            let pif: ForwardingPif = long == "tcp-ports" || long == "udp-ports" ? .host : .splice
            let transport: ForwardingRule.TransportProtocol = long == "tcp-ports" || long == "tcp-ns" ? .tcp : .udp
            let rules: [ForwardingRule]
            do {
                rules = try PortForwarding.folding(nil, value, option: option.spelling, isPasta: true).rules(transport)
            } catch let error as PortSpecError {
                throw OptionError("\(option.spelling): \(error)")
            }
            switch mode {
            case .replace:
                if replaced.insert(pif).inserted { edits.append(.clear(pif)) }
                edits.append(.add(pif, rules))
            case .add: edits.append(.add(pif, rules))
            case .delete: edits.append(.delete(pif, rules))
            }
        }
    }

    /// The tables after the edits, or why they can't be made: a delete of a rule that isn't there, an add
    /// that overlaps one that is, a table the server doesn't have.
    public func edited(_ tables: [ForwardingTable]) throws -> [ForwardingTable] {
        var result = tables
        for edit in edits {
            let pif: ForwardingPif
            switch edit {
            case .clear(let p), .add(let p, _), .delete(let p, _): pif = p
            }
            guard let index = result.firstIndex(where: { $0.pif == pif }) else {
                throw ForwardingTableError("the server has no \(pif.name) table\(pif == .splice ? " (passt forwards from the host only)" : "")")
            }
            switch edit {
            case .clear: result[index].rules = []
            case .add(_, let rules): for rule in rules { try result[index].add(rule) }
            case .delete(_, let rules): for rule in rules { try result[index].remove(rule) }
            }
        }
        return result
    }

    public static let usage = """
        Usage: pesto [OPTION]... PATH
        Show or change the forwarding rules of a running pasta or passt (its -c PATH).

          -d, --debug           Be verbose
          -s, --show            Show the rules before and after the change
          -A, --add             Add the rules of the following options
          -D, --delete          Delete the rules of the following options (each must exist exactly)
          -C, --clear PIF       Remove every rule of table PIF (HOST or SPLICE)
          -t, --tcp-ports SPEC  TCP rules of the HOST table (to the guest)
          -u, --udp-ports SPEC  UDP rules of the HOST table
          -T, --tcp-ns SPEC     TCP rules of the SPLICE table (pasta: to the host)
          -U, --udp-ns SPEC     UDP rules of the SPLICE table
          -h, --help            Display this help message and exit
              --version         Show version and exit

        SPEC: none, auto, all[:TOADDR], or [ADDR[%IFACE]/]FIRST[-LAST][:[TOADDR/]TOFIRST[-TOLAST]],... with
        ~FIRST[-LAST] exclusions; IPv6 addresses in brackets. Without -A or -D, the first -t/-u replaces the
        HOST table and the first -T/-U the SPLICE table. With no change given, the tables are shown.
        The protocol has no reply: pesto reads the tables back and exits 1 if the change did not take effect.
        """
}
