import Glibc
import XCTest
@testable import PastaCore

final class SegmentRunTests: XCTestCase {
    private func runs(_ lengths: [Int]) -> [Int] {
        lengths.withUnsafeBufferPointer { buffer in
            var result: [Int] = []
            var index = 0
            while index < lengths.count {
                let run = SegmentRun.length(buffer.baseAddress!, count: lengths.count, from: index)
                XCTAssertGreaterThan(run, 0)
                result.append(run)
                index += run
            }
            return result
        }
    }

    func testEqualSizesGoTogetherAndOnlyTheLastMayBeShorter() {
        XCTAssertEqual(runs([1400, 1400, 1400, 700, 1400, 1400]), [4, 2])
        XCTAssertEqual(runs([100, 200, 200, 50]), [1, 3])
        XCTAssertEqual(runs([1400]), [1])
        XCTAssertEqual(runs([]), [])
    }

    func testEmptyDatagramsNeverJoinARun() {
        XCTAssertEqual(runs([0, 0, 1400, 0, 1400]), [1, 1, 1, 1, 1])
    }

    func testARunStaysWithinTheSegmentAndByteLimits() {
        XCTAssertEqual(runs(Array(repeating: 100, count: 150)), [64, 64, 22])
        // 45 x 1400 + 1400 would pass 65,487 bytes: 46 fit (64,400), the 47th starts the next run.
        XCTAssertEqual(runs(Array(repeating: 1400, count: 50)), [46, 4])
        XCTAssertEqual(runs([40000, 40000]), [1, 1])
    }

    func testMutatedLengthsAlwaysMakeRunsThatAddUp() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let lengths = (0..<Int.random(in: 0...80, using: &random)).map { _ in
                Bool.random(using: &random) ? 1400 : Int.random(in: 0...65_535, using: &random)
            }
            lengths.withUnsafeBufferPointer { buffer in
                var index = 0
                while index < lengths.count {
                    let run = SegmentRun.length(buffer.baseAddress!, count: lengths.count, from: index)
                    let part = lengths[index..<(index + run)]
                    if run > 1 {
                        XCTAssertLessThanOrEqual(part.reduce(0, +), SegmentRun.maximumBytes)
                        XCTAssertLessThanOrEqual(run, SegmentRun.maximumSegments)
                        XCTAssertTrue(part.dropLast().allSatisfy { $0 == part.first }, "\(Array(part))")
                        XCTAssertTrue((1...part.first!).contains(part.last!))
                    }
                    index += run
                }
            }
        }
    }

    /// Through a real loopback socket: what a flush sends arrives as the same datagrams, in order, whether
    /// a run went out segmented or one by one.
    func testAFlushDeliversTheSameDatagrams() throws {
        let receiver = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(receiver); close(sender) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                XCTAssertEqual(bind(receiver, raw, length), 0)
                XCTAssertEqual(getsockname(receiver, raw, &length), 0)
                XCTAssertEqual(connect(sender, raw, length), 0)
            }
            _ = try XCTUnwrap(Optional(pointer))
        }
        var size: Int32 = 4 << 20
        setsockopt(receiver, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let sizes = Array(repeating: 1400, count: 50) + [700, 100, 100, 3, 0, 1400, 1400]
        let payloads = sizes.enumerated().map { index, size in (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) } }
        let queue = DatagramQueue(capacity: 64)
        let buffers = payloads.map { payload -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(payload.count, 1), alignment: 1)
            buffer.copyBytes(from: payload)
            return buffer
        }
        defer { buffers.forEach { $0.deallocate() } }
        for (buffer, payload) in zip(buffers, payloads) {
            queue.append(UnsafeRawBufferPointer(rebasing: buffer[0..<payload.count]), on: sender)
        }
        queue.flush()
        var got: [[UInt8]] = []
        var incoming = [UInt8](repeating: 0, count: 65536)
        while got.count < payloads.count {
            let n = incoming.withUnsafeMutableBytes { recv(receiver, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 { break }
            got.append(Array(incoming[0..<n]))
        }
        XCTAssertEqual(got.map(\.count), sizes)
        XCTAssertEqual(got, payloads)
    }
}
