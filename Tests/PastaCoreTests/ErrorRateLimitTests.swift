import XCTest
@testable import PastaCore

/// The ICMP error budget on a virtual clock: a burst, then the rate, whatever the pace of the asking.
final class ErrorRateLimitTests: XCTestCase {
    /// How many of the requests, one every `interval` ms from `start` for `duration` ms, were granted.
    private func granted(_ limit: inout ErrorRateLimit, from start: Int, every interval: Int, for duration: Int) -> Int {
        stride(from: start, to: start + duration, by: interval).filter { limit.take(now: $0) }.count
    }

    func testABurstThenNothingUntilTimePasses() {
        var limit = ErrorRateLimit(perSecond: 100, burst: 20)
        XCTAssertEqual((0..<50).filter { _ in limit.take(now: 5) }.count, 20, "the burst, at one instant")
        XCTAssertFalse(limit.take(now: 9), "less than one token earned")
        XCTAssertTrue(limit.take(now: 15), "one earned after 10 ms")
    }

    func testTheRateHoldsAtAnyPaceOfAsking() {
        // A pace that earns 0.7 tokens between requests: dropping the leftover each time would give ~71 a
        // second. A caller slower than the rate gets every request.
        for interval in [1, 3, 7, 15, 25] {
            var limit = ErrorRateLimit(perSecond: 100, burst: 20)
            _ = granted(&limit, from: 0, every: 1, for: 1)  // the first request at 0
            while limit.take(now: 0) {}                     // the burst spent
            let second = granted(&limit, from: interval, every: interval, for: 10_000)
            let expected = min(10_000 / interval, 1000)
            XCTAssertEqual(Double(second), Double(expected), accuracy: 2, "interval \(interval) ms, over 10 s")
        }
    }

    func testAFullBucketSavesNoMoreThanTheBurst() {
        var limit = ErrorRateLimit(perSecond: 100, burst: 20)
        XCTAssertEqual((0..<100).filter { _ in limit.take(now: 60_000) }.count, 20, "after a quiet minute")
    }
}
