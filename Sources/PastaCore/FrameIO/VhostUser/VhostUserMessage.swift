/// A vhost-user message's 12-byte header: request, flags, payload size.
struct VhostUserHeader: Equatable {
    static let size = 12
    /// No request we accept carries more (a memory table of 8 regions is 8 + 8 * 32 bytes).
    static let maximumPayload = 4096
    var request: UInt32
    var flags: UInt32
    var size: UInt32

    /// Nil unless `bytes` holds 12 bytes whose version is 1 and whose size is at most `maximumPayload`.
    static func parse(_ bytes: UnsafeRawBufferPointer) -> VhostUserHeader? {
        guard bytes.count >= size else { return nil }
        let header = VhostUserHeader(request: bytes.wireUInt32(at: 0), flags: bytes.wireUInt32(at: 4),
                                     size: bytes.wireUInt32(at: 8))
        guard header.flags & VhostUserFlags.versionMask == VhostUserFlags.version,
              header.size <= UInt32(maximumPayload) else { return nil }
        return header
    }
}

/// One region of SET_MEM_TABLE, with the descriptor that came with it.
struct MemoryRegionDescription: Equatable {
    var guestPhysical: UInt64
    var size: UInt64
    var frontendAddress: UInt64
    var mmapOffset: UInt64
    var descriptor: Int32
}

/// SET_VRING_ADDR: where a ring's three parts are, in the frontend's virtual addresses.
struct VringAddress: Equatable {
    var index: UInt32
    var flags: UInt32
    var descriptors: UInt64
    var used: UInt64
    var available: UInt64
    var log: UInt64
}

/// A request, decoded and checked: payload sizes exact, the right number of descriptors.
enum VhostUserMessage: Equatable {
    case getFeatures
    case setFeatures(UInt64)
    case setOwner
    case resetOwner
    case setMemTable([MemoryRegionDescription])
    case setVringNum(index: UInt32, size: UInt32)
    case setVringAddr(VringAddress)
    case setVringBase(index: UInt32, base: UInt32)
    case getVringBase(index: UInt32)
    /// KICK, CALL and ERR: `descriptor` nil when the frontend set bit 8 (no descriptor: poll instead).
    case setVringKick(index: UInt32, descriptor: Int32?)
    case setVringCall(index: UInt32, descriptor: Int32?)
    case setVringErr(index: UInt32, descriptor: Int32?)
    case getProtocolFeatures
    case setProtocolFeatures(UInt64)
    case getQueueNum
    case setVringEnable(index: UInt32, enabled: Bool)
    case netSetMTU(UInt64)
    /// A request number we don't serve (carried so the reply, if wanted, says it failed).
    case unsupported(request: UInt32)

    /// The most regions a memory table may have (the protocol's baseline, without CONFIGURE_MEM_SLOTS).
    static let maximumRegions = 8
    static let stateSize = 8
    static let addressSize = 40
    static let regionSize = 32
    static let memoryTableHeaderSize = 8
    /// KICK/CALL/ERR payload: the ring index in bits 0-7, bit 8 set when no descriptor comes.
    static let ringIndexMask: UInt64 = 0xff
    static let noDescriptorFlag: UInt64 = 0x100

    /// Decodes the payload of `header`'s request, refusing a payload of another size than the header's or
    /// than the request's, and a descriptor count other than the request's (requests that carry none
    /// must come with none). Unknown requests, and those we never offer (SET_LOG_BASE, SET_LOG_FD,
    /// SEND_RARP), decode to `.unsupported` whatever they carry.
    ///
    /// Descriptors: on success, every descriptor in `descriptors` belongs to the message (it names each
    /// one) — except for `.unsupported`, which keeps none: the caller closes them all, as it does on
    /// failure, where none was kept either.
    static func decode(_ header: VhostUserHeader, payload: UnsafeRawBufferPointer, descriptors: [Int32])
        -> Result<VhostUserMessage, VhostUserRefusal> {
        guard payload.count == Int(header.size) else {
            return .failure(VhostUserRefusal(
                "request \(header.request): \(payload.count) bytes of payload, the header says \(header.size)"))
        }
        guard let request = VhostUserRequest(rawValue: header.request) else {
            return .success(.unsupported(request: header.request))
        }
        do throws(VhostUserRefusal) {
            return .success(try PayloadReader(request: request, payload: payload, descriptors: descriptors).decode())
        } catch {
            return .failure(error)
        }
    }

    /// A reply to `request` carrying a u64 (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_QUEUE_NUM, and the
    /// REPLY_ACK status: 0 success).
    static func reply(to request: UInt32, value: UInt64) -> [UInt8] {
        replyHeader(to: request, size: 8) + littleEndianBytes(value)
    }

    /// A reply carrying a vring state (GET_VRING_BASE).
    static func reply(to request: UInt32, index: UInt32, number: UInt32) -> [UInt8] {
        replyHeader(to: request, size: UInt32(stateSize)) + littleEndianBytes(index) + littleEndianBytes(number)
    }

    private static func replyHeader(to request: UInt32, size: UInt32) -> [UInt8] {
        littleEndianBytes(request) + littleEndianBytes(VhostUserFlags.version | VhostUserFlags.reply)
            + littleEndianBytes(size)
    }

    private static func littleEndianBytes<Value: FixedWidthInteger>(_ value: Value) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian, Array.init)
    }
}

/// Checks one known request's payload size and descriptor count, then reads its fields.
private struct PayloadReader {
    let request: VhostUserRequest
    let payload: UnsafeRawBufferPointer
    let descriptors: [Int32]

