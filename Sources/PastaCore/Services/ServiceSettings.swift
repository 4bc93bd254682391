/// What the built-in services (DHCP, NDP, DHCPv6) hand out, derived once from the runtime configuration.
public struct ServiceSettings {
    public struct IPv4 {
        public var address: IPv4Address
        public var prefixLength: Int
        public var router: IPv4Address
        public var dnsServers: [IPv4Address]
    }

    public struct IPv6 {
        public var address: IPv6Address
        /// Source of our Router Advertisements and DHCPv6 replies: hosts only accept RAs from a
        /// link-local address (RFC 4861 section 6.1.2).
        public var routerLinkLocal: IPv6Address
        public var dnsServers: [IPv6Address]
        /// Whether `address` is one SLAAC can derive a /64 prefix from.
        public var advertisesPrefix: Bool { !address.isLinkLocal && !address.isUnspecified }
    }

    public var ourMAC: MACAddress
    /// The guest's IPv4 address, whose ARP probes stay unanswered; nil without IPv4.
    public var guestAddress4: IPv4Address?
    /// Advertised MTU (DHCP option 26, NDP MTU option); nil with `-m 0`.
    public var mtu: Int?
    /// nil when DHCP is off: `--no-dhcp`, no IPv4, or no IPv4 gateway.
    public var dhcp: IPv4?
    public var ipv6: IPv6?
    public var ndp: Bool
    public var routerAdvertisements: Bool
    public var dhcpv6: Bool
    /// The search list in wire format: compressed for DHCP option 119, plain for DHCPv6 and DNSSL.
    public var searchListCompressed: [UInt8]
    public var searchList: [UInt8]
    /// Option values for `-H` and `--fqdn` (ClientNameOptions); nil when not given.
    public var hostNameOption: [UInt8]?
    public var fqdnOption: [UInt8]?
    public var fqdnOption6: [UInt8]?

    public static let leaseSeconds: UInt32 = 86400

    public init(_ configuration: RuntimeConfiguration) {
        let options = configuration.options
        // pasta's namespace usually reads the host's resolv.conf, so DNS and search lists are only handed
        // out when asked for; a guest of passt has nothing else (man page, --dhcp-dns and --dhcp-search).
        let handOutDNS = options.dhcpDNS ?? (options.mode == .passt)
        let handOutSearch = options.dhcpSearch ?? (options.mode == .passt)
        ourMAC = configuration.ourMAC
        guestAddress4 = configuration.ipv4?.address
        mtu = configuration.mtu == 0 ? nil : configuration.mtu

        var dns4: [IPv4Address] = [], dns6: [IPv6Address] = []
        if handOutDNS {
            // A forwarded resolver address is what the guest should use; loopback resolvers are unusable there.
            for server in configuration.dnsServers {
                switch server {
                case .v4(let a) where !a.isLoopback: dns4.append(a)
                case .v6(let a) where !a.isLoopback: dns6.append(a)
                default: break
                }
            }
            if let forward = options.dnsForward4 { dns4 = [forward] }
            if let forward = options.dnsForward6 { dns6 = [forward] }
        }

        if let family = configuration.ipv4, let router = family.gateway, !options.noDHCP {
            dhcp = IPv4(address: family.address, prefixLength: family.prefixLength, router: router, dnsServers: dns4)
        }
        if let family = configuration.ipv6 {
            ipv6 = IPv6(address: family.address, routerLinkLocal: Self.routerLinkLocal(configuration, family),
                        dnsServers: dns6)
        }
        ndp = ipv6 != nil && !options.noNDP
        routerAdvertisements = ndp && !options.noRA
        dhcpv6 = ipv6 != nil && !options.noDHCPv6

        let domains = handOutSearch ? configuration.searchDomains : []
        searchListCompressed = DomainNameEncoding.encode(domains, compressed: true)
        searchList = DomainNameEncoding.encode(domains, compressed: false)
        hostNameOption = options.hostname.flatMap(ClientNameOptions.hostName)
        fqdnOption = options.fqdn.flatMap(ClientNameOptions.dhcpFQDN)
        fqdnOption6 = options.fqdn.flatMap(ClientNameOptions.dhcpv6FQDN)
    }

    /// The address our Router Advertisements come from, which a SLAAC guest takes as its default router:
    /// the gateway if it is link-local, else ours from our MAC address.
    static func routerLinkLocal(_ configuration: RuntimeConfiguration, _ family: FamilyConfiguration<IPv6Address>) -> IPv6Address {
        family.gateway.flatMap { $0.isLinkLocal ? $0 : nil } ?? linkLocal(for: configuration.ourMAC)
    }

    /// fe80::/64 with the modified EUI-64 interface identifier of `mac` (RFC 4291 appendix A).
    static func linkLocal(for mac: MACAddress) -> IPv6Address {
        let m = mac.bytes.map(UInt64.init)
        let identifier = (m[0] ^ 0x02) << 56 | m[1] << 48 | m[2] << 40 | 0xFF << 32 | 0xFE << 24
            | m[3] << 16 | m[4] << 8 | m[5]
        return IPv6Address(high: 0xFE80 << 48, low: identifier)
    }
}
