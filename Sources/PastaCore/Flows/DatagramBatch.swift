/// Buffers for one recvmmsg()/sendmmsg() batch: `count` slots of `slotSize` bytes, each datagram placed at
/// an offset into its slot (room for a frame's headers in front, so it can become a frame in place).
final class DatagramBatch {
    let count: Int
    let slotSize: Int
    private let storage: UnsafeMutableRawPointer
    /// Per slot, for the shim: where a datagram goes, how much room it has, and how long it turned out.
    let bases: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let lengths: UnsafeMutablePointer<Int>
    let received: UnsafeMutablePointer<Int>

    init(count: Int, slotSize: Int, offset: Int = 0) {
        self.count = count
        self.slotSize = slotSize
        storage = .allocate(byteCount: count * slotSize, alignment: 64)
        bases = .allocate(capacity: count)
        lengths = .allocate(capacity: count)
        received = .allocate(capacity: count)
        place(at: offset)
    }

    deinit {
        storage.deallocate()
        bases.deallocate()
        lengths.deallocate()
        received.deallocate()
    }

    /// Datagrams go `offset` bytes into their slots from now on.
    func place(at offset: Int) {
        for index in 0..<count {
            bases[index] = storage + index * slotSize + offset
            lengths[index] = slotSize - offset
        }
    }

    /// The whole of slot `index`.
    @inline(__always)
    func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: storage + index * slotSize, count: slotSize)
    }

    /// The datagram received into slot `index`.
    @inline(__always)
    func datagram(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: bases[index], count: received[index])
    }

    /// Copies the datagrams of `slots` one after the other to `destination`; returns how many bytes that
    /// was. (A run for one segmented frame: the caller knows they fit.)
    func gather(_ slots: Range<Int>, to destination: UnsafeMutableRawPointer) -> Int {
        var length = 0
        for slot in slots {
            (destination + length).copyMemory(from: bases[slot]!, byteCount: received[slot])
            length += received[slot]
        }
        return length
    }
}
