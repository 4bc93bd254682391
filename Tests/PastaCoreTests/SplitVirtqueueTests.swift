import XCTest
@testable import PastaCore

/// Guest memory for tests: one region of `count` zeroed bytes at guest-physical `base`.
final class TestGuestImage: GuestAddressSpace {
    let base: UInt64
    let bytes: UnsafeMutableRawBufferPointer

    init(base: UInt64, count: Int) {
        self.base = base
        bytes = .allocate(byteCount: count, alignment: 4096)
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { bytes.deallocate() }

    func pointer(guestPhysical address: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        guard count >= 0, address >= base else { return nil }
        let offset = address - base
        guard offset < UInt64(bytes.count), UInt64(count) <= UInt64(bytes.count) - offset else { return nil }
        return bytes.baseAddress! + Int(offset)
    }

    func contains(_ buffer: GuestBuffer) -> Bool {
        buffer.base >= bytes.baseAddress! && buffer.base + buffer.count <= bytes.baseAddress! + bytes.count
    }
}

/// Every address translates, to the same bytes: chains whose lengths add up past 4 GiB without the memory.
final class AliasingAddressSpace: GuestAddressSpace {
    let bytes = UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16)
    deinit { bytes.deallocate() }
    func pointer(guestPhysical address: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        count >= 0 && count <= Int(UInt32.max) ? bytes : nil
    }
}

/// The driver's side of a split ring, laid out as Linux's virtio driver does: the descriptor table, the
/// available ring after it, the used ring 4-aligned after that, then the buffers.
final class TestRingDriver {
    let memory: GuestAddressSpace
    let size: Int
    let descriptorTable: UInt64
    let availableRing: UInt64
    let usedRing: UInt64
    let buffers: UInt64
    let end: UInt64
    private var nextBuffer: UInt64
    private var nextDescriptor = 0
    private(set) var availableIndex: UInt16 = 0
    /// Where both indexes began: the device's starting point too.
    let startIndex: UInt16

    init(memory: GuestAddressSpace, base: UInt64, span: Int, size: Int, startIndex: UInt16 = 0) {
        self.memory = memory
        self.size = size
        descriptorTable = base
        availableRing = base + UInt64(16 * size)
        usedRing = (availableRing + UInt64(6 + 2 * size) + 3) & ~3
        buffers = (usedRing + UInt64(6 + 8 * size) + 15) & ~15
        end = base + UInt64(span)
        nextBuffer = buffers
        availableIndex = startIndex
        self.startIndex = startIndex
        write16(availableRing + 2, startIndex)
        write16(usedRing + 2, startIndex)
    }

    func host(_ address: UInt64, _ count: Int = 1) -> UnsafeMutableRawPointer {
        memory.pointer(guestPhysical: address, count: count)!
    }

    func write16(_ address: UInt64, _ value: UInt16) { host(address, 2).storeBytes(of: value.littleEndian, as: UInt16.self) }
    func write32(_ address: UInt64, _ value: UInt32) { host(address, 4).storeBytes(of: value.littleEndian, as: UInt32.self) }
    func write64(_ address: UInt64, _ value: UInt64) { host(address, 8).storeBytes(of: value.littleEndian, as: UInt64.self) }
    func read16(_ address: UInt64) -> UInt16 { UInt16(littleEndian: host(address, 2).loadUnaligned(as: UInt16.self)) }
    func read32(_ address: UInt64) -> UInt32 { UInt32(littleEndian: host(address, 4).loadUnaligned(as: UInt32.self)) }

    func setDescriptor(_ index: Int, address: UInt64, length: UInt32, flags: UInt16 = 0, next: UInt16 = 0) {
        let entry = descriptorTable + UInt64(16 * index)
        write64(entry, address)
        write32(entry + 8, length)
        write16(entry + 12, flags)
        write16(entry + 14, next)
    }

    /// Room for `count` bytes among the buffers.
    func allocate(_ count: UInt32) -> UInt64 {
        let address = nextBuffer
        nextBuffer += (UInt64(count) + 15) & ~15
        precondition(nextBuffer <= end, "test image too small")
        return address
    }

