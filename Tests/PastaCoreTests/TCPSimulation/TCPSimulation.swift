@testable import PastaCore

/// One simulated connection: the guest's TCP (GuestTCP) over a faulty link (SimulatedLink), the engine
/// (TCPEngine) with an in-memory host socket (FakeHostSocket), and the program on the host (HostPeer),
/// all on one virtual clock. `run` returns what went wrong, if anything; the same scenario gives the same
/// run every time.
final class TCPSimulation {
    struct Scenario {
        var name = ""
        /// The guest connects out (a SYN from it); otherwise the host's connection is accepted and
        /// adopted, and our SYN goes to the guest.
        var guestConnects = true
        var guest = GuestTCP.Settings()
        var guestBytes = 0
        var guestClosing = GuestTCP.Closing.whenSent
        /// The guest resets the connection once it received this much.
        var guestAbortsAfter: Int?
        var host = HostPeer.Behaviour()
        var hostSendBuffer = 256 * 1024
        var hostShortWrites: Int?
        var toGuest = LinkFaults.none
        var toEngine = LinkFaults.none
        var offload = false
        /// With offload: the backend lends guest buffers of this many bytes for the engine's frames (as
        /// vhost-user's mergeable receive buffers), instead of taking frames built in the engine's memory.
        var lentBufferSize: Int?
        /// The guest's segments reach the engine with their payload in parts (ScatteredPayload).
        var scatterGuestPayloads = false
        var backendCapacity = 256
        var drainPerMillisecond = 64
        /// The guest's application stops reading for a while, from this time on.
        var guestStopsReading: (at: Int, for: Int)?
        /// The guest (a VM) is stopped for a while.
        var guestPaused: (at: Int, for: Int)?
        var connectDelay = 1
        var timeLimit = 120_000

        var lossless: Bool { toGuest.loss == 0 && toEngine.loss == 0 && toGuest.drop.isEmpty && toEngine.drop.isEmpty }
        /// Nothing lost, reordered or cut short, the guest never stopped: it never needs a timeout.
        var smooth: Bool {
            lossless && toGuest.jitter == 0 && toEngine.jitter == 0 && hostShortWrites == nil && guestPaused == nil
        }
    }

    let scenario: Scenario
    let seed: UInt64
    let scheduler = SimulationScheduler()
    private(set) var engine: TCPEngine!
    private(set) var link: SimulatedLink!
    private(set) var guest: GuestTCP!
    private(set) var socket: FakeHostSocket?
    private(set) var host: HostPeer?
    private var random: SimulationRandom
    private var opener: SimulatedOpener!
    private(set) var timers: SimulatedTimers!
    /// The engine's connection, once it exists (kept after it closes, to read its counters).
    private(set) var connection: TCPConnection?
    private let hostPattern: StreamPattern
    private let guestPattern: StreamPattern

    init(_ scenario: Scenario, seed: UInt64) {
        self.scenario = scenario
        self.seed = seed
        random = SimulationRandom(seed: seed)
        hostPattern = StreamPattern(salt: UInt8(truncatingIfNeeded: seed))
        guestPattern = StreamPattern(salt: UInt8(truncatingIfNeeded: seed >> 8) | 1)
    }

    // MARK: Running

    /// Changes the guest before the run starts.
    var prepareGuest: ((GuestTCP) -> Void)?

    /// Runs the scenario to its end (or its time limit) and checks the outcome.
    func run() -> [String] {
        build()
        prepareGuest?(guest)
        if scenario.guestConnects {
            guest.connect()
        } else {
            adoptHostConnection()
        }
        if let pause = scenario.guestPaused {
            scheduler.at(pause.at) { self.link.pausedUntil = pause.at + pause.for }
        }
        if let stop = scenario.guestStopsReading {
            scheduler.at(stop.at) { self.guest.readingStoppedUntil = stop.at + stop.for }
            scheduler.at(stop.at + stop.for) { self.guest.resumeReading() }
        }
        housekeeping()
        let finished = scheduler.run(limit: scenario.timeLimit) { done }
        return verdict(finished: finished)
    }

