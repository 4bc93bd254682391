import CLinux
import Glibc
import PastaCore

/// The pesto client: connects to a pasta or passt control socket, shows the forwarding tables, or sends
/// new ones and reads them back to tell whether they took effect (the protocol itself has no reply).
public enum PestoMain {
    /// How long the server may take to greet us: it serves one client at a time, each for at most 5 s.
    static let timeoutSeconds = 15

    public static func run(_ arguments: [String]) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let invocation: PestoInvocation
        do {
            invocation = try PestoInvocation.parse(Array(arguments.dropFirst()))
        } catch {
            printError("\(error)")
            printError("Try 'pesto --help' for more information.", prefix: false)
            return 1
        }
        if invocation.help {
            print(PestoInvocation.usage)
            return 0
        }
        if invocation.version {
            print("\(Usage.build)\npesto: control protocol version \(PestoProtocol.version)")
            return 0
        }
        do {
            return try run(invocation)
        } catch {
            printError("\(error)")
            return 1
        }
    }

    private static func run(_ invocation: PestoInvocation) throws -> Int32 {
        let debug = { (text: String) in if invocation.debug { printError(text) } }
        var connection = try Connection(path: invocation.path)
        let before = try connection.greeting()
        debug("server: protocol version \(PestoProtocol.version), \(before.tables.count) tables")
        if invocation.edits.isEmpty {
            print(describe(before))
            return 0
        }
        if invocation.show { print(describe(before)) }
        let wanted = try invocation.edited(before.tables.map(\.table))
        for (table, original) in zip(wanted, before.tables) {
            if let problem = table.problem(capabilities: original.capabilities) {
                throw ForwardingTableError("the server can't take this: \(problem)")
            }
            if table.rules.count > PestoProtocol.maximumRulesPerUpdate {
                throw ForwardingTableError("\(table.pif.name) would have \(table.rules.count) rules; the protocol carries at most \(PestoProtocol.maximumRulesPerUpdate)")
            }
        }
        let update = PestoProtocol.update(wanted)
        debug("sending \(wanted.count) tables, \(update.count) bytes")
        try connection.send(update)
        connection.close()

        // The server applies an update before it serves the next client: reading back tells the outcome.
        var check = try Connection(path: invocation.path)
        let after = try check.greeting()
        check.close()
        if invocation.show { print(describe(after)) }
        var differences: [String] = []
        for table in wanted {
            let now = after.tables.first { $0.table.pif == table.pif }?.table.rules ?? []
            let missing = table.rules.filter { !now.contains($0) }
            let unexpected = now.filter { !table.rules.contains($0) }
            differences += missing.map { "\(table.pif.name) \(option(for: table.pif, $0)) \($0) is not in force" }
            differences += unexpected.map { "\(table.pif.name) \(option(for: table.pif, $0)) \($0) is still in force" }
        }
        guard differences.isEmpty else {
            for line in differences { printError(line) }
            printError("the change did not take effect: the server refused it (a port in use, or a rule it can't apply; its log says which) and kept its rules")
            return 1
        }
        debug("the change is in force")
        return 0
    }

    static func option(for pif: ForwardingPif, _ rule: ForwardingRule) -> String {
        switch (pif, rule.transport) {
        case (.splice, .tcp): return "-T"
        case (.splice, .udp): return "-U"
        case (_, .tcp): return "-t"
        case (_, .udp): return "-u"
        }
    }

    /// The tables as options that would set them, one rule per line.
    static func describe(_ greeting: PestoServerGreeting) -> String {
        greeting.tables.map { table in
            let caps = table.capabilities.names.joined(separator: ", ")
            let rules = table.table.rules.isEmpty ? ["    none"]
                : table.table.rules.map { "    \(option(for: table.table.pif, $0)) \($0)" }
            return (["\(table.name) (\(caps)):"] + rules).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    static func printError(_ message: String, prefix: Bool = true) {
        var line = (prefix ? "pesto: " : "") + message + "\n"
        line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }

    /// One connection to the control socket, with timeouts so a stuck server can't hang us.
    private struct Connection {
        let socket: Descriptor
        let path: String
        var received: [UInt8] = []

        init(path: String) throws {
            self.path = path
            let fd = UnixListener.connect(path)
            guard fd >= 0 else {
                throw OptionError("can't connect to \(path): \(String(cString: strerror(errno)))")
            }
            socket = Descriptor(fd)
            var timeout = timeval(tv_sec: PestoMain.timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        mutating func greeting() throws -> PestoServerGreeting {
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                if let greeting = try PestoServerGreeting.parse(received) { return greeting }
                let n = chunk.withUnsafeMutableBytes { Glibc.recv(socket.raw, $0.baseAddress, $0.count, 0) }
                if n < 0 && errno == EINTR { continue }
                if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                    throw OptionError("\(path): no answer within \(PestoMain.timeoutSeconds) s")
                }
                if n < 0 { throw OptionError("\(path): \(String(cString: strerror(errno)))") }
                if n == 0 { throw OptionError("\(path): the server closed the connection before sending its tables") }
                received += chunk[0..<n]
            }
        }

        func send(_ bytes: [UInt8]) throws {
            do {
                try bytes.withUnsafeBytes { try socket.writeAll($0) }
            } catch {
                throw OptionError("\(path): can't send the update: \(error)")
            }
        }

        func close() {
            shutdown(socket.raw, Int32(SHUT_WR))
            socket.close()
        }
    }
}
