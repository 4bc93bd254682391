import Glibc
import XCTest
@testable import PastaCore

/// Wire bytes for vhost-user tests: little-endian fields, headers, whole messages.
enum VhostUserWire {
    static func u32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func u64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    static func header(_ request: UInt32, flags: UInt32 = VhostUserFlags.version, size: UInt32) -> [UInt8] {
        u32(request) + u32(flags) + u32(size)
    }

    static func message(_ request: UInt32, flags: UInt32 = VhostUserFlags.version, _ payload: [UInt8] = []) -> [UInt8] {
        header(request, flags: flags, size: UInt32(payload.count)) + payload
    }

    static func message(_ request: VhostUserRequest, flags: UInt32 = VhostUserFlags.version, _ payload: [UInt8] = []) -> [UInt8] {
        message(request.rawValue, flags: flags, payload)
    }

    static func state(_ index: UInt32, _ number: UInt32) -> [UInt8] { u32(index) + u32(number) }

    static func region(_ guest: UInt64, _ size: UInt64, _ user: UInt64, _ offset: UInt64) -> [UInt8] {
        u64(guest) + u64(size) + u64(user) + u64(offset)
    }

    /// A memory table claiming `count` regions, with `regions` actually described.
    static func memoryTable(count: UInt32, regions: Int) -> [UInt8] {
        (0..<regions).reduce(u32(count) + u32(0)) { bytes, index in
            let base = UInt64(index) << 32
            return bytes + region(base, 0x1000_0000, 0x7f00_0000_0000 + base, UInt64(index) * 0x1000)
        }
    }

    static func isOpen(_ fd: Int32) -> Bool { fcntl(fd, F_GETFD) != -1 }

    /// How many descriptors this process has open.
    static func openDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return -1 }
        defer { closedir(directory) }
        var count = 0
        while readdir(directory) != nil { count += 1 }
        return count
    }
}

/// Header parsing, every request decoded, malformed payloads and descriptor counts refused, replies.
final class VhostUserMessageTests: XCTestCase {
    private typealias W = VhostUserWire

    private func decode(_ bytes: [UInt8], descriptors: [Int32] = []) -> Result<VhostUserMessage, VhostUserRefusal>? {
        bytes.withUnsafeBytes { all -> Result<VhostUserMessage, VhostUserRefusal>? in
            guard let header = VhostUserHeader.parse(all) else { return nil }
            let payload = UnsafeRawBufferPointer(rebasing: all[VhostUserHeader.size...])
            return VhostUserMessage.decode(header, payload: payload, descriptors: descriptors)
        }
    }

    private func decoded(_ bytes: [UInt8], descriptors: [Int32] = [], file: StaticString = #filePath,
                         line: UInt = #line) -> VhostUserMessage? {
        switch decode(bytes, descriptors: descriptors) {
        case .success(let message)?: return message
        case .failure(let refusal)?: XCTFail("refused: \(refusal)", file: file, line: line)
        case nil: XCTFail("header refused", file: file, line: line)
        }
        return nil
    }

    // MARK: Header

    func testHeaderParsesLittleEndianFields() {
        let bytes = W.header(0x0102_0304, flags: 0x0000_0009, size: 0x0000_0100)
        XCTAssertEqual(bytes.withUnsafeBytes(VhostUserHeader.parse),
                       VhostUserHeader(request: 0x0102_0304, flags: 9, size: 256))
    }

    func testHeaderParsesAtAnyAlignment() {
        let bytes = [0xaa] + W.header(5, size: 40)
        let header = bytes.withUnsafeBytes { VhostUserHeader.parse(UnsafeRawBufferPointer(rebasing: $0[1...])) }
        XCTAssertEqual(header, VhostUserHeader(request: 5, flags: 1, size: 40))
    }

    func testHeaderAcceptsReplyFlagsAndTheLargestPayload() {
        XCTAssertNotNil(W.header(1, flags: 0x1 | 0x4 | 0x8, size: 4096).withUnsafeBytes(VhostUserHeader.parse))
        XCTAssertNotNil(W.header(999, size: 0).withUnsafeBytes(VhostUserHeader.parse))
    }