    private func build() {
        let options = try! Options.parse(["-a", "198.51.100.2", "-g", "198.51.100.1", "-t", "none"], mode: .pasta)
        let configuration = RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: ""))
        link = SimulatedLink(scheduler: scheduler, random: SimulationRandom(seed: seed &* 31 &+ 7),
                             toGuest: scenario.toGuest, toEngine: scenario.toEngine,
                             backendCapacity: scenario.backendCapacity, drainPerMillisecond: scenario.drainPerMillisecond,
                             segmentationOffload: scenario.offload, lentBufferSize: scenario.lentBufferSize)
        opener = SimulatedOpener(simulation: self)
        timers = SimulatedTimers(scheduler: scheduler)
        engine = TCPEngine(configuration: configuration, capacity: 16, guestAddresses: GuestAddresses(configuration),
                           port: link, opener: opener, timers: timers, sackEnabled: true)
        var sequences = SimulationRandom(seed: seed ^ 0x5EED)
        engine.initialSequence = { UInt32.random(in: 0...UInt32.max, using: &sequences) }
        timers.engine = engine
        guest = GuestTCP(settings: scenario.guest, guestPort: 40000, remotePort: 8080, outgoing: guestPattern,
                         outgoingLength: scenario.guestBytes, closing: scenario.guestClosing,
                         initialSequence: UInt32.random(in: 0...UInt32.max, using: &random), scheduler: scheduler,
                         transmit: { [unowned self] in link.fromGuest($0) })
        link.deliverToGuest = { [unowned self] frame in
            guest.receive(frame)
            if let after = scenario.guestAbortsAfter, guest.received.count >= after { guest.abort() }
        }
        var scattering = SimulationRandom(seed: seed ^ 0x5CA7)
        link.deliverToEngine = { [unowned self] batch in
            // Scattered segments' headers and payload parts live in buffers of their own until the batch
            // is finished, as a guest's transmit buffers do until the backend returns them.
            var buffers: [UnsafeMutableRawBufferPointer] = []
            var parts: [UnsafeMutablePointer<UnsafeRawBufferPointer>] = []
            defer {
                buffers.forEach { $0.deallocate() }
                parts.forEach { $0.deallocate() }
            }
            for packet in batch {
                if scenario.scatterGuestPayloads,
                   let scattered = Self.scatter(packet, &scattering, buffers: &buffers, parts: &parts) {
                    engine.handle(ipv4: scattered.packet, checksumTrusted: true, scattered: scattered.payload, now: scheduler.now)
                    continue
                }
                packet.withUnsafeBytes { raw in
                    if let ipv4 = IPv4Packet(raw) { engine.handle(ipv4: ipv4, checksumTrusted: true, now: scheduler.now) }
                }
            }
            engine.finishBatch()
        }
        link.drained = { [unowned self] in engine.resume(now: scheduler.now) }
    }

    /// A segment with a payload, as a Linux guest's TSO frame reaches passt --vhost-user: the headers in a
    /// buffer of their own, the payload cut at random points into further buffers. Nil for one without.
    private static func scatter(_ packet: [UInt8], _ random: inout SimulationRandom,
                                buffers: inout [UnsafeMutableRawBufferPointer],
                                parts: inout [UnsafeMutablePointer<UnsafeRawBufferPointer>])
        -> (packet: IPv4Packet, payload: ScatteredPayload)? {
        guard packet.count >= 40 else { return nil }
        let headers = Int(packet[0] & 0x0F) * 4 + Int(packet[Int(packet[0] & 0x0F) * 4 + 12] >> 4) * 4
        guard headers < packet.count else { return nil }
        let header = UnsafeMutableRawBufferPointer.allocate(byteCount: headers, alignment: 8)
        buffers.append(header)
        packet.withUnsafeBytes { header.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[0..<headers])) }
        var pieces: [UnsafeRawBufferPointer] = []
        var offset = headers
        while offset < packet.count {
            let length = min(packet.count - offset, random.int(1...3000))
            let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: length, alignment: 1)
            buffers.append(piece)
            packet.withUnsafeBytes { piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<offset + length])) }
            pieces.append(UnsafeRawBufferPointer(piece))
            offset += length
        }
        let list = UnsafeMutablePointer<UnsafeRawBufferPointer>.allocate(capacity: pieces.count)
        list.initialize(from: pieces, count: pieces.count)
        parts.append(list)
        guard let ipv4 = IPv4Packet(UnsafeRawBufferPointer(header), followedBy: packet.count - headers) else { return nil }
        return (ipv4, ScatteredPayload(parts: UnsafeBufferPointer(start: list, count: pieces.count), byteCount: packet.count - headers))
    }

    /// The engine's housekeeping tick, every 100 ms, as the event loop's periodic timer.
    private func housekeeping() {
        scheduler.after(100) { [unowned self] in
            engine.tick(now: scheduler.now)
            if !done { housekeeping() }
        }
    }

    /// A new host socket: the engine connects out for the guest.
    fileprivate func opened(_ socket: FakeHostSocket) {
        attach(socket)
        scheduler.after(scenario.connectDelay) { [unowned self] in
            guard socket.watched else { return }
            connection = engine.table[socket.index]
            engine.socketEvent(index: socket.index, generation: socket.generation, .writable, now: scheduler.now)
            host?.start()
        }
    }

    /// The host's client connected to a forwarded port: the engine adopts the accepted socket.
    private func adoptHostConnection() {
        guest.listen()
        let socket = makeSocket()
        attach(socket)
        engine.adopt(socket, peer: .v4(GuestTCP.remoteAddress), peerPort: 8080, guestPort: 40000,
                     guestAddress: .v4(GuestTCP.guestAddress), now: scheduler.now)
        if socket.watched { connection = engine.table[socket.index] }
        host?.start()
    }

    fileprivate func makeSocket() -> FakeHostSocket {
        let socket = FakeHostSocket(sendCapacity: scenario.hostSendBuffer)
        socket.sendLimit = scenario.hostShortWrites
        return socket
    }

    private func attach(_ socket: FakeHostSocket) {
        self.socket = socket
        socket.interestChanged = { [unowned self] socket in
            var readiness: SocketReadiness = []
            if socket.queuedForUs > 0 || socket.peerFinished { readiness.insert(.readable) }
            if socket.watchingWritable && socket.reportsWritable { readiness.insert(.writable) }
            if !readiness.isEmpty { notify(readiness) }
        }
        host = HostPeer(socket: socket, behaviour: scenario.host, outgoing: hostPattern, scheduler: scheduler,
                        random: SimulationRandom(seed: seed &* 131 &+ 3), notify: { [unowned self] in notify($0) })
    }

    /// What epoll would report for the socket, handed to the engine after the current action.
    private func notify(_ readiness: SocketReadiness) {
        scheduler.after(0) { [unowned self] in
            guard let socket, socket.watched, !socket.closed else { return }
            if connection == nil { connection = engine.table[socket.index] }
            engine.socketEvent(index: socket.index, generation: socket.generation, readiness, now: scheduler.now)
        }
    }

    private var done: Bool {
        guard engine.table.count == 0 else { return false }
        if guest.resetsReceived > 0 || guest.resetSent { return true }
        // The host gave up before the guest ever heard of the connection (our SYN lost, then the reset
        // that followed it ignored by a listener, as it should be).
        if guest.state == .listening, host?.didReset == true { return true }
        guard guest.finished, let host else { return false }
        let hostDone = host.doneWriting && (scenario.guestBytes == 0 && host.endOfStreamReads > 0
                                            || host.received.count >= scenario.guestBytes && host.endOfStreamReads > 0)
        return hostDone || host.didReset
    }

    // MARK: The verdict

    private func verdict(finished: Bool) -> [String] {
        var problems: [String] = []
        if scheduler.livelocked {
            problems.append("livelock: endless actions at \(scheduler.now) ms (\(state))")
        } else if !finished {
            problems.append("stalled: not done after \(scenario.timeLimit) ms (\(state))")
        }
        guard let host, let socket else { return problems + ["no host socket was ever opened"] }
        if let bad = hostPattern.firstMismatch(guest.received) { problems.append("the guest got a wrong byte at \(bad)") }
        if let bad = guestPattern.firstMismatch(host.received) { problems.append("the host got a wrong byte at \(bad)") }
        let hostCompleted = !host.didReset && host.doneWriting
        if hostCompleted && guest.resetsReceived == 0 && !guest.resetSent {
            if guest.received.count != scenario.host.length {
                problems.append("the guest got \(guest.received.count) of the host's \(scenario.host.length) bytes")
            }
            if guest.finsReceived != 1 { problems.append("the guest saw \(guest.finsReceived) FINs") }
            if host.received.count != scenario.guestBytes {
                problems.append("the host got \(host.received.count) of the guest's \(scenario.guestBytes) bytes")
            }
            if host.endOfStreamReads != 1 { problems.append("the host saw the guest's FIN \(host.endOfStreamReads) times") }
        }
        if host.didReset && !guest.resetSent && guest.resetsReceived != 1 && guest.state != .listening {
            problems.append("the host reset, and the guest saw \(guest.resetsReceived) resets (\(state))")
        }
        if guest.resetSent && !host.didReset && (!socket.closed || guest.resetMidStream && !socket.aborted) {
            problems.append("the guest reset, and the host's socket was not aborted (closed \(socket.closed), \(state))")
        }
        if guest.resetsReceived > 1 { problems.append("the guest saw \(guest.resetsReceived) resets") }
        if scenario.smooth && guest.retransmissionTimeouts > 0 {
            problems.append("the guest resent after \(guest.retransmissionTimeouts) timeouts on a smooth link (\(state))")
        }
        problems += guest.protocolViolations
        problems += leftovers(socket)
        problems += resendExcess()
        return problems.map { "\(scenario.name) seed \(seed): \($0)" }
    }

    /// A closed connection leaves nothing behind.
    private func leftovers(_ socket: FakeHostSocket) -> [String] {
        var problems: [String] = []
        if engine.table.count != 0 { problems.append("\(engine.table.count) connections left in the table") }
        if engine.pool.freeCount != engine.pool.capacity {
            problems.append("\(engine.pool.capacity - engine.pool.freeCount) segment pool slots still held")
        }
        if !socket.closed { problems.append("the host socket was never closed") }
        if socket.callsAfterClose > 0 { problems.append("\(socket.callsAfterClose) calls on the socket after it closed") }
        return problems
    }

    /// No segment goes out more often than its losses, the retransmission timeouts and one fast
    /// retransmit explain. Only where frames reach the guest in order, as through a tap or a stream
    /// socket: the engine takes a SACK block beyond a resent hole for the resend's loss, which holds only
    /// there (reordered, a resend may go out again for nothing; the transfer must still complete).
    private func resendExcess() -> [String] {
        guard scenario.toGuest.jitter == 0 else { return [] }
        let timeouts = connection?.retransmissionTimeouts ?? 0
        var sends: [UInt32: (count: Int, lost: Int)] = [:]
        var times: [UInt32: [Int]] = [:]
        for (frame, lost, time) in link.sent {
            frame.withUnsafeBytes { raw in
                guard let ethernet = EthernetFrame(raw), let packet = IPv4Packet(ethernet.payload),
                      let segment = TCPSegment(packet.payload), segment.payloadLength > 0 else { return }
                let entry = sends[segment.sequence] ?? (0, 0)
                sends[segment.sequence] = (entry.count + 1, entry.lost + (lost ? 1 : 0))
                times[segment.sequence, default: []].append(time)
            }
        }
        let worst = sends.max { ($0.value.count - $0.value.lost) < ($1.value.count - $1.value.lost) }
        guard let worst, worst.value.count - worst.value.lost > 2 + timeouts else { return [] }
        return ["a segment went out \(worst.value.count) times (\(worst.value.lost) lost, \(timeouts) timeouts) at "
                + "\(times[worst.key] ?? []) ms"]
    }

    /// Data frames the engine sent between `start` and `end` (ms) for a sequence number it had sent before.
    func resentFrames(between start: Int, and end: Int) -> Int {
        var seen = Set<UInt32>()
        var resent = 0
        for (frame, _, time) in link.sent {
            frame.withUnsafeBytes { raw in
                guard let ethernet = EthernetFrame(raw), let packet = IPv4Packet(ethernet.payload),
                      let segment = TCPSegment(packet.payload), segment.payloadLength > 0 else { return }
                if !seen.insert(segment.sequence).inserted && time >= start && time < end { resent += 1 }
            }
        }
        return resent
    }

    private var state: String {
        let c = connection
        return "guest \(guest.state) got \(guest.received.count)/\(scenario.host.length) fins \(guest.finsReceived), "
            + "host got \(host?.received.count ?? 0)/\(scenario.guestBytes) eof \(host?.endOfStreamReads ?? 0), "
            + "engine \(engine.table.count) connections" + (c.map { " state \($0.state) finSent \($0.finSent)" } ?? "")
    }
}

