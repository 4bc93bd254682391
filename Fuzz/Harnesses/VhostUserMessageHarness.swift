import Glibc
@testable import PastaCore

/// vhost-user messages, the bytes a frontend (qemu) writes to our control socket. Input: a control byte,
/// then messages (12-byte header, payload).
///
/// Control bit 0 clear: the bytes are walked as messages (VhostUserHeader.parse, then
/// VhostUserMessage.decode of each whole one), each decoded with the number of fresh eventfds that
/// control bits 1-4 give. Set: the bytes go through a VhostUserChannel over a UNIX socket pair, written in
/// pieces whose size the next control byte sets; the one after says which pieces carry eventfds in
/// SCM_RIGHTS (bit i for piece i mod 8, as many as bits 1-4 give); every message the channel hands out is
/// decoded; then the peer closes, and the channel must end in `.closed`.
///
/// Either way, descriptors are closed as the decode contract says (on success the message's own; on
/// `.unsupported` or a refusal the caller closes them all), and none may be left open: a message must
/// name exactly the descriptors it was given, and the channel must close those of a broken stream.
enum VhostUserMessageHarness {
    static let harness = Harness(
        name: "vhost-user-messages",
        summary: "vhost-user requests: header parse and decode, and VhostUserChannel over a socket pair",
        maximumLength: 20_000, run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let control = input.byte()
        let descriptorCount = Int(control >> 1) & 0xf
        if control & 1 == 0 {
            walk(input.rest(), descriptorCount: descriptorCount)
        } else {
            let pieceSize = 1 << Int(input.byte() % 14)
            let carriers = input.byte()
            throughChannel(input.rest(), pieceSize: pieceSize, carriers: carriers, descriptorCount: descriptorCount)
        }
    }

