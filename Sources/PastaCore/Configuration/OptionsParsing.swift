import CLinux
import Glibc

public struct OptionError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Options {
    /// Parses and validates a full command line (without argv[0]).
    public static func parse(_ arguments: [String], mode: ProgramMode) throws -> Options {
        let parser = CommandLineParser(program: mode.rawValue, definitions: OptionTable.all)
        let parsed: (options: [ParsedOption], positionals: [String], sawDoubleDash: Bool)
        do {
            parsed = try parser.parse(arguments)
        } catch let error as CommandLineError {
            throw OptionError(error.description)
        }
        var options = Options(mode: mode)
        for option in parsed.options {
            try options.apply(option)
            if options.showHelp || options.showVersion { return options }
        }
        try options.applyPositionals(parsed.positionals, afterDoubleDash: parsed.sawDoubleDash)
        try options.checkCombinations()
        return options
    }

    private mutating func apply(_ option: ParsedOption) throws {
        let name = option.definition.long
        let value = option.value ?? ""
        let spelling = option.spelling
        if mode == .passt && OptionTable.pastaOnly.contains(name) {
            throw OptionError("\(spelling) is only valid in pasta mode")
        }
        if mode == .pasta && OptionTable.passtOnly.contains(name) {
            throw OptionError("\(spelling) is only valid in passt mode")
        }
        func fail(_ why: String) -> OptionError { OptionError("invalid \(spelling) value '\(value)': \(why)") }
        given[name] = spelling
        switch name {
        case "debug": debug = true
        case "trace": trace = true; debug = true
        case "quiet": quiet = true
        case "foreground": foreground = true
        case "stderr": logToStderr = true
        case "log-file":
            guard !value.isEmpty else { throw fail("empty path") }
            logFile = value
        case "log-size":
            guard let size = Int(value), size >= 4096 else { throw fail("expected a byte count of at least 4096") }
            logSize = size
        case "runas":
            guard !value.isEmpty else { throw fail("empty user") }
            runAs = value
        case "help": showHelp = true
        case "version": showVersion = true
        case "pcap":
            guard !value.isEmpty else { throw fail("empty path") }
            pcapFile = value
        case "pid":
            guard !value.isEmpty else { throw fail("empty path") }
            pidFile = value
        case "mtu":
            guard let m = Int(value), m == 0 || (68...65535).contains(m) else {
                throw fail("expected 0 (no assignment) or 68 to 65535")
            }
            mtu = m
        case "address":
            // ADDR or ADDR/PREFIX: the prefix length comes with the address.
            let parts = value.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            var length: Int?
            if parts.count == 2 {
                guard !parts[1].isEmpty, parts[1].utf8.count <= 3, parts[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                      let bits = Int(parts[1])
                else { throw fail("the prefix length after '/' is not a number") }
                length = bits
            }
            switch IPAddress(String(parts[0])) {
            case .v4(let a)?:
                guard address4 == nil else { throw fail("an IPv4 address was already given") }
                guard !a.isUnspecified, !a.isLoopback, !a.isMulticast, !a.isBroadcast else {
                    throw fail("not a usable unicast address")
                }
                if let length {
                    guard (1...32).contains(length) else { throw fail("IPv4 prefix lengths are 1 to 32") }
                    guard prefixLength4 == nil else { throw fail("-n/--netmask already gave the prefix length") }
                    prefixLength4 = length
                }
                address4 = a
            case .v6(let a)?:
                guard address6 == nil else { throw fail("an IPv6 address was already given") }
                guard !a.isUnspecified, !a.isLoopback, !a.isMulticast else { throw fail("not a usable unicast address") }
                if let length {
                    guard (1...128).contains(length) else { throw fail("IPv6 prefix lengths are 1 to 128") }
                    prefixLength6 = length
                }
                address6 = a
            case nil: throw fail("not an IPv4 or IPv6 address" + (parts.count == 2 ? " before '/'" : ""))
            }
        case "netmask":
            guard prefixLength4 == nil else { throw fail("the prefix length was already given") }
            if let bits = Int(value), (0...32).contains(bits) {
                prefixLength4 = bits
            } else if let mask = IPv4Address(value), let bits = mask.contiguousPrefixLength {
                prefixLength4 = bits
            } else {
                throw fail("expected dot-decimal netmask or 0 to 32 bits")
            }
        case "mac-addr":
            guard let mac = MACAddress(value), !mac.isMulticast, !mac.isZero else { throw fail("not a unicast MAC address") }
            macAddress = mac
        case "ns-mac-addr":
            guard let mac = MACAddress(value), !mac.isMulticast, !mac.isZero else { throw fail("not a unicast MAC address") }
            namespaceMACAddress = mac
        case "gateway":
            switch IPAddress(value) {
            case .v4(let a)?:
                guard gateway4 == nil else { throw fail("an IPv4 gateway was already given") }
                guard !a.isUnspecified, !a.isMulticast, !a.isBroadcast else { throw fail("not a usable gateway") }
                gateway4 = a
            case .v6(let a)?:
                guard gateway6 == nil else { throw fail("an IPv6 gateway was already given") }
                guard !a.isUnspecified, !a.isMulticast else { throw fail("not a usable gateway") }
                gateway6 = a
            case nil: throw fail("not an IPv4 or IPv6 address")
            }
        case "interface": templateInterface = try Options.interfaceName(value, fail)
        case "outbound-if4": outboundInterface4 = try Options.interfaceName(value, fail)
        case "outbound-if6": outboundInterface6 = try Options.interfaceName(value, fail)
        case "ns-ifname": namespaceInterfaceName = try Options.interfaceName(value, fail)
        case "outbound":
            switch IPAddress(value) {
            case .v4(let a)?:
                guard outbound4 == nil else { throw fail("an IPv4 outbound address was already given") }
                outbound4 = a
            case .v6(let a)?:
                guard outbound6 == nil else { throw fail("an IPv6 outbound address was already given") }
                outbound6 = a
            case nil: throw fail("not an IPv4 or IPv6 address")
            }
        case "dns":
            if value == "none" {
                dnsDisabled = true
                dnsServers = []
            } else if let address = IPAddress(value) {
                dnsServers.append(address)
            } else {
                throw fail("not an IPv4 or IPv6 address, nor 'none'")
            }
        case "dns-forward":
            switch IPAddress(value) {
            case .v4(let a)?:
                guard dnsForward4 == nil else { throw fail("an IPv4 forwarding address was already given") }
                dnsForward4 = a
            case .v6(let a)?:
                guard dnsForward6 == nil else { throw fail("an IPv6 forwarding address was already given") }
                dnsForward6 = a
            case nil: throw fail("not an IPv4 or IPv6 address")
            }
        case "dns-host":
            switch IPAddress(value) {
            case .v4(let a)?:
                guard dnsHost4 == nil else { throw fail("an IPv4 resolver was already given") }
                guard !a.isUnspecified, !a.isMulticast, !a.isBroadcast else { throw fail("not a unicast address") }
                dnsHost4 = a
            case .v6(let a)?:
                guard dnsHost6 == nil else { throw fail("an IPv6 resolver was already given") }
                guard !a.isUnspecified, !a.isMulticast else { throw fail("not a unicast address") }
                dnsHost6 = a
            case nil: throw fail("not an IPv4 or IPv6 address")
            }
        case "hostname":
            guard Options.isValidHostname(value) else {
                throw fail("a host name is 1 to 64 letters, digits, '-', '_' and '.' (in labels of 1 to 63)")
            }
            hostname = value
        case "fqdn":
            guard Options.isValidDomain(value) else { throw fail("not a valid domain name (RFC 1035: up to 253 bytes)") }
            fqdn = value
        case "splice-only": spliceOnly = true
        case "freebind": freebind = true
        case "stats":
            guard !value.isEmpty, value.utf8.count <= 7, value.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let seconds = Int(value), seconds >= 1
            else { throw fail("expected a number of seconds, at least 1") }
            statsInterval = seconds
        case "search":
            if value == "none" {
                searchDomains = []
            } else {
                let domains = value.split(separator: " ").map(String.init)
                guard !domains.isEmpty else { throw fail("empty search list") }
                for domain in domains where !Options.isValidDomain(domain) {
                    throw fail("'\(domain)' is not a valid domain name")
                }
                searchDomains = domains
            }
        case "no-dhcp-dns": dhcpDNS = false
        case "dhcp-dns": dhcpDNS = true
        case "no-dhcp-search": dhcpSearch = false
        case "dhcp-search": dhcpSearch = true
        case "no-tcp": noTCP = true
        case "no-udp": noUDP = true
        case "no-icmp": noICMP = true
        case "no-dhcp": noDHCP = true
        case "no-ndp": noNDP = true
        case "no-dhcpv6": noDHCPv6 = true
        case "no-ra": noRA = true
        case "no-map-gw": noMapGateway = true
        case "no-follow-host": noFollowHost = true
        case "ipv4-only": ipv4Only = true
        case "ipv6-only": ipv6Only = true
        case "no-splice": noSplice = true
        case "no-offload": noOffload = true
        case "host-lo-to-ns-lo": hostLoopbackToNamespaceLoopback = true
        case "map-guest-addr":
            guard let a = IPAddress(value) else { throw fail("not an IPv4 or IPv6 address") }
            mapGuestAddress = a
        case "map-host-loopback":
            guard let a = IPAddress(value) else { throw fail("not an IPv4 or IPv6 address") }
            mapHostLoopback = a
        case "socket", "socket-path":
            guard !value.isEmpty, value.utf8.count < 108 else { throw fail("UNIX socket paths are 1 to 107 bytes") }
            socketPath = value
        case "fd":
            guard let fd = Int32(value), fd >= 0 else { throw fail("not a file descriptor number") }
            guard fcntl(fd, F_GETFD) >= 0 else { throw fail("descriptor \(fd) is not open") }
            guard CLinux_is_stream_socket(fd) != 0 else { throw fail("descriptor \(fd) is not a stream socket") }
            socketFD = fd
        case "conf-path":
            guard !value.isEmpty, value.utf8.count < Int(PATH_MAX) else { throw fail("not a usable path") }
            controlSocketPath = value
        case "one-off": oneOff = true
        case "vhost-user": vhostUser = true
        case "print-capabilities": printCapabilities = true
        case "tcp-ports", "udp-ports", "tcp-ns", "udp-ns":
            do {
                let isPasta = mode == .pasta
                switch name {
                case "tcp-ports": tcpPorts = try .folding(tcpPorts, value, option: spelling, isPasta: isPasta)
                case "udp-ports": udpPorts = try .folding(udpPorts, value, option: spelling, isPasta: isPasta)
                case "tcp-ns": tcpNamespacePorts = try .folding(tcpNamespacePorts, value, option: spelling, isPasta: isPasta)
                default: udpNamespacePorts = try .folding(udpNamespacePorts, value, option: spelling, isPasta: isPasta)
                }
            } catch let error as PortSpecError {
                throw OptionError("\(spelling): \(error)")
            }
        case "userns":
            guard !value.isEmpty else { throw fail("empty path") }
            userNamespace = value
        case "netns":
            guard !value.isEmpty else { throw fail("empty path or name") }
            if !value.contains("/") {
                guard value != ".", value != "..", value.utf8.count <= 255 else { throw fail("invalid namespace name") }
                networkNamespace = "/run/netns/" + value
            } else {
                networkNamespace = value
            }
        case "netns-only": netnsOnly = true
        case "no-netns-quit": noNetnsQuit = true
        case "config-net": configureNetwork = true
        case "no-copy-routes": noCopyRoutes = true
        case "no-copy-addrs": noCopyAddresses = true
        default: throw OptionError("unhandled option \(spelling)")
        }
    }

    private mutating func applyPositionals(_ positionals: [String], afterDoubleDash: Bool) throws {
        if mode == .passt {
            guard positionals.isEmpty else { throw OptionError("passt takes no arguments, got '\(positionals[0])'") }
            return
        }
        let looksLikePID = positionals.count == 1 && !afterDoubleDash && !positionals[0].isEmpty
            && positionals[0].utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
        if let network = networkNamespace {
            guard positionals.isEmpty || afterDoubleDash || !looksLikePID else {
                throw OptionError("--netns can't be given together with a PID")
            }
            guard positionals.isEmpty else {
                throw OptionError("--netns can't be given together with a command ('\(positionals[0])')")
            }
            target = .path(network)
            if userNamespace == nil { netnsOnly = true }
            return
        }
        if looksLikePID {
            guard let pid = Int32(positionals[0]), pid > 0 else {
                throw OptionError("invalid PID '\(positionals[0])'")
            }
            target = .pid(pid)
            return
        }
        target = .spawn(positionals)
    }

    private func checkCombinations() throws {
        if netnsOnly && userNamespace != nil { throw OptionError("--userns and --netns-only can't be combined") }
        if ipv4Only && ipv6Only { throw OptionError("-4/--ipv4-only and -6/--ipv6-only can't be combined") }
        if ipv4Only && (address6 != nil || gateway6 != nil) {
            throw OptionError("IPv6 address or gateway given with -4/--ipv4-only")
        }
        if ipv6Only && (address4 != nil || gateway4 != nil) {
            throw OptionError("IPv4 address or gateway given with -6/--ipv6-only")
        }
        if prefixLength4 != nil && address4 == nil {
            throw OptionError("-n/--netmask needs an IPv4 address given with -a/--address")
        }
        if spliceOnly {
            // Sorted, so the message does not depend on the order of the command line.
            if let name = given.keys.filter({ OptionTable.needTap.contains($0) }).sorted().first {
                throw OptionError("\(given[name]!) needs a tap device: it can't be combined with --splice-only")
            }
            for (option, forwarding) in [("-t", tcpPorts), ("-u", udpPorts)] {
                if case .all(let target?)? = forwarding {
                    throw OptionError("\(option) all:\(target): with --splice-only, the target is always the namespace's loopback")
                }
                guard case .specs(let specs)? = forwarding else { continue }
                if let spec = specs.first(where: { $0.bindAddress.map { !$0.isLoopback } ?? false }) {
                    throw OptionError("\(option) \(spec): with --splice-only, ports are forwarded between loopback addresses only")
                }
                if let spec = specs.first(where: { $0.ranges.contains { $0.targetAddress != nil } }) {
                    throw OptionError("\(option) \(spec): with --splice-only, the target is always the namespace's loopback")
                }
            }
        }
        if logFile != nil && logToStderr { throw OptionError("-l/--log-file and -e/--stderr can't be combined") }
        if socketFD != nil && socketPath != nil { throw OptionError("-F/--fd and -s/--socket can't be combined") }
        for table in ForwardingTable.fromCommandLine(self) {
            if let (a, b) = table.firstOverlap() {
                let option = table.pif == .host ? (a.transport == .tcp ? "-t" : "-u") : (a.transport == .tcp ? "-T" : "-U")
                throw OptionError("\(option): ports \(a) and \(b) overlap")
            }
            if table.pif == .host, let rule = table.rules.first(where: { $0.targetAddress?.isLoopback == true }) {
                throw OptionError("\(rule.transport == .tcp ? "-t" : "-u") \(rule): a loopback address can't be reached in the guest")
            }
        }
    }

    public static func interfaceName(_ value: String, _ fail: (String) -> OptionError) throws -> String {
        guard !value.isEmpty, value.utf8.count < 16, !value.contains("/"), !value.contains(" "),
              value != ".", value != ".."
        else { throw fail("interface names are 1 to 15 characters, without '/' or spaces") }
        return value
    }

    /// A host name as sethostname(2) takes it (HOST_NAME_MAX, 64 bytes), in domain-name characters.
    static func isValidHostname(_ name: String) -> Bool {
        name.utf8.count <= 64 && !name.hasSuffix(".") && isValidDomain(name)
    }

    /// RFC 1035 section 2.3.4 lengths; labels of letters, digits, '-' and '_' (seen in practice).
    static func isValidDomain(_ name: String) -> Bool {
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { return false }
        return trimmed.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63
                && label.utf8.allSatisfy { c in
                    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95
                }
        }
    }
}
