import Glibc
import XCTest
@testable import PastaCore

/// SET_MEM_TABLE's regions mapped from files as qemu's memfds would be: what is refused, how addresses
/// translate at the edges, that the descriptors are closed and that the mapping is shared with the file.
final class GuestMemoryTests: XCTestCase {
    private var paths: [String] = []

    override func tearDown() {
        for path in paths { unlink(path) }
        paths = []
        super.tearDown()
    }

    /// A file of `size` bytes, standing in for guest RAM; its path stays until tearDown.
    private func file(size: Int) -> (descriptor: Int32, path: String) {
        var template = Array("/tmp/pasta-guest-memory.XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        precondition(descriptor >= 0, "mkstemp: \(errno)")
        let path = String(cString: template)
        paths.append(path)
        precondition(ftruncate(descriptor, off_t(size)) == 0, "ftruncate: \(errno)")
        return (descriptor, path)
    }

    private func region(_ guestPhysical: UInt64, _ size: UInt64, frontend: UInt64, offset: UInt64 = 0,
                        descriptor: Int32? = nil) -> MemoryRegionDescription {
        MemoryRegionDescription(guestPhysical: guestPhysical, size: size, frontendAddress: frontend, mmapOffset: offset,
                                descriptor: descriptor ?? file(size: Int(offset + size)).descriptor)
    }

    private func isOpen(_ descriptor: Int32) -> Bool { fcntl(descriptor, F_GETFD) != -1 }

    /// Whether `path` appears in /proc/self/maps (read in pieces: its size reads as 0).
    private func mapped(_ path: String) -> Bool {
        let maps = open("/proc/self/maps", O_RDONLY)
        precondition(maps >= 0, "/proc/self/maps: \(errno)")
        defer { close(maps) }
        var text: [UInt8] = []
        var piece = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(maps, &piece, piece.count)
            guard count > 0 else { break }
            text += piece[..<count]
        }
        return String(decoding: text, as: UTF8.self).contains(path)
    }

