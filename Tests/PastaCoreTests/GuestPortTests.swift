import XCTest
@testable import PastaCore

final class GuestPortTests: XCTestCase {
    private let frame: [UInt8] = Array(repeating: 7, count: 60)

    func testAFullBackendRefusesUntilItDrains() throws {
        let port = GuestPort(poll: try EventPoll(), pcap: nil)
        let backend = CapturingBackend(room: 2)
        try port.attach(backend)
        let views = Array(repeating: frame, count: 3)
        let taken = views.map { f in f.withUnsafeBytes { port.send($0) } }
        XCTAssertEqual(taken, [true, true, false])
        XCTAssertTrue(port.isFull)
        XCTAssertFalse(frame.withUnsafeBytes { port.send($0) }, "nothing is offered while full")
        XCTAssertFalse(port.writable(), "the backend has no room yet")
        backend.room = 5
        XCTAssertTrue(port.writable())
        XCTAssertFalse(port.isFull)
        XCTAssertTrue(frame.withUnsafeBytes { port.send($0) })
        XCTAssertEqual(backend.frames.count, 3)
    }

    func testWithoutAGuestFramesAreLostNotHeld() throws {
        let port = GuestPort(poll: try EventPoll(), pcap: nil)
        XCTAssertTrue(frame.withUnsafeBytes { port.send($0) })
        XCTAssertFalse(port.isFull)
    }

    func testTheGuestMACIsLearnedOnceAndForgottenWithTheGuest() throws {
        let port = GuestPort(poll: try EventPoll(), pcap: nil)
        try port.attach(CapturingBackend())
        let ours = try XCTUnwrap(MACAddress(bytes: [2, 0, 0, 0, 0, 1]))
        let guest: [UInt8] = [0x52, 0x54, 0, 0x12, 0x34, 0x56]
        let bytes = [UInt8](repeating: 0xFF, count: 6) + guest + [0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        let learned = bytes.withUnsafeBytes { port.learn(from: EthernetFrame($0)!, ours: ours) }
        XCTAssertEqual(learned?.bytes, guest)
        XCTAssertNil(bytes.withUnsafeBytes { port.learn(from: EthernetFrame($0)!, ours: ours) }, "not new")
        XCTAssertEqual(port.guestMAC, guest)
        port.detach()
        XCTAssertEqual(port.guestMAC, ReplyFrame.broadcastMAC)
    }
}
