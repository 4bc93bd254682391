import Glibc

/// Auto mode, pasta's default for `-t`, `-u`, `-T` and `-U`: scan rules (`auto`) in a forwarding table.
/// Every second, each port in a scan rule's range that is bound on the other side gets a forwarding socket
/// on this one, and loses it once nothing binds it any more. Ports our own forwarding sockets hold are never
/// forwarded back. The /proc files are opened once per direction, in the namespace they describe, when a
/// table first asks for that direction.
final class AutoForwarding {
    private struct Direction: Hashable {
        let transport: ForwardingRule.TransportProtocol
        /// Where our sockets are opened; the files describe the other side.
        let side: ForwardingSide
    }

    private let namespace: NetworkNamespace
    private var files: [Direction: [Descriptor]] = [:]
    /// Ports that could not be bound: not retried until they are released and bound again.
    private var failed: [Direction: Set<UInt16>] = [:]
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    init(namespace: NetworkNamespace) {
        self.namespace = namespace
    }

    /// Opens the /proc files the scan rules of `tables` need; throws when one can't be read.
    func prepare(for tables: [ForwardingTable]) throws {
        for table in tables {
            for rule in table.rules where rule.scan {
                let direction = Direction(transport: rule.transport, side: table.pif == .splice ? .namespace : .host)
                guard files[direction] == nil else { continue }
                let names = rule.transport == .tcp ? ["tcp", "tcp6"] : ["udp", "udp6"]
                let open = { names.compactMap { Self.openProcFile($0) } }
                let opened = direction.side == .host ? (namespace.inside(open) ?? []) : open()
                guard !opened.isEmpty else {
                    let place = direction.side == .host ? "in the namespace" : "on the host"
                    throw OptionError("can't read bound \(names[0].uppercased()) ports \(place) for auto mode")
                }
                files[direction] = opened
            }
        }
    }

    /// /proc/thread-self, not /proc/self: the calling thread may be visiting the namespace.
    private static func openProcFile(_ name: String) -> Descriptor? {
        try? Descriptor.open("/proc/thread-self/net/\(name)", O_RDONLY)
    }

    /// Brings the automatic listeners in line with what is bound now; called once a second and after the
    /// tables change. `addresses(side, rule)` gives where a rule listens.
    func scan(_ tables: [ForwardingTable], tcp: Listeners, udp: Listeners,
              addresses: (ForwardingSide, ForwardingRule) -> [IPAddress]) {
        for table in tables {
            let side: ForwardingSide = table.pif == .splice ? .namespace : .host
            for (transport, listeners) in [(ForwardingRule.TransportProtocol.tcp, tcp), (.udp, udp)] {
                let rules = table.rules.filter { $0.scan && $0.transport == transport }
                let direction = Direction(transport: transport, side: side)
                scan(direction, rules: rules, listeners: listeners, addresses: addresses)
            }
        }
    }

    private func scan(_ direction: Direction, rules: [ForwardingRule], listeners: Listeners,
                      addresses: (ForwardingSide, ForwardingRule) -> [IPAddress]) {
        var bound = Set<UInt16>()
        if !rules.isEmpty, let files = files[direction] {
            let state = direction.transport == .tcp ? BoundPorts.tcpListening : BoundPorts.udpBound
            for file in files { read(file, state: state, into: &bound) }
        }
        var ours = Set<UInt16>()
        var taken = Set<UInt16>()
        var current: [UInt16: [Listener]] = [:]
        listeners.forEach { listener in
            if listener.side != direction.side {
                ours.insert(listener.port)
            } else if listener.automatic {
                current[listener.port, default: []].append(listener)
            } else {
                taken.insert(listener.port)
            }
        }
        var wanted: [UInt16: ForwardingRule] = [:]
        for port in bound where !ours.contains(port) && !taken.contains(port) {
            if let rule = rules.first(where: { $0.ports.contains(port) }) { wanted[port] = rule }
        }
        let name = describe(direction)
        for (port, open) in current where wanted[port] == nil {
            open.forEach { listeners.close($0) }
            logDebug("auto: \(name) port \(port) released")
        }
        var failedPorts = failed[direction, default: []].intersection(wanted.keys)
        for (port, rule) in wanted where current[port] == nil && !failedPorts.contains(port) {
            var opened = 0
            for address in addresses(direction.side, rule) {
                do {
                    try listeners.open(side: direction.side, address: address, interface: rule.interface, port: port,
                                       targetPort: rule.target(of: port), targetAddress: rule.targetAddress,
                                       automatic: true)
                    opened += 1
                } catch {
                    logDebug("auto: \(name) port \(port) (\(address)): \(error)")
                }
            }
            if opened == 0 { failedPorts.insert(port) } else { logDebug("auto: \(name) port \(port) forwarded") }
        }
        failed[direction] = failedPorts
    }

    private func describe(_ direction: Direction) -> String {
        let name = direction.transport == .tcp ? "TCP" : "UDP"
        return direction.side == .host ? "\(name) host" : "\(name) namespace"
    }

    /// Reads a whole /proc file from its start (seq files regenerate their text when read from offset 0).
    private func read(_ file: Descriptor, state: UInt8, into ports: inout Set<UInt16>) {
        var length = 0
        guard lseek(file.raw, 0, SEEK_SET) == 0 else { return }
        while true {
            if length == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(file.raw, $0.baseAddress! + length, $0.count - length) }
            if n <= 0 { break }
            length += n
        }
        buffer.withUnsafeBytes { BoundPorts.parse(UnsafeRawBufferPointer(rebasing: $0[0..<length]), state: state, into: &ports) }
    }
}
