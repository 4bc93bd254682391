import Glibc
import PastaCore

/// slirp4netns's command line (`slirp4netns [OPTION]... PID|PATH [TAPNAME]`), as Podman 4.x/5.x and
/// Buildah call it, validated, and the pasta configuration that gives the namespace the same network:
/// 10.0.2.100/24 via 10.0.2.2 with DNS at 10.0.2.3 (or the `--cidr` equivalents), fd00::100/64 via fd00::2
/// with DNS at fd00::3 with `-6`, the gateway reaching the host's loopback unless
/// `--disable-host-loopback`. Nothing is forwarded until the API asks.
public struct SlirpInvocation: Equatable {
    public var configure = false
    public var exitDescriptor: Int32?
    public var readyDescriptor: Int32?
    public var mtu = 1500
    public var enableIPv6 = false
    public var apiSocket: String?
    public var network = IPv4Address(10, 0, 2, 0)
    public var prefixLength = 24
    public var disableHostLoopback = false
    public var netnsType = "pid"
    public var usernsPath: String?
    public var enableSandbox = false
    public var enableSeccomp = false
    public var outbound4: String?
    public var outbound6: String?
    public var disableDNS = false
    public var macAddress: MACAddress?
    public var debug = false
    public var help = false
    public var version = false
    /// `/proc/PID/ns/net` or the PATH given.
    public var namespacePath = ""
    public var tapName = "tap0"

    static let definitions: [OptionDefinition] = [
        .init("configure", "c"), .init("exit-fd", "e", value: true), .init("ready-fd", "r", value: true),
        .init("mtu", "m", value: true), .init("enable-ipv6", "6"), .init("api-socket", "a", value: true),
        .init("cidr", value: true), .init("disable-host-loopback"), .init("netns-type", value: true),
        .init("userns-path", value: true), .init("enable-sandbox"), .init("enable-seccomp"),
        .init("outbound-addr", value: true), .init("outbound-addr6", value: true), .init("disable-dns"),
        .init("macaddress", value: true), .init("target-type", value: true), .init("debug"),
        .init("help", "h"), .init("version", "v"),
    ]

    public var guest: IPv4Address { IPv4Address(network.value + 100) }
    public var gateway: IPv4Address { IPv4Address(network.value + 2) }
    public var dns: IPv4Address { IPv4Address(network.value + 3) }
    public static let guest6 = IPv6Address("fd00::100")!
    public static let gateway6 = IPv6Address("fd00::2")!
    public static let dns6 = IPv6Address("fd00::3")!

