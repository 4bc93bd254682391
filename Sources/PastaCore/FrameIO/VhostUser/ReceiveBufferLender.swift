/// Lends the guest's receive chains as room for frames (FrameLoan), and settles the loan: a frame's
/// virtio-net header and its Ethernet, IP and TCP headers go in the first buffer of its first chain, its
/// payload in the rest of that chain and in further chains (mergeable buffers: num_buffers says how many).
/// Filled chains go to the used ring; the rest go back to the available ring, untouched.
final class ReceiveBufferLender {
    enum Outcome: Equatable {
        case lent
        /// No chain available: the guest must post more.
        case empty
        /// The next chain can't be lent (its first buffer can't hold a frame's headers, or it has more
        /// buffers than a loan can list): it stays in the ring, for a frame built in our memory.
        case unsuitable
        case broken(String)
    }

    private let headerSize: Int
    private let chain = DescriptorChain()
    /// The chains of the current loan, in the order taken: the frame each is part of, and its room.
    private var lentChains: [(head: UInt16, room: Int, frame: Int)] = []
    /// Where the ring stood after lending: unused chains go back only if nothing was taken since.
    private var availableAfterLending: UInt16 = 0

    init(headerSize: Int) {
        self.headerSize = headerSize
        lentChains.reserveCapacity(FrameLoan.maximumParts)
    }

    /// Fills `loan` with frames of `bytes` of payload in all, at most `payloadLimit` each, from the
    /// chains `queue` has available.
    func lend(_ loan: FrameLoan, from queue: SplitVirtqueue, headerLength: Int, payloadLimit: Int,
              bytes: Int) -> Outcome {
        loan.reset(headerLength: headerLength)
        lentChains.removeAll(keepingCapacity: true)
        let headersLength = headerSize + headerLength
        var left = bytes
        var stopped = Outcome.lent
        lending: while left > 0, !loan.isFull {
            var chainsInFrame = 0
            repeat {
                switch queue.next(into: chain) {
                case .chain:
                    break
                case .empty:
                    if queue.armKick() { continue }
                    stopped = .empty
                    break lending
                case .broken(let reason):
                    queue.putBack(lentChains.count)
                    lentChains.removeAll(keepingCapacity: true)
                    loan.reset(headerLength: headerLength)
                    return .broken(reason)
                }
                let buffers = chain.writable
                guard buffers.count <= FrameLoan.maximumParts - loan.partCount,
                      chainsInFrame > 0 || (buffers.first?.count ?? 0) >= headersLength else {
                    queue.putBack(1)
                    stopped = .unsuitable
                    break lending
                }
                if chainsInFrame == 0 {
                    loan.beginFrame(header: buffers[0].base + headerSize, payloadLimit: min(left, payloadLimit))
                }
                for (index, buffer) in buffers.enumerated() {
                    let skip = chainsInFrame == 0 && index == 0 ? headersLength : 0
                    loan.addPart(buffer.base + skip, count: buffer.count - skip)
                }
                lentChains.append((chain.head, chain.writableBytes, loan.frameCount - 1))
                chainsInFrame += 1
            } while loan.frameRoomLeft > 0
            left -= loan.currentFrameRoom
        }
        // A frame that got no room for payload before lending stopped goes back.
        if loan.frameCount > 0 && loan.currentFrameRoom == 0 {
            let frame = loan.frameCount - 1
            loan.abandonFrame()
            var unused = 0
            while lentChains.last?.frame == frame {
                lentChains.removeLast()
                unused += 1
            }
            queue.putBack(unused)
        }
        availableAfterLending = queue.nextAvailable
        return loan.frameCount > 0 ? .lent : stopped
    }

    /// The first `frames` frames of the loan are filled (their headers written): writes each one's
    /// virtio-net header, uses their chains, and gives back the rest. Publishing is the caller's.
    func settle(_ loan: FrameLoan, frames: Int, to queue: SplitVirtqueue, segmentPayload4: Int, segmentPayload6: Int) {
        defer { lentChains.removeAll(keepingCapacity: true) }
        let headersLength = headerSize + loan.headerLength
        var next = 0
        for frame in 0..<min(frames, loan.frameCount) {
            let header = loan.header(frame)
            let ipv4 = header[12] == 0x08 && header[13] == 0x00
            let payload = loan.payloadLength(frame)
            // Its chains, filled in order; then its virtio-net header (the used ring is published later).
            var left = headersLength + payload
            let first = next
            while next < lentChains.count && lentChains[next].frame == frame && left > 0 {
                let written = min(lentChains[next].room, left)
                left -= written
                queue.use(head: lentChains[next].head, written: UInt32(written))
                next += 1
            }
            let virtio = header.baseAddress! - headerSize
            VirtioNetHeader.forTCP(ipv4: ipv4, transportStart: EthernetFrame.headerLength + (ipv4 ? 20 : 40),
                                   headersLength: loan.headerLength, payloadLength: payload,
                                   segmentPayload: ipv4 ? segmentPayload4 : segmentPayload6).write(to: virtio)
            // num_buffers, little-endian, wherever the guest's buffer happens to be aligned.
            let chains = UInt16(next - first)
            virtio.storeBytes(of: UInt8(truncatingIfNeeded: chains), toByteOffset: 10, as: UInt8.self)
            virtio.storeBytes(of: UInt8(truncatingIfNeeded: chains >> 8), toByteOffset: 11, as: UInt8.self)
        }
        // The unfilled rest goes back if nothing was taken from the ring since; else (a control frame was
        // sent while the loan was out) it is returned empty, which the driver drops and posts again.
        let unused = lentChains.count - next
        guard unused > 0 else { return }
        if queue.nextAvailable == availableAfterLending {
            queue.putBack(unused)
        } else {
            for index in next..<lentChains.count { queue.use(head: lentChains[index].head, written: 0) }
        }
    }

    /// The loan is void (the device stopped): its chains are the ring's business now.
    func forget() { lentChains.removeAll(keepingCapacity: true) }
}
