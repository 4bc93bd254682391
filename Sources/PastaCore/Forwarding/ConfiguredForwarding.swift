import Glibc

/// Opens the listeners port specs ask for at start: `-t`/`-u` on the host (wildcard addresses unless a
/// spec names one), `-T`/`-U` in the namespace on its loopback. `auto` opens nothing here: AutoForwarding
/// follows what is bound while running.
public enum ConfiguredForwarding {
    public static func open(_ configuration: RuntimeConfiguration, tcp: Listeners, udp: Listeners) throws {
        let options = configuration.options
        if !options.noTCP {
            try open(options.forwarding(options.tcpPorts), side: .host, into: tcp, configuration)
            try open(options.forwarding(options.tcpNamespacePorts), side: .namespace, into: tcp, configuration)
        }
        if !options.noUDP {
            try open(udpForwarding(options, side: .host), side: .host, into: udp, configuration)
            try open(udpForwarding(options, side: .namespace), side: .namespace, into: udp, configuration)
        }
    }

    /// UDP follows TCP's specs when not given (man page), without port translation.
    public static func udpForwarding(_ options: Options, side: ForwardingSide) -> PortForwarding {
        let udp = side == .host ? options.udpPorts : options.udpNamespacePorts
        let tcp = side == .host ? options.tcpPorts : options.tcpNamespacePorts
        if udp == nil, case .specs(let list)? = tcp {
            return .specs(list.map { spec in
                var same = spec
                same.ranges = spec.ranges.map { PortSpec.Range(ports: $0.ports, targetFirst: $0.ports.lowerBound) }
                return same
            })
        }
        return options.forwarding(udp)
    }

    /// Where a side listens without an address in the spec: every configured family's wildcard on the host,
    /// its loopback in the namespace.
    public static func defaultAddresses(_ configuration: RuntimeConfiguration, side: ForwardingSide) -> [IPAddress] {
        var addresses: [IPAddress] = []
        if configuration.ipv4 != nil { addresses.append(side == .host ? .v4(.any) : .v4(.loopback)) }
        if configuration.ipv6 != nil { addresses.append(side == .host ? .v6(.any) : .v6(.loopback)) }
        return addresses
    }

    private static func open(_ forwarding: PortForwarding, side: ForwardingSide, into listeners: Listeners,
                             _ configuration: RuntimeConfiguration) throws {
        let groups: [(IPAddress?, [(UInt16, UInt16)])]
        switch forwarding {
        case .specs(let list): groups = list.map { ($0.bindAddress, ports(of: $0)) }
        case .all: groups = [(nil, (1..<ephemeralStart).map { ($0, $0) })]
        case .none, .auto: return
        }
        let wildcards = defaultAddresses(configuration, side: side)
        let name = listeners.transport == .tcp ? "TCP" : "UDP"
        for (bindAddress, pairs) in groups {
            for (port, target) in pairs {
                for address in bindAddress.map({ [$0] }) ?? wildcards {
                    do {
                        try listeners.open(side: side, address: address, port: port, targetPort: target)
                    } catch let error as SystemError {
                        let place = side == .host ? "" : " in the namespace"
                        // EACCES from bind() means a privileged port: say what would allow it.
                        let hint = error.code == EACCES
                            ? " (ports below net.ipv4.ip_unprivileged_port_start need CAP_NET_BIND_SERVICE)" : ""
                        throw OptionError("can't bind \(name) port \(port) (\(address))\(place): \(String(cString: strerror(error.code)))\(hint)")
                    }
                }
            }
        }
        if listeners.count > 0 { logDebug("\(name): \(listeners.count) forwarding sockets") }
    }

    static let ephemeralStart: UInt16 = 32768

    /// Every (port, target port) pair a spec forwards.
    static func ports(of spec: PortSpec) -> [(UInt16, UInt16)] {
        let candidates: [ClosedRange<UInt16>] = spec.forwardsAllNonEphemeral ? [1...65535] : spec.ranges.map(\.ports)
        var result: [(UInt16, UInt16)] = []
        for range in candidates {
            for port in range {
                if let target = spec.target(of: port) { result.append((port, target)) }
            }
        }
        return result
    }
}
