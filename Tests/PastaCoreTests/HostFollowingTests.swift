import XCTest
@testable import PastaCore

/// What a running pasta changes when the host's network does (RuntimeConfiguration.following and
/// ConfigurationChange), and what options pin.
final class HostFollowingTests: XCTestCase {
    private let eth0 = LinkInfo(index: 2, name: "eth0", flags: 0x1003, mac: MACAddress("02:00:00:00:00:02"), mtu: 1500)
    private let vpn0 = LinkInfo(index: 5, name: "vpn0", flags: 0x1003, mac: MACAddress("02:00:00:00:00:05"), mtu: 1400)

    private func address(_ text: String, _ length: Int, dev: Int32 = 2) -> AddressInfo {
        AddressInfo(interfaceIndex: dev, address: IPAddress(text)!, prefixLength: length, scope: 0)
    }

    private func defaultRoute(via gateway: String, dev: Int32 = 2, metric: UInt32? = nil) -> RouteInfo {
        RouteInfo(family: gateway.contains(":") ? Netlink.familyIPv6 : Netlink.familyIPv4, destination: nil,
                  destinationLength: 0, gateway: IPAddress(gateway), outputInterface: dev, table: 254,
                  routingProtocol: 3, scope: 0, type: 1, priority: metric)
    }

    /// The lab host's uplink: 198.51.100.x/24 via .1, and 2001:db8:1::x/64 via ::1 when `ipv6`.
    private func uplink(_ last: Int = 2, ipv6: Bool = true) -> HostNetwork {
        var addresses = [address("198.51.100.\(last)", 24)]
        var routes = [defaultRoute(via: "198.51.100.1")]
        if ipv6 {
            addresses.append(address("2001:db8:1::\(last)", 64))
            routes.append(defaultRoute(via: "2001:db8:1::1"))
        }
        return HostNetwork.choose(links: [eth0], addresses: addresses, routes: routes, interface4: nil, interface6: nil)
    }

    private let noHost = HostNetwork()
    private let resolver53 = ResolvConf(text: "nameserver 203.0.113.53\nsearch lab.example\n")

    private func start(_ arguments: [String] = ["--config-net"], host: HostNetwork,
                       resolvConf: ResolvConf? = nil) throws -> RuntimeConfiguration {
        RuntimeConfiguration(options: try Options.parse(arguments, mode: .pasta), host: host,
                             resolvConf: resolvConf ?? resolver53)
    }

    func testAnUnchangedHostChangesNothing() throws {
        let current = try start(host: uplink())
        let change = ConfigurationChange(from: current, to: current.following(host: uplink(), resolvConf: resolver53))
        XCTAssertTrue(change.isEmpty, "\(change.descriptions)")
    }

    func testANewHostAddressReplacesTheOldOneAndMovesTheGuestAddressAlias() throws {
        let current = try start(["--config-net", "--map-guest-addr", "169.254.1.2"], host: uplink(2))
        let next = current.following(host: uplink(3), resolvConf: resolver53)
        let change = ConfigurationChange(from: current, to: next)
        XCTAssertEqual(change.addressesRemoved.map(\.address), [IPAddress("198.51.100.2")!, IPAddress("2001:db8:1::2")!])
        XCTAssertEqual(change.addressesAdded.map(\.address), [IPAddress("198.51.100.3")!, IPAddress("2001:db8:1::3")!])
        XCTAssertTrue(change.routesAdded.isEmpty && change.routesRemoved.isEmpty, "the gateways stayed")
        XCTAssertTrue(change.addressingChanged)
        XCTAssertTrue(change.ipv6Changed)
        XCTAssertTrue(change.descriptions.contains("IPv4 address 198.51.100.3/24 (was 198.51.100.2/24)"), "\(change.descriptions)")
        let alias = IPAddress.v4(IPv4Address(169, 254, 1, 2))
        XCTAssertEqual(AddressTranslation(current).hostDestination(for: alias), IPAddress("198.51.100.2"))
        XCTAssertEqual(AddressTranslation(next).hostDestination(for: alias), IPAddress("198.51.100.3"))
    }

    func testAnExplicitAddressAndGatewayArePinned() throws {
        let current = try start(["--config-net", "-a", "192.0.2.5", "-n", "24", "-g", "192.0.2.1"], host: uplink(2))
        let next = current.following(host: uplink(3), resolvConf: resolver53)
        XCTAssertEqual(next.ipv4?.address, IPv4Address(192, 0, 2, 5))
        XCTAssertEqual(next.ipv4?.gateway, IPv4Address(192, 0, 2, 1))
        let change = ConfigurationChange(from: current, to: next)
        XCTAssertFalse(change.descriptions.contains { $0.hasPrefix("IPv4") }, "\(change.descriptions)")
        XCTAssertTrue(change.descriptions.contains { $0.hasPrefix("IPv6 address") }, "IPv6 was not pinned")
    }