    /// A chain of new buffers (`writable` ones flagged WRITE), in descriptors taken round the table; its head.
    @discardableResult
    func addChain(_ parts: [(length: UInt32, writable: Bool)]) -> UInt16 {
        let head = UInt16(nextDescriptor)
        for (position, part) in parts.enumerated() {
            let index = nextDescriptor
            nextDescriptor = (nextDescriptor + 1) % size
            let last = position == parts.count - 1
            setDescriptor(index, address: part.length == 0 ? 0 : allocate(part.length), length: part.length,
                          flags: (part.writable ? 2 : 0) | (last ? 0 : 1), next: UInt16(nextDescriptor))
        }
        makeAvailable(head: head)
        return head
    }

    func makeAvailable(head: UInt16) {
        write16(availableRing + 4 + UInt64(2 * Int(availableIndex & UInt16(size - 1))), head)
        availableIndex &+= 1
        write16(availableRing + 2, availableIndex)
    }

    func setAvailableIndex(_ index: UInt16) {
        availableIndex = index
        write16(availableRing + 2, index)
    }

    var availableFlags: UInt16 {
        get { read16(availableRing) }
        set { write16(availableRing, newValue) }
    }
    var usedEvent: UInt16 {
        get { read16(availableRing + 4 + UInt64(2 * size)) }
        set { write16(availableRing + 4 + UInt64(2 * size), newValue) }
    }
    var availableEvent: UInt16 { read16(usedRing + 4 + UInt64(8 * size)) }
    var usedIndex: UInt16 { read16(usedRing + 2) }

    func usedElement(_ position: UInt16) -> (id: UInt32, length: UInt32) {
        let element = usedRing + 4 + UInt64(8 * Int(position & UInt16(size - 1)))
        return (read32(element), read32(element + 4))
    }

    func queue(eventIndex: Bool = false, nextAvailable: UInt16? = nil) -> SplitVirtqueue {
        SplitVirtqueue(size: size, descriptors: host(descriptorTable, 16 * size),
                       available: host(availableRing, 6 + 2 * size), used: host(usedRing, 6 + 8 * size),
                       memory: memory, nextAvailable: nextAvailable ?? startIndex, eventIndex: eventIndex)
    }
}

final class SplitVirtqueueTests: XCTestCase {
    static let base: UInt64 = 0x10_0000
    static let span = 1 << 20

    private func ring(size: Int = 16, startIndex: UInt16 = 0) -> (TestGuestImage, TestRingDriver) {
        let image = TestGuestImage(base: Self.base, count: Self.span)
        return (image, TestRingDriver(memory: image, base: Self.base, span: Self.span, size: size, startIndex: startIndex))
    }

    private func bytes(_ buffers: [GuestBuffer]) -> [Int] { buffers.map(\.count) }

    // MARK: chains

    func testEmptyRingHasNothing() {
        let (_, driver) = ring()
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertFalse(queue.hasAvailable)
        XCTAssertEqual(queue.next(into: chain), .empty)
        XCTAssertEqual(queue.nextAvailable, 0)
    }

    func testSingleReadableBuffer() {
        let (image, driver) = ring()
        let head = driver.addChain([(100, false)])
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertTrue(queue.hasAvailable)
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(chain.head, head)
        XCTAssertEqual(bytes(chain.readable), [100])
        XCTAssertEqual(chain.writable.count, 0)
        XCTAssertEqual(chain.readableBytes, 100)
        XCTAssertEqual(chain.writableBytes, 0)
        XCTAssertEqual(chain.readable[0].base, image.pointer(guestPhysical: driver.buffers, count: 100))
        XCTAssertEqual(queue.nextAvailable, 1)
        XCTAssertFalse(queue.hasAvailable)
        XCTAssertEqual(queue.next(into: chain), .empty)
    }

    func testMultiDescriptorChainKeepsOrder() {
        let (image, driver) = ring()
        driver.addChain([(12, false), (40, false), (1500, false)])
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(bytes(chain.readable), [12, 40, 1500])
        XCTAssertEqual(chain.readableBytes, 1552)
        XCTAssertEqual(chain.readable.map { $0.base }, [driver.buffers, driver.buffers + 16, driver.buffers + 64].map {
            image.pointer(guestPhysical: $0, count: 1)!
        })
    }

