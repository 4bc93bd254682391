/// One buffer of a descriptor chain, in our address space.
struct GuestBuffer {
    var base: UnsafeMutableRawPointer
    var count: Int
}

/// A descriptor chain as the walker found it: the driver's readable buffers first (what the guest sends),
/// then its writable ones (where we write for it). Reused from chain to chain: no allocation per chain.
final class DescriptorChain {
    /// The head's index: what goes back in the used ring.
    var head: UInt16 = 0
    var readable: [GuestBuffer] = []
    var writable: [GuestBuffer] = []
    var readableBytes = 0
    var writableBytes = 0

    init() {
        // Assigned whole rather than reserved in place: no access to the properties that spans a call, so
        // the optimizer can drop their run-time exclusivity checks.
        var buffers: [GuestBuffer] = []
        buffers.reserveCapacity(64)
        readable = buffers
        buffers = []
        buffers.reserveCapacity(64)
        writable = buffers
    }
}

/// The outcome of looking for the next available chain.
enum ChainResult: Equatable {
    case chain
    case empty
    /// The driver broke the ring's rules (the reason is for the log): the device must stop using it.
    case broken(String)
}

/// A split virtqueue (virtio 1.2, 2.7) seen from the device: we take chains the driver made available and
/// give them back in the used ring. All of the driver's memory is hostile: indexes, heads, descriptor
/// addresses, lengths, flags and `next` links are checked before use; a chain that loops (longer than the
/// queue), points outside guest memory, puts a readable buffer after a writable one, uses INDIRECT (not
/// negotiated) or whose byte total passes 2^32 is `broken`.
final class SplitVirtqueue {
    /// The largest queue size (virtio: 32768); sizes must be powers of two.
    static let maximumSize = 32768

    private enum DescriptorFlag {
        static let next: UInt16 = 1
        static let write: UInt16 = 2
        static let indirect: UInt16 = 4
    }
    /// The available ring's flag asking for no used-buffer notifications (without EVENT_IDX).
    private static let noInterrupt: UInt16 = 1

    let size: Int
    private let mask: UInt16
    private let descriptors: UnsafeMutableRawPointer
    private let available: UnsafeMutableRawPointer
    private let used: UnsafeMutableRawPointer
    private let memory: GuestAddressSpace
    /// `memory` when it is the real table: translated by a direct call, not through the protocol.
    private let mappedMemory: GuestMemory?
    private let eventIndex: Bool

    private var nextAvailableIndex: UInt16
    /// Our used index, ahead of the ring's until `publishUsed`.
    private var usedIndex: UInt16
    /// The used index when `shouldNotify` last decided: what was published since is what it decides on.
    private var usedAtLastDecision: UInt16
    /// Chains taken and not yet used: how far `putBack` may rewind.
    private var outstanding = 0

    /// The ring at the given (already translated) pointers: `descriptors` 16 * size bytes, `available`
    /// 6 + 2 * size, `used` 6 + 8 * size (the caller checked each lies within guest memory and is aligned:
    /// 16, 2 and 4 bytes). `nextAvailable`: SET_VRING_BASE's value. `eventIndex`: VIRTIO_RING_F_EVENT_IDX.
    init(size: Int, descriptors: UnsafeMutableRawPointer, available: UnsafeMutableRawPointer,
         used: UnsafeMutableRawPointer, memory: GuestAddressSpace, nextAvailable: UInt16, eventIndex: Bool) {
        precondition(size > 0 && size <= Self.maximumSize && size & (size - 1) == 0, "queue size \(size)")
        self.size = size
        mask = UInt16(size - 1)
        self.descriptors = descriptors
        self.available = available
        self.used = used
        self.memory = memory
        mappedMemory = memory as? GuestMemory
        self.eventIndex = eventIndex
        nextAvailableIndex = nextAvailable
        // The used index stays where the device left it (0 on a fresh ring, set by the driver).
        usedIndex = SharedMemoryOrder.loadAcquire(used + 2)
        usedAtLastDecision = usedIndex
    }

    /// Where we are in the available ring: GET_VRING_BASE's answer when the ring stops.
    var nextAvailable: UInt16 { nextAvailableIndex }

    /// How many chains the driver made available that we haven't taken (as the driver says: `next`
    /// checks it is within the ring).
    var availableCount: Int { Int(SharedMemoryOrder.loadAcquire(available + 2) &- nextAvailableIndex) }

    /// Whether the driver made a chain available that we haven't taken.
    var hasAvailable: Bool { SharedMemoryOrder.loadAcquire(available + 2) != nextAvailableIndex }

    /// Takes the next available chain into `chain`.
    func next(into chain: DescriptorChain) -> ChainResult {
        let availableIndex = SharedMemoryOrder.loadAcquire(available + 2)
        let pending = availableIndex &- nextAvailableIndex
        if pending == 0 { return .empty }
        guard Int(pending) <= size else {
            return .broken("available index \(availableIndex) is \(pending) entries past \(nextAvailableIndex), in a ring of \(size)")
        }
        let head = Self.load(UInt16.self, available, 4 + 2 * Int(nextAvailableIndex & mask))
        guard Int(head) < size else { return .broken("head \(head) outside the table of \(size)") }
        // The walk works on local copies: no exclusivity check per descriptor on the chain's properties.
        // Taken out of the chain first, so they are uniquely referenced and appending never copies.
        var readable = chain.readable
        var writable = chain.writable
        chain.readable = []
        chain.writable = []
        var readableBytes = 0
        var writableBytes = 0
        let result = collect(from: head, into: &readable, &writable, readableBytes: &readableBytes,
                             writableBytes: &writableBytes)
        chain.head = head
        chain.readable = readable
        chain.writable = writable
        chain.readableBytes = readableBytes
        chain.writableBytes = writableBytes
        guard case .chain = result else { return result }
        nextAvailableIndex &+= 1
        outstanding += 1
        return .chain
    }

