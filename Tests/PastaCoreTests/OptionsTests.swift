import XCTest
@testable import PastaCore

final class OptionsTests: XCTestCase {
    func testPodmanDefaultCommandLine() throws {
        let options = try Options.parse(
            ["--config-net", "--dns-forward", "169.254.1.1", "-t", "none", "-u", "none", "-T", "none", "-U", "none",
             "--no-map-gw", "--quiet", "--netns", "/run/user/1000/netns/netns-1", "--map-guest-addr", "169.254.1.2"],
            mode: .pasta)
        XCTAssertTrue(options.configureNetwork)
        XCTAssertEqual(options.dnsForward4, IPv4Address("169.254.1.1"))
        XCTAssertEqual(options.tcpPorts, PortForwarding.none)
        XCTAssertEqual(options.udpNamespacePorts, PortForwarding.none)
        XCTAssertTrue(options.noMapGateway)
        XCTAssertTrue(options.quiet)
        XCTAssertEqual(options.target, .path("/run/user/1000/netns/netns-1"))
        XCTAssertTrue(options.netnsOnly)
        XCTAssertEqual(options.mapGuestAddress, IPAddress("169.254.1.2"))
    }

    func testTargets() throws {
        XCTAssertEqual(try Options.parse(["1234"], mode: .pasta).target, .pid(1234))
        XCTAssertEqual(try Options.parse(["--netns", "ctr"], mode: .pasta).target, .path("/run/netns/ctr"))
        XCTAssertEqual(try Options.parse(["--netns=/proc/9/ns/net"], mode: .pasta).target, .path("/proc/9/ns/net"))
        XCTAssertEqual(try Options.parse(["ip", "addr"], mode: .pasta).target, .spawn(["ip", "addr"]))
        XCTAssertEqual(try Options.parse(["--", "1234"], mode: .pasta).target, .spawn(["1234"]))
        XCTAssertEqual(try Options.parse([], mode: .pasta).target, .spawn([]))
        // A spawned command may be given a user namespace to make its network namespace in, as pasta allows.
        let inUserNamespace = try Options.parse(["--userns", "/proc/9/ns/user", "--", "sh"], mode: .pasta)
        XCTAssertEqual(inUserNamespace.target, .spawn(["sh"]))
        XCTAssertEqual(inUserNamespace.userNamespace, "/proc/9/ns/user")
        XCTAssertFalse(inUserNamespace.netnsOnly)
        XCTAssertThrowsError(try Options.parse(["--netns", "x", "1234"], mode: .pasta))
        XCTAssertThrowsError(try Options.parse(["--netns", "x", "ip"], mode: .pasta))
        XCTAssertThrowsError(try Options.parse(["0"], mode: .pasta))
    }

    func testModeDefaultsAndModeOnlyOptions() throws {
        let pasta = try Options.parse([], mode: .pasta)
        XCTAssertEqual(pasta.forwarding(pasta.tcpPorts), .automatic)
        let passt = try Options.parse([], mode: .passt)
        XCTAssertEqual(passt.forwarding(passt.tcpPorts), PortForwarding.none)
        XCTAssertThrowsError(try Options.parse(["--netns", "x"], mode: .passt))
        XCTAssertThrowsError(try Options.parse(["-T", "80"], mode: .passt))
        XCTAssertThrowsError(try Options.parse(["-s", "/tmp/s"], mode: .pasta))
        XCTAssertThrowsError(try Options.parse(["cmd"], mode: .passt))
        XCTAssertEqual(ProgramMode(invokedAs: "/usr/bin/passt"), .passt)
        XCTAssertEqual(ProgramMode(invokedAs: "passt.avx2"), .passt)
        XCTAssertEqual(ProgramMode(invokedAs: "./pasta"), .pasta)
    }

    func testAddressOptionsPerFamily() throws {
        let options = try Options.parse(["-a", "192.0.2.5", "-a", "2001:db8::5", "-n", "255.255.255.0",
                                         "-g", "192.0.2.1", "-g", "fe80::1", "-D", "192.0.2.53", "-D", "2001:db8::53"],
                                        mode: .pasta)
        XCTAssertEqual(options.address4, IPv4Address("192.0.2.5"))
        XCTAssertEqual(options.address6, IPv6Address("2001:db8::5"))
        XCTAssertEqual(options.prefixLength4, 24)
        XCTAssertEqual(options.gateway6, IPv6Address("fe80::1"))
        XCTAssertEqual(options.dnsServers.count, 2)
        XCTAssertEqual(try Options.parse(["-a", "10.0.0.2", "-n", "8"], mode: .pasta).prefixLength4, 8)
        XCTAssertTrue(try Options.parse(["-D", "none"], mode: .pasta).dnsDisabled)
        XCTAssertEqual(try Options.parse(["-S", "none"], mode: .pasta).searchDomains, [])
        XCTAssertEqual(try Options.parse(["-S", "a.example b.example"], mode: .pasta).searchDomains, ["a.example", "b.example"])
    }

