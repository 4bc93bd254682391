/// Numbered slots for objects referred to from epoll: freed slots are reused first, so indexes stay small
/// and the table has a fixed ceiling. Each new occupant gets a fresh 24-bit generation (as epoll
/// references carry it), so events fetched for a slot's previous occupant can be told apart.
public final class SlotTable<Element: AnyObject> {
    public let capacity: Int
    private var slots: [Element?] = []
    private var free: [Int] = []
    public private(set) var count = 0
    private var generation: UInt32 = 0

    public init(capacity: Int) { self.capacity = capacity }

    @inline(__always)
    public subscript(index: Int) -> Element? { index < slots.count ? slots[index] : nil }

    /// Stores what `make(index, generation)` returns; nil when the table is full.
    public func insert(_ make: (Int, UInt32) throws -> Element) rethrows -> Element? {
        guard count < capacity else { return nil }
        let index = free.popLast() ?? slots.count
        generation = (generation &+ 1) & 0xFF_FFFF
        let element = try make(index, generation)
        if index == slots.count { slots.append(element) } else { slots[index] = element }
        count += 1
        return element
    }

    public func remove(at index: Int) {
        guard index < slots.count, slots[index] != nil else { return }
        slots[index] = nil
        free.append(index)
        count -= 1
    }

    /// Every occupied slot.
    public func forEach(_ body: (Element) -> Void) {
        for case let element? in slots { body(element) }
    }
}
