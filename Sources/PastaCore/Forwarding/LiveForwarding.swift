import Glibc

/// The forwarding tables in force and the sockets derived from them: the command line's tables at start,
/// then whatever a pesto client sets. A new set of tables is applied whole or not at all: sockets of rules
/// that stay are kept (with what waits in their queues), new ones are bound before old ones close, and if
/// one can't be bound, everything opened for the update is closed again and the old tables stay in force.
final class LiveForwarding {
    private(set) var tables: [ForwardingTable]
    private(set) var capabilities: ForwardingCapabilities
    private let tcp: Listeners
    private let udp: Listeners
    private var hostAddresses: [IPAddress]
    private var namespaceAddresses: [IPAddress]
    private let auto: AutoForwarding?
    private let guestAddresses: GuestAddresses

    /// One socket a table asks for.
    private struct Binding: Hashable {
        let transport: ForwardingRule.TransportProtocol
        let side: ForwardingSide
        let address: IPAddress
        let interface: String?
        let port: UInt16
    }

    private struct Target {
        let port: UInt16
        let address: IPAddress?
        let weak: Bool
    }

    /// Opens the command line's tables; throws (with the reason, for the user) if one can't be applied.
    init(configuration: RuntimeConfiguration, tcp: Listeners, udp: Listeners, namespace: NetworkNamespace?,
         guestAddresses: GuestAddresses) throws {
        self.tcp = tcp
        self.udp = udp
        self.guestAddresses = guestAddresses
        capabilities = ForwardingCapabilities(configuration)
        hostAddresses = Self.wildcards(configuration, side: .host)
        namespaceAddresses = Self.wildcards(configuration, side: .namespace)
        auto = namespace.map { AutoForwarding(namespace: $0) }
        tables = ForwardingTable.fromCommandLine(configuration.options).map { ForwardingTable($0.pif) }
        do {
            try replace(with: ForwardingTable.fromCommandLine(configuration.options))
        } catch let error as ForwardingTableError {
            throw OptionError(error.description)
        }
        for listeners in [tcp, udp] where listeners.count > 0 {
            logDebug("\(listeners.transport == .tcp ? "TCP" : "UDP"): \(listeners.count) forwarding sockets")
        }
    }

    /// Where a side listens without an address in the rule: every configured family's wildcard on the host,
    /// its loopback in the namespace; with `--splice-only`, the loopback on both sides.
    static func wildcards(_ configuration: RuntimeConfiguration, side: ForwardingSide) -> [IPAddress] {
        let loopback = side == .namespace || configuration.options.spliceOnly
        var addresses: [IPAddress] = []
        if configuration.ipv4 != nil { addresses.append(loopback ? .v4(.loopback) : .v4(.any)) }
        if configuration.ipv6 != nil { addresses.append(loopback ? .v6(.loopback) : .v6(.any)) }
        return addresses
    }

    /// The host's network changed: when a family came (IPv6 after an IPv4-only start), rules without an
    /// address listen on its wildcard too. If that can't be bound, the sockets stay as they were.
    func follow(_ configuration: RuntimeConfiguration) {
        capabilities = ForwardingCapabilities(configuration)
        let host = Self.wildcards(configuration, side: .host)
        let namespace = Self.wildcards(configuration, side: .namespace)
        guard host != hostAddresses || namespace != namespaceAddresses else { return }
        let before = (hostAddresses, namespaceAddresses)
        (hostAddresses, namespaceAddresses) = (host, namespace)
        do {
            try replace(with: tables)
        } catch {
            (hostAddresses, namespaceAddresses) = before
            logWarning("forwarding: can't listen on \(host.map { "\($0)" }.joined(separator: " ")) as well: \(error)")
        }
    }

    /// The addresses a rule listens on: its own, or the side's wildcards of the target's family.
    private func addresses(_ side: ForwardingSide, _ rule: ForwardingRule) -> [IPAddress] {
        if let address = rule.address { return [address] }
        let wildcards = side == .host ? hostAddresses : namespaceAddresses
        guard let target = rule.targetAddress else { return wildcards }
        return wildcards.filter { $0.family == target.family }
    }

    /// Once a second: auto mode follows what is bound.
    func scan() {
        auto?.scan(tables, tcp: tcp, udp: udp, addresses: addresses)
    }

