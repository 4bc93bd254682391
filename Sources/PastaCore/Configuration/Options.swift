/// passt serves a VM over a UNIX socket; pasta serves a network namespace through a tap device.
public enum ProgramMode: String {
    case passt
    case pasta

    /// The mode named by how we were invoked: basename(argv[0]).
    public init(invokedAs argv0: String) {
        let base = argv0.split(separator: "/").last.map(String.init) ?? argv0
        self = base.hasPrefix("passt") ? .passt : .pasta
    }
}

/// What to connect: an existing namespace (by PID or path) or a command to spawn in a new one.
public enum NamespaceTarget: Equatable {
    case pid(Int32)
    case path(String)
    case spawn([String])
}

/// The command line, validated: every field holds a value that was accepted at parse time.
public struct Options {
    public var mode: ProgramMode

    // Logging and process behaviour.
    public var debug = false
    public var trace = false
    public var quiet = false
    public var foreground = false
    public var logToStderr = false
    public var logFile: String?
    public var logSize = 1 << 20
    public var runAs: String?
    public var pcapFile: String?
    public var pidFile: String?
    public var showHelp = false
    public var showVersion = false

    // Addressing.
    public var mtu: Int?
    public var address4: IPv4Address?
    public var address6: IPv6Address?
    public var prefixLength4: Int?
    /// `-a ADDR/PREFIX` with an IPv6 address (64 otherwise, or the host's prefix for that address).
    public var prefixLength6: Int?
    public var macAddress: MACAddress?
    public var gateway4: IPv4Address?
    public var gateway6: IPv6Address?
    public var templateInterface: String?
    public var outbound4: IPv4Address?
    public var outbound6: IPv6Address?
    public var outboundInterface4: String?
    public var outboundInterface6: String?
    public var dnsServers: [IPAddress] = []
    public var dnsDisabled = false
    public var dnsForward4: IPv4Address?
    public var dnsForward6: IPv6Address?
    /// `--dns-host`: the resolver `--dns-forward` queries go to, instead of the first resolv.conf entry.
    public var dnsHost4: IPv4Address?
    public var dnsHost6: IPv6Address?
    /// `-H`: handed out as DHCP option 12.
    public var hostname: String?
    /// `--fqdn`: handed out as DHCP option 81 and DHCPv6 option 39.
    public var fqdn: String?
    public var searchDomains: [String]?
    public var dhcpDNS: Bool?
    public var dhcpSearch: Bool?
    public var mapGuestAddress: IPAddress?
    public var mapHostLoopback: IPAddress?

    // Protocol handlers and services.
    public var noTCP = false
    public var noUDP = false
    public var noICMP = false
    public var noDHCP = false
    public var noNDP = false
    public var noDHCPv6 = false
    public var noRA = false
    public var noMapGateway = false
    /// `--no-follow-host`: the host's addresses, routes and resolvers as they were at start, for the whole run.
    public var noFollowHost = false
    public var ipv4Only = false
    public var ipv6Only = false
    public var noSplice = false
    /// A plain tap: no virtio-net header, no segmentation or checksum offloads (see TapDevice).
    public var noOffload = false
    public var hostLoopbackToNamespaceLoopback = false
    /// `--splice-only`: no tap device; only `-t/-u/-T/-U` between the two loopbacks.
    public var spliceOnly = false
    /// `--freebind`: forwarding sockets may bind addresses not (yet) configured (IP_FREEBIND).
    public var freebind = false
    /// `--stats DELAY`: event counts are logged at most every DELAY seconds.
    public var statsInterval: Int?

    // passt.
    public var socketPath: String?
    public var socketFD: Int32?
    public var oneOff = false
    /// Accepted so the callers that probe for them get a clear "not supported".
    public var vhostUser = false
    public var printCapabilities = false

    // Forwarding: nil means the mode's default (pasta: auto, passt: none).
    public var tcpPorts: PortForwarding?
    public var udpPorts: PortForwarding?
    public var tcpNamespacePorts: PortForwarding?
    public var udpNamespacePorts: PortForwarding?
    /// `-c`: the UNIX socket where pesto clients read and replace the forwarding tables.
    public var controlSocketPath: String?
    /// slirp4netns mode only (not on pasta's command line): `-a PATH`, `-r FD`, `-e FD`.
    public var apiSocketPath: String?
    public var readyDescriptor: Int32?
    public var exitDescriptor: Int32?

    // pasta namespaces.
    public var namespaceInterfaceName: String?
    public var userNamespace: String?
    public var networkNamespace: String?
    public var netnsOnly = false
    public var noNetnsQuit = false
    public var configureNetwork = false
    public var noCopyRoutes = false
    public var noCopyAddresses = false
    public var namespaceMACAddress: MACAddress?
    public var target: NamespaceTarget = .spawn([])
    /// How each option given was spelled, by long name: for checks between options and their messages.
    var given: [String: String] = [:]

    public init(mode: ProgramMode) { self.mode = mode }

    /// Defaults per mode, after all options were seen.
    public func forwarding(_ value: PortForwarding?) -> PortForwarding {
        value ?? (mode == .pasta ? .automatic : .none)
    }
}
