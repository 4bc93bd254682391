import XCTest
@testable import PastaCore

final class ForwardingTableTests: XCTestCase {
    private func rules(_ text: String, _ transport: ForwardingRule.TransportProtocol = .tcp) throws -> [ForwardingRule] {
        try PortForwarding.folding(nil, text, option: "-t", isPasta: true).rules(transport)
    }

    func testSpecsBecomeOneRulePerContiguousRange() throws {
        XCTAssertEqual(try rules("22"), [ForwardingRule(.tcp, ports: 22...22)])
        XCTAssertEqual(try rules("2000-5000,~3000-3010"),
                       [ForwardingRule(.tcp, ports: 2000...2999), ForwardingRule(.tcp, ports: 3011...5000)])
        XCTAssertEqual(try rules("8000-8009:9000,~8005"),
                       [ForwardingRule(.tcp, ports: 8000...8004, targetFirst: 9000),
                        ForwardingRule(.tcp, ports: 8006...8009, targetFirst: 9006)])
        XCTAssertEqual(try rules("192.0.2.1%eth0/80:[fd00::5]/8080", .udp),
                       [ForwardingRule(.udp, address: IPAddress("192.0.2.1"), interface: "eth0", ports: 80...80,
                                       targetFirst: 8080, targetAddress: IPAddress("fd00::5"))])
    }

    func testKeywordsBecomeFlaggedRules() throws {
        XCTAssertEqual(try rules("none"), [])
        XCTAssertEqual(try rules("auto"), [ForwardingRule(.tcp, ports: 1...65535, scan: true)])
        XCTAssertEqual(try rules("auto,~22"), [ForwardingRule(.tcp, ports: 1...21, scan: true),
                                               ForwardingRule(.tcp, ports: 23...65535, scan: true)])
        XCTAssertEqual(try rules("all:192.0.2.10"),
                       [ForwardingRule(.tcp, ports: 1...32767, targetAddress: IPAddress("192.0.2.10"), weak: true)])
        XCTAssertEqual(try rules("~1-100"), [ForwardingRule(.tcp, ports: 101...32767, weak: true)])
    }

    func testDescriptionsUseTheSpecGrammar() throws {
        XCTAssertEqual(try rules("auto").map(\.description), ["auto"])
        XCTAssertEqual(try rules("all").map(\.description), ["all"])
        XCTAssertEqual(try rules("all:fd00::5").map(\.description), ["all:[fd00::5]"])
        XCTAssertEqual(try rules("[::]/18080:fd00::5/80").map(\.description), ["[::]/18080:[fd00::5]/80"])
        XCTAssertEqual(try rules("0.0.0.0%eth0/22-23:32").map(\.description), ["0.0.0.0%eth0/22-23:32-33"])
        XCTAssertEqual(try rules("22").map(\.description), ["22"])
        // What a description says parses back to the same rule.
        for text in ["[::1]/80:8080", "10.0.0.1/1-10:192.0.2.1/101-110", "18081:192.0.2.10/80", "%lo/53"] {
            let original = try rules(text)
            XCTAssertEqual(try rules(original[0].description), original, text)
        }
    }

    func testOverlaps() {
        let dual = ForwardingRule(.tcp, ports: 80...90)
        XCTAssertTrue(dual.overlaps(ForwardingRule(.tcp, address: IPAddress("127.0.0.1"), ports: 90...95)))
        XCTAssertFalse(dual.overlaps(ForwardingRule(.udp, ports: 80...90)))
        XCTAssertFalse(dual.overlaps(ForwardingRule(.tcp, ports: 91...95)))
        let any4 = ForwardingRule(.tcp, address: IPAddress("0.0.0.0"), ports: 18080...18080)
        let any6 = ForwardingRule(.tcp, address: IPAddress("::"), ports: 18080...18080)
        XCTAssertFalse(any4.overlaps(any6))  // Podman's pair for one mapping
        XCTAssertTrue(any4.overlaps(ForwardingRule(.tcp, address: IPAddress("192.0.2.1"), ports: 18080...18080)))
        XCTAssertFalse(ForwardingRule(.tcp, address: IPAddress("192.0.2.1"), ports: 1...1)
            .overlaps(ForwardingRule(.tcp, address: IPAddress("192.0.2.2"), ports: 1...1)))
        XCTAssertFalse(ForwardingRule(.tcp, interface: "eth0", ports: 1...1).overlaps(ForwardingRule(.tcp, interface: "eth1", ports: 1...1)))
        XCTAssertTrue(ForwardingRule(.tcp, interface: "eth0", ports: 1...1).overlaps(ForwardingRule(.tcp, ports: 1...1)))
    }

