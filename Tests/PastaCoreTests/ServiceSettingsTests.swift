import XCTest
@testable import PastaCore

final class ServiceSettingsTests: XCTestCase {
    func testSearchListCompressionPointsAtSharedSuffixes() {
        let encoded = DomainNameEncoding.encode(["a.example.com", "b.example.com", "example.com"], compressed: true)
        let first: [UInt8] = [1, 97, 7] + Array("example".utf8) + [3] + Array("com".utf8) + [0]
        XCTAssertEqual(encoded, first + [1, 98, 0xC0, 2] + [0xC0, 2], "pointers to offset 2, where example.com starts")
        let plain = DomainNameEncoding.encode(["a.example.com", "b.example.com"], compressed: false)
        XCTAssertEqual(plain.count, 2 * first.count)
    }

    func testInvalidNamesAreSkipped() {
        let long = String(repeating: "x", count: 64)
        XCTAssertEqual(DomainNameEncoding.encode(["", ".", "a..b", "\(long).com", "ok."], compressed: true),
                       [2, 111, 107, 0])
    }

    func testLinkLocalIsTheModifiedEUI64OfOurMAC() {
        XCTAssertEqual(ServiceSettings.linkLocal(for: MACAddress("02:00:00:00:00:02")!), IPv6Address("fe80::ff:fe00:2"))
        XCTAssertEqual(ServiceSettings.linkLocal(for: MACAddress("52:54:00:12:34:56")!), IPv6Address("fe80::5054:ff:fe12:3456"))
    }

    func testDHCPNeedsAGateway() throws {
        XCTAssertNil(try ServiceFixtures.settings(replacing: ["-a", "198.51.100.2"]).dhcp)
        XCTAssertNotNil(try ServiceFixtures.settings().dhcp)
    }

    func testDNSHandedOutSkipsLoopbackAndPrefersTheForwardedAddress() throws {
        let base = ["-a", "198.51.100.2", "-g", "198.51.100.1", "-a", "2001:db8:1::2", "--dhcp-dns"]
        let loopback = try ServiceFixtures.settings(replacing: base + ["-D", "127.0.0.53", "-D", "198.51.100.53", "-D", "::1"])
        XCTAssertEqual(loopback.dhcp?.dnsServers, [IPv4Address(198, 51, 100, 53)])
        XCTAssertEqual(loopback.ipv6?.dnsServers, [])
        let forwarded = try ServiceFixtures.settings(replacing: base + ["-D", "198.51.100.53", "--dns-forward", "169.254.1.1"])
        XCTAssertEqual(forwarded.dhcp?.dnsServers, [IPv4Address(169, 254, 1, 1)])
    }

    func testPasstHandsOutDNSAndSearchByDefault() throws {
        let arguments = ["-a", "198.51.100.2", "-g", "198.51.100.1", "-D", "198.51.100.53", "-S", "lab.example"]
        let passt = ServiceSettings(RuntimeConfiguration(options: try Options.parse(arguments, mode: .passt),
                                                         host: HostNetwork(), resolvConf: ResolvConf(text: "")))
        XCTAssertEqual(passt.dhcp?.dnsServers, [IPv4Address(198, 51, 100, 53)])
        XCTAssertFalse(passt.searchList.isEmpty)
        let pasta = try ServiceFixtures.settings(replacing: arguments)
        XCTAssertEqual(pasta.dhcp?.dnsServers, [])
        XCTAssertTrue(pasta.searchList.isEmpty)
    }

    func testGuestMACIsLearnedFromUnicastSources() {
        var link = GuestLink()
        XCTAssertEqual(link.destination, ReplyFrame.broadcastMAC, "broadcast until something was seen")
        func frame(from source: [UInt8]) -> [UInt8] { [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + source + [0x08, 0x06] }
        let ours = FrameFixtures.ourMAC
        let learn = { (bytes: [UInt8]) in bytes.withUnsafeBytes { link.learn(from: EthernetFrame($0)!, ours: ours) } }
        XCTAssertFalse(learn(frame(from: [0x01, 0, 0x5E, 0, 0, 1])), "multicast source")
        XCTAssertFalse(learn(frame(from: [0, 0, 0, 0, 0, 0])), "zero source")
        XCTAssertFalse(learn(frame(from: ours.bytes)), "our own address")
        XCTAssertTrue(learn(frame(from: FrameFixtures.guestMAC.bytes)))
        XCTAssertFalse(learn(frame(from: FrameFixtures.guestMAC.bytes)), "nothing new")
        XCTAssertEqual(link.destination, FrameFixtures.guestMAC.bytes)
    }
}
