import Glibc

/// passt's vhost-user frame backend: the guest's virtio-net rings in memory qemu shares with us. Frames
/// from the guest are read where the guest wrote them (copied only when a frame spans several buffers);
/// frames for the guest are written straight into its receive buffers, and TCP payloads are read from
/// their sockets right there (`lend`). qemu is off the data path: the
/// guest kicks our eventfds, we signal its call eventfds. Offloads, where the driver negotiated them, are
/// those of our tap: each frame's virtio-net header says what checksum and segmentation is left to do.
///
/// The loop watches one descriptor: an epoll set of our own holding the control socket and the two kick
/// eventfds, so kicks, control messages and the frontend leaving all arrive as "readable".
public final class VhostUserBackend: FrameBackend {
    private let channel: VhostUserChannel
    private let device = VhostUserDevice()
    private let events: EventPoll
    private let socket: Descriptor
    /// The kick descriptors in `events`, per ring.
    private var watchedKicks: [Int32?] = [nil, nil]
    private let chain = DescriptorChain()
    private let lender = ReceiveBufferLender(headerSize: VhostUserBackend.headerSize)
    /// Transmit chains whose frames the last batch handed out: returned once it is handled (`release`).
    private var transmitted: [UInt16] = []
    /// Frames that span several guest buffers are gathered here, one slot per batch entry.
    private let gathered: UnsafeMutableRawBufferPointer
    private static let slot = FrameBatch.frameCapacity
    /// virtio_net_hdr_v1 (VERSION_1): the tap's 10-byte header and num_buffers.
    static let headerSize = 12
    /// Why the device stopped, once a ring broke: the next receive drops the frontend.
    private var failure: String?
    private var guardFaultsSeen = SharedMemoryGuard.faults
    /// The last send was refused for want of receive buffers (the port is full) until `drain` finds some.
    private var waitingForRoom = false
    /// Signalled when sending finds the device broken: the loop then calls `receive`, which drops the
    /// frontend, instead of waiting for the frontend's next message or kick.
    private let wake: Int32
    /// The header of a frame for the guest, and the receive chains and buffers it is being written to.
    private let receiveHeader = UnsafeMutableRawBufferPointer.allocate(byteCount: VhostUserBackend.headerSize, alignment: 8)
    private var pendingHeads: [(head: UInt16, buffers: Int)] = []
    private var pendingBuffers: [GuestBuffer] = []
    /// What TCP segments longer than the guest's MTU allows are cut into (as on our tap).
    private let segmentPayload4: Int
    private let segmentPayload6: Int
    /// The header of a frame from the guest, when its first buffer is too short to hold it.
    private let transmitHeader = UnsafeMutableRawBufferPointer.allocate(byteCount: VhostUserBackend.headerSize, alignment: 8)

    /// `mtu`: the guest's, for the segment size of the TCP frames it gets with segmentation offload.
    public init(socket: Descriptor, mtu: Int) throws {
        self.socket = socket
        segmentPayload4 = max(mtu - 40, 536)
        segmentPayload6 = max(mtu - 60, 536)
        try socket.setNonBlocking()
        channel = VhostUserChannel(socket: socket)
        events = try EventPoll()
        try events.add(socket.raw, EventReference(.guest), events: EventPoll.readable)
        wake = EventCounter.make()
        guard wake >= 0 else { throw SystemError("eventfd") }
        try events.add(wake, EventReference(.guest), events: EventPoll.readable)
        gathered = .allocate(byteCount: FrameBatch.capacity * Self.slot, alignment: 64)
        transmitted.reserveCapacity(FrameBatch.capacity)
    }

    deinit {
        Glibc.close(wake)
        gathered.deallocate()
        receiveHeader.deallocate()
        transmitHeader.deallocate()
    }

    public var eventDescriptor: Int32 { events.raw }

    /// While the driver takes partial checksums and TSO for IPv4 and IPv6 (a Linux guest does).
    public var segmentationOffload: Bool { failure == nil && device.takesSegmentationOffload }

    // MARK: From the guest

