import Glibc

/// One ring's set-up as the frontend gives it, and the queue once it runs.
struct VhostUserRing {
    var size = 0
    var address: VringAddress?
    var base: UInt16 = 0
    var kick: Int32?
    var call: Int32?
    /// With protocol features negotiated, rings start disabled until SET_VRING_ENABLE.
    var enabled = false
    /// Running: set up whole, with a kick descriptor, and memory to find it in.
    var queue: SplitVirtqueue?

    /// Closes the call descriptor and hands back the kick descriptor, which the backend may be watching:
    /// it stops watching before it closes it.
    mutating func release() -> Int32? {
        if let call { Glibc.close(call) }
        call = nil
        defer { kick = nil }
        return kick
    }
}

/// The device side of vhost-user for a virtio-net device with one queue pair: the negotiation, the
/// memory table and the rings (0: receive, the guest's buffers for our frames; 1: transmit, the guest's
/// frames). What it answers follows QEMU's docs/interop/vhost-user.rst; it makes no system calls besides
/// mapping memory and closing what it is handed, so the backend decides what to watch.
final class VhostUserDevice {
    static let receiveQueue = 0
    static let transmitQueue = 1
    /// The offloads are those of our tap: partial checksums and TCP segments of up to 64 KiB both ways, so
    /// a guest's stack neither sums nor cuts what we exchange.
    static let offeredFeatures: UInt64 = VirtioFeature.version1 | VirtioFeature.protocolFeatures
        | VirtioFeature.netMergeableBuffers | VirtioFeature.ringEventIndex
        | VirtioFeature.netCsum | VirtioFeature.netHostTSO4 | VirtioFeature.netHostTSO6
        | VirtioFeature.netGuestCsum | VirtioFeature.netGuestTSO4 | VirtioFeature.netGuestTSO6
    static let offeredProtocolFeatures: UInt64 = VhostUserProtocolFeature.replyAck

    private(set) var features: UInt64 = 0
    private(set) var protocolFeatures: UInt64 = 0
    private(set) var memory: GuestMemory?
    private(set) var rings = [VhostUserRing(), VhostUserRing()]

    /// Kick descriptors the rings no longer use: the backend takes them out of its epoll set, then closes
    /// them (closed first, a descriptor would stay in the set for as long as the frontend holds its copy).
    private var retired: [Int32] = []

    deinit {
        for index in rings.indices { if let kick = rings[index].release() { retired.append(kick) } }
        retired.forEach { _ = Glibc.close($0) }
    }

    /// The retired kick descriptors, now the caller's to close.
    func takeRetired() -> [Int32] {
        defer { retired.removeAll() }
        return retired
    }

    var mergeableBuffers: Bool { features & VirtioFeature.netMergeableBuffers != 0 }

    /// The driver may leave checksums (and, with HOST_TSO, segmentation) of what it sends to us.
    var acceptsPartialChecksums: Bool { features & VirtioFeature.netCsum != 0 }

    /// The guest takes TCP segments of up to 64 KiB with their checksum left to it, as our tap does.
    var takesSegmentationOffload: Bool {
        let wanted = VirtioFeature.netGuestCsum | VirtioFeature.netGuestTSO4 | VirtioFeature.netGuestTSO6
        return features & wanted == wanted
    }

    /// The queue of ring `index` when it runs and is enabled.
    func runningQueue(_ index: Int) -> SplitVirtqueue? {
        let ring = rings[index]
        return ring.enabled ? ring.queue : nil
    }

    func kickDescriptor(_ index: Int) -> Int32? { rings[index].queue == nil ? nil : rings[index].kick }
    func callDescriptor(_ index: Int) -> Int32? { rings[index].call }