    func decode() throws(VhostUserRefusal) -> VhostUserMessage {
        switch request {
        case .getFeatures: return try empty(.getFeatures)
        case .setOwner: return try empty(.setOwner)
        case .resetOwner: return try empty(.resetOwner)
        case .getProtocolFeatures: return try empty(.getProtocolFeatures)
        case .getQueueNum: return try empty(.getQueueNum)
        case .setFeatures: return .setFeatures(try number())
        case .setProtocolFeatures: return .setProtocolFeatures(try number())
        case .netSetMTU: return .netSetMTU(try number())
        case .setVringNum:
            let (index, size) = try state()
            return .setVringNum(index: index, size: size)
        case .setVringBase:
            let (index, base) = try state()
            return .setVringBase(index: index, base: base)
        case .getVringBase:
            // The frontend sends a whole state; only the index means anything.
            return .getVringBase(index: try state().index)
        case .setVringEnable:
            let (index, enabled) = try state()
            guard enabled <= 1 else { throw refusal("enable value \(enabled), not 0 or 1") }
            return .setVringEnable(index: index, enabled: enabled == 1)
        case .setVringAddr: return .setVringAddr(try address())
        case .setVringKick:
            let (index, descriptor) = try notifier()
            return .setVringKick(index: index, descriptor: descriptor)
        case .setVringCall:
            let (index, descriptor) = try notifier()
            return .setVringCall(index: index, descriptor: descriptor)
        case .setVringErr:
            let (index, descriptor) = try notifier()
            return .setVringErr(index: index, descriptor: descriptor)
        case .setMemTable: return .setMemTable(try memoryTable())
        case .setLogBase, .setLogFD, .sendRARP:
            // Never offered (LOG_SHMFD, RARP); whatever came is the caller's to close.
            return .unsupported(request: request.rawValue)
        }
    }

    private func refusal(_ reason: String) -> VhostUserRefusal { VhostUserRefusal("\(request): \(reason)") }

    private func expect(size: Int, descriptors count: Int) throws(VhostUserRefusal) {
        guard payload.count == size else { throw refusal("payload of \(payload.count) bytes, not \(size)") }
        guard descriptors.count == count else { throw refusal("\(descriptors.count) descriptors, not \(count)") }
    }

    private func empty(_ message: VhostUserMessage) throws(VhostUserRefusal) -> VhostUserMessage {
        try expect(size: 0, descriptors: 0)
        return message
    }

    private func number() throws(VhostUserRefusal) -> UInt64 {
        try expect(size: 8, descriptors: 0)
        return payload.wireUInt64(at: 0)
    }

    private func state() throws(VhostUserRefusal) -> (index: UInt32, number: UInt32) {
        try expect(size: VhostUserMessage.stateSize, descriptors: 0)
        return (payload.wireUInt32(at: 0), payload.wireUInt32(at: 4))
    }

    private func address() throws(VhostUserRefusal) -> VringAddress {
        try expect(size: VhostUserMessage.addressSize, descriptors: 0)
        return VringAddress(index: payload.wireUInt32(at: 0), flags: payload.wireUInt32(at: 4),
                            descriptors: payload.wireUInt64(at: 8), used: payload.wireUInt64(at: 16),
                            available: payload.wireUInt64(at: 24), log: payload.wireUInt64(at: 32))
    }

    private func notifier() throws(VhostUserRefusal) -> (index: UInt32, descriptor: Int32?) {
        guard payload.count == 8 else { throw refusal("payload of \(payload.count) bytes, not 8") }
        let value = payload.wireUInt64(at: 0)
        guard value & ~(VhostUserMessage.ringIndexMask | VhostUserMessage.noDescriptorFlag) == 0 else {
            throw refusal("reserved bits set in \(value)")
        }
        let index = UInt32(value & VhostUserMessage.ringIndexMask)
        if value & VhostUserMessage.noDescriptorFlag != 0 {
            try expect(size: 8, descriptors: 0)
            return (index, nil)
        }
        try expect(size: 8, descriptors: 1)
        return (index, descriptors[0])
    }

    private func memoryTable() throws(VhostUserRefusal) -> [MemoryRegionDescription] {
        guard payload.count >= VhostUserMessage.memoryTableHeaderSize else {
            throw refusal("payload of \(payload.count) bytes, shorter than a memory table")
        }
        let count = payload.wireUInt32(at: 0)
        guard count >= 1 && count <= UInt32(VhostUserMessage.maximumRegions) else {
            throw refusal("\(count) regions, not 1 to \(VhostUserMessage.maximumRegions)")
        }
        let regions = Int(count)
        try expect(size: VhostUserMessage.memoryTableHeaderSize + regions * VhostUserMessage.regionSize,
                   descriptors: regions)
        return (0..<regions).map { index in
            let offset = VhostUserMessage.memoryTableHeaderSize + index * VhostUserMessage.regionSize
            return MemoryRegionDescription(guestPhysical: payload.wireUInt64(at: offset),
                                           size: payload.wireUInt64(at: offset + 8),
                                           frontendAddress: payload.wireUInt64(at: offset + 16),
                                           mmapOffset: payload.wireUInt64(at: offset + 24),
                                           descriptor: descriptors[index])
        }
    }
}

/// Why a message (or a memory table, or a ring) was refused: a line for the log.
struct VhostUserRefusal: Error, Equatable, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

private extension UnsafeRawBufferPointer {
    /// The protocol's native order is little-endian on every platform we build for; loads need no alignment.
    func wireUInt32(at offset: Int) -> UInt32 {
        precondition(offset >= 0 && offset + 4 <= count)
        return UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    func wireUInt64(at offset: Int) -> UInt64 {
        precondition(offset >= 0 && offset + 8 <= count)
        return UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