    public func receive(into batch: FrameBatch) throws -> FrameReceipt {
        batch.removeAll()
        returnTransmitted()
        noticeLostMemory()
        EventCounter.take(wake)
        if let failure { return closing(failure) }
        if case .closed(let reason) = serveControl() { return closing(reason) }
        // The receive ring's kick is the port's wake-up while it waits for room: `drain` takes it then (the
        // loop calls it on any event while the port is full). Taken here, it would be lost.
        if let kick = watchedKicks[VhostUserDevice.transmitQueue] { EventCounter.take(kick) }
        if !waitingForRoom, let kick = watchedKicks[VhostUserDevice.receiveQueue] { EventCounter.take(kick) }
        guard let queue = device.runningQueue(VhostUserDevice.transmitQueue) else { return .frames(0, drained: true) }
        while !batch.isFull {
            switch queue.next(into: chain) {
            case .chain:
                take(chain, into: batch)
            case .empty:
                // Asked to be kicked for the next one; one may have come meanwhile.
                if queue.armKick() { continue }
                return .frames(batch.count, drained: true)
            case .broken(let reason):
                failure = "the guest's transmit ring is broken: \(reason)"
                return .frames(batch.count, drained: true)
            }
        }
        return .frames(batch.count, drained: false)
    }

    /// One frame behind its virtio-net header: a view into guest memory when the frame lies in one buffer,
    /// else gathered into this batch entry's slot. With CSUM negotiated, the header says what the guest
    /// left undone: a frame it doesn't agree with is dropped, as on our tap.
    private func take(_ chain: DescriptorChain, into batch: FrameBatch) {
        transmitted.append(chain.head)
        let headerSize = Self.headerSize
        let length = chain.readableBytes - headerSize
        guard length >= EthernetFrame.headerLength, length <= Self.slot else {
            if Logger.shared.enabled(.debug) { logDebug("vhost-user: frame of \(length) bytes from the guest dropped (at most \(Self.slot))") }
            return
        }
        let slot = gathered.baseAddress! + batch.count * Self.slot
        var frame: UnsafeRawBufferPointer?
        let first = chain.readable[0]
        if first.count == chain.readableBytes {
            frame = UnsafeRawBufferPointer(start: first.base + headerSize, count: length)
        } else if first.count == headerSize && chain.readable.count == 2 {
            // The header alone in the first buffer, the frame whole in the second.
            frame = UnsafeRawBufferPointer(start: chain.readable[1].base, count: length)
        } else if takeScattered(chain, length: length, into: batch) {
            return
        } else {
            gather(chain, from: headerSize, into: slot)
            frame = UnsafeRawBufferPointer(start: slot, count: length)
        }
        guard device.acceptsPartialChecksums else { return batch.append(frame!) }
        let header = virtioHeader(of: chain)
        guard let virtio = VirtioNetHeader(header), var offload = virtio.received(frame!) else {
            if Logger.shared.enabled(.debug) { logDebug("vhost-user: frame of \(length) bytes dropped, its header disagrees with it: \(VirtioNetHeader(header).map { "\($0)" } ?? "short")") }
            return
        }
        // A TCP segment's checksum stays partial (the engine doesn't need it). Any other is finished here,
        // in our own memory: the guest's transmit buffers are only ours to read, and what handles the frame
        // next may finish a partial checksum where the frame lies. So a frame only counts as TCP if it is.
        if let partial = offload.partialChecksum, PartialChecksum.ofTCP(frame!) != partial {
            if frame!.baseAddress != UnsafeRawPointer(slot) {
                slot.copyMemory(from: frame!.baseAddress!, byteCount: length)
                frame = UnsafeRawBufferPointer(start: slot, count: length)
            }
            partial.complete(UnsafeMutableRawBufferPointer(start: slot, count: length))
            offload.partialChecksum = nil
        }
        batch.append(frame!, offload: offload)
    }

