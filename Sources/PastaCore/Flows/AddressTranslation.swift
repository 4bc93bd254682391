import Glibc

/// How addresses change between the guest's view and the host's sockets (man page, NOTES).
public struct AddressTranslation {
    public var gateway4: IPv4Address?
    public var gateway6: IPv6Address?
    /// The router a SLAAC guest learns from our Router Advertisements: mapped as the gateway is.
    public var routerLinkLocal6: IPv6Address?
    /// The guest's configured addresses: on the host, these are the host's own.
    public var guestAddress4: IPv4Address?
    public var guestAddress6: IPv6Address?
    /// Connections to the gateway go to the host's loopback (off with --no-map-gw).
    public var mapGatewayToLoopback: Bool
    /// `--map-host-loopback ADDR`: ADDR goes to the host's loopback.
    public var hostLoopbackAlias: IPAddress?
    /// `--map-guest-addr ADDR`: ADDR goes to the guest's address as the host has it.
    public var guestAddressAlias: IPAddress?
    /// `-o`: source addresses for outbound sockets.
    public var outbound4: IPv4Address?
    public var outbound6: IPv6Address?
    public var outboundInterface4: String?
    public var outboundInterface6: String?
    /// `--dns-forward`: port 53 of these addresses goes to the resolver (`--dns-host`, or the first one
    /// resolv.conf or -D gives); their other ports go nowhere.
    public var dnsForward4: IPv4Address?
    public var dnsForward6: IPv6Address?
    public var resolver4: IPv4Address?
    public var resolver6: IPv6Address?

    public init(_ configuration: RuntimeConfiguration) {
        let options = configuration.options
        gateway4 = configuration.ipv4?.gateway
        gateway6 = configuration.ipv6?.gateway
        routerLinkLocal6 = configuration.ipv6.map { ServiceSettings.routerLinkLocal(configuration, $0) }
        guestAddress4 = configuration.ipv4?.address
        guestAddress6 = configuration.ipv6.flatMap { $0.address.isLinkLocal ? nil : $0.address }
        mapGatewayToLoopback = !options.noMapGateway
        hostLoopbackAlias = options.mapHostLoopback
        guestAddressAlias = options.mapGuestAddress
        outbound4 = options.outbound4
        outbound6 = options.outbound6
        outboundInterface4 = options.outboundInterface4
        outboundInterface6 = options.outboundInterface6
        dnsForward4 = options.dnsForward4
        dnsForward6 = options.dnsForward6
        var first4: IPv4Address?, first6: IPv6Address?
        for server in configuration.dnsServers {
            switch server {
            case .v4(let a): if first4 == nil { first4 = a }
            case .v6(let a): if first6 == nil { first6 = a }
            }
        }
        resolver4 = options.dnsHost4 ?? first4
        resolver6 = options.dnsHost6 ?? first6
    }

    /// Where a socket goes for a guest's packet to `destination` port `port`: DNS (UDP or TCP) to the
    /// `--dns-forward` address goes to the resolver (nil if none is known). Its other ports lead nowhere
    /// (nil), unless the address is also one we map (the gateway, an alias). Everything else as
    /// `hostDestination(for:)`.
    public func hostDestination(for destination: IPAddress, port: UInt16) -> IPAddress? {
        let forwardsDNS: Bool
        switch destination {
        case .v4(let a) where a == dnsForward4:
            if port == 53 { return resolver4.map(IPAddress.v4) }
            forwardsDNS = true
        case .v6(let a) where a == dnsForward6:
            if port == 53 { return resolver6.map(IPAddress.v6) }
            forwardsDNS = true
        default:
            forwardsDNS = false
        }
        let mapped = hostDestination(for: destination)
        return forwardsDNS && mapped == destination ? nil : mapped
    }

    /// Who the guest hears an ICMP error from, for one a host socket got from `offender` about the guest's
    /// packet to `peer` (which the socket sent to `hostDestination`): the peer as the guest addressed it
    /// when the peer itself reported it; the guest's router when the host did, as the guest's own address
    /// (or nobody was named); else the router that did.
    func guestReporter(of offender: IPAddress?, peer: IPAddress, hostDestination: IPAddress, guest: IPAddress) -> IPAddress {
        let named = offender.flatMap { $0.family == guest.family ? $0 : nil }
        if let named, named == hostDestination { return peer }
        if let named, named != guest { return named }
        switch guest {
        case .v4: return gateway4.map(IPAddress.v4) ?? peer
        case .v6: return gateway6.map(IPAddress.v6) ?? peer
        }
    }

    /// Where a socket connects for a guest's packet to `destination`.
    public func hostDestination(for destination: IPAddress) -> IPAddress {
        if let alias = guestAddressAlias, alias == destination {
            switch destination {
            case .v4: if let a = guestAddress4 { return .v4(a) }
            case .v6: if let a = guestAddress6 { return .v6(a) }
            }
        }
        if hostLoopbackAlias == destination { return loopback(like: destination) }
        if mapGatewayToLoopback {
            switch destination {
            case .v4(let a) where a == gateway4: return .v4(.loopback)
            case .v6(let a) where a == gateway6 || a == routerLinkLocal6: return .v6(.loopback)
            default: break
            }
        }
        return destination
    }

    /// The source the guest sees for a connection from `source` on the host: loopback and the host's
    /// own address become the gateway (or the --map-host-loopback address), as the guest can't reply to them.
    public func guestSource(for source: IPAddress) -> IPAddress? {
        switch source {
        case .v4(let a):
            guard a.isLoopback || a == guestAddress4 || a.isUnspecified else { return source }
            if case .v4? = hostLoopbackAlias { return hostLoopbackAlias }
            return gateway4.map(IPAddress.v4)
        case .v6(let a):
            guard a.isLoopback || a == guestAddress6 || a.isUnspecified else { return source }
            if case .v6? = hostLoopbackAlias { return hostLoopbackAlias }
            return gateway6.map(IPAddress.v6)
        }
    }

    /// Where a socket for `destination` binds before it connects or sends: `-o` or `--outbound-if4/6`,
    /// if given (nothing for loopback destinations).
    func outboundSource(for destination: IPAddress) -> (address: IPAddress?, device: String?) {
        if destination.isLoopback { return (nil, nil) }
        switch destination {
        case .v4: return (outbound4.map(IPAddress.v4), outboundInterface4)
        case .v6: return (outbound6.map(IPAddress.v6), outboundInterface6)
        }
    }

    /// Binds a socket for `destination` as `outboundSource` says; why that failed, if it did.
    func bindOutbound(_ fd: Int32, to destination: IPAddress) -> SystemError? {
        let (address, device) = outboundSource(for: destination)
        guard address != nil || device != nil else { return nil }
        let bytes = address?.networkBytes ?? [UInt8](repeating: 0, count: destination.networkBytes.count)
        return SocketCalls.bind(fd, family: destination.family, address: bytes, port: 0, device: device)
    }

    private func loopback(like address: IPAddress) -> IPAddress {
        if case .v4 = address { return .v4(.loopback) }
        return .v6(.loopback)
    }
}