    func testReadableThenWritable() {
        let (_, driver) = ring()
        driver.addChain([(12, false), (20, false), (2048, true), (4096, true)])
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(bytes(chain.readable), [12, 20])
        XCTAssertEqual(bytes(chain.writable), [2048, 4096])
        XCTAssertEqual(chain.readableBytes, 32)
        XCTAssertEqual(chain.writableBytes, 6144)
    }

    func testWritableOnlyChain() {
        let (_, driver) = ring()
        driver.addChain([(65562, true)])
        let chain = DescriptorChain()
        XCTAssertEqual(driver.queue().next(into: chain), .chain)
        XCTAssertEqual(chain.readable.count, 0)
        XCTAssertEqual(bytes(chain.writable), [65562])
    }

    func testZeroLengthDescriptorsAreSkipped() {
        let (_, driver) = ring()
        // Even outside memory, and even a readable one after a writable one: empty buffers say nothing.
        driver.setDescriptor(0, address: 0xdead_beef_0000, length: 0, flags: 1, next: 1)
        driver.setDescriptor(1, address: driver.buffers, length: 10, flags: 1, next: 2)
        driver.setDescriptor(2, address: driver.buffers + 16, length: 20, flags: 2 | 1, next: 3)
        driver.setDescriptor(3, address: UInt64.max, length: 0, flags: 1, next: 4)
        driver.setDescriptor(4, address: driver.buffers + 64, length: 30, flags: 2)
        driver.makeAvailable(head: 0)
        let chain = DescriptorChain()
        XCTAssertEqual(driver.queue().next(into: chain), .chain)
        XCTAssertEqual(bytes(chain.readable), [10])
        XCTAssertEqual(bytes(chain.writable), [20, 30])
    }

    func testAllZeroLengthChainIsAnEmptyChain() {
        let (_, driver) = ring()
        driver.addChain([(0, false), (0, true)])
        let chain = DescriptorChain()
        XCTAssertEqual(driver.queue().next(into: chain), .chain)
        XCTAssertEqual(chain.readable.count + chain.writable.count, 0)
        XCTAssertEqual(chain.readableBytes + chain.writableBytes, 0)
    }

    func testChainAsLongAsTheRing() {
        let (_, driver) = ring(size: 8)
        driver.addChain(Array(repeating: (64, true), count: 8))
        let chain = DescriptorChain()
        XCTAssertEqual(driver.queue().next(into: chain), .chain)
        XCTAssertEqual(chain.writable.count, 8)
        XCTAssertEqual(chain.writableBytes, 512)
    }

    func testChainReuseClearsPreviousBuffers() {
        let (_, driver) = ring()
        driver.addChain([(10, false), (20, true), (30, true)])
        driver.addChain([(5, true)])
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        let capacity = chain.writable.capacity
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(chain.readable.count, 0)
        XCTAssertEqual(bytes(chain.writable), [5])
        XCTAssertEqual(chain.readableBytes, 0)
        XCTAssertEqual(chain.writableBytes, 5)
        XCTAssertEqual(chain.writable.capacity, capacity)
    }

    func testAvailableIndexExactlyOneRingAheadIsFine() {
        let (_, driver) = ring(size: 4)
        for _ in 0..<4 { driver.addChain([(8, true)]) }
        let queue = driver.queue(nextAvailable: 0)
        let chain = DescriptorChain()
        for _ in 0..<4 { XCTAssertEqual(queue.next(into: chain), .chain) }
        XCTAssertEqual(queue.next(into: chain), .empty)
    }

