/// Slots for guest segments the socket can't take yet: ones that arrived after a gap (until the guest
/// fills it) or while the socket's send buffer was full (until it drains). They are not acknowledged
/// while they wait here, so nothing is acknowledged that the socket didn't take; the pool only saves the
/// guest from resending them. It is shared by all connections and bounded: when it is full, segments are
/// dropped and the guest's retransmission takes over.
final class SegmentPool {
    struct Slot {
        var sequence: UInt32 = 0
        var length = 0
        var fin = false
    }

    static let slotSize = FrameBatch.frameCapacity
    let capacity: Int
    private let storage: UnsafeMutableRawPointer
    private(set) var slots: [Slot]
    private var free: [Int]

    init(capacity: Int) {
        self.capacity = capacity
        storage = UnsafeMutableRawPointer.allocate(byteCount: capacity * Self.slotSize, alignment: 64)
        slots = [Slot](repeating: Slot(), count: capacity)
        free = Array((0..<capacity).reversed())
    }

    deinit { storage.deallocate() }

    /// Copies `bytes` (and the FIN flag) into a free slot; nil when the pool is full.
    func store(_ bytes: UnsafeRawBufferPointer, sequence: UInt32, fin: Bool) -> Int? {
        guard bytes.count <= Self.slotSize, let index = free.popLast() else { return nil }
        if let base = bytes.baseAddress { (storage + index * Self.slotSize).copyMemory(from: base, byteCount: bytes.count) }
        slots[index] = Slot(sequence: sequence, length: bytes.count, fin: fin)
        return index
    }

    /// The same for a payload in parts.
    func store(_ payload: ScatteredPayload, sequence: UInt32, fin: Bool) -> Int? {
        guard payload.byteCount <= Self.slotSize, let index = free.popLast() else { return nil }
        let copied = payload.copy(into: storage + index * Self.slotSize)
        slots[index] = Slot(sequence: sequence, length: copied, fin: fin)
        return index
    }

    func bytes(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + index * Self.slotSize, count: slots[index].length)
    }

    func release(_ index: Int) { free.append(index) }

    /// Slots not holding a segment.
    var freeCount: Int { free.count }
}
