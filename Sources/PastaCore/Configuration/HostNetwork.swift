/// The host interface that addresses and routes are copied from, for one address family.
public struct InterfaceTemplate: Equatable {
    public var link: LinkInfo
    /// Global addresses of the interface (link-local ones stay on the host, and so do temporary, deprecated
    /// and duplicate ones: a privacy address, copied, would change under the guest every day or so).
    public var addresses: [AddressInfo]
    /// Main-table routes through the interface, other than those the kernel derives from addresses.
    public var routes: [RouteInfo]
    /// Gateway of the default route through this interface, if it has one.
    public var gateway: IPAddress?
}

/// What rtnetlink tells about the host: the template interface per address family.
public struct HostNetwork: Equatable {
    public var ipv4: InterfaceTemplate?
    public var ipv6: InterfaceTemplate?

    /// Picks templates from dumped links, addresses and routes. `interface4`/`interface6` override
    /// the choice by default route.
    public static func choose(links: [LinkInfo], addresses: [AddressInfo], routes: [RouteInfo],
                              interface4: String?, interface6: String?) -> HostNetwork {
        HostNetwork(
            ipv4: template(family: Netlink.familyIPv4, named: interface4, links, addresses, routes),
            ipv6: template(family: Netlink.familyIPv6, named: interface6, links, addresses, routes))
    }

    private static func template(family: UInt8, named name: String?, _ links: [LinkInfo],
                                 _ addresses: [AddressInfo], _ routes: [RouteInfo]) -> InterfaceTemplate? {
        let familyRoutes = routes.filter {
            $0.family == family && $0.table == UInt32(Netlink.tableMain) && $0.type == Netlink.typeUnicast
        }
        let defaults = familyRoutes.enumerated()
            .filter { $0.element.isDefault && $0.element.outputInterface != nil }
            .sorted { ($0.element.priority ?? 0, $0.offset) < ($1.element.priority ?? 0, $1.offset) }
            .map(\.element)
        let link: LinkInfo?
        if let name {
            link = links.first { $0.name == name }
        } else {
            link = defaults.lazy.compactMap { route in links.first { $0.index == route.outputInterface } }.first
        }
        guard let link, link.flags & Netlink.interfaceUp != 0 || name != nil else { return nil }
        let own = addresses.filter {
            $0.interfaceIndex == link.index && $0.address.netlinkFamily == family && !$0.address.isLinkLocalOrLoopback
                && !$0.isTransient
        }
        guard !own.isEmpty else { return nil }
        let gateway = defaults.first { $0.outputInterface == link.index }?.gateway
        let copied = familyRoutes.filter {
            $0.outputInterface == link.index && $0.routingProtocol != Netlink.protocolKernel
                && !($0.destination?.isLinkLocalOrLoopback ?? false)
        }
        return InterfaceTemplate(link: link, addresses: own, routes: copied, gateway: gateway)
    }

    /// Reads the host's configuration over rtnetlink, the template interfaces as options name them.
    public static func discover(using socket: RouteNetlinkSocket, options: Options) throws -> HostNetwork {
        try discover(using: socket, interface4: options.templateInterface ?? options.outboundInterface4,
                     interface6: options.templateInterface ?? options.outboundInterface6)
    }

    /// Reads the host's configuration over rtnetlink.
    public static func discover(using socket: RouteNetlinkSocket, interface4: String?, interface6: String?) throws
        -> HostNetwork
    {
        let links = try socket.links()
        for name in [interface4, interface6].compactMap({ $0 }) where !links.contains(where: { $0.name == name }) {
            throw OptionError("host interface '\(name)' does not exist")
        }
        let addresses = try socket.addresses(family: Netlink.familyIPv4) + socket.addresses(family: Netlink.familyIPv6)
        let routes = try socket.routes(family: Netlink.familyIPv4) + socket.routes(family: Netlink.familyIPv6)
        return choose(links: links, addresses: addresses, routes: routes, interface4: interface4, interface6: interface6)
    }
}

extension IPAddress {
    var isLinkLocalOrLoopback: Bool {
        switch self {
        case .v4(let a): return a.isLoopback || a.isLinkLocal
        case .v6(let a): return a.isLoopback || a.isLinkLocal
        }
    }
}
