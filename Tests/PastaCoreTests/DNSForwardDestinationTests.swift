import XCTest
@testable import PastaCore

/// Where UDP and TCP to the --dns-forward address go (AddressTranslation.hostDestination(for:port:)).
final class DNSForwardDestinationTests: XCTestCase {
    private func translation(_ extra: [String]) throws -> AddressTranslation {
        let options = try Options.parse(["-a", "198.51.100.2", "-n", "24", "-g", "198.51.100.1", "-D", "203.0.113.53"] + extra,
                                        mode: .pasta)
        return AddressTranslation(RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: "")))
    }

    private let forward = IPAddress.v4(IPv4Address(169, 254, 1, 1))

    func testPort53GoesToTheResolverOtherPortsNowhere() throws {
        let t = try translation(["--dns-forward", "169.254.1.1"])
        XCTAssertEqual(t.hostDestination(for: forward, port: 53), .v4(IPv4Address(203, 0, 113, 53)))
        XCTAssertNil(t.hostDestination(for: forward, port: 80))
        XCTAssertEqual(t.hostDestination(for: .v4(IPv4Address(192, 0, 2, 7)), port: 80), .v4(IPv4Address(192, 0, 2, 7)),
                       "other addresses as before")
    }

    func testDNSHostNamesTheResolver() throws {
        let t = try translation(["--dns-forward", "169.254.1.1", "--dns-host", "192.0.2.99"])
        XCTAssertEqual(t.hostDestination(for: forward, port: 53), .v4(IPv4Address(192, 0, 2, 99)))
    }

    func testAForwardAddressThatIsTheGatewayStillMapsItsOtherPorts() throws {
        let t = try translation(["--dns-forward", "198.51.100.1"])
        let gateway = IPAddress.v4(IPv4Address(198, 51, 100, 1))
        XCTAssertEqual(t.hostDestination(for: gateway, port: 53), .v4(IPv4Address(203, 0, 113, 53)))
        XCTAssertEqual(t.hostDestination(for: gateway, port: 8080), .v4(.loopback), "the gateway reaches the host")
    }

    func testWithoutAResolverDNSGoesNowhere() throws {
        let options = try Options.parse(["-a", "198.51.100.2", "-n", "24", "-g", "198.51.100.1", "--dns-forward", "169.254.1.1"],
                                        mode: .pasta)
        let t = AddressTranslation(RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: "")))
        XCTAssertNil(t.hostDestination(for: forward, port: 53))
    }
}
