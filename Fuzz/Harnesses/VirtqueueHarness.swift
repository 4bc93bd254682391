import Glibc
@testable import PastaCore

/// A split virtqueue as a hostile guest driver lays it out: the descriptor table, the rings and the buffers
/// all come from the input. Input: the queue size (1 << (byte % 9): 1 to 256), a control byte (bit 0
/// EVENT_IDX, bit 1 put the first chain back and take it again, bit 2 publish after every chain rather
/// than once at the end), nextAvailable (u16, big-endian), then the memory image.
///
/// The image is real GuestMemory (two adjacent regions of one shared file): guest-physical `ringBase`
/// holds the descriptor table at +0, the available ring at +4096 and the used ring at +5120; `bufferBase`,
/// the second region, the buffers. The walker takes chains until the ring is empty or broken (a bounded
/// number of times), writes into every writable buffer and reads every readable one, uses and publishes
/// them and asks whether to notify. Every buffer must lie inside one region, the byte counts must be the
/// sums of the buffers, a chain holds at most `size` of them, and nextAvailable moves by one per chain.
enum VirtqueueHarness {
    static let harness = Harness(
        name: "virtqueue", summary: "split virtqueue walker: descriptor chains, used ring and notifications over guest memory",
        maximumLength: 4 + imageSize, run: run, seeds: seeds)

    static let ringBase: UInt64 = 0x1_0000
    static let regionSize = 8192
    static let bufferBase = ringBase + UInt64(regionSize)
    static let imageSize = 2 * regionSize
    static let availableOffset = 4096
    static let usedOffset = 5120

    /// Mapped once: the mapping and the page cache behind it are reused by every input.
    static let memory: GuestMemory = {
        var template = Array("/tmp/pasta-fuzz-virtqueue.XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { fatalError("virtqueue: mkstemp: \(errno)") }
        unlink(String(cString: template))
        guard ftruncate(descriptor, off_t(imageSize)) == 0 else { fatalError("virtqueue: ftruncate: \(errno)") }
        let regions = [
            MemoryRegionDescription(guestPhysical: ringBase, size: UInt64(regionSize), frontendAddress: 0x7f00_0000_0000,
                                    mmapOffset: 0, descriptor: dup(descriptor)),
            MemoryRegionDescription(guestPhysical: bufferBase, size: UInt64(regionSize), frontendAddress: 0x7f00_1000_0000,
                                    mmapOffset: UInt64(regionSize), descriptor: descriptor),
        ]
        do {
            return try GuestMemory(regions: regions)
        } catch {
            fatalError("virtqueue: \(error)")
        }
    }()

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let size = 1 << Int(input.byte() % 9)
        let control = input.byte()
        let nextAvailable = input.uint16()
        let image = input.bytes(imageSize)

        let rings = memory.pointer(guestPhysical: ringBase, count: regionSize)!
        let buffers = memory.pointer(guestPhysical: bufferBase, count: regionSize)!
        rings.initializeMemory(as: UInt8.self, repeating: 0, count: regionSize)
        buffers.initializeMemory(as: UInt8.self, repeating: 0, count: regionSize)
        image.withUnsafeBytes { bytes in
            let first = min(bytes.count, regionSize)
            rings.copyMemory(from: bytes.baseAddress!, byteCount: first)
            if bytes.count > first { buffers.copyMemory(from: bytes.baseAddress! + first, byteCount: bytes.count - first) }
        }

        let queue = SplitVirtqueue(size: size, descriptors: rings, available: rings + availableOffset,
                                   used: rings + usedOffset, memory: memory, nextAvailable: nextAvailable,
                                   eventIndex: control & 1 != 0)
        if control & 8 != 0 {
            lend(queue, control: control, input: &input, regions: [rings, buffers])
        } else {
            walk(queue, size: size, control: control, regions: [rings, buffers])
        }
    }

