import Glibc

/// Datagrams arriving on forwarding sockets, read up to 32 at a time with recvmmsg() (senders included)
/// into buffers with room for a frame's headers: local ones (SpliceTargets) go to the other side through
/// UDPSplice, the rest to the guest through the tap, built in place.
final class UDPInbound {
    private let listeners: Listeners
    private let flows: UDPFlows
    private let splice: UDPSplice
    static let batch = 32
    static let batchesPerEvent = 2
    private static let frameSize = FrameBatch.frameCapacity
    private static let payloadOffset = ReplyFrame.udp6PayloadOffset  // room for either family's headers
    private let datagrams = DatagramBatch(count: UDPInbound.batch, slotSize: UDPInbound.frameSize,
                                         offset: UDPInbound.payloadOffset)
    private let families = UnsafeMutablePointer<Int32>.allocate(capacity: UDPInbound.batch)
    private let addresses = UnsafeMutablePointer<UInt8>.allocate(capacity: UDPInbound.batch * 16)
    private let ports = UnsafeMutablePointer<UInt16>.allocate(capacity: UDPInbound.batch)

    private let port: GuestPort
    private let poll: EventPoll
    /// Listeners left unread while the guest's frame backend is full.
    private var paused: [EventReference] = []

    init(listeners: Listeners, flows: UDPFlows, splice: UDPSplice, port: GuestPort, poll: EventPoll) {
        self.listeners = listeners
        self.flows = flows
        self.splice = splice
        self.port = port
        self.poll = poll
    }

    deinit {
        families.deallocate()
        addresses.deallocate()
        ports.deallocate()
    }

    func receive(_ reference: EventReference, now: Int) {
        guard let listener = listeners[reference] else { return }
        guard !port.isFull else {
            // Level-triggered: out of epoll until the backend drains, or the unread socket wakes us again and again.
            paused.append(reference)
            watch(listener, reference, events: 0)
            return
        }
        for _ in 0..<Self.batchesPerEvent {
            let received = SocketCalls.receiveDatagrams(listener.socket.raw, bases: datagrams.bases,
                                                        lengths: datagrams.lengths, count: Self.batch,
                                                        received: datagrams.received, families: families,
                                                        addresses: addresses, ports: ports)
            guard case .done(let count) = received, count > 0 else { return }
            var slot = 0
            while slot < count {
                let client = IPAddress(family: families[slot],
                                       shimBytes: UnsafeBufferPointer(start: addresses + slot * 16, count: 16))
                if splice.forward(datagrams.datagram(slot), from: client, port: ports[slot], on: listener, now: now) {
                    slot += 1
                    continue
                }
                // Where the backend takes UDP segmentation, a run of one client's equal-sized datagrams goes
                // to the guest as one frame (whether to splice depends on the client alone: none of it is).
                let run = port.udpSegmentation ? clientRun(from: slot, count: count) : 1
                flows.deliverInbound(datagrams, slots: slot..<(slot + run), payloadOffset: Self.payloadOffset,
                                     from: client, port: ports[slot], on: listener, now: now)
                slot += run
            }
            splice.flush()  // before the next batch reuses the buffers
            if count < Self.batch { return }
        }
    }

    /// How many datagrams from `start` on came from the same client and form a segmentation run.
    private func clientRun(from start: Int, count: Int) -> Int {
        let run = SegmentRun.length(datagrams.received, count: count, from: start)
        var end = start + 1
        while end < start + run && families[end] == families[start] && ports[end] == ports[start]
                && memcmp(addresses + end * 16, addresses + start * 16, 16) == 0 {
            end += 1
        }
        return end - start
    }

    /// The guest's backend drained: paused listeners that still exist go back into epoll.
    func resume() {
        for reference in paused {
            if let listener = listeners[reference] { watch(listener, reference, events: EventPoll.readable) }
        }
        paused.removeAll(keepingCapacity: true)
    }

    /// Changes what a listener is watched for; a failure (the kernel out of memory) is logged: the
    /// listener is then deaf, or wakes us in vain, until the next change.
    private func watch(_ listener: Listener, _ reference: EventReference, events: UInt32) {
        do {
            try poll.modify(listener.socket.raw, reference, events: events)
        } catch {
            logError("UDP: can't change what a forwarding socket is watched for: \(error)")
        }
    }
}