    func testSixteenBitIndexesWrapAround() {
        let (_, driver) = ring(size: 16, startIndex: 65530)
        let queue = driver.queue()
        XCTAssertEqual(queue.nextAvailable, 65530)
        let chain = DescriptorChain()
        var heads: [UInt16] = []
        for round in 0..<3 {
            for index in 0..<5 { heads.append(driver.addChain([(UInt32(10 + index), false), (100, true)])) }
            for index in 0..<5 {
                XCTAssertEqual(queue.next(into: chain), .chain, "round \(round)")
                XCTAssertEqual(chain.head, heads[round * 5 + index])
                XCTAssertEqual(chain.readableBytes, 10 + index)
                queue.use(head: chain.head, written: UInt32(index))
            }
            XCTAssertEqual(queue.next(into: chain), .empty)
            queue.publishUsed()
        }
        XCTAssertEqual(queue.nextAvailable, 65530 &+ 15)
        XCTAssertEqual(driver.usedIndex, 65530 &+ 15)
        for position in 0..<15 {
            let element = driver.usedElement(65530 &+ UInt16(position))
            XCTAssertEqual(element.id, UInt32(heads[position]))
            XCTAssertEqual(element.length, UInt32(position % 5))
        }
    }

    // MARK: putBack

    func testPutBackRetakesTheSameChains() {
        let (_, driver) = ring()
        let first = driver.addChain([(100, true)])
        let second = driver.addChain([(200, true)])
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(queue.next(into: chain), .empty)
        queue.putBack(2)
        XCTAssertEqual(queue.nextAvailable, 0)
        XCTAssertTrue(queue.hasAvailable)
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(chain.head, first)
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(chain.head, second)
    }

    func testPutBackGoesNoFurtherThanChainsNotUsed() {
        let (_, driver) = ring()
        for _ in 0..<3 { driver.addChain([(100, true)]) }
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        queue.use(head: chain.head, written: 10)
        XCTAssertEqual(queue.next(into: chain), .chain)
        let unused = chain.head
        queue.putBack(5)
        XCTAssertEqual(queue.nextAvailable, 1)
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(chain.head, unused)
        queue.putBack(0)
        queue.putBack(-3)
        XCTAssertEqual(queue.nextAvailable, 2)
    }

    func testPutBackAcrossTheWrap() {
        let (_, driver) = ring(size: 4, startIndex: 65535)
        let first = driver.addChain([(10, true)])
        driver.addChain([(10, true)])
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(queue.nextAvailable, 1)
        queue.putBack(2)
        XCTAssertEqual(queue.nextAvailable, 65535)
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(chain.head, first)
    }

    // MARK: used ring and notifications

    func testUsedEntriesAppearOnlyWhenPublished() {
        let (_, driver) = ring()
        let head = driver.addChain([(10, false), (1000, true)])
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        queue.use(head: chain.head, written: 321)
        XCTAssertEqual(driver.usedIndex, 0)
        queue.publishUsed()
        XCTAssertEqual(driver.usedIndex, 1)
        XCTAssertEqual(driver.usedElement(0).id, UInt32(head))
        XCTAssertEqual(driver.usedElement(0).length, 321)
    }

    func testUsedIndexStartsWhereTheRingLeftIt() {
        let (_, driver) = ring(size: 8, startIndex: 40)
        driver.addChain([(10, true)])
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        queue.use(head: chain.head, written: 1)
        queue.publishUsed()
        XCTAssertEqual(driver.usedIndex, 41)
        XCTAssertEqual(driver.usedElement(40).length, 1)
    }

    private func useOne(_ queue: SplitVirtqueue, _ driver: TestRingDriver) {
        driver.addChain([(10, true)])
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        queue.use(head: chain.head, written: 10)
        queue.publishUsed()
    }

    func testNotifyWithoutEventIndexFollowsTheNoInterruptFlag() {
        let (_, driver) = ring()
        let queue = driver.queue(eventIndex: false)
        XCTAssertFalse(queue.shouldNotify(), "nothing published")
        useOne(queue, driver)
        XCTAssertTrue(queue.shouldNotify())
        XCTAssertFalse(queue.shouldNotify(), "nothing new since")
        driver.availableFlags = 1
        useOne(queue, driver)
        XCTAssertFalse(queue.shouldNotify())
        driver.availableFlags = 0
        useOne(queue, driver)
        XCTAssertTrue(queue.shouldNotify())
        // used_event means nothing without EVENT_IDX.
        driver.usedEvent = 1000
        useOne(queue, driver)
        XCTAssertTrue(queue.shouldNotify())
    }