/// Host sockets for the engine's outbound connections, from the simulation.
final class SimulatedOpener: HostSocketOpener {
    private unowned let simulation: TCPSimulation

    init(simulation: TCPSimulation) { self.simulation = simulation }

    func connect(to destination: IPAddress, port: UInt16, timeToLive: UInt8) -> Result<HostSocket, SystemError> {
        let socket = simulation.makeSocket()
        simulation.opened(socket)
        return .success(socket)
    }
}

/// The engine's timers on the virtual clock.
final class SimulatedTimers: TCPTimers {
    private let scheduler: SimulationScheduler
    weak var engine: TCPEngine?
    private var clockGeneration = 0
    private var clockRunning = false

    init(scheduler: SimulationScheduler) { self.scheduler = scheduler }

    /// How often the delayed-ACK timer was armed.
    private(set) var ackTimerArms = 0

    func armAckTimer(afterMilliseconds milliseconds: Int) {
        ackTimerArms += 1
        scheduler.after(milliseconds) { [weak self] in self?.engine?.ackTimerExpired() }
    }

    func setRetransmitClock(running: Bool) {
        guard running != clockRunning else { return }
        clockRunning = running
        clockGeneration += 1
        if running { tick(clockGeneration) }
    }

    private func tick(_ generation: Int) {
        scheduler.after(TCPEngine.retransmitClockInterval) { [weak self] in
            guard let self, let engine = self.engine, self.clockGeneration == generation else { return }
            engine.retransmitClockFired(now: self.scheduler.now)
            if self.clockGeneration == generation { self.tick(generation) }
        }
    }
}