    static func walk(_ stream: [UInt8], descriptorCount: Int) {
        stream.withUnsafeBytes { bytes in
            var offset = 0
            while let header = VhostUserHeader.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
                guard header.flags & VhostUserFlags.versionMask == VhostUserFlags.version,
                      Int(header.size) <= VhostUserHeader.maximumPayload
                else { fatalError("vhost-user: header \(header) accepted") }
                let start = offset + VhostUserHeader.size
                guard start + Int(header.size) <= bytes.count else { return }
                let descriptors = (0..<descriptorCount).map { _ in freshDescriptor() }
                _ = consume(header, UnsafeRawBufferPointer(rebasing: bytes[start..<start + Int(header.size)]), descriptors)
                for descriptor in descriptors where fcntl(descriptor, F_GETFD) != -1 {
                    fatalError("vhost-user: descriptor \(descriptor) left open after \(header)")
                }
                offset = start + Int(header.size)
            }
        }
    }

    /// Decodes, checks the message against its payload, and closes the descriptors as their owner would.
    static func consume(_ header: VhostUserHeader, _ payload: UnsafeRawBufferPointer, _ descriptors: [Int32]) -> Bool {
        let owned: [Int32]
        switch VhostUserMessage.decode(header, payload: payload, descriptors: descriptors) {
        case .success(let message):
            check(message, header: header, payloadSize: payload.count)
            owned = named(by: message) ?? descriptors
        case .failure:
            owned = descriptors
        }
        guard owned.sorted() == descriptors.sorted() else {
            fatalError("vhost-user: request \(header.request) given \(descriptors), names \(owned)")
        }
        for descriptor in owned { close(descriptor) }
        return true
    }

    /// The descriptors a decoded message holds; nil for `.unsupported`, which holds none (the caller closes).
    static func named(by message: VhostUserMessage) -> [Int32]? {
        switch message {
        case .setMemTable(let regions): return regions.map(\.descriptor)
        case .setVringKick(_, let descriptor), .setVringCall(_, let descriptor), .setVringErr(_, let descriptor):
            return descriptor.map { [$0] } ?? []
        case .unsupported: return nil
        default: return []
        }
    }

    static func check(_ message: VhostUserMessage, header: VhostUserHeader, payloadSize: Int) {
        let expected: Int?
        switch message {
        case .getFeatures, .setOwner, .resetOwner, .getProtocolFeatures, .getQueueNum: expected = 0
        case .setFeatures, .setProtocolFeatures, .netSetMTU, .setVringKick, .setVringCall, .setVringErr: expected = 8
        case .setVringNum, .setVringBase, .getVringBase, .setVringEnable: expected = 8
        case .setVringAddr: expected = 40
        case .setMemTable(let regions):
            guard (1...VhostUserMessage.maximumRegions).contains(regions.count) else {
                fatalError("vhost-user: memory table of \(regions.count) regions")
            }
            expected = 8 + 32 * regions.count
        case .unsupported(let request):
            guard request == header.request else { fatalError("vhost-user: \(header.request) decoded as \(request)") }
            expected = nil
        }
        if let expected, expected != payloadSize {
            fatalError("vhost-user: \(message) from a payload of \(payloadSize) bytes")
        }
        switch message {
        case .setVringKick(let index, _), .setVringCall(let index, _), .setVringErr(let index, _):
            guard index <= 0xff else { fatalError("vhost-user: ring index \(index) from a notifier") }
        default: break
        }
    }

    static func freshDescriptor() -> Int32 {
        let descriptor = EventCounter.make()
        guard descriptor >= 0 else { fatalError("vhost-user: eventfd: \(errno)") }
        return descriptor
    }

    static func throughChannel(_ stream: [UInt8], pieceSize: Int, carriers: UInt8, descriptorCount: Int) {
        let openBefore = openDescriptorCount()
        runChannel(stream, pieceSize: pieceSize, carriers: carriers, descriptorCount: descriptorCount)
        let openAfter = openDescriptorCount()
        guard openAfter == openBefore else { fatalError("vhost-user: \(openAfter - openBefore) descriptors leaked") }
    }

    private static func runChannel(_ stream: [UInt8], pieceSize: Int, carriers: UInt8, descriptorCount: Int) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { fatalError("socketpair: \(errno)") }
        let socket = Descriptor(fds[0])
        do { try socket.setNonBlocking() } catch { fatalError("vhost-user: \(error)") }
        let channel = VhostUserChannel(socket: socket)
        let peer = fds[1]
        // A full socket must not block the run: the channel reads, then the send is tried again.
        _ = fcntl(peer, F_SETFL, O_NONBLOCK)
        var closed = false
        var offset = 0
        var piece = 0
        while offset < stream.count && !closed {
            let size = min(pieceSize, stream.count - offset)
            let carries = carriers & (1 << (piece % 8)) != 0 ? descriptorCount : 0
            let attached = (0..<carries).map { _ in freshDescriptor() }
            let sent = sendWithDescriptors(peer, stream[offset..<offset + size], attached)
            for descriptor in attached { close(descriptor) }
            if sent > 0 {
                offset += sent
                piece += 1
            } else if errno != EAGAIN {
                fatalError("vhost-user: send to the socket pair: \(errno)")
            }
            if case .closed = channel.read(consume) { closed = true }
        }
        close(peer)
        while !closed {
            if case .closed = channel.read(consume) { closed = true } else {
                fatalError("vhost-user: the peer closed, the channel didn't notice")
            }
        }
    }

    /// One sendmsg with `descriptors` in SCM_RIGHTS: a cmsghdr (size_t length, int level, int type) and
    /// the ints, laid out by hand since the CMSG macros don't reach Swift.
    private static func sendWithDescriptors(_ socket: Int32, _ bytes: ArraySlice<UInt8>,
                                            _ descriptors: [Int32]) -> Int {
        let headerSize = MemoryLayout<Int>.size + 8
        let length = headerSize + 4 * descriptors.count
        let space = (length + 7) & ~7
        let control = UnsafeMutableRawBufferPointer.allocate(byteCount: space, alignment: 8)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0)
        control.storeBytes(of: length, toByteOffset: 0, as: Int.self)
        control.storeBytes(of: SOL_SOCKET, toByteOffset: MemoryLayout<Int>.size, as: Int32.self)
        control.storeBytes(of: Int32(SCM_RIGHTS), toByteOffset: MemoryLayout<Int>.size + 4, as: Int32.self)
        for (index, descriptor) in descriptors.enumerated() {
            control.storeBytes(of: descriptor, toByteOffset: headerSize + 4 * index, as: Int32.self)
        }
        var data = Array(bytes)
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

    private static func openDescriptorCount() -> Int {
        guard let directory = opendir("/proc/self/fd") else { fatalError("vhost-user: /proc/self/fd: \(errno)") }
        defer { closedir(directory) }
        var count = 0
        while readdir(directory) != nil { count += 1 }
        return count
    }

    // MARK: Seeds

    static func u32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    static func u64(_ value: UInt64) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }

    static func message(_ request: VhostUserRequest, _ payload: [UInt8] = [],
                        flags: UInt32 = VhostUserFlags.version) -> [UInt8] {
        u32(request.rawValue) + u32(flags) + u32(UInt32(payload.count)) + payload
    }

    /// What qemu sends to start a virtio-net device, ring by ring (the descriptors aside).
    static func handshake() -> [UInt8] {
        let needReply = VhostUserFlags.version | VhostUserFlags.needReply
        var stream = message(.getFeatures) + message(.getProtocolFeatures) + message(.setProtocolFeatures, u64(0x19))
            + message(.getQueueNum) + message(.setOwner) + message(.setFeatures, u64(0x1_4000_8000))
        stream += message(.setMemTable, u32(1) + u32(0) + u64(0) + u64(0x2000_0000) + u64(0x7f12_0000_0000) + u64(0),
                          flags: needReply)
        for ring: UInt32 in 0..<2 {
            stream += message(.setVringNum, u32(ring) + u32(256)) + message(.setVringBase, u32(ring) + u32(0))
            stream += message(.setVringAddr, u32(ring) + u32(0) + u64(0x7f12_0000_1000) + u64(0x7f12_0000_3000)
                              + u64(0x7f12_0000_2000) + u64(0))
            stream += message(.setVringKick, u64(UInt64(ring))) + message(.setVringCall, u64(UInt64(ring)))
            stream += message(.setVringEnable, u32(ring) + u32(1), flags: needReply)
        }
        return stream + message(.getVringBase, u32(0) + u32(0)) + message(.setVringKick, u64(0x100))
            + message(.sendRARP, u64(0x5452_0012_3456)) + message(.netSetMTU, u64(1500))
    }

    static func seeds() -> [[UInt8]] {
        let stream = handshake()
        let table = message(.setMemTable, u32(2) + u32(0) + [UInt8](repeating: 0x11, count: 64))
        // Control: bit 0 channel, bits 1-4 descriptors per message (or per carrying piece).
        return [[0] + stream, [1 << 1] + message(.setVringCall, u64(1)), [2 << 1] + table,
                [1, 13, 0] + stream, [1 | 1 << 1, 5, 0xff] + stream, [1 | 2 << 1, 13, 1] + table + table,
                [1, 0, 0] + Array(stream.prefix(30))]
    }
}