    func testHeaderRefusesOtherVersionsOversizeAndShortInput() {
        for flags: UInt32 in [0, 2, 3, 0x4, 0xffff_fffe, 0xffff_ffff] {
            XCTAssertNil(W.header(1, flags: flags, size: 0).withUnsafeBytes(VhostUserHeader.parse), "flags \(flags)")
        }
        for size: UInt32 in [4097, 65536, 0xffff_ffff] {
            XCTAssertNil(W.header(5, size: size).withUnsafeBytes(VhostUserHeader.parse), "size \(size)")
        }
        for length in 0..<12 {
            XCTAssertNil(Array(W.header(1, size: 0).prefix(length)).withUnsafeBytes(VhostUserHeader.parse))
        }
    }

    // MARK: Every request

    func testRequestsWithoutPayload() {
        XCTAssertEqual(decoded(W.message(.getFeatures)), .getFeatures)
        XCTAssertEqual(decoded(W.message(.setOwner)), .setOwner)
        XCTAssertEqual(decoded(W.message(.resetOwner)), .resetOwner)
        XCTAssertEqual(decoded(W.message(.getProtocolFeatures)), .getProtocolFeatures)
        XCTAssertEqual(decoded(W.message(.getQueueNum)), .getQueueNum)
        XCTAssertEqual(decoded(W.message(.getFeatures, flags: VhostUserFlags.version | VhostUserFlags.needReply)),
                       .getFeatures)
    }

    func testRequestsWithNumbers() {
        XCTAssertEqual(decoded(W.message(.setFeatures, W.u64(0x1_4000_8000))), .setFeatures(0x1_4000_8000))
        XCTAssertEqual(decoded(W.message(.setProtocolFeatures, W.u64(0x19))), .setProtocolFeatures(0x19))
        XCTAssertEqual(decoded(W.message(.netSetMTU, W.u64(65520))), .netSetMTU(65520))
    }

    func testRequestsWithRingStates() {
        XCTAssertEqual(decoded(W.message(.setVringNum, W.state(1, 256))), .setVringNum(index: 1, size: 256))
        XCTAssertEqual(decoded(W.message(.setVringBase, W.state(0, 0xffff))), .setVringBase(index: 0, base: 0xffff))
        XCTAssertEqual(decoded(W.message(.getVringBase, W.state(1, 0xdead_beef))), .getVringBase(index: 1))
        XCTAssertEqual(decoded(W.message(.setVringEnable, W.state(0, 1))), .setVringEnable(index: 0, enabled: true))
        XCTAssertEqual(decoded(W.message(.setVringEnable, W.state(1, 0))), .setVringEnable(index: 1, enabled: false))
    }

    func testRingAddress() {
        let payload = W.state(1, 1) + W.u64(0x7f00_0000_1000) + W.u64(0x7f00_0000_3000) + W.u64(0x7f00_0000_2000)
            + W.u64(0xffff_ffff_ffff_ffff)
        XCTAssertEqual(decoded(W.message(.setVringAddr, payload)),
                       .setVringAddr(VringAddress(index: 1, flags: 1, descriptors: 0x7f00_0000_1000, used: 0x7f00_0000_3000,
                                                  available: 0x7f00_0000_2000, log: 0xffff_ffff_ffff_ffff)))
    }

    func testKickCallAndErrWithAndWithoutDescriptor() {
        XCTAssertEqual(decoded(W.message(.setVringKick, W.u64(1)), descriptors: [40]), .setVringKick(index: 1, descriptor: 40))
        XCTAssertEqual(decoded(W.message(.setVringKick, W.u64(0x100))), .setVringKick(index: 0, descriptor: nil))
        XCTAssertEqual(decoded(W.message(.setVringCall, W.u64(0xff)), descriptors: [41]), .setVringCall(index: 255, descriptor: 41))
        XCTAssertEqual(decoded(W.message(.setVringCall, W.u64(0x101))), .setVringCall(index: 1, descriptor: nil))
        XCTAssertEqual(decoded(W.message(.setVringErr, W.u64(0)), descriptors: [42]), .setVringErr(index: 0, descriptor: 42))
        XCTAssertEqual(decoded(W.message(.setVringErr, W.u64(0x1ff))), .setVringErr(index: 255, descriptor: nil))
    }

