/// Virtual time and what happens when: actions run in time order, those due at the same millisecond in
/// the order they were scheduled. Nothing reads a real clock.
final class SimulationScheduler {
    private struct Entry {
        let time: Int
        let order: Int
        let action: () -> Void
    }

    private(set) var now = 0
    /// More actions than this at one millisecond is a livelock (something reschedules itself for now).
    static let actionsPerMillisecond = 200_000
    private(set) var livelocked = false
    private var heap: [Entry] = []
    private var scheduled = 0

    func at(_ time: Int, _ action: @escaping () -> Void) {
        scheduled += 1
        heap.append(Entry(time: max(time, now), order: scheduled, action: action))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    func after(_ milliseconds: Int, _ action: @escaping () -> Void) { at(now + milliseconds, action) }

    /// Runs actions until none is left, `until` says stop, or virtual time passes `limit`; returns false
    /// if the limit was reached first.
    @discardableResult
    func run(limit: Int, until done: () -> Bool) -> Bool {
        var sameTime = 0
        while !done() {
            guard let next = pop() else { return true }
            if next.time > limit {
                now = limit
                return false
            }
            sameTime = next.time == now ? sameTime + 1 : 0
            if sameTime > Self.actionsPerMillisecond {
                livelocked = true
                return false
            }
            now = next.time
            next.action()
        }
        return true
    }

    /// When the next action is due, if any.
    var nextTime: Int? { heap.first?.time }

    private func before(_ a: Entry, _ b: Entry) -> Bool { a.time < b.time || (a.time == b.time && a.order < b.order) }

    private func pop() -> Entry? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var smallest = parent
                if left < heap.count && before(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count && before(heap[right], heap[smallest]) { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}
