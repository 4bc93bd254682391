/// Addressing for one family, as the namespace or guest gets it.
public struct FamilyConfiguration<Address: Hashable>: Equatable {
    /// The address handed out (DHCP/DHCPv6) and the first one configured.
    public var address: Address
    public var prefixLength: Int
    public var gateway: Address?
    /// Every address `--config-net` sets (all of the template's, or just `-a`).
    public var addresses: [AddressInfo]
    /// Routes `--config-net` sets besides those the kernel derives from addresses.
    public var routes: [RouteInfo]
    /// Host interface the configuration came from (nil in local mode or with `-a` alone).
    public var templateName: String?
}

/// The derived configuration everything after option parsing works from.
public struct RuntimeConfiguration {
    public var options: Options
    public var ipv4: FamilyConfiguration<IPv4Address>?
    public var ipv6: FamilyConfiguration<IPv6Address>?
    /// Our own MAC address towards the namespace or guest.
    public var ourMAC: MACAddress
    public var mtu: Int
    public var namespaceInterfaceName: String
    public var dnsServers: [IPAddress]
    public var searchDomains: [String]
    /// No host interface was usable: link-local style addressing, nothing routed outside.
    public var localMode: Bool

    public static let defaultMTU = 65520
    public static let localAddress4 = IPv4Address(169, 254, 2, 1)
    public static let localGateway4 = IPv4Address(169, 254, 2, 2)
    public static let localGateway6 = IPv6Address("fe80::1")!

    public init(options: Options, host: HostNetwork, resolvConf: ResolvConf) {
        self.options = options
        var host = host
        if options.ipv6Only { host.ipv4 = nil }
        if options.ipv4Only { host.ipv6 = nil }

        ipv4 = RuntimeConfiguration.family4(options, host.ipv4)
        ipv6 = RuntimeConfiguration.family6(options, host.ipv6)
        localMode = ipv4 == nil && ipv6 == nil
        if localMode {
            if !options.ipv6Only {
                ipv4 = FamilyConfiguration(
                    address: Self.localAddress4, prefixLength: 16, gateway: Self.localGateway4,
                    addresses: [AddressInfo(interfaceIndex: 0, address: .v4(Self.localAddress4), prefixLength: 16,
                                            scope: Netlink.scopeUniverse)],
                    routes: [Self.defaultRoute(via: .v4(Self.localGateway4))], templateName: nil)
            }
            if !options.ipv4Only {
                ipv6 = FamilyConfiguration(
                    address: Self.localGateway6, prefixLength: 64, gateway: Self.localGateway6, addresses: [],
                    routes: [Self.defaultRoute(via: .v6(Self.localGateway6))], templateName: nil)
            }
        }

        let templateLink = host.ipv4?.link ?? host.ipv6?.link
        ourMAC = options.macAddress ?? templateLink?.mac.flatMap { $0.isZero ? nil : $0 } ?? .fallback
        mtu = options.mtu ?? Self.defaultMTU
        namespaceInterfaceName = options.namespaceInterfaceName ?? templateLink?.name ?? "tap0"

        if options.dnsDisabled {
            dnsServers = []
        } else {
            let servers = options.dnsServers.isEmpty ? resolvConf.nameservers : options.dnsServers
            dnsServers = servers.filter {
                if case .v4 = $0 { return !options.ipv6Only }
                return !options.ipv4Only
            }
        }
        searchDomains = options.searchDomains ?? resolvConf.searchDomains
    }

    static func defaultRoute(via gateway: IPAddress) -> RouteInfo {
        RouteInfo(family: gateway.netlinkFamily, destination: nil, destinationLength: 0, gateway: gateway,
                  outputInterface: nil, table: UInt32(Netlink.tableMain), routingProtocol: Netlink.protocolBoot,
                  scope: Netlink.scopeUniverse, type: Netlink.typeUnicast, priority: nil)
    }

    private static func family4(_ options: Options, _ template: InterfaceTemplate?) -> FamilyConfiguration<IPv4Address>? {
        if options.ipv6Only { return nil }
        return family(options, template, address: options.address4, gateway: options.gateway4) {
            options.prefixLength4 ?? $1 ?? $0.classfulPrefixLength
        }
    }

    private static func family6(_ options: Options, _ template: InterfaceTemplate?) -> FamilyConfiguration<IPv6Address>? {
        if options.ipv4Only { return nil }
        return family(options, template, address: options.address6, gateway: options.gateway6) {
            options.prefixLength6 ?? $1 ?? 64
        }
    }

    /// One family's configuration: the `-a` address alone if given (its prefix from `prefix(address,
    /// host's prefix for it)`), else the template's addresses; `-g` or the template's gateway.
    private static func family<A: FamilyAddress>(
        _ options: Options, _ template: InterfaceTemplate?, address explicit: A?, gateway explicitGateway: A?,
        prefix: (A, Int?) -> Int
    ) -> FamilyConfiguration<A>? {
        let hostAddresses: [(A, Int)] = template?.addresses.compactMap { entry in
            A(entry.address).map { ($0, entry.prefixLength) }
        } ?? []
        let gateway = explicitGateway ?? template?.gateway.flatMap(A.init)
        let routes = routes(options, template, gateway?.ip)
        if let address = explicit {
            let length = prefix(address, hostAddresses.first { $0.0 == address }?.1)
            return FamilyConfiguration(
                address: address, prefixLength: length, gateway: gateway,
                addresses: [AddressInfo(interfaceIndex: 0, address: address.ip, prefixLength: length, scope: 0)],
                routes: routes, templateName: template?.link.name)
        }
        guard let template, let first = hostAddresses.first else { return nil }
        let own = template.addresses.filter { A($0.address) != nil }
        return FamilyConfiguration(
            address: first.0, prefixLength: first.1, gateway: gateway,
            addresses: options.noCopyAddresses ? [own[0]] : own,
            routes: routes, templateName: template.link.name)
    }

    /// All the template's routes, or just a default route when `-g` or `--no-copy-routes` asks for it.
    private static func routes(_ options: Options, _ template: InterfaceTemplate?, _ gateway: IPAddress?) -> [RouteInfo] {
        let explicitGateway: Bool
        switch gateway {
        case .v4?: explicitGateway = options.gateway4 != nil
        case .v6?: explicitGateway = options.gateway6 != nil
        case nil: explicitGateway = false
        }
        if let template, !explicitGateway, !options.noCopyRoutes { return template.routes }
        return gateway.map { [defaultRoute(via: $0)] } ?? []
    }
}
