import XCTest
@testable import PastaCore

final class TCPAckDelayTests: XCTestCase {
    private func rule(unacknowledged: UInt32, interactive: Bool = true, segmentSize: Int = 65480,
                      largestWindow: UInt32 = 4 << 20) -> TCPAckDelay {
        TCPAckDelay(unacknowledged: unacknowledged, interactive: interactive, segmentSize: segmentSize,
                    largestWindow: largestWindow, heldBack: false, guestFinished: false)
    }

    func testASmallRequestInAnExchangeWaitsForTheReply() {
        XCTAssertTrue(rule(unacknowledged: 100).mayWait)
    }

    func testAStreamIsAcknowledgedAtOnce() {
        XCTAssertFalse(rule(unacknowledged: 100, interactive: false).mayWait)
    }

    /// Behind a host socket whose send buffer stays at 69,120 bytes, a Linux guest sends segments of half
    /// that window: each is a full segment to it, and waiting for our ACK would stall it once per window.
    func testHalfTheLargestWindowIsAFullSegment() {
        let small = rule(unacknowledged: 34560, largestWindow: 69120)
        XCTAssertEqual(small.fullSegment, 34560)
        XCTAssertFalse(small.mayWait)
        XCTAssertTrue(rule(unacknowledged: 34559, largestWindow: 69120).mayWait)
        XCTAssertEqual(rule(unacknowledged: 1, segmentSize: 1460).fullSegment, 1460)
    }

    func testNothingNewOrAFullSegmentIsNotDelayed() {
        XCTAssertFalse(rule(unacknowledged: 0).mayWait)
        XCTAssertFalse(rule(unacknowledged: 65480).mayWait)
    }

    func testHeldBackDataOrAFinIsAcknowledgedAtOnce() {
        var held = rule(unacknowledged: 10)
        held.heldBack = true
        XCTAssertFalse(held.mayWait)
        var finished = rule(unacknowledged: 10)
        finished.guestFinished = true
        XCTAssertFalse(finished.mayWait)
    }

    func testNoWindowYetFallsBackToTheSegmentSize() {
        XCTAssertEqual(rule(unacknowledged: 1, segmentSize: 1460, largestWindow: 0).fullSegment, 1460)
    }
}