    func testResolversFollowTheFileUnlessDNSIsGiven() throws {
        let replaced = ResolvConf(text: "nameserver 203.0.113.54\n")
        let current = try start(["--dns-forward", "169.254.1.1"], host: uplink())
        let next = current.following(host: uplink(), resolvConf: replaced)
        XCTAssertFalse(ConfigurationChange(from: current, to: next).ipv6Changed)
        XCTAssertEqual(AddressTranslation(next).hostDestination(for: .v4(IPv4Address(169, 254, 1, 1)), port: 53),
                       IPAddress("203.0.113.54"))
        let change = ConfigurationChange(from: current, to: next)
        XCTAssertTrue(change.resolversChanged)
        XCTAssertTrue(change.descriptions.contains("resolvers: 203.0.113.54 (were 203.0.113.53)"), "\(change.descriptions)")

        let pinned = try start(["--dns-forward", "169.254.1.1", "-D", "203.0.113.53"], host: uplink())
        XCTAssertTrue(ConfigurationChange(from: pinned, to: pinned.following(host: uplink(), resolvConf: replaced))
            .descriptions.allSatisfy { !$0.hasPrefix("resolvers") })
        let dnsHost = try start(["--dns-forward", "169.254.1.1", "--dns-host", "203.0.113.60"], host: uplink())
        XCTAssertEqual(AddressTranslation(dnsHost.following(host: uplink(), resolvConf: replaced))
            .hostDestination(for: .v4(IPv4Address(169, 254, 1, 1)), port: 53), IPAddress("203.0.113.60"))
    }

    func testAResolverFileWithNoServerKeepsTheOldOnes() throws {
        let current = try start(host: uplink())
        let next = current.following(host: uplink(), resolvConf: ResolvConf(text: "# being rewritten\n"))
        XCTAssertEqual(next.dnsServers, current.dnsServers)
    }

    func testLocalModeEndsWhenTheUplinkGetsAnAddress() throws {
        let current = try start(host: noHost)
        XCTAssertTrue(current.localMode)
        let next = current.following(host: uplink(), resolvConf: resolver53)
        let change = ConfigurationChange(from: current, to: next)
        XCTAssertTrue(change.leftLocalMode)
        XCTAssertEqual(change.addressesRemoved.map(\.address), [IPAddress("169.254.2.1")!])
        XCTAssertEqual(change.addressesAdded.map(\.address), [IPAddress("198.51.100.2")!, IPAddress("2001:db8:1::2")!])
        XCTAssertEqual(change.routesRemoved.compactMap(\.gateway), [IPAddress("169.254.2.2")!, IPAddress("fe80::1")!])
        XCTAssertEqual(change.routesAdded.compactMap(\.gateway), [IPAddress("198.51.100.1")!, IPAddress("2001:db8:1::1")!])
        XCTAssertEqual(change.descriptions.first, "local mode ends: addresses and routes of eth0")
        XCTAssertEqual(next.ourMAC, current.ourMAC, "our MAC address stays what the guest has cached")
        XCTAssertEqual(next.namespaceInterfaceName, current.namespaceInterfaceName)
    }

    func testAHostBetweenNetworksKeepsWhatTheGuestHas() throws {
        let current = try start(host: uplink())
        let next = current.following(host: noHost, resolvConf: resolver53)
        XCTAssertFalse(next.localMode)
        XCTAssertTrue(ConfigurationChange(from: current, to: next).isEmpty)
        let onlyIPv4 = current.following(host: uplink(ipv6: false), resolvConf: resolver53)
        XCTAssertEqual(onlyIPv4.ipv6?.address, current.ipv6?.address, "a family that vanished stays until it is back")
    }

    func testAnExplicitAddressKeepsItsGatewayWhileTheHostIsBetweenNetworks() throws {
        let current = try start(["--config-net", "-a", "192.0.2.5", "-n", "24"], host: uplink())
        XCTAssertEqual(current.ipv4?.gateway, IPv4Address(198, 51, 100, 1), "the host's gateway, -g not given")
        let next = current.following(host: noHost, resolvConf: resolver53)
        XCTAssertEqual(next.ipv4?.gateway, IPv4Address(198, 51, 100, 1))
        XCTAssertTrue(ConfigurationChange(from: current, to: next).isEmpty)
    }

