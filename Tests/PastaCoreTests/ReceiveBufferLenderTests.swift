import XCTest
@testable import PastaCore

/// Lending the guest's receive chains for frames (ReceiveBufferLender, FrameLoan) over a ring in test
/// memory laid out as a Linux driver's: what is lent, what the used ring says once settled, what goes back.
final class ReceiveBufferLenderTests: XCTestCase {
    static let base: UInt64 = 0x10_0000
    static let span = 4 << 20
    /// virtio_net_hdr_v1, and an IPv4 TCP frame's headers.
    static let headerSize = 12
    static let headerLength = TCPFrameWriter.payloadOffset(ipv4: true)

    private var image: TestGuestImage!
    private var driver: TestRingDriver!
    private let lender = ReceiveBufferLender(headerSize: ReceiveBufferLenderTests.headerSize)
    private let loan = FrameLoan()

    private func ring(size: Int = 64, chains: Int, bytes: UInt32 = 4096) -> SplitVirtqueue {
        image = TestGuestImage(base: Self.base, count: Self.span)
        driver = TestRingDriver(memory: image, base: Self.base, span: Self.span, size: size)
        for _ in 0..<chains { driver.addChain([(bytes, true)]) }
        return driver.queue()
    }

    private func lend(_ queue: SplitVirtqueue, bytes: Int, limit: Int = 65_000) -> ReceiveBufferLender.Outcome {
        lender.lend(loan, from: queue, headerLength: Self.headerLength, payloadLimit: limit, bytes: bytes)
    }

    /// What a peek of `count` bytes does: the pattern's bytes into the parts, in order.
    private func peek(_ count: Int) -> Int {
        var offset = 0
        for part in loan.payloadParts where offset < count {
            let piece = min(part.count, count - offset)
            for index in 0..<piece { part[index] = Self.pattern(offset + index) }
            offset += piece
        }
        return loan.fill(offset)
    }

    private static func pattern(_ offset: Int) -> UInt8 { UInt8(truncatingIfNeeded: offset &* 7 &+ offset >> 8) }

    /// Headers as the engine writes them: enough for the lender to tell IPv4.
    private func writeHeaders(_ frames: Int) {
        for frame in 0..<frames {
            let header = loan.header(frame)
            header.initializeMemory(as: UInt8.self, repeating: 0xEE)
            header[12] = 0x08
            header[13] = 0x00
        }
    }

    private func settle(_ frames: Int, _ queue: SplitVirtqueue) {
        lender.settle(loan, frames: frames, to: queue, segmentPayload4: 1460, segmentPayload6: 1440)
        queue.publishUsed()
    }

    /// The bytes a used entry's chain holds (one buffer each in these rings): `length` from its start.
    private func usedBytes(_ position: UInt16) -> (head: Int, bytes: [UInt8]) {
        let element = driver.usedElement(position)
        let entry = driver.descriptorTable + UInt64(16 * Int(element.id))
        let address = UInt64(driver.read32(entry)) | UInt64(driver.read32(entry + 4)) << 32
        let start = driver.host(address, Int(element.length))
        return (Int(element.id), Array(UnsafeRawBufferPointer(start: start, count: Int(element.length))))
    }

    func testFramesSpanChainsAndTheirHeadersSayHow() {
        let queue = ring(chains: 10)
        XCTAssertEqual(lend(queue, bytes: 12_000, limit: 10_000), .lent)
        XCTAssertEqual(loan.frameCount, 2)
        XCTAssertEqual(loan.capacity, 12_000)
        // Frame 0: 4030 bytes after the headers in its first chain, 4096, then 1874 of the third; frame 1: 2000.
        XCTAssertEqual(loan.payloadParts.map(\.count), [4030, 4096, 1874, 2000])
        XCTAssertEqual(peek(11_000), 2)
        XCTAssertEqual([loan.payloadLength(0), loan.payloadLength(1)], [10_000, 1000])
        writeHeaders(2)
        settle(2, queue)

        XCTAssertEqual(driver.usedIndex, 4)
        let used = (0..<4).map { usedBytes(UInt16($0)) }
        XCTAssertEqual(used.map(\.head), [0, 1, 2, 3])
        XCTAssertEqual(used.map(\.bytes.count), [4096, 4096, 66 + 10_000 - 8192, 66 + 1000])
        // Frame 0's virtio-net header: partial checksum from byte 34 (+16), TSO for IPv4 in 1460-byte
        // pieces after 54 bytes of headers, three buffers.
        let header = used[0].bytes
        XCTAssertEqual(Array(header[0..<12]), [1, 1, 54, 0, 0xB4, 0x05, 34, 0, 16, 0, 3, 0])
        XCTAssertEqual(header[12 + 12], 0x08)
        XCTAssertEqual(used[3].bytes[10], 1, "frame 1 is one buffer")
        // The payload reads back whole across the chains, in order.
        let frame0 = Array(used[0].bytes[66...]) + used[1].bytes + used[2].bytes
        let frame1 = Array(used[3].bytes[66...])
        XCTAssertEqual(frame0 + frame1, (0..<11_000).map(Self.pattern))
        // The six chains not lent are still the guest's to offer.
        XCTAssertEqual(queue.nextAvailable, 4)
        XCTAssertEqual(queue.availableCount, 6)
    }

