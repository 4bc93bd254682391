/// The vhost-user protocol's numbers (QEMU's docs/interop/vhost-user.rst) and the virtio feature bits
/// (virtio 1.2) a vhost-user net backend negotiates. Native byte order on the wire.
enum VhostUserRequest: UInt32 {
    case getFeatures = 1
    case setFeatures = 2
    case setOwner = 3
    case resetOwner = 4
    case setMemTable = 5
    case setLogBase = 6
    case setLogFD = 7
    case setVringNum = 8
    case setVringAddr = 9
    case setVringBase = 10
    case getVringBase = 11
    case setVringKick = 12
    case setVringCall = 13
    case setVringErr = 14
    case getProtocolFeatures = 15
    case setProtocolFeatures = 16
    case getQueueNum = 17
    case setVringEnable = 18
    case sendRARP = 19
    case netSetMTU = 20
}

/// The header's flags: bits 0-1 the version (1), a reply, a request that wants a reply (REPLY_ACK).
enum VhostUserFlags {
    static let versionMask: UInt32 = 0x3
    static let version: UInt32 = 0x1
    static let reply: UInt32 = 0x4
    static let needReply: UInt32 = 0x8
}

/// Virtio feature bits (as masks).
enum VirtioFeature {
    static let netCsum: UInt64 = 1 << 0
    static let netGuestCsum: UInt64 = 1 << 1
    static let netMAC: UInt64 = 1 << 5
    static let netGuestTSO4: UInt64 = 1 << 7
    static let netGuestTSO6: UInt64 = 1 << 8
    static let netHostTSO4: UInt64 = 1 << 11
    static let netHostTSO6: UInt64 = 1 << 12
    static let netMergeableBuffers: UInt64 = 1 << 15
    static let ringIndirectDescriptors: UInt64 = 1 << 28
    static let ringEventIndex: UInt64 = 1 << 29
    /// Not a virtio bit: the backend speaks GET/SET_PROTOCOL_FEATURES.
    static let protocolFeatures: UInt64 = 1 << 30
    static let version1: UInt64 = 1 << 32
}

/// Protocol feature bits (as masks).
enum VhostUserProtocolFeature {
    static let multipleQueues: UInt64 = 1 << 0
    static let logShmfd: UInt64 = 1 << 1
    static let rarp: UInt64 = 1 << 2
    static let replyAck: UInt64 = 1 << 3
    static let netMTU: UInt64 = 1 << 4
}
