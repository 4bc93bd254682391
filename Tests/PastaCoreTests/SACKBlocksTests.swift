import XCTest
@testable import PastaCore

final class SACKBlocksTests: XCTestCase {
    private func blocks(_ held: [(UInt32, Int)], above ack: UInt32, limit: Int = 4) -> [[UInt32]] {
        SACKBlocks.covering(held.map { (sequence: $0.0, length: $0.1) }, above: ack, limit: limit).map { [$0.left, $0.right] }
    }

    func testAdjoiningAndOverlappingSegmentsMakeOneBlock() {
        XCTAssertEqual(blocks([(2000, 500), (2500, 500), (2800, 400)], above: 1000), [[2000, 3200]])
        XCTAssertEqual(blocks([(2000, 500), (3000, 500), (5000, 100)], above: 1000), [[2000, 2500], [3000, 3500], [5000, 5100]])
        XCTAssertEqual(blocks([(2000, 1000), (2100, 100)], above: 1000), [[2000, 3000]], "one inside another")
    }

    func testOnlyWhatLiesAboveTheAcknowledgmentIsReported() {
        XCTAssertEqual(blocks([(500, 400), (1000, 100), (900, 300), (1500, 10)], above: 1000), [[1500, 1510]],
                       "below, at and straddling the acknowledgment: that data goes to the socket next")
        XCTAssertEqual(blocks([(3000, 0), (4000, 10)], above: 1000), [[4000, 4010]], "an empty segment")
        XCTAssertEqual(blocks([], above: 1000), [])
    }

    func testAtMostTheLimit() {
        let held = (0..<6).map { (UInt32(2000 + $0 * 1000), 100) }
        XCTAssertEqual(blocks(held, above: 1000).count, 4)
        XCTAssertEqual(blocks(held, above: 1000).first, [2000, 2100], "the lowest first: the holes nearest the ACK")
        XCTAssertEqual(blocks(held, above: 1000, limit: 3).count, 3)
    }

    func testAcrossTheSequenceWrap() {
        XCTAssertEqual(blocks([(0xFFFF_FF00, 0x100), (0, 0x80)], above: 0xFFFF_F000), [[0xFFFF_FF00, 0x80]])
    }

    /// Whatever is held: blocks lie above the acknowledgment, in order, apart from each other, each one
    /// non-empty and made of held bytes only.
    func testRandomHoldingsGiveOrderedDisjointBlocks() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let ack = UInt32.random(in: 0...UInt32.max, using: &generator)
            var sequence = ack &- UInt32.random(in: 0...3000, using: &generator)
            var held: [(UInt32, Int)] = []
            for _ in 0..<Int.random(in: 0...12, using: &generator) {
                let length = Int.random(in: 0...1500, using: &generator)
                held.append((sequence, length))
                sequence = sequence &+ UInt32.random(in: 0...2000, using: &generator)
            }
            let found = SACKBlocks.covering(held.map { (sequence: $0.0, length: $0.1) }, above: ack)
            XCTAssertLessThanOrEqual(found.count, 4)
            var previousRight: UInt32?
            for block in found {
                XCTAssertTrue(sequenceLess(ack, block.left))
                XCTAssertTrue(sequenceLess(block.left, block.right))
                if let previous = previousRight { XCTAssertTrue(sequenceLess(previous, block.left)) }
                previousRight = block.right
                XCTAssertTrue(held.contains { $0.0 == block.left && $0.1 > 0 }, "a block starts where a held segment does")
                XCTAssertTrue(held.contains { $0.0 &+ UInt32($0.1) == block.right && $0.1 > 0 }, "and ends where one does")
            }
        }
    }
}
