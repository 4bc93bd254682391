import XCTest
@testable import PastaCore

final class HostConfigurationTests: XCTestCase {
    private let links = [
        LinkInfo(index: 1, name: "lo", flags: 0x9, mac: nil, mtu: 65536),
        LinkInfo(index: 2, name: "eth0", flags: 0x1003, mac: MACAddress("02:00:00:00:00:02"), mtu: 1500),
        LinkInfo(index: 3, name: "wlan0", flags: 0x1003, mac: MACAddress("02:00:00:00:00:03"), mtu: 1500),
    ]
    private let addresses = [
        AddressInfo(interfaceIndex: 1, address: IPAddress("127.0.0.1")!, prefixLength: 8, scope: 254),
        AddressInfo(interfaceIndex: 2, address: IPAddress("198.51.100.2")!, prefixLength: 24, scope: 0),
        AddressInfo(interfaceIndex: 2, address: IPAddress("2001:db8:1::2")!, prefixLength: 64, scope: 0),
        AddressInfo(interfaceIndex: 2, address: IPAddress("fe80::2")!, prefixLength: 64, scope: 253),
        AddressInfo(interfaceIndex: 3, address: IPAddress("192.0.2.7")!, prefixLength: 26, scope: 0),
    ]

    private func route(_ dst: String?, _ len: Int, via gateway: String?, dev: Int32, metric: UInt32? = nil,
                       proto: UInt8 = 3) -> RouteInfo {
        let family = (dst ?? gateway ?? "").contains(":") ? Netlink.familyIPv6 : Netlink.familyIPv4
        return RouteInfo(family: family, destination: dst.flatMap(IPAddress.init), destinationLength: len,
                         gateway: gateway.flatMap(IPAddress.init), outputInterface: dev, table: 254,
                         routingProtocol: proto, scope: 0, type: 1, priority: metric)
    }

    private var routes: [RouteInfo] {
        [
            route("198.51.100.0", 24, via: nil, dev: 2, proto: 2),
            route(nil, 0, via: "192.0.2.1", dev: 3, metric: 600),
            route(nil, 0, via: "198.51.100.1", dev: 2, metric: 100),
            route("203.0.113.0", 24, via: "198.51.100.254", dev: 2),
            route(nil, 0, via: "2001:db8:1::1", dev: 2),
        ]
    }

    func testTemplateIsTheLowestMetricDefaultRoute() throws {
        let host = HostNetwork.choose(links: links, addresses: addresses, routes: routes, interface4: nil, interface6: nil)
        let v4 = try XCTUnwrap(host.ipv4)
        XCTAssertEqual(v4.link.name, "eth0")
        XCTAssertEqual(v4.gateway, IPAddress("198.51.100.1"))
        XCTAssertEqual(v4.addresses.map(\.address), [IPAddress("198.51.100.2")!])
        // The kernel's own subnet route is not copied; the default and the static route are.
        XCTAssertEqual(v4.routes.count, 2)
        let v6 = try XCTUnwrap(host.ipv6)
        XCTAssertEqual(v6.addresses.map(\.address), [IPAddress("2001:db8:1::2")!], "link-local stays on the host")
    }

    func testTemporaryDeprecatedAndDuplicateAddressesStayOnTheHost() throws {
        var privacy = AddressInfo(interfaceIndex: 2, address: IPAddress("2001:db8:1::abcd")!, prefixLength: 64, scope: 0)
        privacy.flags = Netlink.addressFlagTemporary
        var deprecated = AddressInfo(interfaceIndex: 2, address: IPAddress("2001:db8:1::dead")!, prefixLength: 64, scope: 0)
        deprecated.flags = Netlink.addressFlagDeprecated | Netlink.addressFlagPermanent
        var duplicate = AddressInfo(interfaceIndex: 2, address: IPAddress("2001:db8:1::beef")!, prefixLength: 64, scope: 0)
        duplicate.flags = Netlink.addressFlagDADFailed
        // IPv4's secondary addresses carry the bit IPv6 uses for temporary ones: they are the host's.
        var secondary = AddressInfo(interfaceIndex: 2, address: IPAddress("198.51.100.9")!, prefixLength: 24, scope: 0)
        secondary.flags = 0x01 | Netlink.addressFlagPermanent
        // The kernel lists the newest first.
        let host = HostNetwork.choose(links: links, addresses: [privacy, deprecated, duplicate] + addresses + [secondary],
                                      routes: routes, interface4: nil, interface6: nil)
        XCTAssertEqual(host.ipv6?.addresses.map(\.address), [IPAddress("2001:db8:1::2")!])
        XCTAssertEqual(host.ipv4?.addresses.map(\.address), [IPAddress("198.51.100.2")!, IPAddress("198.51.100.9")!])
    }

