import XCTest
@testable import PastaCore

final class ArpResponderTests: XCTestCase {
    private let ourMAC = MACAddress("02:00:00:00:00:02")!
    private let guestMAC: [UInt8] = [0x52, 0x54, 0, 0x12, 0x34, 0x56]

    private func request(sender: [UInt8], target: [UInt8], operation: UInt8 = 1) -> [UInt8] {
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] + guestMAC + [0x08, 0x06]
            + [0, 1, 0x08, 0, 6, 4, 0, operation] + guestMAC + sender + [0, 0, 0, 0, 0, 0] + target
    }

    private func answer(_ frame: [UInt8], guestAddresses: [IPv4Address] = [IPv4Address(198, 51, 100, 2)]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 128)
        let length = frame.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { ArpResponder.reply(to: input, ourMAC: ourMAC, guestAddresses: guestAddresses, into: $0) }
        }
        return length.map { Array(out[0..<$0]) }
    }

    func testRequestForTheGatewayIsAnsweredWithOurMAC() throws {
        let reply = try XCTUnwrap(answer(request(sender: [198, 51, 100, 2], target: [198, 51, 100, 1])))
        XCTAssertEqual(reply.count, 42)
        XCTAssertEqual(Array(reply[0..<6]), guestMAC, "sent back to the asker")
        XCTAssertEqual(Array(reply[6..<12]), ourMAC.bytes)
        XCTAssertEqual(Array(reply[12..<14]), [0x08, 0x06])
        XCTAssertEqual(Array(reply[20..<22]), [0, 2], "operation: reply")
        XCTAssertEqual(Array(reply[22..<28]), ourMAC.bytes, "sender hardware address: ours")
        XCTAssertEqual(Array(reply[28..<32]), [198, 51, 100, 1], "sender protocol address: the one asked for")
        XCTAssertEqual(Array(reply[32..<38]), guestMAC)
        XCTAssertEqual(Array(reply[38..<42]), [198, 51, 100, 2])
    }

    func testProbesAnnouncementsAndRepliesAreNotAnswered() {
        XCTAssertNil(answer(request(sender: [0, 0, 0, 0], target: [198, 51, 100, 2])), "probe for the guest's address")
        XCTAssertNil(answer(request(sender: [0, 0, 0, 0], target: [198, 51, 100, 1]), guestAddresses: []),
                     "probe while the guest's address is unknown")
        XCTAssertNil(answer(request(sender: [0, 0, 0, 0], target: [198, 51, 100, 9]),
                            guestAddresses: [IPv4Address(198, 51, 100, 2), IPv4Address(198, 51, 100, 9)]),
                     "probe for the address the guest's packets show (a static one of its own)")
        XCTAssertNil(answer(request(sender: [198, 51, 100, 2], target: [198, 51, 100, 2])), "announcement")
        XCTAssertNil(answer(request(sender: [198, 51, 100, 2], target: [198, 51, 100, 1], operation: 2)), "reply")
    }

    func testAProbeForAnotherAddressIsAnsweredToTheProber() throws {
        let reply = try XCTUnwrap(answer(request(sender: [0, 0, 0, 0], target: [198, 51, 100, 1])))
        XCTAssertEqual(Array(reply[0..<6]), guestMAC, "sent back to the prober")
        XCTAssertEqual(Array(reply[20..<22]), [0, 2], "operation: reply")
        XCTAssertEqual(Array(reply[22..<28]), ourMAC.bytes, "the address is ours: in use")
        XCTAssertEqual(Array(reply[28..<32]), [198, 51, 100, 1])
        XCTAssertEqual(Array(reply[32..<38]), guestMAC)
        XCTAssertEqual(Array(reply[38..<42]), [0, 0, 0, 0], "target protocol address: the prober's, unset")
    }

    func testTruncationsAndMutationsNeverTrapOrAnswerMalformedFrames() {
        let valid = request(sender: [198, 51, 100, 2], target: [198, 51, 100, 1])
        for length in 0..<valid.count {
            XCTAssertNil(answer(Array(valid[0..<length])), "answered a frame cut at \(length)")
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10000 {
            var frame = valid
            let index = Int.random(in: 12..<22, using: &generator)  // ethertype and the fixed ARP header
            let value = UInt8.random(in: 0...255, using: &generator)
            if frame[index] == value { continue }
            frame[index] = value
            XCTAssertNil(answer(frame), "answered a frame with byte \(index) = \(value)")
        }
    }
}
