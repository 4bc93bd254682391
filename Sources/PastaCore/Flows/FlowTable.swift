/// Slots for flows of one kind, found by index (from an epoll reference) or by key (from a guest frame).
public final class FlowTable<Flow: AnyObject> {
    private let slots: SlotTable<Flow>
    private var byKey: [FlowKey: Int] = [:]

    public init(capacity: Int) { slots = SlotTable(capacity: capacity) }

    public var capacity: Int { slots.capacity }
    public var count: Int { slots.count }

    @inline(__always)
    public subscript(index: Int) -> Flow? { slots[index] }

    @inline(__always)
    public func index(of key: FlowKey) -> Int? { byKey[key] }

    /// Stores the flow `make(index, generation)` returns under `key`; nil when the table is full.
    public func insert(_ key: FlowKey, _ make: (Int, UInt32) throws -> Flow) rethrows -> Flow? {
        var stored: Int?
        let flow = try slots.insert { index, generation in
            stored = index
            return try make(index, generation)
        }
        if let stored { byKey[key] = stored }
        return flow
    }

    public func remove(_ key: FlowKey) {
        guard let index = byKey.removeValue(forKey: key) else { return }
        slots.remove(at: index)
    }

    /// Every live flow, for timers.
    public func forEach(_ body: (Flow) -> Void) { slots.forEach(body) }

    /// Fewer than a sixteenth of the slots are free: time to make room before the table runs out.
    public var isNearlyFull: Bool { count >= capacity - capacity / 16 }

    private var lastFruitlessReclaim = Int.min / 2

    /// Makes room: hands `evict` the oldest half of the flows `age` gives an age for (their last
    /// activity; nil for flows that must stay), oldest first; returns how many. A scan that found nothing
    /// isn't repeated for a second, so a full table of flows in use costs one scan a second, not one per
    /// frame.
    @discardableResult
    public func reclaim(now: Int, age: (Flow) -> Int?, evict: (Flow) -> Void) -> Int {
        guard now - lastFruitlessReclaim >= 1000 else { return 0 }
        var candidates: [(lastActivity: Int, flow: Flow)] = []
        slots.forEach { flow in
            if let lastActivity = age(flow) { candidates.append((lastActivity, flow)) }
        }
        guard !candidates.isEmpty else {
            lastFruitlessReclaim = now
            return 0
        }
        candidates.sort { $0.lastActivity < $1.lastActivity }
        let victims = candidates.prefix(max(1, candidates.count / 2))
        victims.forEach { evict($0.flow) }
        return victims.count
    }
}
