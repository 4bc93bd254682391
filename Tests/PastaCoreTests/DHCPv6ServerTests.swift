import XCTest
@testable import PastaCore

final class DHCPv6ServerTests: XCTestCase {
    private let client = IPv6Address("fe80::5054:ff:fe12:3456")!
    private let clientDUID: [UInt8] = [0, 1, 0, 1, 0x2A, 0x2B, 0x2C, 0x2D] + FrameFixtures.guestMAC.bytes
    private let serverDUID: [UInt8] = [0, 3, 0, 1] + FrameFixtures.ourMAC.bytes

    private func option(_ code: UInt16, _ body: [UInt8]) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF), UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    private var identityAssociation: [UInt8] { option(3, [0xF5, 0xB1, 0x22, 0xF6] + [UInt8](repeating: 0, count: 8)) }

    private func message(_ type: UInt8, _ options: [UInt8]) -> [UInt8] {
        FrameFixtures.udp6([type, 0xAB, 0xCD, 0xEF] + options, source: client,
                           destination: DHCPv6Server.allServersAndRelays, sourcePort: 546, destinationPort: 547)
    }

    private func service(_ settings: ServiceSettings) -> FrameFixtures.Service {
        { DHCPv6Server.reply(to: $0, settings: settings, into: $1) }
    }

    /// The reply's message type and options by code, after checking the frame around it.
    private func parse(_ reply: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> (UInt8, [UInt16: [UInt8]]) {
        XCTAssertTrue(FrameFixtures.checksumsValid(reply), file: file, line: line)
        XCTAssertEqual(Array(reply[0..<6]), FrameFixtures.guestMAC.bytes, file: file, line: line)
        XCTAssertEqual(IPv6Address(bytes: reply[22..<38]), IPv6Address("fe80::ff:fe00:2"), file: file, line: line)
        XCTAssertEqual(IPv6Address(bytes: reply[38..<54]), client, file: file, line: line)
        XCTAssertEqual(Array(reply[54..<58]), [2, 35, 2, 34], "547 -> 546", file: file, line: line)
        let message = Array(reply[ReplyFrame.udp6PayloadOffset...])
        XCTAssertEqual(Array(message[1..<4]), [0xAB, 0xCD, 0xEF], "transaction ID", file: file, line: line)
        var options: [UInt16: [UInt8]] = [:]
        var index = 4
        while index + 4 <= message.count {
            let code = UInt16(message[index]) << 8 | UInt16(message[index + 1])
            let length = Int(message[index + 2]) << 8 | Int(message[index + 3])
            options[code] = Array(message[index + 4..<index + 4 + length])
            index += 4 + length
        }
        XCTAssertEqual(index, message.count, "options fill the message exactly", file: file, line: line)
        return (message[0], options)
    }

    private func assertAddress(_ options: [UInt16: [UInt8]], file: StaticString = #filePath, line: UInt = #line) {
        guard let ia = options[3] else { return XCTFail("no IA_NA", file: file, line: line) }
        XCTAssertEqual(Array(ia[0..<4]), [0xF5, 0xB1, 0x22, 0xF6], "the client's IAID", file: file, line: line)
        XCTAssertEqual(Array(ia[12..<16]), [0, 5, 0, 24], "IAADDR option", file: file, line: line)
        XCTAssertEqual(IPv6Address(bytes: ia[16..<32]), IPv6Address("2001:db8:1::2"), file: file, line: line)
    }

    func testSolicitGetsAnAdvertiseWithTheAddressAndDNS() throws {
        let reply = try XCTUnwrap(FrameFixtures.run(service(try ServiceFixtures.settings()),
                                                     message(1, option(1, clientDUID) + identityAssociation + option(8, [0, 0]))).1)
        let (type, options) = parse(reply)
        XCTAssertEqual(type, 2, "ADVERTISE")
        XCTAssertEqual(options[1], clientDUID)
        XCTAssertEqual(options[2], serverDUID)
        assertAddress(options)
        XCTAssertEqual(options[23], IPv6Address("2001:db8:1::53")!.bytes)
        XCTAssertEqual(options[24], [3] + Array("lab".utf8) + [7] + Array("example".utf8) + [0])
        XCTAssertNil(options[14])
    }

    func testRapidCommitGetsAReplyStraightAway() throws {
        let reply = try XCTUnwrap(FrameFixtures.run(service(try ServiceFixtures.settings()),
                                                     message(1, option(1, clientDUID) + identityAssociation + option(14, []))).1)
        let (type, options) = parse(reply)
        XCTAssertEqual(type, 7, "REPLY")
        XCTAssertEqual(options[14], [])
        assertAddress(options)
    }

    func testRequestRenewRebindAndConfirm() throws {
        let settings = try ServiceFixtures.settings()
        for type: UInt8 in [3, 5] {
            let reply = try XCTUnwrap(FrameFixtures.run(service(settings),
                                                         message(type, option(1, clientDUID) + option(2, serverDUID) + identityAssociation)).1)
            let (replyType, options) = parse(reply)
            XCTAssertEqual(replyType, 7)
            assertAddress(options)
        }
        let rebind = try XCTUnwrap(FrameFixtures.run(service(settings), message(6, option(1, clientDUID) + identityAssociation)).1)
        assertAddress(parse(rebind).1)
        let confirm = try XCTUnwrap(FrameFixtures.run(service(settings), message(4, option(1, clientDUID) + identityAssociation)).1)
        XCTAssertEqual(parse(confirm).1[13], [0, 0], "status: success")
    }

    func testInformationRequestGetsOnlyDNS() throws {
        let reply = try XCTUnwrap(FrameFixtures.run(service(try ServiceFixtures.settings()), message(11, option(1, clientDUID))).1)
        let (type, options) = parse(reply)
        XCTAssertEqual(type, 7)
        XCTAssertNil(options[3])
        XCTAssertNotNil(options[23])
    }

    func testMessagesForOtherServersOrBrokenRulesAreDropped() throws {
        let settings = try ServiceFixtures.settings()
        let otherServer = option(2, [0, 3, 0, 1, 1, 2, 3, 4, 5, 6])
        let cases: [(String, [UInt8])] = [
            ("request for another server", message(3, option(1, clientDUID) + otherServer + identityAssociation)),
            ("request naming no server", message(3, option(1, clientDUID) + identityAssociation)),
            ("solicit naming a server", message(1, option(1, clientDUID) + option(2, serverDUID) + identityAssociation)),
            ("solicit without a client ID", message(1, identityAssociation)),
            ("advertise from a client", message(2, option(1, clientDUID))),
            ("unknown type", message(99, option(1, clientDUID))),
            ("IA_NA too short", message(1, option(1, clientDUID) + option(3, [1, 2, 3]))),
            ("rapid commit with a body", message(1, option(1, clientDUID) + option(14, [1]))),
        ]
        for (name, frame) in cases {
            XCTAssertNil(FrameFixtures.run(service(settings), frame).1, name)
        }
        XCTAssertNil(FrameFixtures.run(service(try ServiceFixtures.settings(["--no-dhcpv6"])),
                                       message(1, option(1, clientDUID) + identityAssociation)).1)
    }

    func testMalformedRequestsAreNeverAnswered() throws {
        let settings = try ServiceFixtures.settings()
        let options = option(1, clientDUID) + identityAssociation + option(8, [0, 0])
        FrameFixtures.fuzz(service(settings), valid: message(1, options))
        // Cut inside an option (between option boundaries), with correct UDP framing around it.
        let boundaries: Set<Int> = [0, 4 + clientDUID.count, 4 + clientDUID.count + identityAssociation.count, options.count]
        for length in 0..<options.count where !boundaries.contains(length) {
            XCTAssertNil(FrameFixtures.run(service(settings), message(1, Array(options[0..<length]))).1, "cut at \(length)")
        }
    }
}
