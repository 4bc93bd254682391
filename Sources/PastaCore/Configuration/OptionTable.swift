/// Every option of passt(1)/pasta(1), plus the newer ones Podman passes.
enum OptionTable {
    static let all: [OptionDefinition] = [
        .init("debug", "d"), .init("trace"), .init("quiet", "q"), .init("foreground", "f"),
        .init("stderr", "e"), .init("log-file", "l", value: true), .init("log-size", value: true),
        .init("runas", value: true), .init("help", "h"), .init("version"),
        .init("pcap", "p", value: true), .init("pid", "P", value: true), .init("mtu", "m", value: true),
        .init("address", "a", value: true), .init("netmask", "n", value: true),
        .init("mac-addr", "M", value: true), .init("gateway", "g", value: true),
        .init("interface", "i", value: true), .init("outbound", "o", value: true),
        .init("outbound-if4", value: true), .init("outbound-if6", value: true),
        .init("dns", "D", value: true), .init("dns-forward", value: true), .init("search", "S", value: true),
        .init("no-dhcp-dns"), .init("dhcp-dns"), .init("no-dhcp-search"), .init("dhcp-search"),
        .init("no-tcp"), .init("no-udp"), .init("no-icmp"), .init("no-dhcp"), .init("no-ndp"),
        .init("no-dhcpv6"), .init("no-ra"), .init("no-map-gw"), .init("ipv4-only", "4"), .init("ipv6-only", "6"),
        .init("socket", "s", value: true), .init("socket-path", value: true), .init("fd", "F", value: true),
        .init("one-off", "1"), .init("vhost-user"), .init("print-capabilities"),
        .init("tcp-ports", "t", value: true), .init("udp-ports", "u", value: true),
        .init("tcp-ns", "T", value: true), .init("udp-ns", "U", value: true),
        .init("ns-ifname", "I", value: true), .init("userns", value: true), .init("netns", value: true),
        .init("netns-only"), .init("no-netns-quit"), .init("config-net"), .init("no-copy-routes"),
        .init("no-copy-addrs"), .init("ns-mac-addr", value: true),
        .init("map-guest-addr", value: true), .init("map-host-loopback", value: true),
        .init("no-splice"), .init("host-lo-to-ns-lo"), .init("no-offload"), .init("conf-path", "c", value: true),
        .init("dns-host", value: true), .init("freebind"), .init("hostname", "H", value: true),
        .init("fqdn", value: true), .init("splice-only"), .init("stats", value: true), .init("no-follow-host"),
    ]

    /// Options that only make sense for one of the two modes.
    static let pastaOnly: Set<String> = [
        "tcp-ns", "udp-ns", "ns-ifname", "userns", "netns", "netns-only", "no-netns-quit", "config-net",
        "no-copy-routes", "no-copy-addrs", "ns-mac-addr", "no-splice", "host-lo-to-ns-lo", "no-offload",
        "splice-only",
    ]
    /// Options that only mean something with a tap device, refused with `--splice-only`.
    static let needTap: Set<String> = [
        "pcap", "mtu", "address", "netmask", "mac-addr", "gateway", "dns", "dns-forward", "dns-host", "search",
        "dhcp-dns", "dhcp-search", "hostname", "fqdn", "map-guest-addr", "map-host-loopback", "ns-ifname",
        "ns-mac-addr", "no-splice", "no-copy-routes", "no-copy-addrs", "no-offload",
    ]
    static let passtOnly: Set<String> = ["socket", "socket-path", "fd", "one-off", "vhost-user", "print-capabilities"]
}
