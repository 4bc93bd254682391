import Glibc
import XCTest
@testable import PastaCore

/// VhostUserChannel over a socket pair: messages split across writes or several in one, descriptors sent
/// with SCM_RIGHTS handed to the message they came with, broken streams closed without leaking any.
final class VhostUserChannelTests: XCTestCase {
    private typealias W = VhostUserWire

    private struct Received: Equatable {
        var header: VhostUserHeader
        var payload: [UInt8]
        var descriptors: [Int32]
    }

    private var descriptorsAtStart = 0

    override func setUp() {
        descriptorsAtStart = W.openDescriptorCount()
    }

    /// The channel on one end (non-blocking), the test's end (blocking) on the other.
    private func pair() throws -> (VhostUserChannel, Int32) {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        let socket = Descriptor(fds[0])
        try socket.setNonBlocking()
        return (VhostUserChannel(socket: socket), fds[1])
    }

    /// One sendmsg of `bytes` with `descriptors` in SCM_RIGHTS (a cmsghdr of size_t length, int level,
    /// int type, then the ints; built by hand since the CMSG macros don't reach Swift).
    @discardableResult
    private func send(_ socket: Int32, _ bytes: [UInt8], descriptors: [Int32] = []) -> Int {
        let headerSize = MemoryLayout<Int>.size + 8
        let length = headerSize + 4 * descriptors.count
        let space = (length + 7) & ~7
        let control = UnsafeMutableRawBufferPointer.allocate(byteCount: max(space, 8), alignment: 8)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0)
        control.storeBytes(of: length, toByteOffset: 0, as: Int.self)
        control.storeBytes(of: SOL_SOCKET, toByteOffset: MemoryLayout<Int>.size, as: Int32.self)
        control.storeBytes(of: Int32(SCM_RIGHTS), toByteOffset: MemoryLayout<Int>.size + 4, as: Int32.self)
        for (index, fd) in descriptors.enumerated() {
            control.storeBytes(of: fd, toByteOffset: headerSize + 4 * index, as: Int32.self)
        }
        var data = bytes
        return data.withUnsafeMutableBytes { buffer in
            var part = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
            return withUnsafeMutablePointer(to: &part) { partPointer in
                var message = msghdr()
                message.msg_iov = partPointer
                message.msg_iovlen = 1
                if !descriptors.isEmpty {
                    message.msg_control = control.baseAddress
                    message.msg_controllen = space
                }
                return sendmsg(socket, &message, Int32(MSG_NOSIGNAL))
            }
        }
    }

    private func read(_ channel: VhostUserChannel) -> ([Received], VhostUserChannel.ReadOutcome) {
        var received: [Received] = []
        let outcome = channel.read { header, payload, descriptors in
            received.append(Received(header: header, payload: Array(payload), descriptors: descriptors))
            return true
        }
        return (received, outcome)
    }

    private func closeAll(_ received: [Received]) {
        for message in received { for fd in message.descriptors { close(fd) } }
    }

    /// Nothing the test or the channel opened is still open.
    private func assertNoLeak(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(W.openDescriptorCount(), descriptorsAtStart, "descriptors leaked", file: file, line: line)
    }

    // MARK: Messages

    func testOneMessageWithItsDescriptors() throws {
        try {
            let (channel, peer) = try pair()
            defer { close(peer) }
            let memory = [EventCounter.make(), EventCounter.make()]
            let table = W.message(.setMemTable, W.memoryTable(count: 2, regions: 2))
            XCTAssertEqual(send(peer, table, descriptors: memory), table.count)
            let (received, outcome) = read(channel)
            XCTAssertEqual(outcome, .waiting)
            XCTAssertEqual(received.count, 1)
            guard let message = received.first else { return }
            XCTAssertEqual(message.header, VhostUserHeader(request: 5, flags: 1, size: UInt32(table.count - 12)))
            XCTAssertEqual(message.payload, Array(table.dropFirst(12)))
            XCTAssertEqual(message.descriptors.count, 2)
            // The received descriptors are the same eventfds, in order.
            EventCounter.signal(memory[1])
            XCTAssertFalse(EventCounter.take(message.descriptors[0]))
            XCTAssertTrue(EventCounter.take(message.descriptors[1]))
            memory.forEach { close($0) }
            closeAll(received)
        }()
        assertNoLeak()
    }

    func testSeveralMessagesInOneWriteComeInOrder() throws {
        try {
            let (channel, peer) = try pair()
            defer { close(peer) }
            let stream = W.message(.setOwner) + W.message(.setFeatures, W.u64(7)) + W.message(.getVringBase, W.state(1, 0))
                + W.message(.getQueueNum)
            send(peer, stream)
            let (received, outcome) = read(channel)
            XCTAssertEqual(outcome, .waiting)
            XCTAssertEqual(received.map(\.header.request), [3, 2, 11, 17])
            XCTAssertEqual(received.map(\.payload), [[], W.u64(7), W.state(1, 0), []])
            XCTAssertTrue(received.allSatisfy { $0.descriptors.isEmpty })
        }()
        assertNoLeak()
    }

    func testAMessageSplitAnywhereComesWholeOnceComplete() throws {
        let message = W.message(.setVringAddr, (0..<40).map { UInt8($0) })
        for cut in 1..<message.count {
            let (channel, peer) = try pair()
            defer { close(peer) }
            send(peer, Array(message[..<cut]))
            let (before, waiting) = read(channel)
            XCTAssertEqual(before, [])
            XCTAssertEqual(waiting, .waiting)
            send(peer, Array(message[cut...]))
            let (after, outcome) = read(channel)
            XCTAssertEqual(outcome, .waiting)
            XCTAssertEqual(after.map(\.payload), [Array(message.dropFirst(12))], "cut at \(cut)")
        }
        assertNoLeak()
    }

    func testAMessageOneByteAtATime() throws {
        let (channel, peer) = try pair()
        defer { close(peer) }
        let stream = W.message(.setVringNum, W.state(0, 256)) + W.message(.getFeatures)
        var received: [Received] = []
        for byte in stream {
            send(peer, [byte])
            let (more, outcome) = read(channel)
            XCTAssertEqual(outcome, .waiting)
            received += more
        }
        XCTAssertEqual(received.map(\.header.request), [8, 1])
    }

    func testDescriptorsSentWithTheFirstPieceStayWithTheirMessage() throws {
        try {
            let (channel, peer) = try pair()
            defer { close(peer) }
            let call = EventCounter.make()
            let message = W.message(.setVringCall, W.u64(1))
            send(peer, Array(message.prefix(5)), descriptors: [call])
            XCTAssertEqual(read(channel).0, [])
            send(peer, Array(message.dropFirst(5)))
            let (received, _) = read(channel)
            XCTAssertEqual(received.count, 1)
            XCTAssertEqual(received.first?.descriptors.count, 1)
            close(call)
            closeAll(received)
        }()
        assertNoLeak()
    }

    func testDescriptorsGoToTheirMessageWhenMessagesQueueUp() throws {
        try {
            let (channel, peer) = try pair()
            defer { close(peer) }
            let kick = EventCounter.make(), call = EventCounter.make()
            // Without fds, with one, without, with one: all queued before the channel reads.
            send(peer, W.message(.setVringNum, W.state(0, 256)))
            send(peer, W.message(.setVringKick, W.u64(0)), descriptors: [kick])
            send(peer, W.message(.setVringBase, W.state(0, 0)) + W.message(.setOwner))
            send(peer, W.message(.setVringCall, W.u64(0)), descriptors: [call])
            let (received, outcome) = read(channel)
            XCTAssertEqual(outcome, .waiting)
            XCTAssertEqual(received.map(\.header.request), [8, 12, 10, 3, 13])
            XCTAssertEqual(received.map(\.descriptors.count), [0, 1, 0, 0, 1])
            EventCounter.signal(call)
            XCTAssertTrue(EventCounter.take(received[4].descriptors[0]))
            [kick, call].forEach { close($0) }
            closeAll(received)
        }()
        assertNoLeak()
    }

    func testMessagesDecodeFromWhatTheChannelHandsOut() throws {
        let (channel, peer) = try pair()
        defer { close(peer) }
        send(peer, W.message(.setVringEnable, W.state(1, 1)))
        var messages: [VhostUserMessage] = []
        _ = channel.read { header, payload, descriptors in
            if case .success(let message) = VhostUserMessage.decode(header, payload: payload, descriptors: descriptors) {
                messages.append(message)
            }
            return true
        }
        XCTAssertEqual(messages, [.setVringEnable(index: 1, enabled: true)])
    }

    func testTheLargestPayloadFits() throws {
        let (channel, peer) = try pair()
        defer { close(peer) }
        let payload = (0..<VhostUserHeader.maximumPayload).map { UInt8(truncatingIfNeeded: $0 * 7) }
        send(peer, W.message(99, payload) + W.message(.getFeatures))
        let (received, outcome) = read(channel)
        XCTAssertEqual(outcome, .waiting)
        XCTAssertEqual(received.map(\.payload), [payload, []])
    }

    // MARK: Ends and broken streams

    func testEndBetweenMessages() throws {
        let (channel, peer) = try pair()
        send(peer, W.message(.getFeatures))
        close(peer)
        let (received, outcome) = read(channel)
        XCTAssertEqual(received.count, 1)
        XCTAssertEqual(outcome, .closed("peer closed the connection"))
        XCTAssertEqual(read(channel).1, outcome)
        XCTAssertFalse(channel.send(VhostUserMessage.reply(to: 1, value: 0)))
    }

    func testEndInsideAHeaderOrAPayload() throws {
        let message = W.message(.setFeatures, W.u64(1))
        for cut in [1, 11, 12, 19] {
            let (channel, peer) = try pair()
            send(peer, Array(message.prefix(cut)))
            close(peer)
            let (received, outcome) = read(channel)
            XCTAssertEqual(received, [])
            XCTAssertEqual(outcome, .closed("peer closed the connection inside a message"), "cut at \(cut)")
        }
        assertNoLeak()
    }

    func testEndInsideAMessageClosesItsDescriptors() throws {
        try {
            let (channel, peer) = try pair()
            let memory = [EventCounter.make(), EventCounter.make(), EventCounter.make()]
            let table = W.message(.setMemTable, W.memoryTable(count: 3, regions: 3))
            send(peer, Array(table.prefix(40)), descriptors: memory)
            memory.forEach { close($0) }
            XCTAssertEqual(read(channel).1, .waiting)
            close(peer)
            let (received, outcome) = read(channel)
            XCTAssertEqual(received, [])
            XCTAssertEqual(outcome, .closed("peer closed the connection inside a message"))
        }()
        assertNoLeak()
    }

    func testAChannelDroppedInsideAMessageClosesItsDescriptors() throws {
        try {
            let (channel, peer) = try pair()
            defer { close(peer) }
            let fd = EventCounter.make()
            send(peer, Array(W.message(.setVringKick, W.u64(0)).prefix(14)), descriptors: [fd])
            close(fd)
            XCTAssertEqual(read(channel).1, .waiting)
        }()
        assertNoLeak()
    }

    func testBadVersionClosesTheStreamAndItsDescriptors() throws {
        try {
            let (channel, peer) = try pair()
            defer { close(peer) }
            let fds = [EventCounter.make(), EventCounter.make()]
            send(peer, W.message(.getFeatures), descriptors: [fds[0]])
            send(peer, W.message(.setVringKick, flags: 2, W.u64(0)) + W.message(.getFeatures), descriptors: [fds[1]])
            fds.forEach { close($0) }
            let (received, outcome) = read(channel)
            XCTAssertEqual(received.map(\.header.request), [1])
            XCTAssertEqual(received.first?.descriptors.count, 1)
            closeAll(received)
            guard case .closed(let reason) = outcome else { return XCTFail("not closed") }
            XCTAssertTrue(reason.contains("version 2"), reason)
        }()
        assertNoLeak()
    }

    func testOversizeHeaderClosesTheStreamAndItsDescriptors() throws {
        try {
            let (channel, peer) = try pair()
            defer { close(peer) }
            let fd = EventCounter.make()
            send(peer, W.header(5, size: 4097), descriptors: [fd])
            close(fd)
            let (received, outcome) = read(channel)
            XCTAssertEqual(received, [])
            guard case .closed(let reason) = outcome else { return XCTFail("not closed") }
            XCTAssertTrue(reason.contains("4097"), reason)
            XCTAssertEqual(read(channel).1, outcome)
        }()
        assertNoLeak()
    }

    func testTooManyDescriptorsCloseTheStreamAndAllOfThem() throws {
        try {
            let (channel, peer) = try pair()
            defer { close(peer) }
            let many = (0..<20).map { _ in EventCounter.make() }
            send(peer, W.message(.setOwner), descriptors: many)
            many.forEach { close($0) }
            let (received, outcome) = read(channel)
            XCTAssertEqual(received, [])
            guard case .closed = outcome else { return XCTFail("not closed") }
        }()
        assertNoLeak()
    }

    func testDescriptorsPiledUpOverOneMessageCloseTheStream() throws {
        try {
            let (channel, peer) = try pair()
            defer { close(peer) }
            let message = W.message(.setMemTable, W.memoryTable(count: 1, regions: 1))
            var outcome = VhostUserChannel.ReadOutcome.waiting
            for (index, byte) in message.prefix(6).enumerated() {
                let fds = (0..<4).map { _ in EventCounter.make() }
                send(peer, [byte], descriptors: fds)
                fds.forEach { close($0) }
                let (received, result) = read(channel)
                XCTAssertEqual(received, [])
                outcome = result
                if index < 4 { XCTAssertEqual(outcome, .waiting) }
            }
            guard case .closed = outcome else { return XCTFail("not closed") }
        }()
        assertNoLeak()
    }

    func testRandomBytesNeverTrap() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let (channel, peer) = try pair()
            let bytes = (0..<Int.random(in: 0..<200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Often a valid first header, so payloads get read too.
            var stream = bytes
            if stream.count >= 12 && Bool.random(using: &generator) {
                stream.replaceSubrange(4..<12, with: W.u32(1) + W.u32(UInt32.random(in: 0..<64, using: &generator)))
            }
            send(peer, stream)
            close(peer)
            while case .waiting = read(channel).1 {}
        }
        assertNoLeak()
    }

    // MARK: Replies

    func testRepliesArriveWhole() throws {
        let (channel, peer) = try pair()
        defer { close(peer) }
        let reply = VhostUserMessage.reply(to: 11, index: 0, number: 42)
        XCTAssertTrue(channel.send(reply))
        XCTAssertTrue(channel.send(VhostUserMessage.reply(to: 1, value: 3)))
        var received = [UInt8](repeating: 0, count: 64)
        let count = recv(peer, &received, 64, 0)
        XCTAssertEqual(Array(received.prefix(max(count, 0))), reply + VhostUserMessage.reply(to: 1, value: 3))
    }

    func testSendToAGonePeerFails() throws {
        let (channel, peer) = try pair()
        close(peer)
        XCTAssertFalse(channel.send(VhostUserMessage.reply(to: 1, value: 0)))
    }

    func testSendToAPeerThatNeverReadsGivesUp() throws {
        let (channel, peer) = try pair()
        defer { close(peer) }
        let chunk = [UInt8](repeating: 0, count: 65536)
        var sent = true
        var rounds = 0
        while sent && rounds < 1000 {
            sent = channel.send(chunk)
            rounds += 1
        }
        XCTAssertFalse(sent)
    }
}