    func testInterfaceOverride() throws {
        let host = HostNetwork.choose(links: links, addresses: addresses, routes: routes, interface4: "wlan0", interface6: nil)
        XCTAssertEqual(host.ipv4?.link.name, "wlan0")
        XCTAssertEqual(host.ipv4?.gateway, IPAddress("192.0.2.1"))
    }

    func testNoDefaultRouteMeansLocalMode() throws {
        let host = HostNetwork.choose(links: links, addresses: addresses, routes: [], interface4: nil, interface6: nil)
        XCTAssertNil(host.ipv4)
        let configuration = RuntimeConfiguration(options: try Options.parse([], mode: .pasta), host: host,
                                                 resolvConf: ResolvConf(text: ""))
        XCTAssertTrue(configuration.localMode)
        XCTAssertEqual(configuration.ipv4?.address, IPv4Address("169.254.2.1"))
        XCTAssertEqual(configuration.ipv4?.gateway, IPv4Address("169.254.2.2"))
        XCTAssertEqual(configuration.ipv6?.gateway, IPv6Address("fe80::1"))
        XCTAssertEqual(configuration.namespaceInterfaceName, "tap0")
        XCTAssertEqual(configuration.ourMAC, .fallback)
    }

    func testAddressOptionReplacesCopiedAddresses() throws {
        let host = HostNetwork.choose(links: links, addresses: addresses, routes: routes, interface4: nil, interface6: nil)
        let options = try Options.parse(["-a", "198.51.100.9", "-g", "198.51.100.1", "-I", "ctr0", "-m", "1500"], mode: .pasta)
        let configuration = RuntimeConfiguration(options: options, host: host, resolvConf: ResolvConf(text: ""))
        XCTAssertEqual(configuration.ipv4?.addresses.map(\.address), [IPAddress("198.51.100.9")!])
        XCTAssertEqual(configuration.ipv4?.prefixLength, 24, "classful /24 for 198.51.100.0")
        XCTAssertEqual(configuration.ipv4?.routes.count, 1, "-g sets only the default route")
        XCTAssertEqual(configuration.namespaceInterfaceName, "ctr0")
        XCTAssertEqual(configuration.mtu, 1500)
        XCTAssertEqual(configuration.ourMAC, MACAddress("02:00:00:00:00:02"))
    }

    func testResolvConf() {
        let conf = ResolvConf(text: """
            # comment
            nameserver 192.0.2.53
            nameserver fe80::1%eth0
            nameserver not-an-address
            nameserver
            search a.example b.example bad..name
            options ndots:2
            """)
        XCTAssertEqual(conf.nameservers, [IPAddress("192.0.2.53")!, IPAddress("fe80::1")!])
        XCTAssertEqual(conf.searchDomains, ["a.example", "b.example"])
        let options = try! Options.parse(["-D", "203.0.113.53", "-S", "lab.example"], mode: .pasta)
        let configuration = RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: conf)
        XCTAssertEqual(configuration.dnsServers, [IPAddress("203.0.113.53")!])
        XCTAssertEqual(configuration.searchDomains, ["lab.example"])
    }

    func testAddressParsingAndFormatting() {
        XCTAssertEqual(IPv4Address("198.51.100.2")?.description, "198.51.100.2")
        XCTAssertNil(IPv4Address("198.51.100"))
        XCTAssertNil(IPv4Address("198.51.100.256"))
        XCTAssertEqual(IPv6Address("2001:db8:0:0::1")?.description, "2001:db8::1")
        XCTAssertTrue(IPv6Address("fe80::1")!.isLinkLocal)
        XCTAssertEqual(IPv4Address.mask(prefixLength: 24).description, "255.255.255.0")
        XCTAssertEqual(IPv4Address("255.255.240.0")?.contiguousPrefixLength, 20)
        XCTAssertNil(IPv4Address("255.0.255.0")?.contiguousPrefixLength)
        XCTAssertEqual(MACAddress("2:0:0:0:0:a")?.description, "02:00:00:00:00:0a")
        XCTAssertNil(MACAddress("02:00:00:00:00:0g"))
    }
}