    func testInvalidValuesAreRejected() {
        let bad: [[String]] = [
            ["-m", "70000"], ["-m", "67"], ["-m", "-1"], ["-m", "x"], ["-a", "1.2.3"], ["-a", "::1"], ["-a", "224.0.0.1"],
            ["-a", "192.0.2.1", "-a", "192.0.2.2"], ["-n", "24"], ["-a", "192.0.2.1", "-n", "33"],
            ["-a", "192.0.2.1", "-n", "255.0.255.0"], ["-M", "00:00:00:00:00:00"], ["-M", "01:00:5e:00:00:01"],
            ["-M", "1:2:3:4:5"], ["-g", "0.0.0.0"], ["-D", "dns.example"], ["--dns-forward", "x"],
            ["-S", "a..b"], ["-4", "-6"], ["-4", "-a", "2001:db8::1"], ["--log-size", "1"], ["-I", ""],
            ["-I", "a-very-long-interface-name"], ["--netns", ""], ["--userns", "/proc/1/ns/user", "--netns-only"],
            ["--map-guest-addr", "nope"], ["-l", "/tmp/x", "-e"], ["--fd", "x"],
        ]
        for arguments in bad {
            XCTAssertThrowsError(try Options.parse(arguments, mode: .pasta), "accepted \(arguments)")
        }
    }

    func testHelpAndVersionStopParsing() throws {
        XCTAssertTrue(try Options.parse(["-t", "80", "--help"], mode: .pasta).showHelp)
        XCTAssertTrue(try Options.parse(["--version"], mode: .passt).showVersion)
    }

    func testOptionsOfPasta2026() throws {
        let options = try Options.parse(
            ["--dns-forward", "192.0.2.250", "--dns-host", "203.0.113.54", "--dns-host=2001:db8:2::54", "--freebind",
             "-Hctr-1", "--fqdn", "ctr-1.lab.example.", "--stats", "5", "-a", "198.51.100.9/25", "-a", "2001:db8:9::9/48",
             "ctr"], mode: .pasta)
        XCTAssertEqual(options.dnsHost4, IPv4Address("203.0.113.54"))
        XCTAssertEqual(options.dnsHost6, IPv6Address("2001:db8:2::54"))
        XCTAssertTrue(options.freebind)
        XCTAssertEqual(options.hostname, "ctr-1")
        XCTAssertEqual(options.fqdn, "ctr-1.lab.example.")
        XCTAssertEqual(options.statsInterval, 5)
        XCTAssertEqual(options.address4, IPv4Address("198.51.100.9"))
        XCTAssertEqual(options.prefixLength4, 25)
        XCTAssertEqual(options.prefixLength6, 48)
        let configuration = RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: ""))
        XCTAssertEqual(configuration.ipv4?.prefixLength, 25)
        XCTAssertEqual(configuration.ipv6?.prefixLength, 48)
        XCTAssertTrue(configuration.summary.contains("    hostname: ctr-1"))
        XCTAssertTrue(configuration.summary.contains("    FQDN: ctr-1.lab.example."))
        XCTAssertTrue(configuration.summary.contains("DNS forwarding: 192.0.2.250 to 203.0.113.54"))
        // The abbreviation of --fqdn and the short -H with a separate value, as getopt_long takes them.
        XCTAssertEqual(try Options.parse(["--fq=a.example", "-H", "b"], mode: .pasta).fqdn, "a.example")
    }

    func testInvalidValuesOfPasta2026() {
        let bad: [[String]] = [
            ["--dns-host", "bogus"], ["--dns-host", "0.0.0.0"], ["--dns-host", "192.0.2.1", "--dns-host", "192.0.2.2"],
            ["--freebind=1"], ["-H", ""], ["-H", String(repeating: "h", count: 65)], ["-H", "a b"], ["-H", "a..b"],
            ["--fqdn", "bad..name"], ["--fqdn", String(repeating: "x", count: 64) + ".example"], ["--fqdn"],
            ["--stats", "0"], ["--stats", "-1"], ["--stats", "1s"], ["--stats", ""],
            ["-a", "198.51.100.9/33"], ["-a", "198.51.100.9/"], ["-a", "198.51.100.9/0"], ["-a", "2001:db8::1/129"],
            ["-a", "198.51.100.9/x"], ["-a", "198.51.100.9/24", "-n", "25"], ["-n", "24", "-a", "198.51.100.9/24"],
            ["--splice-only", "-a", "192.0.2.1"], ["--splice-only", "--config-net", "--dns-forward", "192.0.2.1"],
            ["--splice-only", "-t", "198.51.100.2/80"], ["--splice-only", "-t", "80:[::1]/8080"],
            ["--splice-only", "-t", "all:192.0.2.1"], ["--splice-only", "-p", "/tmp/x.pcap"],
        ]
        for arguments in bad {
            XCTAssertThrowsError(try Options.parse(arguments, mode: .pasta), "\(arguments)")
        }
        XCTAssertThrowsError(try Options.parse(["--splice-only"], mode: .passt), "pasta only")
        do {
            _ = try Options.parse(["--splice-only", "--mtu", "1500"], mode: .pasta)
        } catch {
            XCTAssertEqual("\(error)", "--mtu needs a tap device: it can't be combined with --splice-only")
        }
    }

    func testSpliceOnlyKeepsLoopbackForwarding() throws {
        let options = try Options.parse(["--splice-only", "--config-net", "-t", "127.0.0.1/8080", "-T", "9090",
                                         "-u", "5353", "ctr"], mode: .pasta)
        XCTAssertTrue(options.spliceOnly)
        let configuration = RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: ""))
        XCTAssertTrue(configuration.summary.hasPrefix("Splice-only mode: no tap device"))
        XCTAssertFalse(configuration.summary.contains("DHCP"))
    }
}