    func testALocalModeFamilyStaysUntilTheHostHasItToo() throws {
        let current = try start(host: noHost)
        let onlyIPv6 = HostNetwork(ipv4: nil, ipv6: uplink().ipv6)
        let next = current.following(host: onlyIPv6, resolvConf: resolver53)
        XCTAssertFalse(next.localMode)
        XCTAssertEqual(next.ipv4?.address, RuntimeConfiguration.localAddress4, "IPv4 keeps its local-mode address")
        XCTAssertEqual(next.ipv6?.address, IPv6Address("2001:db8:1::2"))
        let change = ConfigurationChange(from: current, to: next)
        XCTAssertTrue(change.leftLocalMode)
        XCTAssertFalse(change.addressesRemoved.contains { $0.address == IPAddress("169.254.2.1") })
    }

    func testTheAddressHandedOutStaysWhileTheHostStillHasIt() throws {
        let current = try start(host: uplink(2))
        // The host gains .7, which the kernel lists first.
        let both = HostNetwork.choose(links: [eth0], addresses: [address("198.51.100.7", 24), address("198.51.100.2", 24)],
                                      routes: [defaultRoute(via: "198.51.100.1")], interface4: nil, interface6: nil)
        let next = current.following(host: both, resolvConf: resolver53)
        XCTAssertEqual(next.ipv4?.address, IPv4Address(198, 51, 100, 2))
        let change = ConfigurationChange(from: current, to: next)
        XCTAssertEqual(change.addressesAdded.map(\.address), [IPAddress("198.51.100.7")!], "the namespace gets it too")
        XCTAssertFalse(change.descriptions.contains { $0.hasPrefix("IPv4 address") })
    }

    func testAnIPv6AddressArrivingTurnsIPv6On() throws {
        let current = try start(host: uplink(ipv6: false))
        XCTAssertNil(current.ipv6)
        let next = current.following(host: uplink(ipv6: true), resolvConf: resolver53)
        let change = ConfigurationChange(from: current, to: next)
        XCTAssertEqual(next.ipv6?.address, IPv6Address("2001:db8:1::2"))
        XCTAssertTrue(change.descriptions.contains("IPv6 on: address 2001:db8:1::2, gateway 2001:db8:1::1"), "\(change.descriptions)")
        XCTAssertEqual(change.addressesAdded.map(\.address), [IPAddress("2001:db8:1::2")!])
        XCTAssertTrue(ServiceSettings(next).routerAdvertisements, "and is advertised")
        XCTAssertTrue(change.ipv6Changed, "at once: the loop restarts its advertisements")
        let ipv4Only = try start(["-4"], host: uplink(ipv6: false))
        XCTAssertNil(ipv4Only.following(host: uplink(ipv6: true), resolvConf: resolver53).ipv6, "-4 pins it off")
    }

    /// A VPN takes the default route with a lower metric: its addresses and gateway follow, unless -i
    /// named the interface.
    func testAVPNTakingTheDefaultRouteIsFollowedUnlessTheInterfaceIsPinned() throws {
        let withVPN = HostNetwork.choose(
            links: [eth0, vpn0],
            addresses: [address("198.51.100.2", 24), address("192.0.2.66", 24, dev: 5)],
            routes: [defaultRoute(via: "198.51.100.1", metric: 100), defaultRoute(via: "192.0.2.1", dev: 5, metric: 50)],
            interface4: nil, interface6: nil)
        let current = try start(["-4"], host: uplink(ipv6: false))
        let next = current.following(host: withVPN, resolvConf: resolver53)
        XCTAssertEqual(next.ipv4?.address, IPv4Address(192, 0, 2, 66))
        XCTAssertEqual(next.ipv4?.gateway, IPv4Address(192, 0, 2, 1))
        XCTAssertEqual(next.mtu, current.mtu, "the MTU the guest has stays")

        let pinned = try start(["-4", "-i", "eth0"], host: uplink(ipv6: false))
        let pinnedHost = HostNetwork.choose(
            links: [eth0, vpn0], addresses: [address("198.51.100.2", 24), address("192.0.2.66", 24, dev: 5)],
            routes: [defaultRoute(via: "198.51.100.1"), defaultRoute(via: "192.0.2.1", dev: 5, metric: 50)],
            interface4: "eth0", interface6: "eth0")
        XCTAssertTrue(ConfigurationChange(from: pinned, to: pinned.following(host: pinnedHost, resolvConf: resolver53)).isEmpty)
    }

    func testNoFollowHostIsAnOption() throws {
        XCTAssertTrue(try Options.parse(["--no-follow-host"], mode: .pasta).noFollowHost)
        XCTAssertTrue(try Options.parse(["--no-follow-host"], mode: .passt).noFollowHost)
        XCTAssertFalse(try Options.parse([], mode: .pasta).noFollowHost)
    }

    // MARK: - Connections from an address taken away, in the TCP simulation

