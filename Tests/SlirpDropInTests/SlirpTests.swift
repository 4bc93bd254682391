import AdapterSupport
import XCTest
@testable import PastaCore
@testable import SlirpDropIn

/// A HOST table without sockets: refuses rules on ports listed in `taken`, as a failed bind would.
private final class FakeTable: HostForwardingTable {
    var hostRules: [ForwardingRule] = []
    var taken: Set<UInt16> = []

    func setHostRules(_ rules: [ForwardingRule]) throws {
        if let rule = rules.first(where: { taken.contains($0.ports.lowerBound) }) {
            throw ForwardingTableError("can't bind TCP port \(rule.ports.lowerBound): Address already in use")
        }
        hostRules = rules
    }
}

final class SlirpTests: XCTestCase {
    private func ask(_ forwards: SlirpHostForwards, _ text: String) -> JSONValue {
        forwards.reply(to: Array(text.utf8))
    }

    private func isError(_ reply: JSONValue) -> Bool { reply["error"]?["desc"] != nil }

    /// The API's parser: the shared one, within the API's limits.
    private func parse(_ bytes: [UInt8]) throws -> JSONValue { try JSONValue(parsing: bytes, limits: SlirpHostForwards.limits) }

    func testJSONParser() throws {
        XCTAssertEqual(try parse(Array(#" {"a": [1, -2.5e1, "x\u00e9\n", true, null, {}]} "#.utf8)),
                       .object([("a", .array([.integer(1), .number(-25), .string("xé\n"), .bool(true), .null, .object([])]))]))
        XCTAssertEqual(try parse(Array(#""\ud83d\ude00""#.utf8)), .string("😀"))
        let bad = ["", "{", "}", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}", "[1,]", "01", "1.", "-", "+1", "\"\\x\"",
                   "\"\u{1}\"", "\"\\ud800\"", "\"\\udc00\"", "tru", "nul", "{\"a\":1,\"a\":2}", "{} {}", "\"abc",
                   String(repeating: "[", count: 40) + String(repeating: "]", count: 40), "1e999", "{'a':1}"]
        for text in bad { XCTAssertThrowsError(try parse(Array(text.utf8)), text) }
        XCTAssertThrowsError(try parse([0x22, 0xFF, 0x22]))  // invalid UTF-8
        XCTAssertEqual(JSONValue.object([("d", .string("a\"b\\\u{1}"))]).serialized, #"{"d":"a\"b\\\u0001"}"#)
    }

    func testAddListRemove() throws {
        let table = FakeTable()
        let forwards = SlirpHostForwards(table: table, guest4: IPv4Address(10, 0, 2, 100), guest6: IPv6Address("fd00::100"))
        // Podman's request: guest_addr empty means the guest.
        let added = ask(forwards, #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_addr":"","guest_port":80}}"#)
        XCTAssertEqual(added, .object([("return", .object([("id", .integer(1))]))]))
        XCTAssertEqual(table.hostRules, [ForwardingRule(.tcp, address: IPAddress("0.0.0.0"), ports: 8080...8080, targetFirst: 80)])
        let six = ask(forwards, #"{"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"::","host_port":5353,"guest_addr":"fd00::5","guest_port":53}}"#)
        XCTAssertEqual(six["return"]?["id"], .integer(2))
        XCTAssertEqual(table.hostRules.last?.targetAddress, IPAddress("fd00::5"))
        let list = ask(forwards, #"{"execute":"list_hostfwd"}"#)
        XCTAssertEqual(list.serialized, #"{"return":{"entries":[{"id":1,"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_addr":"10.0.2.100","guest_port":80},{"id":2,"proto":"udp","host_addr":"::","host_port":5353,"guest_addr":"fd00::5","guest_port":53}]}}"#)
        XCTAssertEqual(ask(forwards, #"{"execute":"remove_hostfwd","arguments":{"id":1}}"#), .object([("return", .object([]))]))
        XCTAssertEqual(table.hostRules.count, 1)
        XCTAssertTrue(isError(ask(forwards, #"{"execute":"remove_hostfwd","arguments":{"id":1}}"#)))
    }

    func testRefusalsChangeNothing() {
        let table = FakeTable()
        table.taken = [9999]
        let forwards = SlirpHostForwards(table: table, guest4: IPv4Address(10, 0, 2, 100), guest6: nil)
        XCTAssertNotNil(ask(forwards, #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":8080,"guest_port":80}}"#)["return"])
        let before = table.hostRules
        let bad = [
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":8080,"guest_port":81}}"#,  // duplicate port
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":9999,"guest_port":80}}"#,  // taken
            #"{"execute":"add_hostfwd","arguments":{"proto":"sctp","host_port":1,"guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"host_port":1,"guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":"80","guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":0,"guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":65536,"guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":80.5,"guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":1,"guest_port":-1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"1.2.3","host_port":1,"guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"::","host_port":1,"guest_port":1}}"#,  // no IPv6
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":1,"guest_addr":"fd00::1","guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"224.0.0.1","host_port":1,"guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":1,"guest_addr":"0.0.0.0","guest_port":1}}"#,
            #"{"execute":"add_hostfwd","arguments":[]}"#,
            #"{"execute":"remove_hostfwd","arguments":{"id":"1"}}"#,
            #"{"execute":"remove_hostfwd"}"#,
            #"{"execute":"reboot"}"#, #"{"execute":1}"#, #"{}"#, #"[]"#, #""add_hostfwd""#, "", "{", "\u{0}",
        ]
        for text in bad {
            XCTAssertTrue(isError(ask(forwards, text)), text)
            XCTAssertEqual(table.hostRules, before, text)
        }
    }

    func testCommandLine() throws {
        let podman = try SlirpInvocation.parse(["--disable-host-loopback", "--mtu=65520", "--enable-sandbox", "--enable-seccomp",
                                                "--enable-ipv6", "-c", "--netns-type=path", "/run/netns/x", "tap0"])
        XCTAssertEqual(podman.namespacePath, "/run/netns/x")
        let options = podman.options
        XCTAssertEqual(options.target, .path("/run/netns/x"))
        XCTAssertTrue(options.netnsOnly && options.configureNetwork && options.noMapGateway && options.foreground)
        XCTAssertEqual(options.address4, IPv4Address(10, 0, 2, 100))
        XCTAssertEqual(options.gateway4, IPv4Address(10, 0, 2, 2))
        XCTAssertEqual(options.dnsForward4, IPv4Address(10, 0, 2, 3))
        XCTAssertEqual(options.address6, IPv6Address("fd00::100"))
        XCTAssertEqual(options.mtu, 65520)
        XCTAssertEqual(options.tcpPorts, PortForwarding.none)
        let cidr = try SlirpInvocation.parse(["--cidr=10.5.0.7/16", "--disable-dns", "1234"]).options
        XCTAssertEqual(cidr.target, .path("/proc/1234/ns/net"))
        XCTAssertEqual(cidr.address4, IPv4Address(10, 5, 0, 100))
        XCTAssertEqual(cidr.prefixLength4, 16)
        XCTAssertNil(cidr.dnsForward4)
        XCTAssertTrue(cidr.ipv4Only)
        XCTAssertEqual(cidr.namespaceInterfaceName, "tap0")
        XCTAssertEqual(try SlirpInvocation.parse(["1", "eth9", "--outbound-addr=eth0"]).options.outboundInterface4, "eth0")
        for bad in [[], ["x"], ["1", "2", "3"], ["--mtu=65522", "1"], ["--cidr=10.0.0.0/26", "1"], ["--cidr=10.0.0.0", "1"],
                    ["--netns-type=name", "1"], ["--target-type=bess", "1"], ["--macaddress=02:00:00:00:00:01", "1"],
                    ["-e", "999999", "1"], ["--outbound-addr6=::1", "1"], ["--bogus", "1"], ["1", "a/b"]] {
            XCTAssertThrowsError(try SlirpInvocation.parse(bad), "\(bad)")
        }
        for name in ["--disable-host-loopback", "--mtu", "--enable-sandbox", "--enable-seccomp", "--cidr", "--outbound-addr",
                     "--enable-ipv6", "--netns-type", "--userns-path", "--api-socket", "--exit-fd", "--ready-fd", "--disable-dns",
                     "--macaddress", "--outbound-addr6", "--configure", "--target-type"] {
            XCTAssertTrue(SlirpInvocation.usage.contains(name), name)
        }
    }
}