    func testMemoryTablesOfOneAndEightRegionsPairRegionsWithDescriptorsInOrder() {
        let one = decoded(W.message(.setMemTable, W.memoryTable(count: 1, regions: 1)), descriptors: [30])
        XCTAssertEqual(one, .setMemTable([MemoryRegionDescription(guestPhysical: 0, size: 0x1000_0000,
                                                                  frontendAddress: 0x7f00_0000_0000, mmapOffset: 0,
                                                                  descriptor: 30)]))
        let descriptors: [Int32] = [30, 31, 32, 33, 34, 35, 36, 37]
        guard case .setMemTable(let regions)? = decoded(W.message(.setMemTable, W.memoryTable(count: 8, regions: 8)),
                                                       descriptors: descriptors) else { return XCTFail("not a table") }
        XCTAssertEqual(regions.map(\.descriptor), descriptors)
        XCTAssertEqual(regions.map(\.guestPhysical), (0..<8).map { UInt64($0) << 32 })
        XCTAssertEqual(regions.map(\.mmapOffset), (0..<8).map { UInt64($0) * 0x1000 })
        XCTAssertEqual(regions.map(\.frontendAddress), (0..<8).map { 0x7f00_0000_0000 + (UInt64($0) << 32) })
    }

    func testMemoryTablePaddingIsIgnored() {
        var table = W.memoryTable(count: 1, regions: 1)
        table.replaceSubrange(4..<8, with: W.u32(0xffff_ffff))
        guard case .setMemTable(let regions)? = decoded(W.message(.setMemTable, table), descriptors: [9]) else {
            return XCTFail("not a table")
        }
        XCTAssertEqual(regions.count, 1)
    }

    func testRequestsNotServedAndUnknownNumbersAreUnsupportedWhateverTheyCarry() {
        XCTAssertEqual(decoded(W.message(.setLogBase, W.u64(0) + W.u64(0)), descriptors: [50]),
                       .unsupported(request: VhostUserRequest.setLogBase.rawValue))
        XCTAssertEqual(decoded(W.message(.setLogFD), descriptors: [50]), .unsupported(request: 7))
        XCTAssertEqual(decoded(W.message(.sendRARP, W.u64(0x5452_0012_3456))), .unsupported(request: 19))
        XCTAssertEqual(decoded(W.message(0, [])), .unsupported(request: 0))
        XCTAssertEqual(decoded(W.message(21, W.u64(3))), .unsupported(request: 21))
        XCTAssertEqual(decoded(W.message(0xffff_ffff, [1, 2, 3]), descriptors: [1, 2, 3]), .unsupported(request: 0xffff_ffff))
    }

    // MARK: Refusals

