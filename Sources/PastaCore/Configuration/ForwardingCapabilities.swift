/// What an instance can forward, as the pesto protocol's `caps` bits state it for each table.
public struct ForwardingCapabilities: OptionSet, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let ipv4 = ForwardingCapabilities(rawValue: 1)
    public static let ipv6 = ForwardingCapabilities(rawValue: 2)
    public static let tcp = ForwardingCapabilities(rawValue: 4)
    public static let udp = ForwardingCapabilities(rawValue: 8)
    /// Auto mode (scan rules).
    public static let scan = ForwardingCapabilities(rawValue: 16)
    /// Listening sockets bound to an interface.
    public static let interfaceName = ForwardingCapabilities(rawValue: 32)

    /// What this configuration supports (the same for each of its tables).
    public init(_ configuration: RuntimeConfiguration) {
        let options = configuration.options
        var caps: ForwardingCapabilities = [.interfaceName]
        if configuration.ipv4 != nil { caps.insert(.ipv4) }
        if configuration.ipv6 != nil { caps.insert(.ipv6) }
        if !options.noTCP { caps.insert(.tcp) }
        if !options.noUDP { caps.insert(.udp) }
        if options.mode == .pasta { caps.insert(.scan) }
        self = caps
    }

    public var names: [String] {
        [(Self.ipv4, "IPv4"), (.ipv6, "IPv6"), (.tcp, "TCP"), (.udp, "UDP"), (.scan, "auto"), (.interfaceName, "interfaces")]
            .filter { contains($0.0) }.map(\.1)
    }
}