    func testNotifyWithEventIndexFollowsUsedEvent() {
        let (_, driver) = ring()
        let queue = driver.queue(eventIndex: true)
        // used_event 0: an interrupt once entry 0 is used (the index moves past 0).
        driver.usedEvent = 0
        useOne(queue, driver)
        XCTAssertTrue(queue.shouldNotify())
        // The driver hasn't moved used_event: nothing more until it does.
        useOne(queue, driver)
        XCTAssertFalse(queue.shouldNotify())
        // Ask for an interrupt after entry 4: entries 2 and 3 don't reach it, 4 does.
        driver.usedEvent = 4
        useOne(queue, driver)
        XCTAssertFalse(queue.shouldNotify())
        useOne(queue, driver)
        XCTAssertFalse(queue.shouldNotify())
        useOne(queue, driver)
        XCTAssertTrue(queue.shouldNotify())
        // A batch that passes used_event in the middle.
        driver.usedEvent = 6
        for _ in 0..<3 { useOne(queue, driver) }
        XCTAssertTrue(queue.shouldNotify())
        // The flag means nothing with EVENT_IDX.
        driver.availableFlags = 1
        driver.usedEvent = 8
        useOne(queue, driver)
        XCTAssertTrue(queue.shouldNotify())
        XCTAssertFalse(queue.shouldNotify(), "nothing new since")
    }

    func testNotifyWithEventIndexAcrossTheWrap() {
        let (_, driver) = ring(size: 8, startIndex: 65534)
        let queue = driver.queue(eventIndex: true)
        driver.usedEvent = 65535
        useOne(queue, driver)
        XCTAssertFalse(queue.shouldNotify(), "65534 -> 65535 doesn't pass 65535")
        driver.usedEvent = 0
        useOne(queue, driver)
        XCTAssertFalse(queue.shouldNotify(), "65535 -> 0 doesn't pass 0")
        useOne(queue, driver)
        XCTAssertTrue(queue.shouldNotify(), "0 -> 1 passes 0")
    }

    func testArmKickWithEventIndexWritesAvailEvent() {
        let (_, driver) = ring()
        let queue = driver.queue(eventIndex: true)
        XCTAssertFalse(queue.armKick())
        XCTAssertEqual(driver.availableEvent, 0)
        useOne(queue, driver)
        useOne(queue, driver)
        XCTAssertFalse(queue.armKick())
        XCTAssertEqual(driver.availableEvent, 2)
        driver.addChain([(10, true)])
        XCTAssertTrue(queue.armKick(), "a chain made available before the kick was armed")
        XCTAssertEqual(driver.availableEvent, 3)
    }

    /// Chains taken and put back (too few for a frame): the kick is asked for past them, at the driver's
    /// index, since a driver with EVENT_IDX only kicks when its index passes avail_event. Asking at our
    /// rewound position would never be answered (a lost wake-up seen as a receive path stalled).
    func testArmKickAfterPutBackAsksPastTheChainsPutBack() {
        let (_, driver) = ring()
        let queue = driver.queue(eventIndex: true)
        driver.addChain([(10, true)])
        driver.addChain([(10, true)])
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(queue.next(into: chain), .chain)
        queue.putBack(2)
        XCTAssertEqual(queue.availableCount, 2)
        XCTAssertTrue(queue.armKick())
        XCTAssertEqual(driver.availableEvent, 2, "avail_event at the driver's index, not at 0")
    }

    func testArmKickWithoutEventIndexLeavesTheRingAlone() {
        let (_, driver) = ring(size: 8, startIndex: 3)
        let queue = driver.queue(eventIndex: false)
        XCTAssertFalse(queue.armKick())
        XCTAssertEqual(driver.availableEvent, 0)
        driver.addChain([(10, true)])
        XCTAssertTrue(queue.armKick())
        XCTAssertEqual(driver.availableEvent, 0)
    }

    // MARK: hostile rings

