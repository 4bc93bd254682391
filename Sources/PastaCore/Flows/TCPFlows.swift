import Glibc

/// The TCP engine (TCPEngine) connected to the real world: host sockets are `TCPSocket`s on the event
/// loop's epoll, its timers are timerfds, and time is the monotonic clock.
public final class TCPFlows {
    let engine: TCPEngine
    private let connector: TCPSocketConnector
    private let timers: TCPTimerDescriptors

    init(configuration: RuntimeConfiguration, guestAddresses: GuestAddresses, poll: EventPoll, port: GuestPort) throws {
        let fileLimit = SocketCalls.raiseFileLimit()
        // Every flow holds one socket; keep room for listeners and our own descriptors.
        let capacity = max(64, min(65536, (fileLimit > 0 ? fileLimit : 1024) - 256))
        connector = TCPSocketConnector(translation: AddressTranslation(configuration), poll: poll)
        timers = try TCPTimerDescriptors(poll: poll)
        // PASTA_TCP_SACK=0 goes back to resending everything after a hole (test_tcp_stress times both).
        let sackEnabled = getenv("PASTA_TCP_SACK").map { String(cString: $0) != "0" } ?? true
        engine = TCPEngine(configuration: configuration, capacity: capacity, guestAddresses: guestAddresses,
                           port: port, opener: connector, timers: timers, sackEnabled: sackEnabled)
    }

    var table: FlowTable<TCPConnection> { engine.table }
    /// Segments from the guest dropped for a bad checksum, since the start.
    var badChecksums: Int { engine.badChecksums }

    /// `scattered`: the payload where it lies in further buffers (see ScatteredPayload).
    public func handle(ipv4 packet: IPv4Packet, checksumTrusted: Bool = false, scattered: ScatteredPayload = .none, now: Int) {
        engine.handle(ipv4: packet, checksumTrusted: checksumTrusted, scattered: scattered, now: now)
    }

    public func handle(ipv6 packet: IPv6Packet, checksumTrusted: Bool = false, scattered: ScatteredPayload = .none, now: Int) {
        engine.handle(ipv6: packet, checksumTrusted: checksumTrusted, scattered: scattered, now: now)
    }

    public func socketEvent(_ reference: EventReference, events: UInt32, now: Int) {
        engine.socketEvent(index: Int(reference.index), generation: reference.generation,
                           SocketReadiness(epollEvents: events), now: now)
    }

    public func finishBatch() { engine.finishBatch() }

    /// The host's network changed: new connections are made as the new translation says.
    func follow(_ translation: AddressTranslation) {
        engine.translation = translation
        connector.translation = translation
    }

    public func resume() { engine.resume(now: MonotonicClock.milliseconds()) }

    public func tick(now: Int) { engine.tick(now: now) }

    public func ackTimerExpired() {
        timers.ackTimer.acknowledge()
        engine.ackTimerExpired()
    }

    public func retransmitClockFired() {
        timers.retransmitClock.acknowledge()
        engine.retransmitClockFired(now: MonotonicClock.milliseconds())
    }

    /// Takes a connection a forwarding listener accepted from `peer` and opens it towards the guest's
    /// `guestPort` with a SYN through the tap.
    func adopt(_ descriptor: Descriptor, peer: IPAddress, peerPort port: UInt16, guestPort: UInt16,
               guestAddress: IPAddress? = nil, now: Int) {
        guard let socket = TCPSocket(descriptor, poll: connector.poll) else { return }
        engine.adopt(socket, peer: peer, peerPort: port, guestPort: guestPort, guestAddress: guestAddress, now: now)
    }

    /// accept() failed with `code`: out of descriptors, that is a full table.
    func acceptFailed(_ code: Int32) {
        if isOutOfDescriptors(code) { engine.logTableFull() }
    }
}

/// Host sockets for the connections the guest opens: bound as `-o`/`--outbound-if` say, connecting.
final class TCPSocketConnector: HostSocketOpener {
    var translation: AddressTranslation
    let poll: EventPoll

    init(translation: AddressTranslation, poll: EventPoll) {
        self.translation = translation
        self.poll = poll
    }

    func connect(to destination: IPAddress, port: UInt16, timeToLive: UInt8) -> Result<HostSocket, SystemError> {
        let source = translation.outboundSource(for: destination)
        return TCPSocket.connect(to: destination, port: port, source: source.address, device: source.device,
                                 timeToLive: timeToLive, poll: poll)
    }
}

/// The engine's timers as timerfds on the event loop.
final class TCPTimerDescriptors: TCPTimers {
    let ackTimer: TimerDescriptor
    let retransmitClock: TimerDescriptor

    init(poll: EventPoll) throws {
        ackTimer = try TimerDescriptor()
        try poll.add(ackTimer.descriptor.raw, EventReference(.tcpAckTimer))
        retransmitClock = try TimerDescriptor()
        try poll.add(retransmitClock.descriptor.raw, EventReference(.tcpRetransmitClock))
    }

    func armAckTimer(afterMilliseconds milliseconds: Int) { ackTimer.arm(afterMilliseconds: milliseconds) }

    func setRetransmitClock(running: Bool) {
        if running {
            retransmitClock.arm(afterMilliseconds: TCPEngine.retransmitClockInterval, repeating: true)
        } else {
            retransmitClock.disarm()
        }
    }
}
