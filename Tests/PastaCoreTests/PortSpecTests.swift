import XCTest
@testable import PastaCore

final class PortSpecTests: XCTestCase {
    func testSinglePortForwardsToItself() throws {
        let spec = try PortSpec(parsing: "22")
        XCTAssertEqual(spec.target(of: 22), 22)
        XCTAssertNil(spec.target(of: 23))
    }

    func testTargetPortAfterColon() throws {
        let spec = try PortSpec(parsing: "22:23")
        XCTAssertEqual(spec.target(of: 22), 23)
    }

    func testListAndRanges() throws {
        let spec = try PortSpec(parsing: "22,25,100-110")
        XCTAssertEqual(spec.target(of: 25), 25)
        XCTAssertEqual(spec.target(of: 105), 105)
        XCTAssertNil(spec.target(of: 24))
    }

    func testRangeMappedToRange() throws {
        let spec = try PortSpec(parsing: "22-80:32-90")
        XCTAssertEqual(spec.target(of: 22), 32)
        XCTAssertEqual(spec.target(of: 80), 90)
        XCTAssertNil(spec.target(of: 81))
    }

    func testRangeMappedFromSingleTargetKeepsOffset() throws {
        let spec = try PortSpec(parsing: "8000-8002:9000")
        XCTAssertEqual(spec.target(of: 8002), 9002)
    }

    func testAddressAndInterfacePrefixes() throws {
        let a = try PortSpec(parsing: "192.0.2.1/22")
        XCTAssertEqual(a.bindAddress, IPAddress("192.0.2.1"))
        XCTAssertNil(a.bindInterface)
        let b = try PortSpec(parsing: "192.0.2.1%eth0/22")
        XCTAssertEqual(b.bindAddress, IPAddress("192.0.2.1"))
        XCTAssertEqual(b.bindInterface, "eth0")
        let c = try PortSpec(parsing: "%eth0/22")
        XCTAssertNil(c.bindAddress)
        XCTAssertEqual(c.bindInterface, "eth0")
        let d = try PortSpec(parsing: "2001:db8::1/443")
        XCTAssertEqual(d.bindAddress, IPAddress("2001:db8::1"))
        XCTAssertEqual(d.target(of: 443), 443)
    }

    func testTargetAddresses() throws {
        let a = try PortSpec(parsing: "18081:192.0.2.10/80")
        XCTAssertNil(a.bindAddress)
        XCTAssertEqual(a.ranges, [PortSpec.Range(ports: 18081...18081, targetFirst: 80, targetAddress: IPAddress("192.0.2.10"))])
        // Podman's calls: a listening address, IPv6 ones in brackets, targets with or without them.
        let b = try PortSpec(parsing: "0.0.0.0/18080:10.88.0.5/80")
        XCTAssertEqual(b.bindAddress, IPAddress("0.0.0.0"))
        XCTAssertEqual(b.ranges.first?.targetAddress, IPAddress("10.88.0.5"))
        let c = try PortSpec(parsing: "[::]/18080:[fd00::5]/80")
        XCTAssertEqual(c.bindAddress, IPAddress("::"))
        XCTAssertEqual(c.ranges.first?.targetAddress, IPAddress("fd00::5"))
        XCTAssertEqual(c.ranges.first?.targetFirst, 80)
        let d = try PortSpec(parsing: "[::]/18080:fd00::5/80")
        XCTAssertEqual(d.ranges.first?.targetAddress, IPAddress("fd00::5"))
        let e = try PortSpec(parsing: "::1/8000-8002:fd00::5/9000-9002,~8001")
        XCTAssertEqual(e.bindAddress, IPAddress("::1"))
        XCTAssertEqual(e.ranges.first?.targetFirst, 9000)
        XCTAssertEqual(e.exclusions, [8001...8001])
        let f = try PortSpec(parsing: "[2001:db8::1]%eth0/443")
        XCTAssertEqual(f.bindAddress, IPAddress("2001:db8::1"))
        XCTAssertEqual(f.bindInterface, "eth0")
        let g = try PortSpec(parsing: "80:[fd00::5]/8080")
        XCTAssertNil(g.bindAddress)
        XCTAssertEqual(g.ranges.first?.targetAddress, IPAddress("fd00::5"))
    }

    func testMalformedTargetAddressesAreRejected() {
        for text in ["80:0.0.0.0/80", "80:224.0.0.1/80", "80:[::]/80", "80:/80", "80:192.0.2.1/", "80:192.0.2.300/80",
                     "80:[fd00::5/80", "[::/80", "[::]80", "80:fd00::5", "80:[ff02::1]/80", "[]/80", "80:[]/80"] {
            XCTAssertThrowsError(try PortSpec(parsing: text), "accepted '\(text)'")
        }
        XCTAssertThrowsError(try PortForwarding.folding(nil, "all:", option: "-t", isPasta: true))
        XCTAssertThrowsError(try PortForwarding.folding(nil, "all:80", option: "-t", isPasta: true))
        XCTAssertEqual(try PortForwarding.folding(nil, "all:192.0.2.10", option: "-t", isPasta: true),
                       .all(targetAddress: IPAddress("192.0.2.10")))
        XCTAssertEqual(try PortForwarding.folding(nil, "all:[fd00::5]", option: "-t", isPasta: true).description,
                       "all:[fd00::5]")
    }

    func testExclusionsInsideRange() throws {
        let spec = try PortSpec(parsing: "2000-5000,~3000-3010")
        XCTAssertEqual(spec.target(of: 2999), 2999)
        XCTAssertNil(spec.target(of: 3005))
        XCTAssertEqual(spec.target(of: 3011), 3011)
        let single = try PortSpec(parsing: "192.0.2.1/20-30,~25")
        XCTAssertNil(single.target(of: 25))
        XCTAssertEqual(single.target(of: 24), 24)
    }

