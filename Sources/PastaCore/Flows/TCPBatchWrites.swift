/// Guest data of the current batch of frames that continues a connection's stream, written to its socket
/// with one send per connection when the batch ends. The bytes are the batch's own frames: they are valid
/// only until the batch is read again, so the engine writes (or copies into the segment pool) all of it in
/// `finishBatch`, and nothing outlives the batch here.
final class TCPBatchWrites {
    /// Segments (or parts of scattered ones) of one batch written to a socket in one send: a batch's 64
    /// frames, in as many parts as a guest that writes 64 KiB frames in page fragments needs.
    static let partsPerConnection = 1024
    private var parts: [[UnsafeRawBufferPointer]]
    private var byteCounts: [Int]
    /// Connections (table slots) with data queued in this batch, in the order they first queued.
    private(set) var connections: [Int] = []

    init(capacity: Int) {
        parts = [[UnsafeRawBufferPointer]](repeating: [], count: capacity)
        byteCounts = [Int](repeating: 0, count: capacity)
    }

    func count(_ slot: Int) -> Int { parts[slot].count }
    func bytes(_ slot: Int) -> Int { byteCounts[slot] }
    func isFull(_ slot: Int) -> Bool { parts[slot].count == Self.partsPerConnection }

    func append(_ slot: Int, _ part: UnsafeRawBufferPointer) {
        if parts[slot].isEmpty { connections.append(slot) }
        parts[slot].append(part)
        byteCounts[slot] += part.count
    }

    /// The slot's parts, valid until `clear`.
    func withParts<R>(_ slot: Int, _ body: (UnsafeBufferPointer<UnsafeRawBufferPointer>) -> R) -> R {
        parts[slot].withUnsafeBufferPointer(body)
    }

    func partList(_ slot: Int) -> [UnsafeRawBufferPointer] { parts[slot] }

    /// Hands each connection that queued to `body`, then starts a fresh list for the next batch.
    func drain(_ body: (Int) -> Void) {
        for slot in connections { body(slot) }
        connections.removeAll(keepingCapacity: true)
    }

    func clear(_ slot: Int) {
        parts[slot].removeAll(keepingCapacity: true)
        byteCounts[slot] = 0
    }
}
