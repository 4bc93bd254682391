/// The forwarding rules of one side (pif): what the command line gave, then what pesto clients set.
/// Listening sockets are derived from it; a table is only ever replaced whole, once it passed `check`.
public struct ForwardingTable: Equatable, CustomStringConvertible {
    public var pif: ForwardingPif
    public var rules: [ForwardingRule]

    public init(_ pif: ForwardingPif, rules: [ForwardingRule] = []) {
        self.pif = pif
        self.rules = rules
    }

    /// Why this table can't be applied where `capabilities` hold, or nil when it can. HOST targets can't be
    /// loopback addresses (the guest can't be reached there); SPLICE targets are the host's and may.
    public func problem(capabilities: ForwardingCapabilities) -> String? {
        for rule in rules {
            if let reason = problem(with: rule, capabilities: capabilities) { return "\(pif.name) rule \(rule): \(reason)" }
        }
        if let (a, b) = firstOverlap() { return "\(pif.name) rules \(a) and \(b) overlap" }
        return nil
    }

    private func problem(with rule: ForwardingRule, capabilities caps: ForwardingCapabilities) -> String? {
        let transportCap: ForwardingCapabilities = rule.transport == .tcp ? .tcp : .udp
        guard caps.contains(transportCap) else { return "\(rule.transport == .tcp ? "TCP" : "UDP") is disabled" }
        if rule.scan && !caps.contains(.scan) { return "auto mode is only available in pasta" }
        if rule.interface != nil && !caps.contains(.interfaceName) { return "interfaces can't be given" }
        guard rule.ports.lowerBound > 0, rule.targetFirst > 0 else { return "port 0 can't be forwarded" }
        guard Int(rule.targetFirst) + rule.ports.count - 1 <= Int(UInt16.max) else { return "target ports exceed 65535" }
        for address in [rule.address, rule.targetAddress].compactMap({ $0 }) {
            switch address {
            case .v4: if !caps.contains(.ipv4) { return "IPv4 is not enabled" }
            case .v6: if !caps.contains(.ipv6) { return "IPv6 is not enabled" }
            }
        }
        if let target = rule.targetAddress {
            if target.isUnspecified || target.isMulticast { return "the target address \(target) is not a unicast address" }
            if let address = rule.address, address.family != target.family {
                return "the target address is of another family than the listening address"
            }
            if pif == .host, target.isLoopback { return "a loopback address can't be reached in the guest" }
        }
        return nil
    }

    /// The first pair of rules that would claim the same socket.
    public func firstOverlap() -> (ForwardingRule, ForwardingRule)? {
        for (index, rule) in rules.enumerated() {
            if let other = rules[(index + 1)...].first(where: { $0.overlaps(rule) }) { return (rule, other) }
        }
        return nil
    }

    /// Adds a rule; one identical to a rule present is no change (adding twice is harmless, as Podman
    /// expects), one that overlaps another is refused.
    public mutating func add(_ rule: ForwardingRule) throws {
        if rules.contains(rule) { return }
        if let other = rules.first(where: { $0.overlaps(rule) }) {
            throw ForwardingTableError("\(pif.name) rule \(rule) overlaps \(other)")
        }
        rules.append(rule)
    }

    /// Removes a rule, which must be present exactly as given.
    public mutating func remove(_ rule: ForwardingRule) throws {
        guard let index = rules.firstIndex(of: rule) else {
            throw ForwardingTableError("no \(pif.name) rule \(rule) to delete")
        }
        rules.remove(at: index)
    }

    public var description: String { "\(pif.name): " + (rules.isEmpty ? "none" : rules.map(\.description).joined(separator: " ")) }
}

public struct ForwardingTableError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
