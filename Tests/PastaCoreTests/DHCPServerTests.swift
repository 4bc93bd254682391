import XCTest
@testable import PastaCore

final class DHCPServerTests: XCTestCase {
    private func message(type: UInt8, flags: UInt16 = 0x8000, clientAddress: [UInt8] = [0, 0, 0, 0],
                         options: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = [1, 1, 6, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, UInt8(flags >> 8), UInt8(flags & 0xFF)]
        bytes += clientAddress + [UInt8](repeating: 0, count: 12)
        bytes += FrameFixtures.guestMAC.bytes + [UInt8](repeating: 0, count: 10 + 64 + 128)
        bytes += [0x63, 0x82, 0x53, 0x63, 53, 1, type] + options + [55, 4, 1, 3, 6, 26, 255]
        return bytes
    }

    private func frame(_ message: [UInt8], source: IPv4Address = .any) -> [UInt8] {
        FrameFixtures.udp4(message, source: source, sourcePort: 68, destinationPort: 67)
    }

    private func service(_ settings: ServiceSettings) -> FrameFixtures.Service {
        { DHCPServer.reply(to: $0, settings: settings, into: $1) }
    }

    /// The reply's DHCP options by code (repeated codes concatenated, RFC 3396), after checking the frame.
    private func options(of reply: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> [UInt8: [UInt8]] {
        XCTAssertTrue(FrameFixtures.checksumsValid(reply), "reply checksums", file: file, line: line)
        let message = Array(reply[ReplyFrame.udp4PayloadOffset...])
        XCTAssertEqual(Array(message[0..<8]), [2, 1, 6, 0, 0x12, 0x34, 0x56, 0x78], file: file, line: line)
        XCTAssertEqual(Array(message[236..<240]), [0x63, 0x82, 0x53, 0x63], file: file, line: line)
        XCTAssertGreaterThanOrEqual(message.count, 300, "BOOTP minimum length", file: file, line: line)
        var result: [UInt8: [UInt8]] = [:]
        var index = 240
        while index < message.count, message[index] != 255 {
            if message[index] == 0 { index += 1; continue }
            let length = Int(message[index + 1])
            result[message[index], default: []] += message[index + 2..<index + 2 + length]
            index += 2 + length
        }
        return result
    }

    func testDiscoverGetsAnOfferWithTheWholeConfiguration() throws {
        let (_, reply) = FrameFixtures.run(service(try ServiceFixtures.settings()), frame(message(type: 1)))
        let offer = try XCTUnwrap(reply)
        XCTAssertEqual(Array(offer[0..<6]), ReplyFrame.broadcastMAC, "broadcast flag honoured")
        XCTAssertEqual(Array(offer[6..<12]), FrameFixtures.ourMAC.bytes)
        XCTAssertEqual(Array(offer[26..<34]), [198, 51, 100, 1, 255, 255, 255, 255], "from the router to broadcast")
        XCTAssertEqual(Array(offer[34..<38]), [0, 67, 0, 68])
        XCTAssertEqual(Array(offer[42 + 16..<42 + 20]), [198, 51, 100, 2], "yiaddr")
        XCTAssertEqual(Array(offer[42 + 28..<42 + 34]), FrameFixtures.guestMAC.bytes, "chaddr")
        let found = options(of: offer)
        XCTAssertEqual(found[53], [2], "OFFER")
        XCTAssertEqual(found[54], [198, 51, 100, 1])
        XCTAssertEqual(found[51], [0, 1, 0x51, 0x80])
        XCTAssertEqual(found[1], [255, 255, 255, 0])
        XCTAssertEqual(found[3], [198, 51, 100, 1])
        XCTAssertEqual(found[6], [198, 51, 100, 53])
        XCTAssertEqual(found[26], [0x05, 0xDC])
        XCTAssertEqual(found[119], [3] + Array("lab".utf8) + [7] + Array("example".utf8) + [0])
    }

    func testUnicastWithoutTheBroadcastFlag() throws {
        let (_, reply) = FrameFixtures.run(service(try ServiceFixtures.settings()), frame(message(type: 1, flags: 0)))
        let offer = try XCTUnwrap(reply)
        XCTAssertEqual(Array(offer[0..<6]), FrameFixtures.guestMAC.bytes)
        XCTAssertEqual(Array(offer[30..<34]), [198, 51, 100, 2])
    }

    func testRequestIsAcknowledgedOnlyForOurAddressAndOurServer() throws {
        let settings = try ServiceFixtures.settings()
        let ours = message(type: 3, options: [50, 4, 198, 51, 100, 2, 54, 4, 198, 51, 100, 1])
        XCTAssertEqual(options(of: try XCTUnwrap(FrameFixtures.run(service(settings), frame(ours)).1))[53], [5])

        let other = message(type: 3, options: [50, 4, 198, 51, 100, 9])
        let nak = try XCTUnwrap(FrameFixtures.run(service(settings), frame(other)).1)
        XCTAssertEqual(options(of: nak)[53], [6])
        XCTAssertNil(options(of: nak)[1], "a NAK carries no configuration")
        XCTAssertEqual(Array(nak[30..<34]), [255, 255, 255, 255], "NAKs are broadcast")

        let elsewhere = message(type: 3, options: [50, 4, 198, 51, 100, 2, 54, 4, 198, 51, 100, 99])
        XCTAssertNil(FrameFixtures.run(service(settings), frame(elsewhere)).1, "the client chose another server")

        let renewing = message(type: 3, flags: 0, clientAddress: [198, 51, 100, 2])
        let ack = try XCTUnwrap(FrameFixtures.run(service(settings), frame(renewing, source: IPv4Address(198, 51, 100, 2))).1)
        XCTAssertEqual(Array(ack[30..<34]), [198, 51, 100, 2], "unicast to the renewing client")
    }

    func testInformGetsParametersWithoutALease() throws {
        let inform = message(type: 8, flags: 0, clientAddress: [198, 51, 100, 2])
        let ack = try XCTUnwrap(FrameFixtures.run(service(try ServiceFixtures.settings()),
                                                   frame(inform, source: IPv4Address(198, 51, 100, 2))).1)
        let found = options(of: ack)
        XCTAssertEqual(found[53], [5])
        XCTAssertNil(found[51], "no lease time")
        XCTAssertEqual(Array(ack[42 + 16..<42 + 20]), [0, 0, 0, 0], "no yiaddr")
        XCTAssertEqual(found[3], [198, 51, 100, 1])
    }

    func testReleaseDeclineAndServerMessagesAreNotAnswered() throws {
        let settings = try ServiceFixtures.settings()
        for type: UInt8 in [2, 4, 5, 6, 7] {
            XCTAssertNil(FrameFixtures.run(service(settings), frame(message(type: type))).1, "type \(type)")
        }
    }

    func testOptionsThatAreOffStayOut() throws {
        let settings = try ServiceFixtures.settings(replacing: ["-a", "198.51.100.2", "-g", "198.51.100.1",
                                                                "-D", "198.51.100.53", "-m", "0"])
        let found = options(of: try XCTUnwrap(FrameFixtures.run(service(settings), frame(message(type: 1))).1))
        XCTAssertNil(found[6], "pasta hands out DNS only with --dhcp-dns")
        XCTAssertNil(found[119], "and the search list only with --dhcp-search")
        XCTAssertNil(found[26], "-m 0 disables the MTU option")
        XCTAssertEqual(found[1], [255, 255, 255, 0], "classful mask of 198.51.100.2")
    }

    func testDisabledServerDropsRequests() throws {
        let (outcome, reply) = FrameFixtures.run(service(try ServiceFixtures.settings(["--no-dhcp"])), frame(message(type: 1)))
        XCTAssertNil(reply)
        XCTAssertEqual(outcome, .dropped("DHCP is disabled"))
    }

    func testLongSearchListsAreSplitAndOnlySentWhenTheyFit() throws {
        let domains = (0..<30).map { "domain-number-\($0).example-\($0).test" }
        let settings = try ServiceFixtures.settings(["-S", domains.joined(separator: " ")])
        XCTAssertGreaterThan(settings.searchListCompressed.count, 255)
        let small = options(of: try XCTUnwrap(FrameFixtures.run(service(settings), frame(message(type: 1))).1))
        XCTAssertNil(small[119], "does not fit 576 bytes")
        let large = message(type: 1, options: [57, 2, 0x05, 0xDC])
        let reply = try XCTUnwrap(FrameFixtures.run(service(settings), frame(large)).1)
        XCTAssertEqual(options(of: reply)[119], settings.searchListCompressed, "pieces concatenate (RFC 3396)")
        XCTAssertLessThanOrEqual(reply.count - 14, 1500)
    }

    func testMalformedRequestsAreNeverAnswered() throws {
        let settings = try ServiceFixtures.settings()
        let valid = message(type: 3, options: [50, 4, 198, 51, 100, 2])
        FrameFixtures.fuzz(service(settings), valid: frame(valid))
        // Well-framed UDP around a cut DHCP message: the End option is missing, or fields are.
        for length in 0..<valid.count {
            XCTAssertNil(FrameFixtures.run(service(settings), frame(Array(valid[0..<length]))).1, "message cut at \(length)")
        }
        // Option lengths that run past the end.
        var overrun = valid
        overrun[overrun.count - 6] = 200  // the parameter list's length
        XCTAssertNil(FrameFixtures.run(service(settings), frame(overrun)).1)
    }
}