    public static func parse(_ arguments: [String]) throws -> SlirpInvocation {
        let parser = CommandLineParser(program: "slirp4netns", definitions: definitions)
        var invocation = SlirpInvocation()
        let positionals: [String]
        do {
            positionals = try parser.parsePermuted(arguments) { try invocation.apply($0) }
        } catch let error as CommandLineError {
            throw OptionError(error.description)
        }
        if invocation.help || invocation.version { return invocation }
        guard (1...2).contains(positionals.count) else {
            throw OptionError(positionals.isEmpty ? "PID or PATH is missing" : "too many arguments: \(positionals.joined(separator: " "))")
        }
        if invocation.netnsType == "pid" {
            guard let pid = Int32(positionals[0]), pid > 0, positionals[0].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                throw OptionError("'\(positionals[0])' is not a PID (use --netns-type=path for a path)")
            }
            invocation.namespacePath = "/proc/\(pid)/ns/net"
        } else {
            guard !positionals[0].isEmpty else { throw OptionError("empty namespace path") }
            invocation.namespacePath = positionals[0]
        }
        if positionals.count == 2 {
            invocation.tapName = try Options.interfaceName(positionals[1]) { OptionError("invalid TAPNAME '\(positionals[1])': \($0)") }
        }
        if invocation.macAddress != nil && !invocation.configure { throw OptionError("--macaddress needs -c/--configure") }
        if invocation.outbound6 != nil && !invocation.enableIPv6 { throw OptionError("--outbound-addr6 needs -6/--enable-ipv6") }
        return invocation
    }

    private mutating func apply(_ option: ParsedOption) throws {
        let value = option.value ?? ""
        func fail(_ why: String) -> OptionError { OptionError("invalid \(option.spelling) value '\(value)': \(why)") }
        func descriptor() throws -> Int32 {
            guard let fd = Int32(value), fd >= 0 else { throw fail("not a file descriptor number") }
            guard fcntl(fd, F_GETFD) >= 0 else { throw fail("descriptor \(fd) is not open") }
            return fd
        }
        switch option.definition.long {
        case "configure": configure = true
        case "exit-fd": exitDescriptor = try descriptor()
        case "ready-fd": readyDescriptor = try descriptor()
        case "mtu":
            guard let m = Int(value), (68...65521).contains(m) else { throw fail("expected 68 to 65521") }
            mtu = m
        case "enable-ipv6": enableIPv6 = true
        case "api-socket":
            guard !value.isEmpty, value.utf8.count < Int(PATH_MAX) else { throw fail("not a usable path") }
            apiSocket = value
        case "cidr":
            let parts = value.split(separator: "/", omittingEmptySubsequences: false)
            // The guest is the network's 100th address: the prefix must leave room for it.
            guard parts.count == 2, let address = IPv4Address(String(parts[0])), let bits = Int(parts[1]),
                  (1...25).contains(bits) else { throw fail("expected A.B.C.D/N with N from 1 to 25") }
            prefixLength = bits
            network = IPv4Address(address.value & IPv4Address.mask(prefixLength: bits).value)
        case "disable-host-loopback": disableHostLoopback = true
        case "netns-type":
            guard value == "path" || value == "pid" else { throw fail("expected path or pid") }
            netnsType = value
        case "userns-path":
            guard !value.isEmpty else { throw fail("empty path") }
            usernsPath = value
        case "enable-sandbox": enableSandbox = true
        case "enable-seccomp": enableSeccomp = true
        case "outbound-addr":
            guard IPv4Address(value) != nil || Self.isInterfaceName(value) else { throw fail("not an IPv4 address or interface") }
            outbound4 = value
        case "outbound-addr6":
            guard IPv6Address(value) != nil || Self.isInterfaceName(value) else { throw fail("not an IPv6 address or interface") }
            outbound6 = value
        case "disable-dns": disableDNS = true
        case "macaddress":
            guard let mac = MACAddress(value), !mac.isMulticast, !mac.isZero else { throw fail("not a unicast MAC address") }
            macAddress = mac
        case "target-type":
            guard value == "netns" else {
                throw value == "bess" ? fail("bess targets are not supported") : fail("expected netns")
            }
        case "debug": debug = true
        case "help": help = true
        case "version": version = true
        default: throw OptionError("unhandled option \(option.spelling)")
        }
    }

    private static func isInterfaceName(_ value: String) -> Bool {
        (try? Options.interfaceName(value) { OptionError($0) }) != nil && IPAddress(value) == nil
    }

    /// pasta's configuration for this command line.
    public var options: Options {
        var o = Options(mode: .pasta)
        o.foreground = true
        o.logToStderr = true
        o.quiet = !debug
        o.debug = debug
        o.networkNamespace = namespacePath
        o.target = .path(namespacePath)
        o.userNamespace = usernsPath
        o.netnsOnly = usernsPath == nil
        o.namespaceInterfaceName = tapName
        o.configureNetwork = configure
        o.mtu = mtu
        o.address4 = guest
        o.prefixLength4 = prefixLength
        o.gateway4 = gateway
        if !disableDNS { o.dnsForward4 = dns }
        if enableIPv6 {
            o.address6 = Self.guest6
            o.gateway6 = Self.gateway6
            if !disableDNS { o.dnsForward6 = Self.dns6 }
        } else {
            o.ipv4Only = true
        }
        o.noMapGateway = disableHostLoopback
        if let outbound4 {
            if let address = IPv4Address(outbound4) { o.outbound4 = address } else { o.outboundInterface4 = outbound4 }
        }
        if let outbound6 {
            if let address = IPv6Address(outbound6) { o.outbound6 = address } else { o.outboundInterface6 = outbound6 }
        }
        o.namespaceMACAddress = macAddress
        o.tcpPorts = PortForwarding.none
        o.udpPorts = PortForwarding.none
        o.tcpNamespacePorts = PortForwarding.none
        o.udpNamespacePorts = PortForwarding.none
        o.apiSocketPath = apiSocket
        o.readyDescriptor = readyDescriptor
        o.exitDescriptor = exitDescriptor
        return o
    }

    /// Every option by name, as slirp4netns lists them: Podman looks for names in this text to learn what
    /// the binary supports.
    public static let usage = """
        Usage: slirp4netns [OPTION]... PID|PATH [TAPNAME]
        User-mode networking for unprivileged network namespaces (slirp4netns's command line and API on
        pasta's datapath).

        -c, --configure          bring up and configure the interface (10.0.2.100/24 via 10.0.2.2)
        -e, --exit-fd=FD         exit when FD becomes readable or is closed
        -r, --ready-fd=FD        write "1" to FD and close it once the network is ready
        -m, --mtu=MTU            MTU of the interface (default=1500, max=65521)
        -6, --enable-ipv6        IPv6 too (fd00::100/64 via fd00::2, DNS fd00::3)
        -a, --api-socket=PATH    API socket (add_hostfwd, list_hostfwd, remove_hostfwd)
        --cidr=CIDR              network address (default=10.0.2.0/24): gateway .2, DNS .3, guest .100
        --disable-host-loopback  the gateway does not reach 127.0.0.1 on the host
        --netns-type=TYPE        network namespace given as [path|pid] (default=pid)
        --userns-path=PATH       user namespace to join first
        --enable-sandbox         accepted (pasta's own isolation applies)
        --enable-seccomp         accepted (pasta's own isolation applies)
        --outbound-addr=IPv4     IPv4 address or interface outbound connections are bound to
        --outbound-addr6=IPv6    IPv6 address or interface outbound connections are bound to
        --disable-dns            no DNS forwarding from 10.0.2.3 (or the --cidr equivalent) to the host's
        --macaddress=MAC         MAC address of the interface (with -c)
        --target-type=TYPE       target type ([netns], default=netns; bess is not supported)
        -h, --help               show this help and exit
        -v, --version            show version and exit
        """

    public static var versionText: String {
        "slirp4netns version 1.2.0 (compatible; \(Usage.build))\ncommit: \(Usage.commit)\nlibslirp: none (pasta's datapath)"
    }
}