    func testEditing() throws {
        var table = ForwardingTable(.host)
        let rule = ForwardingRule(.tcp, address: IPAddress("0.0.0.0"), ports: 18080...18080, targetFirst: 80,
                                  targetAddress: IPAddress("10.88.0.5"))
        try table.add(rule)
        try table.add(rule)  // twice: no change
        XCTAssertEqual(table.rules, [rule])
        var other = rule
        other.targetFirst = 81
        XCTAssertThrowsError(try table.add(other))
        XCTAssertThrowsError(try table.remove(other))
        try table.remove(rule)
        XCTAssertEqual(table.rules, [])
    }

    func testProblems() {
        let all: ForwardingCapabilities = [.ipv4, .ipv6, .tcp, .udp, .scan, .interfaceName]
        XCTAssertNil(ForwardingTable(.host, rules: [ForwardingRule(.tcp, ports: 1...1)]).problem(capabilities: all))
        let cases: [(ForwardingTable, ForwardingCapabilities)] = [
            (ForwardingTable(.host, rules: [ForwardingRule(.tcp, ports: 1...5), ForwardingRule(.tcp, ports: 5...6)]), all),
            (ForwardingTable(.host, rules: [ForwardingRule(.udp, ports: 1...1)]), [.ipv4, .tcp]),
            (ForwardingTable(.host, rules: [ForwardingRule(.tcp, ports: 1...1, scan: true)]), [.ipv4, .tcp]),
            (ForwardingTable(.host, rules: [ForwardingRule(.tcp, ports: 1...1, targetAddress: IPAddress("127.0.0.1"))]), all),
            (ForwardingTable(.host, rules: [ForwardingRule(.tcp, address: IPAddress("::1"), ports: 1...1,
                                                           targetAddress: IPAddress("192.0.2.1"))]), all),
            (ForwardingTable(.host, rules: [ForwardingRule(.tcp, ports: 0...1)]), all),
            (ForwardingTable(.host, rules: [ForwardingRule(.tcp, ports: 65000...65535, targetFirst: 65535)]), all),
            (ForwardingTable(.host, rules: [ForwardingRule(.tcp, address: IPAddress("::1"), ports: 1...1)]), [.ipv4, .tcp]),
        ]
        for (table, caps) in cases { XCTAssertNotNil(table.problem(capabilities: caps), "\(table)") }
        // SPLICE targets are the host's: loopback is fine there.
        XCTAssertNil(ForwardingTable(.splice, rules: [ForwardingRule(.tcp, ports: 1...1, targetAddress: IPAddress("127.0.0.2"))])
            .problem(capabilities: all))
    }

    func testCommandLineTables() throws {
        let pasta = try Options.parse(["-t", "8080:80,~8081", "-T", "none", "-U", "53", "--netns", "x"], mode: .pasta)
        let tables = ForwardingTable.fromCommandLine(pasta)
        XCTAssertEqual(tables.map(\.pif), [.host, .splice])
        // -u follows -t's ports without their translation.
        XCTAssertEqual(tables[0].rules, [ForwardingRule(.tcp, ports: 8080...8080, targetFirst: 80),
                                         ForwardingRule(.udp, ports: 8080...8080)])
        XCTAssertEqual(tables[1].rules, [ForwardingRule(.udp, ports: 53...53)])
        let passt = try Options.parse(["-u", "53", "--no-tcp"], mode: .passt)
        XCTAssertEqual(ForwardingTable.fromCommandLine(passt), [ForwardingTable(.host, rules: [ForwardingRule(.udp, ports: 53...53)])])
        XCTAssertThrowsError(try Options.parse(["-t", "80", "-t", "70-80"], mode: .passt))
        XCTAssertThrowsError(try Options.parse(["-t", "80:127.0.0.1/80"], mode: .passt))
        XCTAssertNoThrow(try Options.parse(["-t", "0.0.0.0/80", "-t", "[::]/80"], mode: .passt))
    }
}