    /// Each a message that must be refused, and how many descriptors come with it.
    private static let malformed: [(String, [UInt8], Int)] = [
        ("GET_FEATURES with a u64", W.message(.getFeatures, W.u64(0)), 0),
        ("GET_FEATURES with a descriptor", W.message(.getFeatures), 1),
        ("SET_OWNER with 4 bytes", W.message(.setOwner, W.u32(0)), 0),
        ("RESET_OWNER with a u64", W.message(.resetOwner, W.u64(0)), 0),
        ("GET_PROTOCOL_FEATURES with a descriptor", W.message(.getProtocolFeatures), 1),
        ("GET_QUEUE_NUM with a byte", W.message(.getQueueNum, [0]), 0),
        ("SET_FEATURES empty", W.message(.setFeatures), 0),
        ("SET_FEATURES with 4 bytes", W.message(.setFeatures, W.u32(1)), 0),
        ("SET_FEATURES with 16 bytes", W.message(.setFeatures, W.u64(1) + W.u64(0)), 0),
        ("SET_FEATURES with a descriptor", W.message(.setFeatures, W.u64(1)), 1),
        ("SET_PROTOCOL_FEATURES with 7 bytes", W.message(.setProtocolFeatures, Array(W.u64(8).prefix(7))), 0),
        ("NET_SET_MTU with 9 bytes", W.message(.netSetMTU, W.u64(1500) + [0]), 0),
        ("SET_VRING_NUM with 4 bytes", W.message(.setVringNum, W.u32(0)), 0),
        ("SET_VRING_NUM with 12 bytes", W.message(.setVringNum, W.state(0, 256) + W.u32(0)), 0),
        ("SET_VRING_NUM with a descriptor", W.message(.setVringNum, W.state(0, 256)), 1),
        ("SET_VRING_BASE empty", W.message(.setVringBase), 0),
        ("GET_VRING_BASE empty", W.message(.getVringBase), 0),
        ("GET_VRING_BASE with a descriptor", W.message(.getVringBase, W.state(0, 0)), 1),
        ("SET_VRING_ADDR with 32 bytes", W.message(.setVringAddr, [UInt8](repeating: 0, count: 32)), 0),
        ("SET_VRING_ADDR with 48 bytes", W.message(.setVringAddr, [UInt8](repeating: 0, count: 48)), 0),
        ("SET_VRING_ADDR with a descriptor", W.message(.setVringAddr, [UInt8](repeating: 0, count: 40)), 1),
        ("SET_VRING_ENABLE 2", W.message(.setVringEnable, W.state(0, 2)), 0),
        ("SET_VRING_ENABLE 0xffffffff", W.message(.setVringEnable, W.state(1, 0xffff_ffff)), 0),
        ("SET_VRING_ENABLE with 4 bytes", W.message(.setVringEnable, W.u32(0)), 0),
        ("SET_VRING_ENABLE with a descriptor", W.message(.setVringEnable, W.state(0, 1)), 1),
        ("SET_VRING_KICK with 4 bytes", W.message(.setVringKick, W.u32(0)), 1),
        ("SET_VRING_KICK without its descriptor", W.message(.setVringKick, W.u64(0)), 0),
        ("SET_VRING_KICK with two descriptors", W.message(.setVringKick, W.u64(0)), 2),
        ("SET_VRING_KICK polling, with a descriptor", W.message(.setVringKick, W.u64(0x100)), 1),
        ("SET_VRING_KICK with bit 9", W.message(.setVringKick, W.u64(0x200)), 1),
        ("SET_VRING_KICK with bit 63", W.message(.setVringKick, W.u64(1 << 63)), 1),
        ("SET_VRING_KICK polling with bit 32", W.message(.setVringKick, W.u64(0x1_0000_0100)), 0),
        ("SET_VRING_CALL without its descriptor", W.message(.setVringCall, W.u64(1)), 0),
        ("SET_VRING_CALL empty", W.message(.setVringCall), 1),
        ("SET_VRING_ERR polling, with a descriptor", W.message(.setVringErr, W.u64(0x100)), 1),
        ("SET_MEM_TABLE of 0 regions", W.message(.setMemTable, W.memoryTable(count: 0, regions: 0)), 0),
        ("SET_MEM_TABLE of 9 regions", W.message(.setMemTable, W.memoryTable(count: 9, regions: 9)), 9),
        ("SET_MEM_TABLE of 2^32 - 1 regions", W.message(.setMemTable, W.memoryTable(count: 0xffff_ffff, regions: 1)), 1),
        ("SET_MEM_TABLE of 2 regions, one descriptor", W.message(.setMemTable, W.memoryTable(count: 2, regions: 2)), 1),
        ("SET_MEM_TABLE of 1 region, two descriptors", W.message(.setMemTable, W.memoryTable(count: 1, regions: 1)), 2),
        ("SET_MEM_TABLE of 1 region, no descriptor", W.message(.setMemTable, W.memoryTable(count: 1, regions: 1)), 0),
        ("SET_MEM_TABLE claiming 2, describing 1", W.message(.setMemTable, W.memoryTable(count: 2, regions: 1)), 2),
        ("SET_MEM_TABLE claiming 1, describing 2", W.message(.setMemTable, W.memoryTable(count: 1, regions: 2)), 1),
        ("SET_MEM_TABLE with 8 spare bytes", W.message(.setMemTable, W.memoryTable(count: 1, regions: 1) + W.u64(0)), 1),
        ("SET_MEM_TABLE with 4 bytes", W.message(.setMemTable, W.u32(1)), 1),
        ("SET_MEM_TABLE empty", W.message(.setMemTable), 1),
        ("SET_MEM_TABLE cut inside a region", W.message(.setMemTable, Array(W.memoryTable(count: 1, regions: 1).prefix(39))), 1),
    ]