    func testExclusionsAloneForwardAllNonEphemeral() throws {
        let spec = try PortSpec(parsing: "~20000-20010")
        XCTAssertTrue(spec.forwardsAllNonEphemeral)
        XCTAssertEqual(spec.target(of: 1), 1)
        XCTAssertNil(spec.target(of: 20005))
        XCTAssertNil(spec.target(of: 40000, ephemeralStart: 32768))
    }

    func testMalformedSpecsAreRejected() {
        let bad = [
            "", "0", "65536", "70000", "-1", "80-70", "22-80:32-33", "abc", "1:2:3", "22,,23", ",", "~",
            "192.0.2.300/22", "%/22", "/22", "192.0.2.1/", "22-", "-22", "1-2-3", "22:", ":22", "22:0",
            "65535:65535-65536", "60000-65535:65000", "22,22", "20-30,25", "%aaaaaaaaaaaaaaaaaaaaaaa/22",
            "123456", "2 2", "+22", "0x16", "22 ",
        ]
        for text in bad {
            XCTAssertThrowsError(try PortSpec(parsing: text), "accepted '\(text)'")
        }
    }

    func testForwardingKeywordsAndAccumulation() throws {
        var forwarding = try PortForwarding.folding(nil, "8080:80", option: "-t", isPasta: true)
        forwarding = try PortForwarding.folding(forwarding, "9090:90", option: "-t", isPasta: true)
        guard case .specs(let list) = forwarding else { return XCTFail("expected specs") }
        XCTAssertEqual(list.map(\.text), ["8080:80", "9090:90"])
        XCTAssertEqual(try PortForwarding.folding(nil, "none", option: "-t", isPasta: true), PortForwarding.none)
        XCTAssertEqual(try PortForwarding.folding(nil, "auto", option: "-t", isPasta: true), .automatic)
        XCTAssertEqual(try PortForwarding.folding(nil, "all", option: "-t", isPasta: false), .all(targetAddress: nil))
        XCTAssertThrowsError(try PortForwarding.folding(nil, "auto", option: "-t", isPasta: false))
        XCTAssertThrowsError(try PortForwarding.folding(PortForwarding.none, "80", option: "-t", isPasta: true))
        XCTAssertThrowsError(try PortForwarding.folding(forwarding, "none", option: "-t", isPasta: true))
        XCTAssertThrowsError(try PortForwarding.folding(.automatic, "all", option: "-t", isPasta: true))
    }

    func testAutoWithExclusions() throws {
        XCTAssertEqual(try PortForwarding.folding(nil, "auto,~22,~8000-8010", option: "-t", isPasta: true),
                       .auto(excluding: [22...22, 8000...8010]))
        let later = try PortForwarding.folding(.automatic, "~53", option: "-T", isPasta: true)
        XCTAssertEqual(later, .auto(excluding: [53...53]))
        XCTAssertEqual(later.description, "auto,~53")
        XCTAssertThrowsError(try PortForwarding.folding(nil, "auto,80:90", option: "-t", isPasta: true))
        XCTAssertThrowsError(try PortForwarding.folding(nil, "auto,~", option: "-t", isPasta: true))
        XCTAssertThrowsError(try PortForwarding.folding(.automatic, "80", option: "-t", isPasta: true))
        XCTAssertThrowsError(try PortForwarding.folding(.automatic, "127.0.0.1/~80", option: "-t", isPasta: true))
    }

    func testAutoLimitedToRanges() throws {
        // `8000-8010,auto`: those ports, each while bound on the other side; in either order, with exclusions.
        for text in ["8000-8010,auto", "auto,8000-8010", "8000-8010,auto,~8005"] {
            guard case .specs(let specs) = try PortForwarding.folding(nil, text, option: "-t", isPasta: true) else {
                return XCTFail("\(text) is a port list")
            }
            XCTAssertEqual(specs.count, 1)
            XCTAssertTrue(specs[0].automatic, text)
        }
        let rules = try PortSpec(parsing: "8000-8010,auto,~8005").rules(.tcp)
        XCTAssertEqual(rules.map(\.ports), [8000...8004, 8006...8010])
        XCTAssertTrue(rules.allSatisfy { $0.scan && !$0.weak && $0.targetAddress == nil })
        XCTAssertEqual(rules.map { $0.target(of: $0.ports.lowerBound) }, [8000, 8006])
        let bound = try PortSpec(parsing: "127.0.0.1/22,auto").rules(.udp)
        XCTAssertEqual(bound, [ForwardingRule(.udp, address: IPAddress("127.0.0.1"), ports: 22...22, scan: true)])
        // Mixed with plain specs on later options, as lists are.
        let mixed = try PortForwarding.folding(try PortForwarding.folding(nil, "80", option: "-t", isPasta: true),
                                               "8000-8010,auto", option: "-t", isPasta: true)
        XCTAssertEqual(mixed.rules(.tcp).map(\.scan), [false, true])
        XCTAssertThrowsError(try PortForwarding.folding(nil, "8000-8010,auto", option: "-t", isPasta: false))
        XCTAssertThrowsError(try PortSpec(parsing: "8000-8010:9000-9010,auto"))
        XCTAssertThrowsError(try PortSpec(parsing: "80,auto,auto"))
        XCTAssertThrowsError(try PortForwarding.folding(.automatic, "8000,auto", option: "-t", isPasta: true))
    }

    func testRandomTextNeverTraps() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789-:,~/%.abcdef: []")
        for _ in 0..<20000 {
            let length = Int.random(in: 0...24, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            _ = try? PortSpec(parsing: text)
        }
    }
}