    func testConnectionsFromAnAddressTakenAwayAreResetOnBothSides() {
        var scenario = TCPSimulation.Scenario()
        scenario.name = "the guest's address taken away"
        scenario.host.length = 3000
        scenario.host.ending = .stayOpen
        scenario.guestClosing = .afterPeer
        scenario.timeLimit = 10_000
        let simulation = TCPSimulation(scenario, seed: 3)
        simulation.prepareGuest = { _ in
            simulation.scheduler.at(2000) {
                simulation.engine.resetConnections(from: IPAddress("192.0.2.99")!)  // another address: nothing
                XCTAssertEqual(simulation.guest.resetsReceived, 0)
                simulation.engine.resetConnections(from: IPAddress("198.51.100.2")!)
            }
        }
        _ = simulation.run()
        XCTAssertEqual(simulation.guest.received.count, 3000, "what came before is delivered")
        XCTAssertEqual(simulation.guest.resetsReceived, 1, "the guest is told")
        XCTAssertTrue(simulation.socket?.aborted == true, "the host socket is aborted")
        XCTAssertEqual(simulation.engine.table.count, 0)
    }

    // MARK: - The resolver file

    func testAResolverFileBehindALinkIsReadThroughTheTargetsDirectory() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("resolver-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        for directory in ["etc", "run/resolve"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        try "nameserver 192.0.2.53\n".write(toFile: "\(root)/run/resolve/stub.conf", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/etc/resolv.conf", withDestinationPath: "\(root)/run/resolve/stub.conf")
        let file = ResolverFile(path: "\(root)/etc/resolv.conf")
        XCTAssertEqual(file.places.map(\.entry), ["resolv.conf", "stub.conf"])
        XCTAssertEqual(file.read()?.nameservers, [IPAddress("192.0.2.53")!])
        XCTAssertTrue(file.isMentioned(in: [InotifyEvent(mask: 0x80, name: "stub.conf")]), "a rename in the target's directory")
        XCTAssertFalse(file.isMentioned(in: [InotifyEvent(mask: 0x80, name: "hosts")]))

        // A link to where nothing is yet: its target's directory, once there, is held all the same.
        try FileManager.default.removeItem(atPath: "\(root)/run/resolve/stub.conf")
        let dangling = ResolverFile(path: "\(root)/etc/resolv.conf")
        XCTAssertEqual(dangling.places.count, 2)
        XCTAssertNil(dangling.read())
        try "nameserver 192.0.2.54\n".write(toFile: "\(root)/run/resolve/stub.conf", atomically: false, encoding: .utf8)
        XCTAssertEqual(dangling.read()?.nameservers, [IPAddress("192.0.2.54")!], "read once it appears")
    }

    // MARK: - Debouncing, on a virtual clock

    func testABurstIsReadOnceAfterItSettles() {
        var debounce = ChangeDebounce(quietMilliseconds: 200, longestMilliseconds: 2000)
        XCTAssertFalse(debounce.due(now: 0), "nothing pending")
        for now in stride(from: 0, through: 150, by: 50) { debounce.changed(now: now) }
        XCTAssertFalse(debounce.due(now: 300), "only 150 ms since the last change")
        XCTAssertTrue(debounce.due(now: 350))
        XCTAssertFalse(debounce.due(now: 400), "once")
    }

    func testAFlappingLinkIsStillReadEveryLongestInterval() {
        var debounce = ChangeDebounce(quietMilliseconds: 200, longestMilliseconds: 2000)
        var reads = 0
        // 50 changes in 5 s, one every 100 ms: never 200 ms quiet until the end.
        for now in stride(from: 0, to: 5000, by: 100) {
            debounce.changed(now: now)
            if debounce.due(now: now + 50) { reads += 1 }
        }
        for now in stride(from: 5000, to: 6000, by: 100) where debounce.due(now: now) { reads += 1 }
        XCTAssertEqual(reads, 3, "at 2 s, at 4 s, and once settled")
    }

    // MARK: - inotify records

    func testInotifyRecordsAreParsedAndTruncatedOnesIgnored() {
        func record(mask: UInt32, name: String) -> [UInt8] {
            var padded = Array(name.utf8) + [0]
            while padded.count % 4 != 0 { padded.append(0) }
            var bytes: [UInt8] = []
            for value in [UInt32(1), mask, 0, UInt32(padded.count)] { withUnsafeBytes(of: value) { bytes += $0 } }
            return bytes + padded
        }
        let both = record(mask: 0x80, name: "resolv.conf") + record(mask: 0x200, name: "x")
        XCTAssertEqual(InotifyEvent.parse(both[...]), [InotifyEvent(mask: 0x80, name: "resolv.conf"),
                                                       InotifyEvent(mask: 0x200, name: "x")])
        for length in 0..<both.count { XCTAssertLessThanOrEqual(InotifyEvent.parse(both[0..<length]).count, 2) }
        var overlong = record(mask: 0x80, name: "a")
        overlong[12] = 0xff
        XCTAssertEqual(InotifyEvent.parse(overlong[...]), [])
    }
}
