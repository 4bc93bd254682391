import XCTest
@testable import PastaCore

final class NDPResponderTests: XCTestCase {
    private let guestLinkLocal = IPv6Address("fe80::5054:ff:fe12:3456")!
    private let gateway = IPv6Address("2001:db8:1::1")!
    private var sourceLinkLayerOption: [UInt8] { [1, 1] + FrameFixtures.guestMAC.bytes }

    private func neighborSolicitation(for target: IPv6Address, from source: IPv6Address? = nil,
                                      hopLimit: UInt8 = 255) -> [UInt8] {
        let source = source ?? guestLinkLocal
        let options = source.isUnspecified ? [] : sourceLinkLayerOption
        let solicitedNode = IPv6Address(high: 0xFF02 << 48, low: 0x1_FF00_0000 | target.low & 0xFF_FFFF)
        return FrameFixtures.icmp6([135, 0, 0, 0, 0, 0, 0, 0] + target.bytes + options, source: source,
                                   destination: solicitedNode, hopLimit: hopLimit)
    }

    private func routerSolicitation(from source: IPv6Address? = nil) -> [UInt8] {
        let source = source ?? guestLinkLocal
        let options = source.isUnspecified ? [] : sourceLinkLayerOption
        return FrameFixtures.icmp6([133, 0, 0, 0, 0, 0, 0, 0] + options, source: source,
                                   destination: IPv6Address("ff02::2")!)
    }

    private func service(_ settings: ServiceSettings) -> FrameFixtures.Service {
        { NDPResponder.reply(to: $0, settings: settings, into: $1) }
    }

    /// NDP options of an ICMPv6 message starting at `start`, by type.
    private func options(_ message: ArraySlice<UInt8>, from start: Int) -> [UInt8: [UInt8]] {
        var result: [UInt8: [UInt8]] = [:]
        var index = message.startIndex + start
        while index + 2 <= message.endIndex {
            let length = Int(message[index + 1]) * 8
            guard length > 0 else { break }
            result[message[index]] = Array(message[index + 2..<index + length])
            index += length
        }
        return result
    }

    func testNeighborSolicitationForTheGatewayGetsOurMAC() throws {
        let reply = try XCTUnwrap(FrameFixtures.run(service(try ServiceFixtures.settings()), neighborSolicitation(for: gateway)).1)
        XCTAssertTrue(FrameFixtures.checksumsValid(reply))
        XCTAssertEqual(Array(reply[0..<6]), FrameFixtures.guestMAC.bytes)
        XCTAssertEqual(reply[21], 255, "hop limit")
        XCTAssertEqual(IPv6Address(bytes: reply[22..<38]), gateway, "from the solicited address")
        XCTAssertEqual(IPv6Address(bytes: reply[38..<54]), guestLinkLocal)
        let message = reply[54...]
        XCTAssertEqual(message.first, 136)
        XCTAssertEqual(reply[58], 0xE0, "router, solicited, override")
        XCTAssertEqual(IPv6Address(bytes: reply[62..<78]), gateway)
        XCTAssertEqual(options(message, from: 24)[2], FrameFixtures.ourMAC.bytes)
    }

    func testGuestOwnAddressesAndDuplicateAddressDetectionAreNotAnswered() throws {
        let settings = try ServiceFixtures.settings()
        XCTAssertNil(FrameFixtures.run(service(settings), neighborSolicitation(for: IPv6Address("2001:db8:1::2")!)).1)
        XCTAssertNil(FrameFixtures.run(service(settings), neighborSolicitation(for: gateway, from: .any)).1, "DAD")
        XCTAssertNil(FrameFixtures.run(service(settings), neighborSolicitation(for: guestLinkLocal)).1)
        XCTAssertNotNil(FrameFixtures.run(service(settings), neighborSolicitation(for: IPv6Address("2001:db8:1::77")!)).1)
    }

    func testSolicitationsThatMayHaveBeenForwardedAreIgnored() throws {
        let settings = try ServiceFixtures.settings()
        XCTAssertNil(FrameFixtures.run(service(settings), neighborSolicitation(for: gateway, hopLimit: 64)).1)
    }

    func testRouterSolicitationGetsTheAdvertisement() throws {
        let reply = try XCTUnwrap(FrameFixtures.run(service(try ServiceFixtures.settings()), routerSolicitation()).1)
        XCTAssertTrue(FrameFixtures.checksumsValid(reply))
        XCTAssertEqual(IPv6Address(bytes: reply[22..<38]), IPv6Address("fe80::ff:fe00:2"), "EUI-64 link-local of our MAC")
        XCTAssertEqual(IPv6Address(bytes: reply[38..<54]), guestLinkLocal)
        let message = reply[54...]
        XCTAssertEqual(Array(message.prefix(10)).enumerated().filter { [0, 4, 5, 6, 7].contains($0.offset) }.map(\.element),
                       [134, 64, 0xC0, 0x07, 0x08], "type, hop limit, M and O flags, lifetime 1800")
        let found = options(message, from: 16)
        XCTAssertEqual(found[1], FrameFixtures.ourMAC.bytes)
        XCTAssertEqual(found[5], [0, 0, 0, 0, 0x05, 0xDC], "MTU 1500")
        let prefix = try XCTUnwrap(found[3])
        XCTAssertEqual(Array(prefix[0..<2]), [64, 0xC0], "/64, on-link, autonomous")
        XCTAssertEqual(IPv6Address(bytes: prefix[14..<30]), IPv6Address("2001:db8:1::"))
        let rdnss = try XCTUnwrap(found[25])
        XCTAssertEqual(IPv6Address(bytes: rdnss[6..<22]), IPv6Address("2001:db8:1::53"))
        let dnssl = try XCTUnwrap(found[31])
        XCTAssertEqual(Array(dnssl[6..<19]), [3] + Array("lab".utf8) + [7] + Array("example".utf8) + [0])
        XCTAssertEqual((dnssl.count + 2) % 8, 0, "padded to 8 bytes")
    }