    /// Follows the chain from `head`: its buffers into the two lists, their sizes into the byte counts.
    @inline(__always)
    private func collect(from head: UInt16, into readable: inout [GuestBuffer], _ writable: inout [GuestBuffer],
                         readableBytes: inout Int, writableBytes: inout Int) -> ChainResult {
        // Emptied one by one: chains hold a few buffers, and removeAll(keepingCapacity:) costs more.
        while readable.popLast() != nil {}
        while writable.popLast() != nil {}
        var index = head
        var walked = 0
        while true {
            walked += 1
            guard walked <= size else { return .broken("chain from head \(head) is longer than the ring (a loop)") }
            // Each field read once: the driver may rewrite the descriptor while we look at it.
            let entry = descriptors + 16 * Int(index)
            let address = Self.load(UInt64.self, entry, 0)
            let length = Self.load(UInt32.self, entry, 8)
            let flags = Self.load(UInt16.self, entry, 12)
            let next = Self.load(UInt16.self, entry, 14)
            guard flags & DescriptorFlag.indirect == 0 else {
                return .broken("descriptor \(index) is indirect (not negotiated)")
            }
            if length > 0 {
                guard let base = translate(address, Int(length)) else {
                    return .broken("descriptor \(index): \(length) bytes at \(address) outside guest memory")
                }
                let buffer = GuestBuffer(base: base, count: Int(length))
                if flags & DescriptorFlag.write != 0 {
                    writable.append(buffer)
                    writableBytes += Int(length)
                } else {
                    guard writable.isEmpty else {
                        return .broken("descriptor \(index): a readable buffer after a writable one")
                    }
                    readable.append(buffer)
                    readableBytes += Int(length)
                }
                guard readableBytes + writableBytes <= Int(UInt32.max) else {
                    return .broken("chain from head \(head) holds more than 4 GiB")
                }
            }
            guard flags & DescriptorFlag.next != 0 else { return .chain }
            guard Int(next) < size else { return .broken("descriptor \(index): next \(next) outside the table of \(size)") }
            index = next
        }
    }

    @inline(__always)
    private func translate(_ address: UInt64, _ count: Int) -> UnsafeMutableRawPointer? {
        if let mappedMemory { return mappedMemory.pointer(guestPhysical: address, count: count) }
        return memory.pointer(guestPhysical: address, count: count)
    }

    /// Gives back the last `count` chains taken (not yet used), to be taken again later: a frame that needs
    /// more receive buffers than there are waits whole. At most the chains taken and not used go back.
    func putBack(_ count: Int) {
        let returned = max(0, min(count, outstanding))
        nextAvailableIndex &-= UInt16(returned)
        outstanding -= returned
    }

    /// Returns a chain: `written` bytes of its writable buffers hold data (0 for a transmit chain). The
    /// driver sees it after `publishUsed`.
    func use(head: UInt16, written: UInt32) {
        let element = used + 4 + 8 * Int(usedIndex & mask)
        element.storeBytes(of: UInt32(head).littleEndian, as: UInt32.self)
        (element + 4).storeBytes(of: written.littleEndian, as: UInt32.self)
        usedIndex &+= 1
        outstanding = max(0, outstanding - 1)
    }

    /// Makes the entries added by `use` visible (the used index, with release order).
    func publishUsed() {
        SharedMemoryOrder.storeRelease(used + 2, usedIndex)
    }

    /// After `publishUsed`: whether the driver wants an interrupt (call) for what was published since
    /// this was last asked: with EVENT_IDX its used_event (vring_need_event), else unless the available
    /// ring's NO_INTERRUPT flag is set. Nothing published since: no.
    func shouldNotify() -> Bool {
        // Our used index must be visible before we read what the driver wants, or both sides may wait.
        SharedMemoryOrder.fence()
        let old = usedAtLastDecision
        let new = usedIndex
        usedAtLastDecision = new
        guard new != old else { return false }
        if eventIndex {
            let event = Self.load(UInt16.self, available, 4 + 2 * size)
            return new &- event &- 1 < new &- old
        }
        return Self.load(UInt16.self, available, 0) & Self.noInterrupt == 0
    }

    /// With EVENT_IDX, asks the driver to kick when it makes another chain available (avail_event in the
    /// used ring: the available index as it is now, which is past `nextAvailable` when chains were put
    /// back: the driver kicks only when its index passes avail_event, so asking for an earlier one would
    /// never be answered); then checks again, since the driver may have added one meanwhile: true if
    /// any chain is available. Without EVENT_IDX the driver always kicks (we never set
    /// VRING_USED_F_NO_NOTIFY): returns hasAvailable.
    func armKick() -> Bool {
        if eventIndex {
            let availableIndex = SharedMemoryOrder.loadAcquire(available + 2)
            (used + 4 + 8 * size).storeBytes(of: availableIndex.littleEndian, as: UInt16.self)
            // avail_event must be visible before we look at the index again, or a kick could be lost.
            SharedMemoryOrder.fence()
        }
        return hasAvailable
    }

    /// A little-endian field of the driver's memory, wherever it is aligned.
    @inline(__always)
    private static func load<Value: FixedWidthInteger>(_: Value.Type, _ base: UnsafeMutableRawPointer, _ offset: Int) -> Value {
        Value(littleEndian: UnsafeRawPointer(base).loadUnaligned(fromByteOffset: offset, as: Value.self))
    }
}