    func testWhatThePeekDidNotFillGoesBackUntouched() {
        let queue = ring(chains: 8)
        XCTAssertEqual(lend(queue, bytes: 20_000, limit: 8000), .lent)
        XCTAssertEqual(loan.frameCount, 3)
        XCTAssertEqual(peek(500), 1)
        writeHeaders(1)
        settle(1, queue)
        XCTAssertEqual(driver.usedIndex, 1)
        XCTAssertEqual(usedBytes(0).bytes.count, 566)
        XCTAssertEqual(usedBytes(0).bytes[10], 1)
        // No TSO for a frame within the MTU: just the partial checksum.
        XCTAssertEqual(Array(usedBytes(0).bytes[0..<6]), [1, 0, 0, 0, 0, 0])
        XCTAssertEqual(queue.nextAvailable, 1, "the unfilled chains went back to the available ring")
        // Nothing filled at all: every chain goes back.
        XCTAssertEqual(lend(queue, bytes: 9000), .lent)
        settle(0, queue)
        XCTAssertEqual(driver.usedIndex, 1)
        XCTAssertEqual(queue.nextAvailable, 1)
    }

    func testAnEmptyRingAsksForAKick() {
        image = TestGuestImage(base: Self.base, count: Self.span)
        driver = TestRingDriver(memory: image, base: Self.base, span: Self.span, size: 16)
        let queue = driver.queue(eventIndex: true)
        XCTAssertEqual(lend(queue, bytes: 1000), .empty)
        XCTAssertEqual(loan.frameCount, 0)
        XCTAssertEqual(driver.availableEvent, 0, "kick me when the available index passes 0")
    }

    func testARingThatRunsOutMidFrameLendsWhatItHas() {
        let queue = ring(chains: 2)
        XCTAssertEqual(lend(queue, bytes: 60_000), .lent)
        XCTAssertEqual(loan.frameCount, 1)
        XCTAssertEqual(loan.capacity, 4030 + 4096)
    }

    func testAFirstBufferTooSmallForTheHeadersIsNotLent() {
        let queue = ring(chains: 1)
        driver.addChain([(12, true), (4096, true)])  // the virtio-net header in a buffer of its own
        XCTAssertEqual(lend(queue, bytes: 10_000, limit: 4000), .lent, "the first chain is lent")
        XCTAssertEqual(loan.frameCount, 1)
        settle(0, queue)
        _ = queue.next(into: DescriptorChain())  // as `send` would take the first
        queue.use(head: 0, written: 0)
        XCTAssertEqual(lend(queue, bytes: 10_000), .unsuitable)
        XCTAssertEqual(queue.nextAvailable, 1, "the split chain stays for a frame built in our memory")
        XCTAssertEqual(loan.frameCount, 0)
    }

    func testAChainWithMoreBuffersThanALoanListsIsNotLent() {
        let queue = ring(size: 256, chains: 0)
        driver.addChain([(4096, true)] + Array(repeating: (16, true), count: FrameLoan.maximumParts))
        XCTAssertEqual(lend(queue, bytes: 10_000), .unsuitable)
        XCTAssertEqual(queue.nextAvailable, 0)
    }

    func testALoanListsAtMostItsPartsAndFrames() {
        let queue = ring(size: 256, chains: 200, bytes: 1024)
        XCTAssertEqual(lend(queue, bytes: 1 << 20, limit: 65_000), .lent)
        XCTAssertLessThanOrEqual(loan.partCount, FrameLoan.maximumParts)
        XCTAssertLessThanOrEqual(loan.frameCount, FrameLoan.maximumFrames)
        XCTAssertEqual(loan.capacity, loan.payloadParts.reduce(0) { $0 + $1.count })
        for frame in 0..<loan.frameCount { XCTAssertEqual(loan.header(frame).count, Self.headerLength) }
        let small = ring(size: 256, chains: 200, bytes: 200)
        XCTAssertEqual(lend(small, bytes: 1 << 20, limit: 100), .lent)
        XCTAssertEqual(loan.frameCount, FrameLoan.maximumFrames)
        XCTAssertEqual(loan.capacity, 100 * FrameLoan.maximumFrames)
    }

    func testABrokenRingLendsNothing() {
        let queue = ring(chains: 1)
        driver.setDescriptor(1, address: driver.allocate(4096), length: 4096, flags: 2 | 1, next: 1)  // a loop
        driver.makeAvailable(head: 1)
        guard case .broken = lend(queue, bytes: 100_000, limit: 2000) else { return XCTFail("a looping chain was lent") }
        XCTAssertEqual(loan.frameCount, 0)
        XCTAssertEqual(queue.nextAvailable, 0, "the chain lent before the loop went back")
    }

    func testAFrameSentWhileTheLoanWasOutLeavesTheRestUsedEmpty() {
        let queue = ring(chains: 4)
        XCTAssertEqual(lend(queue, bytes: 8000, limit: 4000), .lent)
        XCTAssertEqual(loan.frameCount, 2)
        // A control frame takes the next chain meanwhile: the unused lent one can't be put back behind it.
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        queue.use(head: chain.head, written: 60)
        XCTAssertEqual(peek(100), 1)
        writeHeaders(1)
        settle(1, queue)
        XCTAssertEqual(driver.usedIndex, 3)
        XCTAssertEqual(driver.usedElement(2).id, 1)
        XCTAssertEqual(driver.usedElement(2).length, 0)
        XCTAssertEqual(queue.nextAvailable, 3)
    }
}