    private func assertRefused(_ regions: [MemoryRegionDescription], _ reason: String,
                               file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try GuestMemory(regions: regions)
            XCTFail("accepted: \(reason)", file: file, line: line)
        } catch {
            XCTAssertFalse(error.description.isEmpty, file: file, line: line)
        }
        for region in regions where region.descriptor >= 0 {
            XCTAssertFalse(isOpen(region.descriptor), "\(reason): descriptor \(region.descriptor) left open", file: file, line: line)
        }
    }

    // MARK: refusals

    func testRegionCountLimits() {
        assertRefused([], "no regions")
        let nine = (0..<9).map { region(UInt64($0) << 20, 4096, frontend: 0x7f00_0000_0000 + UInt64($0) << 20) }
        assertRefused(nine, "9 regions")
    }

    func testEightRegionsAreAccepted() throws {
        let eight = (0..<8).map { region(UInt64($0) << 20, 4096, frontend: 0x7f00_0000_0000 + UInt64($0) << 20) }
        let memory = try GuestMemory(regions: eight)
        for index in 0..<8 {
            let address = UInt64(index) << 20
            XCTAssertNotNil(memory.pointer(guestPhysical: address + 4095, count: 1))
            XCTAssertNil(memory.pointer(guestPhysical: address + 4096, count: 1))
            XCTAssertNotNil(memory.pointer(frontendAddress: 0x7f00_0000_0000 + address, count: 4096))
        }
    }

    func testEmptyRegionIsRefused() {
        assertRefused([region(0, 4096, frontend: 0x1000_0000), region(0x10_0000, 0, frontend: 0x2000_0000)], "size 0")
    }

    func testMissingDescriptorIsRefused() {
        assertRefused([region(0, 4096, frontend: 0x1000_0000, descriptor: -1)], "descriptor -1")
    }

    func testOverlapInGuestPhysicalAddresses() {
        assertRefused([region(0, 0x2000, frontend: 0x1000_0000), region(0x1fff, 0x1000, frontend: 0x2000_0000)],
                      "one byte shared")
        assertRefused([region(0x10000, 0x1000, frontend: 0x1000_0000), region(0, 0x100000, frontend: 0x2000_0000)],
                      "one inside the other")
        assertRefused([region(0, 0x1000, frontend: 0x1000_0000), region(0x5000, 0x1000, frontend: 0x2000_0000),
                       region(0x5000, 0x1000, frontend: 0x3000_0000)], "the same range twice, not first")
    }

    func testOverlapInFrontendAddresses() {
        assertRefused([region(0, 0x2000, frontend: 0x1000_0000), region(0x10_0000, 0x1000, frontend: 0x1000_1fff)],
                      "one byte shared")
        assertRefused([region(0, 0x1000, frontend: 0x1000_0800), region(0x10_0000, 0x4000, frontend: 0x1000_0000)],
                      "one inside the other")
    }

    func testAdjacentRegionsAreAcceptedAndAnAccessAcrossThemIsNot() throws {
        let memory = try GuestMemory(regions: [region(0, 0x1000, frontend: 0x2000_0000),
                                               region(0x1000, 0x1000, frontend: 0x1000_0000)])
        XCTAssertNotNil(memory.pointer(guestPhysical: 0xf00, count: 0x100))
        XCTAssertNotNil(memory.pointer(guestPhysical: 0x1000, count: 0x100))
        XCTAssertNil(memory.pointer(guestPhysical: 0xf00, count: 0x101), "straddles two mappings")
        XCTAssertNil(memory.pointer(frontendAddress: 0x1000_0f00, count: 0x101))
    }

    func testOverflowingEndsAreRefused() {
        assertRefused([MemoryRegionDescription(guestPhysical: UInt64.max - 0xfff, size: 0x1000, frontendAddress: 0x1000_0000,
                                               mmapOffset: 0, descriptor: file(size: 0x1000).descriptor)],
                      "guest-physical end at 2^64")
        assertRefused([MemoryRegionDescription(guestPhysical: 0, size: 0x1000, frontendAddress: UInt64.max - 0x10,
                                               mmapOffset: 0, descriptor: file(size: 0x1000).descriptor)],
                      "frontend end past 2^64")
        assertRefused([MemoryRegionDescription(guestPhysical: 0, size: 0x1000, frontendAddress: 0x1000_0000,
                                               mmapOffset: UInt64.max - 0x800, descriptor: file(size: 0x1000).descriptor)],
                      "mmap offset + size past 2^64")
        assertRefused([MemoryRegionDescription(guestPhysical: 0, size: 0x1000, frontendAddress: 0x1000_0000,
                                               mmapOffset: UInt64(Int.max), descriptor: file(size: 0x1000).descriptor)],
                      "mmap length past Int.max")
        assertRefused([MemoryRegionDescription(guestPhysical: 0, size: UInt64.max, frontendAddress: 0,
                                               mmapOffset: 0, descriptor: file(size: 0x1000).descriptor)],
                      "size 2^64 - 1")
    }

    func testTotalSizeLimit() {
        let half = GuestMemory.maximumTotalSize / 2
        assertRefused([region(0, half + 1, frontend: 0x1_0000_0000_0000, descriptor: file(size: 0x1000).descriptor),
                       region(half + 1, half, frontend: 0x2_0000_0000_0000, descriptor: file(size: 0x1000).descriptor)],
                      "1 TiB + 1 in all")
        assertRefused([region(0, GuestMemory.maximumTotalSize + 1, frontend: 0x1_0000_0000_0000,
                              descriptor: file(size: 0x1000).descriptor)], "one region over 1 TiB")
    }

    func testFailedMappingUnmapsTheEarlierRegions() {
        let first = file(size: 0x4000)
        var pipe: [Int32] = [-1, -1]
        XCTAssertEqual(Glibc.pipe(&pipe), 0)
        close(pipe[1])
        assertRefused([region(0, 0x4000, frontend: 0x1000_0000, descriptor: first.descriptor),
                       region(0x10_0000, 0x1000, frontend: 0x2000_0000, descriptor: pipe[0])], "a pipe can't be mapped")
        XCTAssertFalse(mapped(first.path), "the first region is still mapped")
    }

    // MARK: mapping

    func testDescriptorsAreClosedAndTheMappingOutlivesThem() throws {
        let backing = file(size: 0x2000)
        let other = file(size: 0x1000)
        var memory: GuestMemory? = try GuestMemory(regions: [
            region(0, 0x2000, frontend: 0x1000_0000, descriptor: backing.descriptor),
            region(0x10000, 0x1000, frontend: 0x2000_0000, descriptor: other.descriptor),
        ])
        XCTAssertFalse(isOpen(backing.descriptor))
        XCTAssertFalse(isOpen(other.descriptor))
        XCTAssertTrue(mapped(backing.path))
        memory!.pointer(guestPhysical: 0x1ff8, count: 8)!.storeBytes(of: 0x0123_4567_89ab_cdef, as: UInt64.self)
        memory = nil
        XCTAssertFalse(mapped(backing.path), "deinit unmaps")
        XCTAssertFalse(mapped(other.path))
    }

    func testTheMappingIsSharedWithTheFile() throws {
        let backing = file(size: 0x3000)
        let reader = open(backing.path, O_RDWR)
        defer { close(reader) }
        let memory = try GuestMemory(regions: [region(0x8000_0000, 0x2000, frontend: 0x7f12_3400_0000, offset: 0x1000,
                                                      descriptor: backing.descriptor)])
        // Guest-physical 0x8000_0000 is byte 0x1000 of the file (mmap_offset).
        let message: [UInt8] = Array("written by the device".utf8)
        let target = try XCTUnwrap(memory.pointer(guestPhysical: 0x8000_0010, count: message.count))
        message.withUnsafeBytes { target.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        var readBack = [UInt8](repeating: 0, count: message.count)
        XCTAssertEqual(pread(reader, &readBack, message.count, 0x1010), message.count)
        XCTAssertEqual(readBack, message)
        // And the other way: what the guest writes, we see, through either kind of address.
        let guestBytes: [UInt8] = [1, 2, 3, 4]
        XCTAssertEqual(pwrite(reader, guestBytes, 4, 0x2ffc), 4)
        let seen = try XCTUnwrap(memory.pointer(guestPhysical: 0x8000_1ffc, count: 4))
        XCTAssertEqual(Array(UnsafeRawBufferPointer(start: seen, count: 4)), guestBytes)
        XCTAssertEqual(memory.pointer(frontendAddress: 0x7f12_3400_1ffc, count: 4), seen)
        XCTAssertEqual(memory.pointer(frontendAddress: 0x7f12_3400_0010, count: 1), target)
    }

    func testARegionPastTheFilesEndIsRefused() {
        // Touching a page past a file's end raises SIGBUS: such a table must not be mapped at all.
        let short = file(size: 0x1000)
        assertRefused([region(0, 0x2000, frontend: 0x10_0000, descriptor: short.descriptor)], "a region longer than its file")
        let other = file(size: 0x2000)
        assertRefused([region(0, 0x2000, frontend: 0x10_0000, offset: 0x1000, descriptor: other.descriptor)],
                      "a region whose mmap offset puts its end past the file's")
    }

    func testMemoryTheFrontendCutOffReadsAsZeroAndIsCounted() throws {
        let backing = file(size: 0x3000)
        let cutter = open(backing.path, O_RDWR)
        defer { close(cutter) }
        let memory = try GuestMemory(regions: [region(0, 0x3000, frontend: 0x10_0000, descriptor: backing.descriptor)])
        let last = try XCTUnwrap(memory.pointer(guestPhysical: 0x2ff0, count: 8))
        last.storeBytes(of: 0x1122_3344, as: UInt32.self)
        let before = SharedMemoryGuard.faults
        XCTAssertEqual(ftruncate(cutter, 0x1000), 0)
        // Without the guard this read kills the process with SIGBUS.
        XCTAssertEqual(last.load(as: UInt32.self), 0)
        XCTAssertEqual(SharedMemoryGuard.faults, before + 1)
    }

    // MARK: translation

    func testTranslationAtTheEdges() throws {
        let memory = try GuestMemory(regions: [region(0x10_0000, 0x1000, frontend: 0x5000_0000),
                                               region(0x40_0000, 0x2000, frontend: 0x6000_0000)])
        let start = try XCTUnwrap(memory.pointer(guestPhysical: 0x10_0000, count: 0x1000))
        XCTAssertEqual(memory.pointer(guestPhysical: 0x10_0fff, count: 1), start + 0xfff)
        XCTAssertEqual(memory.pointer(guestPhysical: 0x10_0000, count: 0), start)
        XCTAssertEqual(memory.pointer(guestPhysical: 0x10_0800, count: 0), start + 0x800)
        XCTAssertNil(memory.pointer(guestPhysical: 0x10_0000, count: 0x1001))
        XCTAssertNil(memory.pointer(guestPhysical: 0x10_0fff, count: 2))
        XCTAssertNil(memory.pointer(guestPhysical: 0x10_1000, count: 0), "the end is not inside")
        XCTAssertNil(memory.pointer(guestPhysical: 0x10_1000, count: 1))
        XCTAssertNil(memory.pointer(guestPhysical: 0x0f_ffff, count: 1))
        XCTAssertNil(memory.pointer(guestPhysical: 0x0f_ffff, count: 2))
        XCTAssertNil(memory.pointer(guestPhysical: 0x10_0000, count: -1))
        XCTAssertNil(memory.pointer(guestPhysical: 0x10_0000, count: Int.max))
        XCTAssertNil(memory.pointer(guestPhysical: 0x10_0001, count: Int.max))
        XCTAssertNil(memory.pointer(guestPhysical: UInt64.max, count: 1))
        XCTAssertNil(memory.pointer(guestPhysical: UInt64.max, count: 0))
        XCTAssertNil(memory.pointer(guestPhysical: 0, count: 0))

        XCTAssertEqual(memory.pointer(frontendAddress: 0x5000_0000, count: 0x1000), start)
        XCTAssertEqual(memory.pointer(frontendAddress: 0x5000_0fff, count: 1), start + 0xfff)
        XCTAssertNil(memory.pointer(frontendAddress: 0x5000_0fff, count: 2))
        XCTAssertNil(memory.pointer(frontendAddress: 0x4fff_ffff, count: 1))
        XCTAssertNil(memory.pointer(frontendAddress: 0x5000_0000, count: -1))
        XCTAssertNil(memory.pointer(frontendAddress: 0x10_0000, count: 1), "a guest-physical address is not a frontend one")
        XCTAssertNil(memory.pointer(guestPhysical: 0x5000_0000, count: 1), "nor the other way")
    }

    func testLookupsAlternatingBetweenRegionsFindTheRightOne() throws {
        let memory = try GuestMemory(regions: [region(0, 0x1000, frontend: 0x5000_0000),
                                               region(0x10_0000, 0x1000, frontend: 0x6000_0000),
                                               region(0x20_0000, 0x1000, frontend: 0x7000_0000)])
        let bases = try (0..<3).map { try XCTUnwrap(memory.pointer(frontendAddress: 0x5000_0000 + UInt64($0) * 0x1000_0000, count: 1)) }
        for round in 0..<20 {
            let index = (round * 7) % 3
            let address = UInt64(index) * 0x10_0000 + UInt64(round)
            XCTAssertEqual(memory.pointer(guestPhysical: address, count: 16), bases[index] + round)
            XCTAssertNil(memory.pointer(guestPhysical: address + 0x1000, count: 1))
        }
    }

    // MARK: a ring over mapped memory

    func testARingInMappedMemory() throws {
        let base: UInt64 = 0x4000_0000
        let span = 0x10000
        let memory = try GuestMemory(regions: [region(base, UInt64(span), frontend: 0x7f00_0000_0000)])
        let driver = TestRingDriver(memory: memory, base: base, span: span, size: 256)
        driver.addChain([(12, false), (1500, false)])
        driver.addChain([(4096, true)])
        // A third whose buffer runs 8 bytes past the region.
        driver.setDescriptor(10, address: base + UInt64(span) - 8, length: 16, flags: 2)
        driver.makeAvailable(head: 10)
        let queue = driver.queue(eventIndex: true)
        let chain = DescriptorChain()
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(chain.readableBytes, 1512)
        XCTAssertEqual(chain.readable[0].base, memory.pointer(guestPhysical: driver.buffers, count: 12))
        XCTAssertEqual(queue.next(into: chain), .chain)
        XCTAssertEqual(chain.writableBytes, 4096)
        queue.use(head: chain.head, written: 60)
        queue.publishUsed()
        XCTAssertEqual(driver.usedIndex, 1)
        guard case .broken = queue.next(into: chain) else { return XCTFail("a buffer past the region was accepted") }
        XCTAssertEqual(queue.nextAvailable, 2)
    }
}
