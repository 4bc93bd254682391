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
}
