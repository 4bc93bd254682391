/// From `-t`/`-u`/`-T`/`-U` values to forwarding rules: one rule per contiguous port range, exclusions
/// cutting ranges apart.
extension ForwardingTable {
    /// HOST (`-t`/`-u`) and, for pasta, SPLICE (`-T`/`-U`), as the command line gives them, with the mode's
    /// defaults; protocols turned off (`--no-tcp`, `--no-udp`) have no rules.
    public static func fromCommandLine(_ options: Options) -> [ForwardingTable] {
        var host = ForwardingTable(.host)
        var splice = ForwardingTable(.splice)
        if !options.noTCP {
            host.rules += options.forwarding(options.tcpPorts).rules(.tcp)
            splice.rules += options.forwarding(options.tcpNamespacePorts).rules(.tcp)
        }
        if !options.noUDP {
            host.rules += udpForwarding(options.udpPorts, tcp: options.tcpPorts, options).rules(.udp)
            splice.rules += udpForwarding(options.udpNamespacePorts, tcp: options.tcpNamespacePorts, options).rules(.udp)
        }
        return options.mode == .pasta ? [host, splice] : [host]
    }

    /// UDP follows TCP's specs when not given (man page), without port translation.
    static func udpForwarding(_ udp: PortForwarding?, tcp: PortForwarding?, _ options: Options) -> PortForwarding {
        if udp == nil, case .specs(let list)? = tcp {
            return .specs(list.map { spec in
                var same = spec
                same.ranges = spec.ranges.map {
                    PortSpec.Range(ports: $0.ports, targetFirst: $0.ports.lowerBound, targetAddress: $0.targetAddress)
                }
                return same
            })
        }
        return options.forwarding(udp)
    }
}

extension PortForwarding {
    /// The rules this gives for one protocol: `auto` scans every port, `all` and exclusion-only specs
    /// cover the non-ephemeral ports and skip those that can't be bound.
    public func rules(_ transport: ForwardingRule.TransportProtocol) -> [ForwardingRule] {
        switch self {
        case .none:
            return []
        case .auto(let excluded):
            return ForwardingRule.allPorts.subtracting(excluded).map { ForwardingRule(transport, ports: $0, scan: true) }
        case .all(let target):
            return [ForwardingRule(transport, ports: ForwardingRule.nonEphemeralPorts, targetAddress: target, weak: true)]
        case .specs(let list):
            return list.flatMap { $0.rules(transport) }
        }
    }
}

extension PortSpec {
    public func rules(_ transport: ForwardingRule.TransportProtocol) -> [ForwardingRule] {
        if automatic {
            let ports = forwardsAllNonEphemeral ? [ForwardingRule.allPorts] : ranges.map(\.ports)
            return ports.flatMap { $0.subtracting(exclusions) }.map {
                ForwardingRule(transport, address: bindAddress, interface: bindInterface, ports: $0, scan: true)
            }
        }
        if forwardsAllNonEphemeral {
            return ForwardingRule.nonEphemeralPorts.subtracting(exclusions).map {
                ForwardingRule(transport, address: bindAddress, interface: bindInterface, ports: $0, weak: true)
            }
        }
        return ranges.flatMap { range in
            range.ports.subtracting(exclusions).map { piece in
                ForwardingRule(transport, address: bindAddress, interface: bindInterface, ports: piece,
                               targetFirst: range.targetFirst + (piece.lowerBound - range.ports.lowerBound),
                               targetAddress: range.targetAddress)
            }
        }
    }
}

extension ClosedRange where Bound == UInt16 {
    /// What is left of this range without `holes`, in order.
    func subtracting(_ holes: [ClosedRange<UInt16>]) -> [ClosedRange<UInt16>] {
        var pieces = [self]
        for hole in holes {
            pieces = pieces.flatMap { piece -> [ClosedRange<UInt16>] in
                guard piece.overlaps(hole) else { return [piece] }
                var left: [ClosedRange<UInt16>] = []
                if hole.lowerBound > piece.lowerBound { left.append(piece.lowerBound...(hole.lowerBound - 1)) }
                if hole.upperBound < piece.upperBound { left.append((hole.upperBound + 1)...piece.upperBound) }
                return left
            }
        }
        return pieces
    }
}