    /// A TCP frame over several buffers, as a Linux guest lays out its TSO frames (the headers in one, the
    /// data in page fragments): the payload stays where it lies, as parts of the batch entry (so it goes
    /// to the socket straight from guest memory), and the frame is its headers alone. Only where the
    /// header vouches for the checksum, and the headers lie whole in one buffer; false otherwise, and
    /// the frame is gathered.
    private func takeScattered(_ chain: DescriptorChain, length: Int, into batch: FrameBatch) -> Bool {
        guard device.acceptsPartialChecksums else { return false }
        // The frame's first piece: the rest of the buffer where the virtio-net header ends.
        var index = 0
        var skip = Self.headerSize
        while index < chain.readable.count && skip >= chain.readable[index].count {
            skip -= chain.readable[index].count
            index += 1
        }
        guard index < chain.readable.count, batch.hasRoom(forPayloadParts: chain.readable.count - index) else { return false }
        let piece = UnsafeRawBufferPointer(start: chain.readable[index].base + skip, count: chain.readable[index].count - skip)
        guard let transport = PartialChecksum.transport(of: piece), transport.protocolNumber == IPProtocol.tcp,
              transport.offset + TCPSegment.minimumHeaderLength <= piece.count else { return false }
        let headers = transport.offset + Int(piece[transport.offset + 12] >> 4) * 4
        guard headers <= piece.count else { return false }
        let head = UnsafeRawBufferPointer(rebasing: piece[0..<headers])
        guard let virtio = VirtioNetHeader(virtioHeader(of: chain)), let offload = virtio.received(head, length: length), offload.checksumTrusted,
              offload.partialChecksum == nil || offload.partialChecksum == PartialChecksum.ofTCP(head) else { return false }
        batch.addPayloadPart(UnsafeRawBufferPointer(rebasing: piece[headers...]))
        for buffer in chain.readable[(index + 1)...] { batch.addPayloadPart(UnsafeRawBufferPointer(start: buffer.base, count: buffer.count)) }
        batch.append(head, offload: offload)
        return true
    }

    /// The chain's virtio-net header: where it lies when its first buffer holds it whole, else gathered.
    private func virtioHeader(of chain: DescriptorChain) -> UnsafeRawBufferPointer {
        let first = chain.readable[0]
        guard first.count < VirtioNetHeader.size else { return UnsafeRawBufferPointer(start: first.base, count: first.count) }
        gather(chain, from: 0, count: VirtioNetHeader.size, into: transmitHeader.baseAddress!)
        return UnsafeRawBufferPointer(transmitHeader)
    }

    /// Copies `count` bytes (all that follow, by default) of the chain's readable buffers, from byte `offset` on.
    private func gather(_ chain: DescriptorChain, from offset: Int, count: Int = .max, into target: UnsafeMutableRawPointer) {
        var skip = offset
        var filled = 0
        for buffer in chain.readable where filled < count {
            let start = min(skip, buffer.count)
            skip -= start
            let piece = min(buffer.count - start, count - filled)
            (target + filled).copyMemory(from: buffer.base + start, byteCount: piece)
            filled += piece
        }
    }

    public func release() { returnTransmitted() }

    /// The last batch is done with: its transmit chains go back to the guest.
    private func returnTransmitted() {
        guard !transmitted.isEmpty else { return }
        defer { transmitted.removeAll(keepingCapacity: true) }
        guard let queue = device.runningQueue(VhostUserDevice.transmitQueue) else { return }
        for head in transmitted { queue.use(head: head, written: 0) }
        publish(queue, VhostUserDevice.transmitQueue)
    }

    /// Guest memory the frontend cut short (SIGBUS absorbed while we touched it): it can't be trusted.
    private func noticeLostMemory() {
        guard SharedMemoryGuard.faults != guardFaultsSeen else { return }
        guardFaultsSeen = SharedMemoryGuard.faults
        if failure == nil { failure = "the frontend took back guest memory we had mapped (its file shrank)" }
    }

    private func publish(_ queue: SplitVirtqueue, _ index: Int) {
        queue.publishUsed()
        if queue.shouldNotify(), let call = device.callDescriptor(index) { EventCounter.signal(call) }
    }

    // MARK: To the guest