    /// Puts `newTables` in force, or throws why not and changes nothing. Each table replaces the one of its
    /// pif; pifs not given keep theirs.
    func replace(with newTables: [ForwardingTable]) throws {
        var merged = tables
        for table in newTables {
            guard let index = merged.firstIndex(where: { $0.pif == table.pif }) else {
                throw ForwardingTableError("this instance has no \(table.pif.name) table")
            }
            if let problem = table.problem(capabilities: capabilities) { throw ForwardingTableError(problem) }
            merged[index] = table
        }
        try auto?.prepare(for: merged)
        if newTables.contains(where: { $0.rules.contains(where: \.scan) }) && auto == nil {
            throw ForwardingTableError("auto mode needs a namespace")
        }

        var wanted: [(Binding, Target)] = []
        for table in merged {
            let side: ForwardingSide = table.pif == .splice ? .namespace : .host
            for rule in table.rules where !rule.scan {
                let target = { (port: UInt16) in Target(port: rule.target(of: port), address: rule.targetAddress, weak: rule.weak) }
                for address in addresses(side, rule) {
                    for port in rule.ports {
                        wanted.append((Binding(transport: rule.transport, side: side, address: address,
                                               interface: rule.interface, port: port), target(port)))
                    }
                }
            }
        }
        var current: [Binding: Listener] = [:]
        for (transport, listeners) in [(ForwardingRule.TransportProtocol.tcp, tcp), (.udp, udp)] {
            listeners.forEach { current[binding(of: $0, transport)] = $0 }
        }
        let wantedKeys = Set(wanted.map(\.0))
        let retiring = current.filter { key, listener in
            !wantedKeys.contains(key) && !(listener.automatic && isScanned(key, in: merged))
        }
        let new = wanted.filter { current[$0.0] == nil }
        // A new socket that would collide with one being retired (0.0.0.0:80 giving way to 127.0.0.1:80) can
        // only be bound once that one is closed: those go last, and the retired ones come back on failure.
        let (blocked, free) = partition(new) { pair in retiring.keys.contains { collide($0, pair.0) } }

        var opened: [Listener] = []
        var closedForBlocked: [(Binding, Listener)] = []
        func undo() {
            opened.forEach(close)
            for (key, old) in closedForBlocked {
                do {
                    _ = try open(key, Target(port: old.targetPort, address: old.targetAddress, weak: false),
                                 automatic: old.automatic)
                } catch {
                    logError("forwarding: can't restore \(describe(key)): \(error)")
                }
            }
        }
        do {
            for (key, target) in free { if let listener = try open(key, target) { opened.append(listener) } }
            if !blocked.isEmpty {
                for (key, listener) in retiring where blocked.contains(where: { collide(key, $0.0) }) {
                    closedForBlocked.append((key, listener))
                    close(listener)
                }
                for (key, target) in blocked { if let listener = try open(key, target) { opened.append(listener) } }
            }
        } catch {
            undo()
            throw error
        }
        for (key, listener) in retiring where !closedForBlocked.contains(where: { $0.0 == key }) { close(listener) }
        for (key, target) in wanted {
            guard let kept = current[key] else { continue }
            kept.targetPort = target.port
            kept.targetAddress = target.address
            kept.automatic = false
        }
        tables = merged
        guestAddresses.setForwardingTargets(merged.filter { $0.pif == .host }.flatMap { $0.rules.compactMap(\.targetAddress) })
        scan()
    }

    private func isScanned(_ key: Binding, in tables: [ForwardingTable]) -> Bool {
        tables.contains { table in
            (table.pif == .splice) == (key.side == .namespace)
                && table.rules.contains { $0.scan && $0.transport == key.transport && $0.ports.contains(key.port) }
        }
    }

    /// Whether two sockets can't both be bound: same protocol, side, family and port, and one address is
    /// the wildcard or both are the same, on the same or no interface.
    private func collide(_ a: Binding, _ b: Binding) -> Bool {
        guard a.transport == b.transport, a.side == b.side, a.port == b.port, a.address.family == b.address.family
        else { return false }
        if let x = a.interface, let y = b.interface, x != y { return false }
        return a.address == b.address || a.address.isUnspecified || b.address.isUnspecified
    }

    private func binding(of listener: Listener, _ transport: ForwardingRule.TransportProtocol) -> Binding {
        Binding(transport: transport, side: listener.side, address: listener.address, interface: listener.interface,
                port: listener.port)
    }

    private func listeners(_ transport: ForwardingRule.TransportProtocol) -> Listeners { transport == .tcp ? tcp : udp }

    /// Opens one socket; nil when a weak rule's port can't be bound (skipped, as `all` does).
    private func open(_ key: Binding, _ target: Target, automatic: Bool = false) throws -> Listener? {
        do {
            return try listeners(key.transport).open(side: key.side, address: key.address, interface: key.interface,
                                                     port: key.port, targetPort: target.port,
                                                     targetAddress: target.address, automatic: automatic)
        } catch let error as SystemError {
            if target.weak { return nil }
            let place = key.side == .host ? "" : " in the namespace"
            // EACCES from bind() means a privileged port: say what would allow it.
            let hint = error.code == EACCES
                ? " (ports below net.ipv4.ip_unprivileged_port_start need CAP_NET_BIND_SERVICE)" : ""
            throw ForwardingTableError("can't bind \(describe(key))\(place): \(String(cString: strerror(error.code)))\(hint)")
        }
    }

    private func close(_ listener: Listener) {
        (listener.reference.kind == .tcpListener ? tcp : udp).close(listener)
    }

    private func describe(_ key: Binding) -> String {
        let interface = key.interface.map { "%" + $0 } ?? ""
        return "\(key.transport == .tcp ? "TCP" : "UDP") port \(key.port) (\(key.address)\(interface))"
    }
}

private func partition<T>(_ items: [T], _ isFirst: (T) -> Bool) -> ([T], [T]) {
    var first: [T] = [], second: [T] = []
    for item in items { if isFirst(item) { first.append(item) } else { second.append(item) } }
    return (first, second)
}
