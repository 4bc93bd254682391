/// One forwarding rule, the unit both the command line and the pesto protocol deal in: a listening
/// address (or any, both families), optionally an interface, a contiguous port range, and where its
/// connections and datagrams go.
public struct ForwardingRule: Hashable, CustomStringConvertible {
    public enum TransportProtocol: UInt8, Hashable {
        case tcp = 6
        case udp = 17
    }

    public var transport: TransportProtocol
    /// The listening address; nil: any address of both families (the protocol's dual-stack flag).
    public var address: IPAddress?
    /// Listen on this interface only (SO_BINDTODEVICE).
    public var interface: String?
    public var ports: ClosedRange<UInt16>
    /// Port `p` goes to `targetFirst + (p - ports.lowerBound)`.
    public var targetFirst: UInt16
    /// Where traffic goes on the other side; nil: the guest's own address (the host's loopback for SPLICE).
    public var targetAddress: IPAddress?
    /// Ports that can't be bound are skipped rather than failing the table (`all`, exclusion-only specs).
    public var weak: Bool
    /// Auto mode: only ports bound on the other side are listened on, as they come and go.
    public var scan: Bool

    public init(_ transport: TransportProtocol, address: IPAddress? = nil, interface: String? = nil,
                ports: ClosedRange<UInt16>, targetFirst: UInt16? = nil, targetAddress: IPAddress? = nil,
                weak: Bool = false, scan: Bool = false) {
        self.transport = transport
        self.address = address
        self.interface = interface
        self.ports = ports
        self.targetFirst = targetFirst ?? ports.lowerBound
        self.targetAddress = targetAddress
        self.weak = weak
        self.scan = scan
    }

    /// The target port of `port`, which must be in `ports`.
    public func target(of port: UInt16) -> UInt16 { targetFirst &+ (port &- ports.lowerBound) }

    /// Whether both rules would claim the same socket: same protocol, overlapping ports and addresses,
    /// and no two different interfaces (sockets bound to different devices may share a port).
    public func overlaps(_ other: ForwardingRule) -> Bool {
        guard transport == other.transport, ports.overlaps(other.ports) else { return false }
        if let a = interface, let b = other.interface, a != b { return false }
        guard let mine = address, let theirs = other.address else { return true }
        switch (mine, theirs) {
        case (.v4(let a), .v4(let b)): return a == b || a.isUnspecified || b.isUnspecified
        case (.v6(let a), .v6(let b)): return a == b || a.isUnspecified || b.isUnspecified
        default: return false
        }
    }

    /// The rule in the spec grammar of `-t`, without the option: `[ADDR%IFACE/]PORTS[:[TOADDR/]TOPORTS]`,
    /// IPv6 addresses in brackets; `auto` and `all` for the whole ranges those keywords give.
    public var description: String {
        var prefix = address.map(PortSpec.bracketed) ?? ""
        if let interface { prefix += "%" + interface }
        if !prefix.isEmpty { prefix += "/" }
        if scan && ports == ForwardingRule.allPorts && targetFirst == 1 && targetAddress == nil && !weak {
            return prefix + "auto"
        }
        if weak && !scan && ports == ForwardingRule.nonEphemeralPorts && targetFirst == 1 {
            return prefix + "all" + (targetAddress.map { ":" + PortSpec.bracketed($0) } ?? "")
        }
        var text = prefix + Self.rangeText(ports)
        if targetFirst != ports.lowerBound || targetAddress != nil {
            text += ":" + (targetAddress.map { PortSpec.bracketed($0) + "/" } ?? "")
            // In Int: a rule from a client may claim ports past 65535 (it is refused, but still described).
            let last = Int(targetFirst) + ports.count - 1
            text += ports.count == 1 ? "\(targetFirst)" : "\(targetFirst)-\(last)"
        }
        if weak { text += " (weak)" }
        if scan { text += " (auto)" }
        return text
    }

    static func rangeText(_ range: ClosedRange<UInt16>) -> String {
        range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
    }

    public static let allPorts: ClosedRange<UInt16> = 1...65535
    /// `all` and exclusion-only specs stop below the ephemeral range (Linux's default 32768).
    public static let nonEphemeralPorts: ClosedRange<UInt16> = 1...32767
}
