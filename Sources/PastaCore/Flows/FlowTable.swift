/// Slots for flows of one kind, found by index (from an epoll reference) or by key (from a guest frame).
/// Freed slots are reused first, so indexes stay small and the table has a fixed ceiling.
public final class FlowTable<Flow: AnyObject> {
    public let capacity: Int
    private var slots: [Flow?] = []
    private var free: [Int] = []
    private var byKey: [FlowKey: Int] = [:]
    public private(set) var count = 0
    /// Handed to each new flow (24 bits, as epoll references carry it), so events fetched for a slot's
    /// previous occupant can be told apart.
    private var generation: UInt32 = 0

    public init(capacity: Int) { self.capacity = capacity }

    @inline(__always)
    public subscript(index: Int) -> Flow? { index < slots.count ? slots[index] : nil }

    @inline(__always)
    public func index(of key: FlowKey) -> Int? { byKey[key] }

    /// Stores the flow `make(index, generation)` returns under `key`; nil when the table is full.
    public func insert(_ key: FlowKey, _ make: (Int, UInt32) throws -> Flow) rethrows -> Flow? {
        guard count < capacity else { return nil }
        let index = free.popLast() ?? slots.count
        generation = (generation &+ 1) & 0xFF_FFFF
        let flow = try make(index, generation)
        if index == slots.count { slots.append(flow) } else { slots[index] = flow }
        byKey[key] = index
        count += 1
        return flow
    }

    public func remove(_ key: FlowKey) {
        guard let index = byKey.removeValue(forKey: key) else { return }
        slots[index] = nil
        free.append(index)
        count -= 1
    }

    /// Every live flow, for timers.
    public func forEach(_ body: (Flow) -> Void) {
        for case let flow? in slots { body(flow) }
    }
}
