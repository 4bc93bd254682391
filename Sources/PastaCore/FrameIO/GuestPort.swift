import Glibc

/// The guest's end of the datapath as the flows see it: frames for the guest leave through the frame
/// backend (and into the capture file), addressed to the guest's MAC address as its own frames show it.
///
/// When the backend can't take more, `send` refuses and the port is full: flows keep what wasn't taken
/// (TCP data stays in its socket, UDP sockets stop being read) and note what waits; once the backend
/// drains, the loop lets them go on. With no guest attached (passt between two clients), frames are lost,
/// as on an unplugged cable.
public final class GuestPort {
    private var backend: FrameBackend?
    private let pcap: PcapWriter?
    private let poll: EventPoll
    private var link = GuestLink()
    /// Where frames we build go: the guest's MAC once known, broadcast before.
    public private(set) var guestMAC: [UInt8] = ReplyFrame.broadcastMAC
    public private(set) var isFull = false
    /// The backend takes TCP segments of up to 64 KiB with the checksum left to the guest (see FrameBackend).
    /// Asked each time: a vhost-user guest's driver may negotiate offloads, or drop them, at any time.
    public var segmentationOffload: Bool { backend?.segmentationOffload ?? false }
    /// The backend takes several UDP datagrams of a flow as one frame (`sendDatagrams`).
    public var udpSegmentation: Bool { backend?.udpSegmentation ?? false }
    static let reference = EventReference(.guest)
    /// The room a backend lends in the guest's buffers (see `borrowFrames`).
    private let loan = FrameLoan()
    /// A frame's copy with its checksum finished, for the capture file.
    private let captureCopy = UnsafeMutableRawBufferPointer.allocate(byteCount: FrameBatch.frameCapacity, alignment: 16)

    public init(poll: EventPoll, pcap: PcapWriter?) {
        self.poll = poll
        self.pcap = pcap
    }

    /// Starts exchanging frames with `backend`; the loop hears of its frames through epoll.
    public func attach(_ backend: FrameBackend) throws {
        try poll.add(backend.eventDescriptor, Self.reference, events: EventPoll.readable)
        self.backend = backend
        isFull = false
    }

    deinit { captureCopy.deallocate() }

    /// The guest went away: what it had learned of us and we of it starts over with the next one.
    public func detach() {
        if let backend { poll.remove(backend.eventDescriptor) }
        backend = nil
        isFull = false
        link = GuestLink()
        guestMAC = ReplyFrame.broadcastMAC
    }

    public var isAttached: Bool { backend != nil }

    /// Reads what the guest sent (see `FrameBackend.receive`); every frame goes to the capture file.
    func receive(into batch: FrameBatch) throws -> FrameReceipt {
        guard let backend else { return .frames(0, drained: true) }
        let receipt = try backend.receive(into: batch)
        if pcap != nil, case .frames(let count, _) = receipt {
            for index in 0..<count {
                capture(batch[index], scattered: batch.scattered(index), partialChecksum: batch.offload(index).partialChecksum)
            }
        }
        return receipt
    }

    /// The frames of the last `receive` are handled (see `FrameBackend.release`).
    func release() { backend?.release() }

    /// Offers frames for the guest in order; returns how many were taken.
    func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        guard let backend else { return frames.count }
        guard !isFull else { return 0 }
        let taken = backend.send(frames)
        if pcap != nil {
            for index in 0..<taken {
                capture(frames[index], partialChecksum: segmentationOffload ? PartialChecksum.ofTCP(frames[index]) : nil)
            }
        }
        if taken < frames.count { becomeFull(backend) }
        return taken
    }

    /// Offers one frame; false if it wasn't taken.
    @discardableResult
    func send(_ frame: UnsafeRawBufferPointer) -> Bool {
        withUnsafePointer(to: frame) { send(UnsafeBufferPointer(start: $0, count: 1)) == 1 }
    }

    /// Room for TCP frames in the guest's own buffers, where the backend lends it (see FrameLoan); not while
    /// capturing, since the capture file needs each frame whole in our memory.
    func borrowFrames(headerLength: Int, payloadLimit: Int, bytes: Int) -> FrameLoanOutcome {
        guard let backend, pcap == nil, !isFull else { return .unavailable }
        let outcome = backend.lend(loan, headerLength: headerLength, payloadLimit: payloadLimit, bytes: bytes)
        if case .full = outcome { becomeFull(backend) }
        return outcome
    }

    /// The first `frames` frames of the loan are filled: they go to the guest (see `FrameBackend.settle`).
    func settle(_ loan: FrameLoan, frames: Int) -> Int {
        guard let backend else { return frames }
        let taken = backend.settle(loan, frames: frames)
        if taken < frames { becomeFull(backend) }
        return taken
    }

    /// Offers one frame of UDP datagrams of `datagramSize` bytes each (the last may be shorter), its
    /// checksum partial; only where `udpSegmentation`. False if it wasn't taken.
    @discardableResult
    func sendDatagrams(_ frame: UnsafeRawBufferPointer, datagramSize: Int) -> Bool {
        guard let backend else { return true }
        guard !isFull else { return false }
        guard backend.sendDatagrams(frame, datagramSize: datagramSize) else {
            becomeFull(backend)
            return false
        }
        capture(frame, partialChecksum: PartialChecksum.ofUDP(frame))
        return true
    }

    /// The capture file shows what the wire would: a checksum left to the receiver is finished in a copy,
    /// and a payload in further buffers is gathered behind its headers there.
    private func capture(_ frame: UnsafeRawBufferPointer, scattered: ScatteredPayload = .none, partialChecksum: PartialChecksum?) {
        guard let pcap else { return }
        let length = frame.count + scattered.byteCount
        guard partialChecksum != nil || !scattered.isEmpty, length <= captureCopy.count else { return pcap.record(frame) }
        let copy = UnsafeMutableRawBufferPointer(rebasing: captureCopy[0..<length])
        copy.copyMemory(from: frame)
        _ = scattered.copy(into: copy.baseAddress! + frame.count)
        partialChecksum?.complete(copy)
        pcap.record(UnsafeRawBufferPointer(copy))
    }

    private func becomeFull(_ backend: FrameBackend) {
        isFull = true
        watch(backend, events: EventPoll.readable | EventPoll.writable)
    }

    /// Epoll says the backend is writable: true once it has room again (the loop then resumes the flows).
    func writable() -> Bool {
        guard isFull, let backend, backend.drain() else { return false }
        isFull = false
        watch(backend, events: EventPoll.readable)
        return true
    }

    /// Changes what the backend is watched for. A failure (the kernel out of memory) is logged: with the
    /// backend full and no wake-up for its draining, the flows would wait until a frame from the guest.
    private func watch(_ backend: FrameBackend, events: UInt32) {
        do {
            try poll.modify(backend.eventDescriptor, Self.reference, events: events)
        } catch {
            logError("can't change what the guest's backend is watched for: \(error)")
        }
    }

    /// Learns the guest's MAC address from a frame it sent; returns it when it is new.
    func learn(from frame: EthernetFrame, ours: MACAddress) -> MACAddress? {
        guard link.learn(from: frame, ours: ours), let mac = link.mac else { return nil }
        guestMAC = mac.bytes
        return mac
    }
}