    func testSolicitationFromTheUnspecifiedAddressGetsAMulticastAdvertisement() throws {
        let reply = try XCTUnwrap(FrameFixtures.run(service(try ServiceFixtures.settings()), routerSolicitation(from: .any)).1)
        XCTAssertEqual(Array(reply[0..<6]), [0x33, 0x33, 0, 0, 0, 1])
        XCTAssertEqual(IPv6Address(bytes: reply[38..<54]), IPv6Address("ff02::1"))
    }

    func testAdvertisementWithoutDNSOrMTU() throws {
        let settings = try ServiceFixtures.settings(replacing: ["-a", "2001:db8:1::2", "-g", "fe80::1", "-m", "0", "--no-dhcpv6"])
        let reply = try XCTUnwrap(FrameFixtures.run(service(settings), routerSolicitation()).1)
        XCTAssertEqual(IPv6Address(bytes: reply[22..<38]), IPv6Address("fe80::1"), "a link-local gateway is our source")
        XCTAssertEqual(reply[59], 0, "no M/O flags without DHCPv6")
        let found = options(reply[54...], from: 16)
        XCTAssertNil(found[5])
        XCTAssertNil(found[25])
        XCTAssertNil(found[31])
        XCTAssertNotNil(found[3])
    }

    func testSwitchesTurnTheAnswersOff() throws {
        let noRA = try ServiceFixtures.settings(["--no-ra"])
        XCTAssertNil(FrameFixtures.run(service(noRA), routerSolicitation()).1)
        var buffer = [UInt8](repeating: 0, count: 2048)
        XCTAssertNil(buffer.withUnsafeMutableBytes { NDPResponder.unsolicitedAdvertisement(settings: noRA, into: $0) })
        XCTAssertNotNil(FrameFixtures.run(service(noRA), neighborSolicitation(for: gateway)).1)
        let noNDP = try ServiceFixtures.settings(["--no-ndp"])
        XCTAssertNil(FrameFixtures.run(service(noNDP), routerSolicitation()).1)
        XCTAssertNil(FrameFixtures.run(service(noNDP), neighborSolicitation(for: gateway)).1)
    }

    func testUnsolicitedAdvertisementGoesToAllNodes() throws {
        var buffer = [UInt8](repeating: 0, count: 2048)
        let settings = try ServiceFixtures.settings()
        let length = try XCTUnwrap(buffer.withUnsafeMutableBytes { NDPResponder.unsolicitedAdvertisement(settings: settings, into: $0) })
        let frame = Array(buffer[0..<length])
        XCTAssertTrue(FrameFixtures.checksumsValid(frame))
        XCTAssertEqual(IPv6Address(bytes: frame[38..<54]), IPv6Address("ff02::1"))
        XCTAssertEqual(frame[54], 134)
    }

    func testScheduleSendsTheFirstAdvertisementsQuicklyThenRarely() {
        var schedule = AdvertisementSchedule(now: 100)
        XCTAssertFalse(schedule.due(now: 100))
        var sent: [Int] = []
        for second in 100...3000 where schedule.due(now: second) { sent.append(second) }
        XCTAssertEqual(sent.first, 101)
        let gaps = zip(sent.dropFirst(), sent).map { $0 - $1 }
        XCTAssertTrue(gaps.prefix(2).allSatisfy { $0 <= 16 }, "initial advertisements within 16 s: \(gaps)")
        XCTAssertTrue(gaps.dropFirst(2).allSatisfy { (200...600).contains($0) }, "then 200-600 s: \(gaps)")
    }

    func testMalformedSolicitationsAreNeverAnswered() throws {
        let settings = try ServiceFixtures.settings()
        FrameFixtures.fuzz(service(settings), valid: neighborSolicitation(for: gateway))
        FrameFixtures.fuzz(service(settings), valid: routerSolicitation())
        // Well-framed ICMPv6 around bad options: zero length, overrunning, a short link-layer address.
        for bad in [[1, 0, 0, 0, 0, 0, 0, 0], [1, 2, 0, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0], [3, 1, 0, 0, 0, 0, 0]] as [[UInt8]] {
            let ns = FrameFixtures.icmp6([135, 0, 0, 0, 0, 0, 0, 0] + gateway.bytes + bad, source: guestLinkLocal,
                                         destination: IPv6Address("ff02::1:ff00:1")!)
            XCTAssertNil(FrameFixtures.run(service(settings), ns).1, "option \(bad)")
        }
        let short = FrameFixtures.icmp6([135, 0, 0, 0, 0, 0, 0, 0] + gateway.bytes.prefix(12), source: guestLinkLocal,
                                        destination: IPv6Address("ff02::1:ff00:1")!)
        XCTAssertNil(FrameFixtures.run(service(settings), short).1)
    }
}