    /// The receive ring as passt --vhost-user lends it for frames (ReceiveBufferLender): every part lent
    /// lies in guest memory, a peek's worth of bytes is written into the parts, and settling gives back
    /// exactly what wasn't filled.
    static func lend(_ queue: SplitVirtqueue, control: UInt8, input: inout FuzzInput, regions: [UnsafeMutableRawPointer]) {
        let lender = ReceiveBufferLender(headerSize: 12)
        let loan = FrameLoan()
        for _ in 0..<4 {
            let headerLength = control & 16 != 0 ? 74 : 54
            let before = queue.nextAvailable
            let outcome = lender.lend(loan, from: queue, headerLength: headerLength,
                                      payloadLimit: 1 + Int(input.uint16()), bytes: 1 + Int(input.uint16()) * 16)
            guard outcome == .lent else {
                guard loan.frameCount == 0, queue.nextAvailable == before else {
                    fatalError("virtqueue: \(outcome) left \(loan.frameCount) frames lent, nextAvailable \(before) -> \(queue.nextAvailable)")
                }
                return
            }
            guard loan.frameCount > 0, loan.capacity > 0, loan.partCount <= FrameLoan.maximumParts else {
                fatalError("virtqueue: a loan of \(loan.frameCount) frames, \(loan.capacity) bytes, \(loan.partCount) parts")
            }
            for part in loan.payloadParts + (0..<loan.frameCount).map({ loan.header($0) }) {
                guard regions.contains(where: { part.baseAddress! >= $0 && part.baseAddress! + part.count <= $0 + regionSize }) else {
                    fatalError("virtqueue: a lent part of \(part.count) bytes outside guest memory")
                }
            }
            let received = Int(input.uint16()) % (loan.capacity + 1)
            var left = received
            for part in loan.payloadParts where left > 0 {
                let count = min(left, part.count)
                part.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0xA5, count: count)
                left -= count
            }
            let frames = loan.fill(received)
            for frame in 0..<frames {
                loan.header(frame).initializeMemory(as: UInt8.self, repeating: 0x5A)
            }
            lender.settle(loan, frames: frames, to: queue, segmentPayload4: 1460, segmentPayload6: 1440)
            queue.publishUsed()
            _ = queue.shouldNotify()
        }
    }

    static func walk(_ queue: SplitVirtqueue, size: Int, control: UInt8, regions: [UnsafeMutableRawPointer]) {
        let chain = DescriptorChain()
        var putBack = control & 2 != 0
        var checksum: UInt8 = 0
        for _ in 0..<(2 * size + 8) {
            let before = queue.nextAvailable
            let result = queue.next(into: chain)
            guard result == .chain else {
                guard queue.nextAvailable == before else { fatalError("virtqueue: \(result) moved nextAvailable") }
                if result == .empty, queue.hasAvailable { fatalError("virtqueue: empty, yet something is available") }
                break
            }
            guard queue.nextAvailable == before &+ 1 else { fatalError("virtqueue: a chain moved nextAvailable by more than one") }
            check(chain, size: size, regions: regions)
            if putBack {
                putBack = false
                let head = chain.head
                queue.putBack(1)
                guard queue.nextAvailable == before else { fatalError("virtqueue: putBack didn't rewind") }
                // The driver's memory hasn't changed since: the same chain comes back.
                guard queue.next(into: chain) == .chain, chain.head == head else { fatalError("virtqueue: a put back chain changed") }
                check(chain, size: size, regions: regions)
            }
            // What a device does with the buffers: every byte read or written, where AddressSanitizer watches.
            for buffer in chain.readable {
                for offset in 0..<buffer.count { checksum &+= buffer.base.load(fromByteOffset: offset, as: UInt8.self) }
            }
            for buffer in chain.writable { buffer.base.initializeMemory(as: UInt8.self, repeating: checksum, count: buffer.count) }
            queue.use(head: chain.head, written: UInt32(chain.writableBytes))
            if control & 4 != 0 {
                queue.publishUsed()
                _ = queue.shouldNotify()
            }
        }
        queue.publishUsed()
        _ = queue.shouldNotify()
        _ = queue.armKick()
    }

    static func check(_ chain: DescriptorChain, size: Int, regions: [UnsafeMutableRawPointer]) {
        guard Int(chain.head) < size else { fatalError("virtqueue: head \(chain.head) in a ring of \(size)") }
        guard chain.readable.count + chain.writable.count <= size else {
            fatalError("virtqueue: \(chain.readable.count + chain.writable.count) buffers in a ring of \(size)")
        }
        for buffer in chain.readable + chain.writable {
            guard buffer.count > 0, regions.contains(where: { buffer.base >= $0 && buffer.base + buffer.count <= $0 + regionSize })
            else { fatalError("virtqueue: a buffer of \(buffer.count) bytes outside guest memory") }
        }
        let readable = chain.readable.reduce(0) { $0 + $1.count }
        let writable = chain.writable.reduce(0) { $0 + $1.count }
        guard readable == chain.readableBytes, writable == chain.writableBytes, readable + writable <= Int(UInt32.max) else {
            fatalError("virtqueue: byte counts \(chain.readableBytes) + \(chain.writableBytes), buffers \(readable) + \(writable)")
        }
    }

    // MARK: seeds

    /// An image as a driver lays it out: descriptors, the available ring's heads, its index and used_event.
    struct Image {
        var bytes = [UInt8](repeating: 0, count: imageSize)
        let size: Int
        var availableIndex: UInt16
        private var nextBuffer = regionSize

        init(size: Int, startIndex: UInt16) {
            self.size = size
            availableIndex = startIndex
            put16(availableOffset + 2, startIndex)
            put16(usedOffset + 2, startIndex)
        }

        mutating func put16(_ offset: Int, _ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + 2, with: $0) } }
        mutating func put32(_ offset: Int, _ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + 4, with: $0) } }
        mutating func put64(_ offset: Int, _ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + 8, with: $0) } }

        mutating func descriptor(_ index: Int, address: UInt64, length: UInt32, flags: UInt16, next: UInt16) {
            put64(16 * index, address)
            put32(16 * index + 8, length)
            put16(16 * index + 12, flags)
            put16(16 * index + 14, next)
        }

        /// A chain in descriptors `first`..., buffers taken from the second region.
        mutating func chain(first: Int, _ parts: [(length: UInt32, writable: Bool)]) {
            for (position, part) in parts.enumerated() {
                let index = (first + position) % size
                let address = bufferBase + UInt64(nextBuffer - regionSize)
                nextBuffer += Int(part.length)
                precondition(nextBuffer <= imageSize)
                descriptor(index, address: address, length: part.length,
                           flags: (part.writable ? 2 : 0) | (position < parts.count - 1 ? 1 : 0), next: UInt16((index + 1) % size))
            }
            put16(availableOffset + 4 + 2 * Int(availableIndex & UInt16(size - 1)), UInt16(first))
            availableIndex &+= 1
            put16(availableOffset + 2, availableIndex)
        }

        mutating func usedEvent(_ value: UInt16) { put16(availableOffset + 4 + 2 * size, value) }

        /// Trailing zeros left off: the harness fills the rest of the image with zeros.
        func input(control: UInt8, nextAvailable: UInt16) -> [UInt8] {
            let used = (bytes.lastIndex { $0 != 0 } ?? -1) + 1
            return [UInt8(size.trailingZeroBitCount), control, UInt8(nextAvailable >> 8), UInt8(nextAvailable & 0xff)]
                + bytes[..<used]
        }
    }

    static func seeds() -> [[UInt8]] {
        var transmit = Image(size: 8, startIndex: 0)
        transmit.chain(first: 0, [(12, false), (60, false)])
        transmit.chain(first: 2, [(12, false), (1514, false)])
        transmit.usedEvent(0)

        var receive = Image(size: 256, startIndex: 65530)
        for index in 0..<12 { receive.chain(first: 2 * index, [(12, true), (UInt32(100 + 40 * index), true)]) }
        receive.usedEvent(65533)

        var single = Image(size: 1, startIndex: 7)
        single.chain(first: 0, [(64, true)])

        var mixed = Image(size: 16, startIndex: 0)
        mixed.chain(first: 0, [(0, false), (20, false), (0, true), (300, true)])
        mixed.chain(first: 4, [(1, false)])
        mixed.chain(first: 5, [(2048, true), (2048, true)])

        var looped = Image(size: 4, startIndex: 0)
        looped.chain(first: 0, [(10, false), (10, true)])
        looped.descriptor(1, address: bufferBase, length: 10, flags: 1, next: 0)

        return [transmit.input(control: 1, nextAvailable: 0), receive.input(control: 3, nextAvailable: 65530),
                single.input(control: 4, nextAvailable: 7), mixed.input(control: 6, nextAvailable: 0),
                looped.input(control: 1, nextAvailable: 0)]
    }
}