    /// A ring the driver broke; `next` must say so, and take nothing.
    private func assertBroken(size: Int = 8, memory: GuestAddressSpace? = nil, _ name: String,
                              file: StaticString = #filePath, line: UInt = #line, _ layout: (TestRingDriver) -> Void) {
        let image = TestGuestImage(base: Self.base, count: Self.span)
        let driver = TestRingDriver(memory: image, base: Self.base, span: Self.span, size: size)
        layout(driver)
        let queue = SplitVirtqueue(
            size: size, descriptors: driver.host(driver.descriptorTable, 16 * size),
            available: driver.host(driver.availableRing, 6 + 2 * size), used: driver.host(driver.usedRing, 6 + 8 * size),
            memory: memory ?? image, nextAvailable: 0, eventIndex: true)
        let chain = DescriptorChain()
        let result = queue.next(into: chain)
        guard case .broken(let reason) = result else {
            return XCTFail("\(name): \(result)", file: file, line: line)
        }
        XCTAssertFalse(reason.isEmpty, file: file, line: line)
        XCTAssertEqual(queue.nextAvailable, 0, "\(name): a broken chain was taken", file: file, line: line)
    }

    func testAvailableIndexTooFarAhead() {
        assertBroken("one past the ring") { driver in
            for _ in 0..<8 { driver.addChain([(10, true)]) }
            driver.setAvailableIndex(9)
        }
        assertBroken("behind us (65535 ahead)") { $0.setAvailableIndex(65535) }
        assertBroken("half the index space") { $0.setAvailableIndex(32768) }
    }

    func testHeadOutsideTheTable() {
        assertBroken("head = size") { $0.makeAvailable(head: 8) }
        assertBroken("head 65535") { $0.makeAvailable(head: 0xffff) }
    }

    func testNextOutsideTheTable() {
        assertBroken("next = size") { driver in
            driver.setDescriptor(0, address: driver.buffers, length: 10, flags: 1, next: 8)
            driver.makeAvailable(head: 0)
        }
        assertBroken("next 65535 after an empty descriptor") { driver in
            driver.setDescriptor(0, address: 0, length: 0, flags: 1, next: 0xffff)
            driver.makeAvailable(head: 0)
        }
    }

    func testLoops() {
        assertBroken("a descriptor naming itself") { driver in
            driver.setDescriptor(3, address: driver.buffers, length: 10, flags: 1, next: 3)
            driver.makeAvailable(head: 3)
        }
        assertBroken("two descriptors naming each other") { driver in
            driver.setDescriptor(0, address: driver.buffers, length: 10, flags: 1, next: 1)
            driver.setDescriptor(1, address: driver.buffers, length: 10, flags: 1, next: 0)
            driver.makeAvailable(head: 0)
        }
        assertBroken("a loop entered later") { driver in
            driver.setDescriptor(0, address: driver.buffers, length: 10, flags: 1, next: 1)
            driver.setDescriptor(1, address: driver.buffers, length: 10, flags: 3, next: 2)
            driver.setDescriptor(2, address: driver.buffers, length: 10, flags: 3, next: 1)
            driver.makeAvailable(head: 0)
        }
        assertBroken("a loop of empty descriptors") { driver in
            driver.setDescriptor(0, address: 0, length: 0, flags: 1, next: 0)
            driver.makeAvailable(head: 0)
        }
        assertBroken("through the whole table and round again") { driver in
            for index in 0..<8 {
                driver.setDescriptor(index, address: driver.buffers, length: 1, flags: 3, next: UInt16((index + 1) % 8))
            }
            driver.makeAvailable(head: 5)
        }
        assertBroken(size: 1, "a ring of one whose descriptor chains to itself") { driver in
            driver.setDescriptor(0, address: driver.buffers, length: 1, flags: 1, next: 0)
            driver.makeAvailable(head: 0)
        }
    }

