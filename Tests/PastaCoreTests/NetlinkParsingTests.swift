import XCTest
@testable import PastaCore

final class NetlinkParsingTests: XCTestCase {
    /// An RTM_NEWROUTE for "default via 198.51.100.1 dev 2 metric 100" as the kernel would send it.
    private func defaultRouteMessage(sequence: UInt32 = 7, flags: UInt32 = 0) -> [UInt8] {
        var message = NetlinkRequest(type: Netlink.newRoute, flags: Netlink.multi)
        message.append(bytes: [Netlink.familyIPv4, 0, 0, 0, Netlink.tableMain, Netlink.protocolBoot,
                               Netlink.scopeUniverse, Netlink.typeUnicast])
        message.append(flags)
        message.attribute(Netlink.routeTable, integer: UInt32(254))
        message.attribute(Netlink.routeGateway, [198, 51, 100, 1])
        message.attribute(Netlink.routeOutput, integer: UInt32(2))
        message.attribute(Netlink.routePriority, integer: UInt32(100))
        return message.finished(sequence: sequence)
    }

    func testRouteMessageRoundTrip() throws {
        let bytes = defaultRouteMessage()
        let messages = NetlinkMessage.split(bytes[...])
        XCTAssertEqual(messages.count, 1)
        XCTAssertEqual(messages[0].sequence, 7)
        let route = try XCTUnwrap(RouteInfo.parse(messages[0].payload))
        XCTAssertTrue(route.isDefault)
        XCTAssertEqual(route.gateway, IPAddress("198.51.100.1"))
        XCTAssertEqual(route.outputInterface, 2)
        XCTAssertEqual(route.priority, 100)
        XCTAssertEqual(route.table, 254)
    }

    /// A cached clone (an IPv6 path MTU exception, RTM_F_CLONED) is not a route of the table: copied into
    /// the namespace, it would hide the namespace's own exception for that destination.
    func testClonedRoutesAreToldApart() {
        XCTAssertFalse(RouteInfo.isCloned(NetlinkMessage.split(defaultRouteMessage()[...])[0].payload))
        XCTAssertTrue(RouteInfo.isCloned(NetlinkMessage.split(defaultRouteMessage(flags: 0x200)[...])[0].payload))
        XCTAssertFalse(RouteInfo.isCloned([1, 2, 3][...]), "too short to say: not a clone")
    }

    func testAddressFlagsComeFromIFAFlagsOrTheHeader() throws {
        var withAttribute = NetlinkRequest(type: Netlink.newAddress, flags: Netlink.multi)
        withAttribute.append(bytes: [Netlink.familyIPv6, 64, 0, 0])
        withAttribute.append(UInt32(2))
        withAttribute.attribute(Netlink.addressAddress, IPAddress("2001:db8:1::abcd")!.rawBytes)
        withAttribute.attribute(Netlink.addressFlags, integer: Netlink.addressFlagTemporary | Netlink.addressFlagPermanent)
        let privacy = try XCTUnwrap(AddressInfo.parse(NetlinkMessage.split(withAttribute.finished(sequence: 1)[...])[0].payload))
        XCTAssertTrue(privacy.isTransient)
        var headerOnly = NetlinkRequest(type: Netlink.newAddress, flags: Netlink.multi)
        headerOnly.append(bytes: [Netlink.familyIPv4, 24, UInt8(Netlink.addressFlagPermanent), 0])
        headerOnly.append(UInt32(2))
        headerOnly.attribute(Netlink.addressAddress, [198, 51, 100, 2])
        let permanent = try XCTUnwrap(AddressInfo.parse(NetlinkMessage.split(headerOnly.finished(sequence: 2)[...])[0].payload))
        XCTAssertEqual(permanent.flags, Netlink.addressFlagPermanent)
        XCTAssertFalse(permanent.isTransient)
    }

    func testTruncationsAtEveryOffsetNeverTrap() {
        let bytes = defaultRouteMessage() + defaultRouteMessage(sequence: 8)
        for length in 0...bytes.count {
            for message in NetlinkMessage.split(bytes[0..<length]) {
                _ = RouteInfo.parse(message.payload)
                _ = LinkInfo.parse(message.payload)
                _ = AddressInfo.parse(message.payload)
                _ = message.errorCode
            }
        }
    }

    func testLengthFieldsLargerThanTheDatagramAreRejected() {
        var bytes = defaultRouteMessage()
        bytes[0] = 0xff; bytes[1] = 0xff  // nlmsg_len far beyond the data
        XCTAssertTrue(NetlinkMessage.split(bytes[...]).isEmpty)
        var attribute = defaultRouteMessage()
        attribute[16 + 12] = 0xff  // first rtattr length beyond the message
        let messages = NetlinkMessage.split(attribute[...])
        XCTAssertEqual(messages.count, 1)
        XCTAssertNil(RouteInfo.parse(messages[0].payload)?.gateway)
    }

    func testRandomMutationsNeverTrap() {
        let original = defaultRouteMessage()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            for message in NetlinkMessage.split(bytes[...]) {
                _ = RouteInfo.parse(message.payload)
                _ = LinkInfo.parse(message.payload)
                _ = AddressInfo.parse(message.payload)
            }
        }
    }

    func testErrorAndAckMessages() {
        var ack = NetlinkRequest(type: Netlink.error, flags: 0)
        ack.append(Int32(0))
        XCTAssertEqual(NetlinkMessage.split(ack.finished(sequence: 1)[...]).first?.errorCode, 0)
        var failure = NetlinkRequest(type: Netlink.error, flags: 0)
        failure.append(Int32(-17))
        XCTAssertEqual(NetlinkMessage.split(failure.finished(sequence: 1)[...]).first?.errorCode, 17)
        let truncated = NetlinkRequest(type: Netlink.error, flags: 0)
        XCTAssertNil(NetlinkMessage.split(truncated.finished(sequence: 1)[...]).first?.errorCode)
    }

    func testInotifyEventScanner() {
        func event(mask: UInt32, name: String) -> [UInt8] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: Int32(1)) { bytes += $0 }
            withUnsafeBytes(of: mask) { bytes += $0 }
            withUnsafeBytes(of: UInt32(0)) { bytes += $0 }
            var padded = Array(name.utf8) + [0]
            while padded.count % 16 != 0 { padded.append(0) }
            withUnsafeBytes(of: UInt32(padded.count)) { bytes += $0 }
            return bytes + padded
        }
        let deleteOther = event(mask: 0x200, name: "other")
        let deleteOurs = event(mask: 0x200, name: "ctr")
        XCTAssertFalse(NamespaceQuitWatcher.events(in: deleteOther[...], name: "ctr"))
        XCTAssertTrue(NamespaceQuitWatcher.events(in: (deleteOther + deleteOurs)[...], name: "ctr"))
        let all = deleteOther + deleteOurs
        for length in 0..<all.count { _ = NamespaceQuitWatcher.events(in: all[0..<length], name: "ctr") }
    }
}
