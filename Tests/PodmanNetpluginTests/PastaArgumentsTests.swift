import XCTest
import PastaCore
@testable import PodmanNetplugin

final class PastaArgumentsTests: XCTestCase {
    let namespace = "/proc/4242/ns/net"
    let pidFile = "/run/podman-netplugin/c.pasta-pid"

    func arguments(_ ports: String, _ options: String = "") throws -> PastaArguments {
        try PastaArguments(mappings: try PortMapping.parseList(ports), userOptions: try PastaArguments.splitOptions(options),
                           networkNamespace: namespace, pidFile: pidFile)
    }

    /// Without mappings or options: Podman's default command line, plus our PID file.
    func testPodmanDefaults() throws {
        XCTAssertEqual(try arguments("").arguments,
                       ["--config-net", "--dns-forward", "169.254.1.1", "-t", "none", "-u", "none", "-T", "none", "-U", "none",
                        "--no-map-gw", "--quiet", "--netns", namespace, "--map-guest-addr", "169.254.1.2", "--pid", pidFile])
    }

    func testMappingsComeAfterTheUserOptions() throws {
        let built = try arguments("18080:80 127.0.0.1:18081:80 5353:53/udp", "--mtu 1500")
        XCTAssertEqual(Array(built.arguments.prefix(9)),
                       ["--config-net", "--mtu", "1500", "-t", "18080:80", "-t", "127.0.0.1/18081:80", "-u", "5353:53"])
        let pairs = zip(built.arguments, built.arguments.dropFirst())
        XCTAssertFalse(pairs.contains { ($0 == "-t" || $0 == "-u") && $1 == "none" }, "mapped protocols are not turned off")
        XCTAssertEqual(built.options.mtu, 1500)
        XCTAssertEqual(built.options.target, .path(namespace))
        XCTAssertEqual(built.dnsForward4, IPv4Address("169.254.1.1"))
        XCTAssertEqual(built.hostAddress, IPAddress("169.254.1.2"))
        guard case .specs(let tcp) = built.options.tcpPorts else { return XCTFail("no TCP specs") }
        XCTAssertEqual(tcp.map(\.text), ["18080:80", "127.0.0.1/18081:80"])
        XCTAssertEqual(built.options.udpNamespacePorts, PortForwarding.none)
    }

    func testUserValuesReplacePodmanDefaults() throws {
        let built = try arguments("", "--dns-forward 192.0.2.1 --map-guest-addr 192.0.2.2 -T 8080 -U none -d")
        XCTAssertFalse(built.arguments.contains("169.254.1.1"))
        XCTAssertFalse(built.arguments.contains("169.254.1.2"))
        XCTAssertFalse(built.arguments.contains("--quiet"), "debug output is wanted")
        XCTAssertEqual(built.arguments.filter { $0 == "-T" }.count, 1)
        XCTAssertEqual(built.dnsForward4, IPv4Address("192.0.2.1"))
        XCTAssertEqual(built.hostAddress, IPAddress("192.0.2.2"))
    }

    func testUserTCPOptionsJoinTheMappings() throws {
        let built = try arguments("18080:80", "-t 9000")
        guard case .specs(let tcp) = built.options.tcpPorts else { return XCTFail("no TCP specs") }
        XCTAssertEqual(tcp.map(\.text), ["9000", "18080:80"])
    }

    /// Each refused option with its message.
    func testRefusedOptions() {
        let table: [(String, String, String)] = [
            ("", "--bogus", "io.containers.pasta.options: unrecognized option '--bogus'"),
            ("", "--mtu 10", "io.containers.pasta.options: invalid --mtu value '10'"),
            ("", "-t", "io.containers.pasta.options: option requires an argument -- 't'"),
            ("", "--help", "-h/--help and --version don't start pasta"),
            ("", "--version", "-h/--help and --version don't start pasta"),
            ("", "-f", "-f/--foreground would keep the container from starting"),
            ("", "-P /tmp/x", "-P/--pid is the hook's own"),
            ("", "--netns other", "the target is the container"),
            ("", "--userns /proc/1/ns/user", "the target is the container"),
            ("", "1234", "the target is the container"),
            ("", "-- sh", "the target is the container"),
            ("", "--socket /tmp/s", "--socket is only valid in passt mode"),
            ("18080:80", "-t auto", "pasta options (mappings and io.containers.pasta.options together): -t: invalid port specification '18080:80': can't be combined"),
            ("", "-4 -6", "-4/--ipv4-only and -6/--ipv6-only can't be combined"),
        ]
        for (ports, options, expected) in table {
            XCTAssertThrowsError(try arguments(ports, options), options) { error in
                XCTAssertTrue(error is HookError)
                XCTAssertTrue("\(error)".contains(expected), "\(options): got '\(error)', expected '\(expected)'")
            }
        }
    }

    func testOptionsAnnotationLimits() {
        XCTAssertEqual(try PastaArguments.splitOptions(" --mtu\t1500\n-q "), ["--mtu", "1500", "-q"])
        XCTAssertThrowsError(try PastaArguments.splitOptions("--mtu\u{1}1500")) { XCTAssertTrue("\($0)".contains("control character \\x1")) }
        XCTAssertThrowsError(try PastaArguments.splitOptions(String(repeating: "-q ", count: 1400))) { XCTAssertTrue("\($0)".contains("longer than 4096")) }
        XCTAssertThrowsError(try PastaArguments.splitOptions(String(repeating: "-q ", count: 129))) { XCTAssertTrue("\($0)".contains("more than 128")) }
    }

    func testMutatedOptionsNeverTrap() {
        var rng = SeededGenerator(seed: 1500)
        let valid = Array("--mtu 1500 -D 192.0.2.53 --dns-forward 169.254.1.1 -T 8080:80 --map-guest-addr 169.254.1.2".utf8)
        for _ in 0..<2_000 {
            let text = String(decoding: Mutations.mutate(valid, using: &rng), as: UTF8.self)
            do {
                _ = try arguments("18080:80", text)
            } catch {
                XCTAssertTrue(error is HookError, "\(error)")
            }
        }
    }
}