    /// Serves one request; returns the reply to send, if the request has one (REPLY_ACK's status is the
    /// caller's: it knows whether the request succeeded).
    func handle(_ message: VhostUserMessage) throws(VhostUserRefusal) -> [UInt8]? {
        switch message {
        case .getFeatures:
            return VhostUserMessage.reply(to: VhostUserRequest.getFeatures.rawValue, value: Self.offeredFeatures)
        case .setFeatures(let wanted):
            guard wanted & ~Self.offeredFeatures == 0 else {
                throw VhostUserRefusal("SET_FEATURES asks for features not offered: 0x\(String(wanted & ~Self.offeredFeatures, radix: 16))")
            }
            features = wanted
            // Without protocol features, rings are enabled as they start.
            if wanted & VirtioFeature.protocolFeatures == 0 {
                for index in rings.indices { rings[index].enabled = true }
            }
        case .getProtocolFeatures:
            return VhostUserMessage.reply(to: VhostUserRequest.getProtocolFeatures.rawValue, value: Self.offeredProtocolFeatures)
        case .setProtocolFeatures(let wanted):
            guard wanted & ~Self.offeredProtocolFeatures == 0 else {
                throw VhostUserRefusal("SET_PROTOCOL_FEATURES asks for protocol features not offered")
            }
            protocolFeatures = wanted
        case .getQueueNum:
            return VhostUserMessage.reply(to: VhostUserRequest.getQueueNum.rawValue, value: 1)
        case .setOwner:
            break
        case .resetOwner:
            reset()
        case .setMemTable(let regions):
            let mapped = try GuestMemory(regions: regions)
            memory = mapped
            // Running rings find their parts again in the new table, where they go on.
            for index in rings.indices where rings[index].queue != nil {
                rings[index].base = rings[index].queue!.nextAvailable
                rings[index].queue = nil
                try start(index)
            }
        case .setVringNum(let index, let size):
            let ring = try stoppedRing(index, "SET_VRING_NUM")
            guard size > 0, size <= SplitVirtqueue.maximumSize, size & (size - 1) == 0 else {
                throw VhostUserRefusal("ring size \(size) is not a power of two up to \(SplitVirtqueue.maximumSize)")
            }
            rings[ring].size = Int(size)
        case .setVringAddr(let address):
            let ring = try stoppedRing(address.index, "SET_VRING_ADDR")
            rings[ring].address = address
        case .setVringBase(let index, let base):
            let ring = try stoppedRing(index, "SET_VRING_BASE")
            guard base <= UInt32(UInt16.max) else { throw VhostUserRefusal("ring base \(base) past 65535") }
            rings[ring].base = UInt16(base)
        case .getVringBase(let index):
            let ring = try ringIndex(index)
            let next = rings[ring].queue?.nextAvailable ?? rings[ring].base
            stop(ring)
            return VhostUserMessage.reply(to: VhostUserRequest.getVringBase.rawValue, index: index, number: UInt32(next))
        case .setVringKick(let index, let descriptor):
            let ring = try ringIndex(index, closingOnRefusal: descriptor)
            guard let descriptor else { throw VhostUserRefusal("ring \(index): polling without a kick descriptor is not supported") }
            if let old = rings[ring].kick { retired.append(old) }
            rings[ring].kick = descriptor
            rings[ring].queue = nil
            try start(ring)
        case .setVringCall(let index, let descriptor):
            let ring = try ringIndex(index, closingOnRefusal: descriptor)
            if let old = rings[ring].call { Glibc.close(old) }
            rings[ring].call = descriptor
        case .setVringErr(let index, let descriptor):
            // Nothing to report on it: device errors drop the connection instead.
            _ = try ringIndex(index, closingOnRefusal: descriptor)
            if let descriptor { Glibc.close(descriptor) }
        case .setVringEnable(let index, let enabled):
            let ring = try ringIndex(index)
            rings[ring].enabled = enabled
        case .netSetMTU, .unsupported:
            throw VhostUserRefusal("\(message) is not supported")
        }
        return nil
    }

    /// Starts ring `index` from its set-up: every part inside guest memory, aligned as the spec requires.
    private func start(_ index: Int) throws(VhostUserRefusal) {
        let ring = rings[index]
        guard let memory, let address = ring.address, ring.size > 0 else {
            throw VhostUserRefusal("ring \(index) kicked before its memory, size and addresses were set")
        }
        let size = ring.size
        guard address.descriptors % 16 == 0, address.available % 2 == 0, address.used % 4 == 0,
              let descriptors = memory.pointer(frontendAddress: address.descriptors, count: 16 * size),
              let available = memory.pointer(frontendAddress: address.available, count: 6 + 2 * size),
              let used = memory.pointer(frontendAddress: address.used, count: 6 + 8 * size) else {
            throw VhostUserRefusal("ring \(index): its descriptors or rings are misaligned or outside guest memory")
        }
        rings[index].queue = SplitVirtqueue(size: size, descriptors: descriptors, available: available, used: used,
                                            memory: memory, nextAvailable: ring.base,
                                            eventIndex: features & VirtioFeature.ringEventIndex != 0)
    }

    private func stop(_ index: Int) {
        if let queue = rings[index].queue { rings[index].base = queue.nextAvailable }
        rings[index].queue = nil
        if let kick = rings[index].kick { retired.append(kick) }
        rings[index].kick = nil
    }

    /// RESET_OWNER, or a frontend that starts over: nothing negotiated, no memory, no rings.
    func reset() {
        for index in rings.indices { if let kick = rings[index].release() { retired.append(kick) } }
        rings = [VhostUserRing(), VhostUserRing()]
        memory = nil
        features = 0
        protocolFeatures = 0
    }

    private func ringIndex(_ index: UInt32) throws(VhostUserRefusal) -> Int {
        guard index < 2 else { throw VhostUserRefusal("ring \(index): a net device with one queue pair has rings 0 and 1") }
        return Int(index)
    }

    /// Parts of a ring change only while it is stopped.
    private func stoppedRing(_ index: UInt32, _ request: String) throws(VhostUserRefusal) -> Int {
        let ring = try ringIndex(index)
        guard rings[ring].queue == nil else { throw VhostUserRefusal("\(request) for running ring \(index)") }
        return ring
    }

    /// The ring for a request that came with `descriptor`, which is closed if the ring doesn't exist.
    private func ringIndex(_ index: UInt32, closingOnRefusal descriptor: Int32?) throws(VhostUserRefusal) -> Int {
        guard index < 2 else {
            if let descriptor { Glibc.close(descriptor) }
            return try ringIndex(index)
        }
        return Int(index)
    }
}