    func testMalformedMessagesAreRefusedAndKeepNoDescriptor() throws {
        XCTAssertGreaterThanOrEqual(Self.malformed.count, 30)
        for (name, bytes, count) in Self.malformed {
            let descriptors = (0..<count).map { _ in EventCounter.make() }
            XCTAssert(descriptors.allSatisfy { $0 >= 0 })
            guard case .failure(let refusal)? = decode(bytes, descriptors: descriptors) else {
                XCTFail("\(name): not refused")
                continue
            }
            XCTAssertFalse(refusal.description.isEmpty)
            // Refused: nothing was kept, nothing closed behind the caller's back; the caller closes them.
            for fd in descriptors {
                XCTAssertTrue(W.isOpen(fd), "\(name): \(fd) closed by decode")
                close(fd)
            }
        }
    }

    func testPayloadOfAnotherSizeThanTheHeaderSaysIsRefused() {
        let header = VhostUserHeader(request: VhostUserRequest.setFeatures.rawValue, flags: 1, size: 8)
        for length in [0, 4, 16] {
            let payload = [UInt8](repeating: 0, count: length)
            let result = payload.withUnsafeBytes { VhostUserMessage.decode(header, payload: $0, descriptors: []) }
            guard case .failure = result else { return XCTFail("\(length) bytes accepted") }
        }
        let unknown = VhostUserHeader(request: 77, flags: 1, size: 8)
        guard case .failure = [UInt8]().withUnsafeBytes({ VhostUserMessage.decode(unknown, payload: $0, descriptors: []) })
        else { return XCTFail("short unknown accepted") }
    }

    func testEveryTruncationOfAValidMessageIsRefused() {
        let messages: [([UInt8], Int)] = [
            (W.message(.setFeatures, W.u64(1)), 0), (W.message(.setVringAddr, [UInt8](repeating: 1, count: 40)), 0),
            (W.message(.setMemTable, W.memoryTable(count: 3, regions: 3)), 3), (W.message(.setVringCall, W.u64(0)), 1),
        ]
        for (message, count) in messages {
            for length in VhostUserHeader.size..<message.count {
                var cut = Array(message.prefix(length))
                cut.replaceSubrange(8..<12, with: W.u32(UInt32(length - VhostUserHeader.size)))
                guard case .failure? = decode(cut, descriptors: (0..<count).map { Int32(100 + $0) }) else {
                    return XCTFail("accepted \(length) of \(message.count) bytes")
                }
            }
        }
    }

    // MARK: Replies

    func testU64Reply() {
        XCTAssertEqual(VhostUserMessage.reply(to: 1, value: 0x0102_0304_0506_0708),
                       [1, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1])
    }

    func testStateReply() {
        XCTAssertEqual(VhostUserMessage.reply(to: 11, index: 1, number: 0x1234),
                       [11, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0x34, 0x12, 0, 0])
    }

    func testRepliesParseAsReplies() {
        let reply = VhostUserMessage.reply(to: 17, value: 2)
        let header = reply.withUnsafeBytes(VhostUserHeader.parse)
        XCTAssertEqual(header, VhostUserHeader(request: 17, flags: VhostUserFlags.version | VhostUserFlags.reply, size: 8))
    }
}
