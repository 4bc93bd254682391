extension RuntimeConfiguration {
    /// The start-up summary, in the layout of the man page's examples.
    public var summary: String {
        var lines: [String] = []
        if options.spliceOnly {
            // No tap: none of the addressing below is handed out or configured.
            lines.append("Splice-only mode: no tap device, namespace interface: lo only")
            lines.append("Forwarding between loopback addresses only (-t, -u, -T, -U)")
            return lines.joined(separator: "\n")
        }
        let names = [ipv4?.templateName, ipv6?.templateName].compactMap { $0 }
        let outbound: String
        if localMode {
            outbound = "none (local mode)"
        } else if Set(names).count > 1 {
            outbound = "\(names[0]) (IPv4), \(names[1]) (IPv6)"
        } else {
            outbound = names.first ?? "none"
        }
        if options.mode == .pasta {
            lines.append("Outbound interface: \(outbound), namespace interface: \(namespaceInterfaceName)")
        } else {
            lines.append("Outbound interface: \(outbound)")
        }
        lines.append("ARP:")
        lines.append("    address: \(ourMAC)")
        if let v4 = ipv4 {
            lines.append("DHCP:")
            lines.append("    assign: \(v4.address)")
            lines.append("    mask: \(IPv4Address.mask(prefixLength: v4.prefixLength))")
            if let gateway = v4.gateway { lines.append("    router: \(gateway)") }
            if let hostname = options.hostname { lines.append("    hostname: \(hostname)") }
            if let fqdn = options.fqdn { lines.append("    FQDN: \(fqdn)") }
        }
        let dns4 = dnsServers.filter { if case .v4 = $0 { return true }; return false }
        let dns6 = dnsServers.filter { if case .v6 = $0 { return true }; return false }
        if !dns4.isEmpty {
            lines.append("DNS:")
            lines += dns4.map { "    \($0)" }
        }
        if let forward = options.dnsForward4 {
            lines.append("DNS forwarding: \(forward) to \(options.dnsHost4.map { "\($0)" } ?? dns4.first.map { "\($0)" } ?? "none")")
        }
        if !searchDomains.isEmpty && ipv4 != nil {
            lines.append("DNS search list:")
            lines += searchDomains.map { "    \($0)" }
        }
        if let v6 = ipv6 {
            lines.append("NDP/DHCPv6:")
            if !localMode { lines.append("    assign: \(v6.address)") }
            if let gateway = v6.gateway { lines.append("    router: \(gateway)") }
            if let fqdn = options.fqdn { lines.append("    FQDN: \(fqdn)") }
            if !dns6.isEmpty {
                lines.append("DNS:")
                lines += dns6.map { "    \($0)" }
            }
            if let forward = options.dnsForward6 {
                lines.append("DNS forwarding: \(forward) to \(options.dnsHost6.map { "\($0)" } ?? dns6.first.map { "\($0)" } ?? "none")")
            }
            if !searchDomains.isEmpty {
                lines.append("DNS search list:")
                lines += searchDomains.map { "    \($0)" }
            }
        }
        return lines.joined(separator: "\n")
    }
}