    func testBuffersOutsideMemory() {
        let end = Self.base + UInt64(Self.span)
        assertBroken("below the region") { driver in
            driver.setDescriptor(0, address: Self.base - 16, length: 8)
            driver.makeAvailable(head: 0)
        }
        assertBroken("straddling the region's start") { driver in
            driver.setDescriptor(0, address: Self.base - 4, length: 8)
            driver.makeAvailable(head: 0)
        }
        assertBroken("at the region's end") { driver in
            driver.setDescriptor(0, address: end, length: 1)
            driver.makeAvailable(head: 0)
        }
        assertBroken("straddling the region's end") { driver in
            driver.setDescriptor(0, address: end - 100, length: 101, flags: 2)
            driver.makeAvailable(head: 0)
        }
        assertBroken("address 2^64 - 1") { driver in
            driver.setDescriptor(0, address: UInt64.max, length: 1)
            driver.makeAvailable(head: 0)
        }
        assertBroken("address + length overflowing 64 bits") { driver in
            driver.setDescriptor(0, address: UInt64.max - 10, length: 0xffff_ffff)
            driver.makeAvailable(head: 0)
        }
        assertBroken("4 GiB - 1 bytes from the region's start") { driver in
            driver.setDescriptor(0, address: Self.base, length: 0xffff_ffff, flags: 2)
            driver.makeAvailable(head: 0)
        }
        assertBroken("a good buffer, then one outside") { driver in
            driver.setDescriptor(0, address: driver.buffers, length: 10, flags: 1, next: 1)
            driver.setDescriptor(1, address: 0x4000_0000_0000, length: 10, flags: 2)
            driver.makeAvailable(head: 0)
        }
    }

    func testIndirectDescriptors() {
        assertBroken("an indirect head") { driver in
            driver.setDescriptor(0, address: driver.buffers, length: 32, flags: 4)
            driver.makeAvailable(head: 0)
        }
        assertBroken("an empty indirect descriptor") { driver in
            driver.setDescriptor(0, address: 0, length: 0, flags: 4)
            driver.makeAvailable(head: 0)
        }
        assertBroken("indirect later in the chain") { driver in
            driver.setDescriptor(0, address: driver.buffers, length: 10, flags: 1, next: 1)
            driver.setDescriptor(1, address: driver.buffers, length: 32, flags: 4 | 2)
            driver.makeAvailable(head: 0)
        }
    }

    func testReadableAfterWritable() {
        assertBroken("readable right after writable") { driver in
            driver.addChain([(10, true), (10, false)])
        }
        assertBroken("readable after writable, an empty one between") { driver in
            driver.addChain([(10, false), (10, true), (0, true), (0, false), (5, false)])
        }
    }

    func testByteTotalsPastFourGiB() {
        let aliasing = AliasingAddressSpace()
        assertBroken(memory: aliasing, "4 GiB - 1 and 1 more") { driver in
            driver.setDescriptor(0, address: 0x1000, length: 0xffff_ffff, flags: 1, next: 1)
            driver.setDescriptor(1, address: 0x1000, length: 1, flags: 2)
            driver.makeAvailable(head: 0)
        }
        assertBroken(memory: aliasing, "three 2 GiB buffers") { driver in
            for index in 0..<3 {
                driver.setDescriptor(index, address: 0x1000, length: 0x8000_0000, flags: 3, next: UInt16(index + 1))
            }
            driver.setDescriptor(3, address: 0x1000, length: 1, flags: 2)
            driver.makeAvailable(head: 0)
        }
    }

    func testExactlyFourGiBMinusOneIsAccepted() {
        let image = TestGuestImage(base: Self.base, count: Self.span)
        let driver = TestRingDriver(memory: image, base: Self.base, span: Self.span, size: 8)
        driver.setDescriptor(0, address: 0x1000, length: 0xffff_fffe, flags: 1, next: 1)
        driver.setDescriptor(1, address: 0x1000, length: 1, flags: 2)
        driver.makeAvailable(head: 0)
        let queue = SplitVirtqueue(
            size: 8, descriptors: driver.host(driver.descriptorTable, 128), available: driver.host(driver.availableRing, 22),
            used: driver.host(driver.usedRing, 70), memory: AliasingAddressSpace(), nextAvailable: 0, eventIndex: false)
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(chain.readableBytes, 0xffff_fffe)
        XCTAssertEqual(chain.writableBytes, 1)
    }

    func testTheDriverRewritingARingAfterItBrokeIsStillChecked() {
        let (_, driver) = ring(size: 8)
        driver.addChain([(10, true)])
        let queue = driver.queue()
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        driver.makeAvailable(head: 200)
        if case .broken = queue.next(into: chain) {} else { XCTFail("head 200 accepted") }
        XCTAssertEqual(queue.nextAvailable, 1)
    }
}