    public func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        // No receive ring yet (the driver isn't up), or a broken one: frames are lost, as on a cable
        // nobody listens to.
        guard failure == nil, let queue = device.runningQueue(VhostUserDevice.receiveQueue) else { return frames.count }
        var taken = 0
        while taken < frames.count {
            guard let waiting = deliver(frames[taken], queue) else {
                taken += 1
                continue
            }
            // Full: ask for the driver's kick when it posts buffers, and go on only if it posted more
            // than the chains that were too few.
            guard failure == nil, queue.armKick(), queue.availableCount > waiting else { break }
        }
        if taken > 0 { publish(queue, VhostUserDevice.receiveQueue) }
        noticeLostMemory()
        guard failure == nil else {
            EventCounter.signal(wake)
            return frames.count
        }
        waitingForRoom = taken < frames.count
        return taken
    }

    /// Writes the header and `frame` into as many receive chains as it takes (one without mergeable
    /// buffers); nil once done with it. If there aren't enough chains yet, none is used (the frame waits
    /// whole) and the number of chains that were there is returned. A frame that all the ring's buffers
    /// together can't hold is lost.
    private func deliver(_ frame: UnsafeRawBufferPointer, _ queue: SplitVirtqueue) -> Int? {
        let total = Self.headerSize + frame.count
        let mergeable = device.mergeableBuffers
        var room = 0
        pendingHeads.removeAll(keepingCapacity: true)
        pendingBuffers.removeAll(keepingCapacity: true)
        while room < total {
            switch queue.next(into: chain) {
            case .chain:
                break
            case .empty:
                queue.putBack(pendingHeads.count)
                if pendingHeads.count == queue.size { return nil }
                return pendingHeads.count
            case .broken(let reason):
                failure = "the guest's receive ring is broken: \(reason)"
                return 0
            }
            pendingHeads.append((chain.head, chain.writable.count))
            pendingBuffers.append(contentsOf: chain.writable)
            room += chain.writableBytes
            if !mergeable { break }
        }
        guard room >= total else {
            // A chain too small for the frame (no mergeable buffers): the frame is lost, the chain used empty.
            queue.use(head: pendingHeads[0].head, written: 0)
            return nil
        }
        // The header: what is left to the guest's stack (with offloads, as the frame was built for them);
        // num_buffers counts the chains (the driver ignores it without mergeable buffers).
        receiveHeader.initializeMemory(as: UInt8.self, repeating: 0)
        if segmentationOffload {
            VirtioNetHeader.forOutgoing(frame, segmentPayload4: segmentPayload4, segmentPayload6: segmentPayload6)
                .write(to: receiveHeader.baseAddress!)
        }
        receiveHeader.storeBytes(of: UInt16(pendingHeads.count).littleEndian, toByteOffset: 10, as: UInt16.self)
        var source = (part: UnsafeRawBufferPointer(receiveHeader), at: 0, frameNext: true)
        var buffer = 0
        for (head, buffers) in pendingHeads {
            var written = 0
            for _ in 0..<buffers {
                let target = pendingBuffers[buffer]
                buffer += 1
                var at = 0
                while at < target.count && source.at < source.part.count {
                    let count = min(target.count - at, source.part.count - source.at)
                    (target.base + at).copyMemory(from: source.part.baseAddress! + source.at, byteCount: count)
                    at += count
                    source.at += count
                    if source.at == source.part.count && source.frameNext {
                        source = (frame, 0, false)
                    }
                }
                written += at
            }
            queue.use(head: head, written: UInt32(written))
        }
        return nil
    }

    // MARK: To the guest, in buffers it lends

    /// Frames go straight into the guest's receive buffers (see ReceiveBufferLender), so a socket's data
    /// is read where the guest reads it. Only with offloads, whose partial checksum means nothing of the
    /// payload is read back, and mergeable buffers, which let a 64 KiB frame span page-sized chains.
    public func lend(_ loan: FrameLoan, headerLength: Int, payloadLimit: Int, bytes: Int) -> FrameLoanOutcome {
        guard failure == nil, segmentationOffload, device.mergeableBuffers,
              let queue = device.runningQueue(VhostUserDevice.receiveQueue) else { return .unavailable }
        let outcome = lender.lend(loan, from: queue, headerLength: headerLength, payloadLimit: payloadLimit, bytes: bytes)
        noticeLostMemory()
        switch outcome {
        case .lent where failure == nil:
            return .lent(loan)
        case .lent, .unsuitable:
            return .unavailable
        case .empty:
            waitingForRoom = true
            return .full
        case .broken(let reason):
            failure = "the guest's receive ring is broken: \(reason)"
            EventCounter.signal(wake)
            return .unavailable
        }
    }

    public func settle(_ loan: FrameLoan, frames: Int) -> Int {
        guard failure == nil, let queue = device.runningQueue(VhostUserDevice.receiveQueue) else {
            lender.forget()
            return frames
        }
        lender.settle(loan, frames: frames, to: queue, segmentPayload4: segmentPayload4, segmentPayload6: segmentPayload6)
        publish(queue, VhostUserDevice.receiveQueue)
        noticeLostMemory()
        if failure != nil { EventCounter.signal(wake) }
        return frames
    }

    public func drain() -> Bool {
        if let kick = watchedKicks[VhostUserDevice.receiveQueue] { EventCounter.take(kick) }
        guard failure == nil, let queue = device.runningQueue(VhostUserDevice.receiveQueue), !queue.hasAvailable else {
            waitingForRoom = false
            return true
        }
        return false
    }

    // MARK: Control

    private func serveControl() -> VhostUserChannel.ReadOutcome {
        var stopped: String?
        let outcome = channel.read { header, payload, descriptors in
            guard stopped == nil else {
                descriptors.forEach { _ = Glibc.close($0) }
                return false
            }
            stopped = serve(header, payload, descriptors)
            return stopped == nil
        }
        updateWatchedKicks()
        if let stopped { return .closed(stopped) }
        return outcome
    }

    /// One request; a reason to drop the frontend when it can't be served.
    private func serve(_ header: VhostUserHeader, _ payload: UnsafeRawBufferPointer, _ descriptors: [Int32]) -> String? {
        let message: VhostUserMessage
        switch VhostUserMessage.decode(header, payload: payload, descriptors: descriptors) {
        case .success(let decoded): message = decoded
        case .failure(let refusal):
            descriptors.forEach { _ = Glibc.close($0) }
            return "the frontend sent a malformed message: \(refusal)"
        }
        if case .unsupported = message { descriptors.forEach { _ = Glibc.close($0) } }
        let wantsAck = header.flags & VhostUserFlags.needReply != 0
            && device.protocolFeatures & VhostUserProtocolFeature.replyAck != 0
        do {
            if let reply = try device.handle(message) {
                guard channel.send(reply) else { return "the frontend went away" }
            } else if wantsAck {
                guard channel.send(VhostUserMessage.reply(to: header.request, value: 0)) else { return "the frontend went away" }
            }
            if Logger.shared.enabled(.trace) { logTrace("vhost-user: \(message)") }
            return nil
        } catch {
            logWarning("vhost-user: \(error)")
            if wantsAck, channel.send(VhostUserMessage.reply(to: header.request, value: 1)) { return nil }
            // A request that wants no reply and failed: the device can't be what the frontend thinks.
            return "vhost-user: \(error)"
        }
    }

    /// The kick eventfds in our epoll set follow the rings that run; retired ones leave the set, then close.
    private func updateWatchedKicks() {
        for retired in device.takeRetired() {
            for index in 0..<2 where watchedKicks[index] == retired {
                events.remove(retired)
                watchedKicks[index] = nil
            }
            Glibc.close(retired)
        }
        for index in 0..<2 {
            let wanted = device.kickDescriptor(index)
            guard wanted != watchedKicks[index] else { continue }
            if let old = watchedKicks[index] { events.remove(old) }
            watchedKicks[index] = nil
            if let wanted {
                do {
                    try events.add(wanted, EventReference(.guest), events: EventPoll.readable)
                    watchedKicks[index] = wanted
                } catch {
                    failure = "can't watch ring \(index)'s kick descriptor: \(error)"
                }
            }
        }
    }

    private func closing(_ reason: String) -> FrameReceipt {
        logInfo("guest: \(reason)")
        return .closed
    }
}
