/// TCP translation between segments on the guest's side and ordinary host sockets, without a TCP stack
/// of our own: the socket's queues are the only buffers (see TCPConnection).
///
/// This file holds the connection table and the entry points, which dispatch to the rest:
/// TCPEngine+Open (handshakes), +Acks (the guest's ACKs, SACK recovery), +GuestData (the guest's data to
/// the socket), +Send (the socket's data to the guest), +Control (ACKs, resets, closing) and +Timers. The
/// engine makes no system calls: it reaches the host through `HostSocket`s and `HostSocketOpener`, the
/// guest through `GuestFrameOutput` and time through `TCPTimers` and the `now` its callers pass, so the
/// simulation tests run it whole on a virtual clock (TCPFlows connects it to the real ones).
final class TCPEngine {
    /// Segments read from a socket per peek: with 64 KiB segments, 2 MiB at once.
    static let framesPerPeek = 32
    static let frameSize = FrameBatch.frameCapacity
    /// Our window scale: windows up to 16 MiB, beyond any socket buffer the kernel autotunes to.
    static let ourWindowScale: UInt8 = 8
    /// Retransmission timeout: the guest is a local stack one tap away, so well under the 200 ms that
    /// suits the Internet, but above a Linux guest's 40 ms delayed ACK. A timeout that fires early costs
    /// one segment (see `tick`).
    static let initialRetransmitTimeout = 60
    /// While data is in flight, timeouts are checked this often; otherwise every 100 ms.
    static let retransmitClockInterval = 20
    static let maximumRetransmitTimeout = 10_000
    static let maximumRetries = 10
    static let handshakeTimeout = 1000
    /// Connection attempts the destination never answers are given up after this, whatever the kernel's
    /// SYN retries (about two minutes): a guest sending SYNs to addresses that never answer can't hold
    /// descriptors. Long enough for three SYN retransmissions (1, 2 and 4 s).
    static let connectTimeout = 10_000
    static let idleTimeout = 2 * 3600 * 1000
    /// Held-back segments: per connection, and in all (with 64 KiB segments, 16 MiB).
    static let pendingPerConnection = 64
    static let pendingSegments = 256
    /// How long an ACK for a small request may wait for the reply to carry it (see TCPAckDelay).
    static let ackDelay = 1
    /// The largest TCP payload one frame carries when the guest's side segments it: what an IP packet's
    /// length field (IPv4's total, IPv6's payload) can say with our 20-byte TCP header, within a frame slot.
    static func largestSegment(ipv4: Bool) -> Int {
        min(ipv4 ? 65535 - 20 - 20 : 65535 - 20, frameSize - TCPFrameWriter.payloadOffset(ipv4: ipv4))
    }

    let table: FlowTable<TCPConnection>
    let pool = SegmentPool(capacity: TCPEngine.pendingSegments)
    let port: GuestFrameOutput
    let opener: HostSocketOpener
    let timers: TCPTimers
    let ourMAC: [UInt8]
    var translation: AddressTranslation  // follows the host's network (Datapath.follow)
    /// Guest addresses seen in its frames; inbound connections go to these, else to the configured ones.
    let guestAddresses: GuestAddresses
    /// Largest payload per segment our MTU allows, per family.
    let maximumPayload4: Int
    let maximumPayload6: Int
    /// Selective acknowledgments (RFC 2018), offered in our SYN and SYN-ACK unless turned off.
    let sackEnabled: Bool
    #if DEBUG
    /// A bug planted on purpose (debug builds only): a FIN that arrives with data is forgotten. The
    /// simulation tests turn it on to show that they catch it (TCPSimulationTests.testPlantedBugIsCaught).
    static var plantedBugForgetsFinWithData = false
    #endif
    /// Where initial sequence numbers come from (random; fixed by the simulation tests' seeds).
    var initialSequence: () -> UInt32 = { UInt32.random(in: 0...UInt32.max) }

    // Buffers for frames to the guest: peeked segments, and one control frame.
    let frames: UnsafeMutableRawPointer
    let control: UnsafeMutableRawBufferPointer
    let peekBuffers: UnsafeMutablePointer<UnsafeMutableRawBufferPointer>
    let outgoing: UnsafeMutablePointer<UnsafeRawBufferPointer>
    let writeBatch: TCPBatchWrites

    // Connections (table slots) waiting for something.
    var ackQueue: [Int] = []
    /// Connections with frames for the guest that waited for the backend to drain.
    var waitingForRoom: [Int] = []
    /// Connections with acknowledged data to discard at the end of the batch.
    var discardQueue: [Int] = []
    /// Connections whose ACK for a small write waits briefly, so the reply can carry it.
    var delayedAcks: [Int] = []
    /// Resets the full backend refused (see `resendRefusedResets`).
    var refusedResets: [(key: FlowKey, sequence: UInt32, acknowledgment: UInt32)] = []
    static let refusedResetsKept = 64
    var ackTimerArmed = false
    var retransmitClockRunning = false
    /// Each connection's first and last line with `-d`.
    let flowLog = FlowLog()
    /// The latest time a caller gave (the flow log's clock).
    var now = 0
    var tableFullLogged = false
    var reclaimLogged = false
    /// Segments from the guest dropped for a bad checksum, since the start.
    private(set) var badChecksums = 0

    init(configuration: RuntimeConfiguration, capacity: Int, guestAddresses: GuestAddresses, port: GuestFrameOutput,
         opener: HostSocketOpener, timers: TCPTimers, sackEnabled: Bool) {
        self.guestAddresses = guestAddresses
        self.port = port
        self.opener = opener
        self.timers = timers
        self.sackEnabled = sackEnabled
        ourMAC = configuration.ourMAC.bytes
        translation = AddressTranslation(configuration)
        let mtu = configuration.mtu == 0 ? RuntimeConfiguration.defaultMTU : configuration.mtu
        let largest = Self.frameSize - TCPFrameWriter.payloadOffset(ipv4: false)
        maximumPayload4 = min(mtu - 40, largest)
        maximumPayload6 = min(mtu - 60, largest)
        table = FlowTable(capacity: capacity)
        writeBatch = TCPBatchWrites(capacity: capacity)
        frames = UnsafeMutableRawPointer.allocate(byteCount: Self.framesPerPeek * Self.frameSize, alignment: 64)
        control = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 16)
        peekBuffers = .allocate(capacity: Self.framesPerPeek)
        outgoing = .allocate(capacity: Self.framesPerPeek)
        precondition(Self.framesPerPeek <= TCPSocket.maximumParts && TCPBatchWrites.partsPerConnection <= TCPSocket.maximumParts)
    }

    deinit {
        frames.deallocate()
        control.deallocate()
        peekBuffers.deallocate()
        outgoing.deallocate()
    }

    // MARK: Segments from the guest

    /// `checksumTrusted`: the checksum needs no verifying (left for us, or checked); else a bad one is
    /// dropped and counted. `scattered`: the payload, where it doesn't follow the header (trusted only).
    func handle(ipv4 packet: IPv4Packet, checksumTrusted: Bool = false, scattered: ScatteredPayload = .none, now: Int) {
        guard let segment = Self.segment(packet.payload, scattered) else { return }
        guard checksumTrusted || InternetChecksum.ipv4(source: packet.source, destination: packet.destination,
                                                       protocolNumber: IPProtocol.tcp, segment: packet.payload) == 0
        else { return dropBadChecksum() }
        let source = packet.sourceAddress
        guestAddresses.observe(source)
        let key = FlowKey(guest: FlowAddress(ipv4: source.value), remote: FlowAddress(ipv4: packet.destinationAddress.value),
                          guestPort: segment.sourcePort, remotePort: segment.destinationPort)
        handle(segment, key: key, timeToLive: packet.timeToLive, now: now)
    }

    func handle(ipv6 packet: IPv6Packet, checksumTrusted: Bool = false, scattered: ScatteredPayload = .none, now: Int) {
        guard let segment = Self.segment(packet.payload, scattered) else { return }
        guard checksumTrusted || InternetChecksum.ipv6(source: packet.source, destination: packet.destination,
                                                       nextHeader: IPProtocol.tcp, segment: packet.payload) == 0
        else { return dropBadChecksum() }
        let source = packet.sourceAddress
        guestAddresses.observe(source)
        let destination = packet.destinationAddress
        let key = FlowKey(guest: FlowAddress(high: source.high, low: source.low),
                          remote: FlowAddress(high: destination.high, low: destination.low),
                          guestPort: segment.sourcePort, remotePort: segment.destinationPort)
        handle(segment, key: key, timeToLive: packet.hopLimit, now: now)
    }

    private func dropBadChecksum() {
        badChecksums += 1
        flowLog.log(now: now, "TCP: segment with a bad checksum from the guest dropped (\(badChecksums) so far)")
    }

    /// `timeToLive`: the packet's, which a SYN's connect keeps (traceroute -T).
    private func handle(_ segment: TCPSegment, key: FlowKey, timeToLive: UInt8, now: Int) {
        self.now = now
        guard let index = table.index(of: key), let connection = table[index] else {
            if segment.has(TCPFlags.syn) && !segment.has(TCPFlags.ack) {
                openOutbound(segment, key: key, timeToLive: timeToLive, now: now)
            } else if !segment.has(TCPFlags.rst) {
                resetUnknown(segment, key: key)
            }
            return
        }
        connection.lastActivity = now
        if segment.has(TCPFlags.rst) { return guestReset(connection, segment) }
        var handshakeDone = false
        switch connection.state {
        case .connecting:
            return  // a retransmitted SYN while we connect: the SYN-ACK follows once connected
        case .synAckSent:
            if segment.has(TCPFlags.syn) {
                sendControl(connection, flags: TCPFlags.syn | TCPFlags.ack, sequence: connection.initialSequence)
                return
            }
            guard segment.has(TCPFlags.ack), segment.acknowledgment == connection.initialSequence &+ 1 else { return }
            connection.sendUnacknowledged = segment.acknowledgment
            connection.state = .established
            connection.retransmitAt = .max
            connection.retries = 0
            handshakeDone = true
        case .synSent:
            guard segment.has(TCPFlags.syn), segment.has(TCPFlags.ack),
                  segment.acknowledgment == connection.initialSequence &+ 1
            else { return }
            acceptSynAck(connection, segment, now: now)
            return
        case .established:
            if segment.has(TCPFlags.syn) {
                queueAck(connection)
                return
            }
        }
        if segment.has(TCPFlags.ack) { processAck(connection, segment, now: now) }
        guard isOpen(connection) else { return }
        if segment.payloadLength > 0 || segment.has(TCPFlags.fin) {
            processData(connection, segment)
        } else if sequenceLess(segment.sequence, connection.receiveNext) {
            // A window probe or keepalive (an empty segment below what we expect): it asks for an ACK with
            // our window (RFC 9293 section 3.10.7.4). Left unanswered, a guest we told "window 0" whose
            // update was lost would back off for up to two minutes.
            queueAck(connection)
        }
        guard isOpen(connection) else { return }
        // What the host sent during the handshake raised its one edge then: it goes out now, whatever
        // the guest's ACK said (an ACK that doesn't change the window starts no pump of its own).
        if handshakeDone { pump(connection, now: now) }
        guard isOpen(connection) else { return }
        closeIfDone(connection)
    }

    /// RFC 5961 section 3: only a reset at the expected sequence number is believed. One elsewhere in
    /// our window gets a challenge ACK: a guest that really reset answers it with a reset at exactly
    /// that point (the one before may have been sent while data of its was still on the way, or lost).
    private func guestReset(_ connection: TCPConnection, _ segment: TCPSegment) {
        if segment.sequence == connection.receiveNext || connection.state == .synSent {
            return close(connection, abort: true, why: "reset by the guest")
        }
        let offset = segment.sequence &- connection.receiveNext
        if connection.state == .established && offset < max(connection.lastAdvertisedWindow, 1) {
            sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext)
        }
    }

    // MARK: Host sockets

    /// An event on a connection's socket, for the connection in `index`'s slot if it is still the one of
    /// `generation`.
    func socketEvent(index: Int, generation: UInt32, _ readiness: SocketReadiness, now: Int) {
        guard let connection = table[index], connection.generation == generation else { return }
        self.now = now
        connection.lastActivity = now
        // Remembered in every state: a peer that sends and closes before the handshake with the guest is
        // done raises its one edge now, and the first pump after it must still look for the end of stream.
        if readiness.contains(.peerClosed) { connection.peerClosed = true }
        switch connection.state {
        case .connecting:
            connected(connection, readiness, now: now)
        case .synAckSent, .synSent:
            if readiness.contains(.error) { resetGuest(connection, why: "host socket error: \(errorDescription(connection.socket.pendingError()))") }
        case .established:
            if readiness.contains(.error) {
                let error = connection.socket.pendingError()
                if error != 0 { return resetGuest(connection, why: "reset on the host side: \(errorDescription(error))") }
            }
            if readiness.contains(.writable) && connection.watchingWritable {
                socketWritable(connection)
                guard isOpen(connection) else { return }
            }
            if !readiness.isDisjoint(with: [.readable, .peerClosed]) {
                connection.socketDrained = false
                pump(connection, now: now)
            }
            if isOpen(connection) { closeIfDone(connection) }
        }
    }

    /// The socket took data again: held segments go on, and the guest hears of a grown window.
    private func socketWritable(_ connection: TCPConnection) {
        watch(connection, writable: false)
        guard isOpen(connection) else { return }
        flushPending(connection)
        guard isOpen(connection) else { return }
        let before = connection.lastAdvertisedWindow
        // A window update, if the window grew; otherwise the next ACK carries it.
        if advertisedWindowGrew(connection, from: before) {
            sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext)
        }
    }

    /// The connection is still the table's: nothing it called closed it.
    @inline(__always)
    func isOpen(_ connection: TCPConnection) -> Bool { table[connection.index] === connection }

    // MARK: The end of a batch of frames, and the backend draining

    /// Ends a batch of frames: writes the guest data queued from it (it points into the batch's frames, so
    /// this runs before the batch is read again), drops what the guest acknowledged from the sockets, then
    /// sends the ACKs its segments asked for, one per connection. An ACK for a small request waits up to a
    /// millisecond (RFC 9293 allows far longer; see TCPAckDelay): the answer usually comes sooner, and
    /// carries it.
    func finishBatch() {
        writeBatch.drain { index in
            if let connection = table[index] { _ = writeQueued(connection) }
        }
        for index in discardQueue {
            if let connection = table[index], connection.undiscarded > 0 { discardAcknowledged(connection) }
        }
        discardQueue.removeAll(keepingCapacity: true)
        for index in ackQueue {
            guard let connection = table[index], connection.ackPending else { continue }
            if connection.ackDelay.mayWait {
                delayedAcks.append(index)
                continue
            }
            connection.ackPending = false
            sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext)
        }
        ackQueue.removeAll(keepingCapacity: true)
        if !delayedAcks.isEmpty && !ackTimerArmed {
            timers.armAckTimer(afterMilliseconds: Self.ackDelay)
            ackTimerArmed = true
        }
    }

    /// The delayed ACKs that no reply carried in time.
    func ackTimerExpired() {
        ackTimerArmed = false
        for index in delayedAcks {
            guard let connection = table[index], connection.ackPending else { continue }
            connection.ackPending = false
            sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext)
        }
        delayedAcks.removeAll(keepingCapacity: true)
    }

    /// The backend drained: connections that waited send their ACKs and data, in turn, until it is full
    /// again; the rest wait for the next drain.
    func resume(now: Int) {
        self.now = now
        resendRefusedResets()
        let waiting = waitingForRoom
        waitingForRoom.removeAll(keepingCapacity: true)
        for (position, index) in waiting.enumerated() {
            if port.isFull {
                waitingForRoom.append(contentsOf: waiting[position...].filter { table[$0]?.waitingForRoom == true })
                return
            }
            guard let connection = table[index], connection.waitingForRoom else { continue }
            connection.waitingForRoom = false
            if connection.ackPending {
                connection.ackPending = false
                sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext)
            }
            if isOpen(connection) { pump(connection, now: now) }
            if isOpen(connection) { closeIfDone(connection) }
        }
    }

    /// Resets for the guest that the full backend refused, sent once it drains (a lost reset would leave
    /// the guest waiting for its own timeout). Bounded: beyond it they are dropped, as any frame would be.
    func resendRefusedResets() {
        while let reset = refusedResets.first {
            guard sendReset(key: reset.key, sequence: reset.sequence, acknowledgment: reset.acknowledgment) else { return }
            refusedResets.removeFirst()
        }
    }

    /// The connection has something for the guest that the full backend can't take yet.
    func waitForRoom(_ connection: TCPConnection) {
        guard !connection.waitingForRoom else { return }
        connection.waitingForRoom = true
        waitingForRoom.append(connection.index)
    }

    // MARK: The table

    /// Forgets the connection; `abort` makes the socket's close send a reset to its peer. `why` ends its
    /// flow line.
    func close(_ connection: TCPConnection, abort: Bool, why: String) {
        flowLog.log(now: now, "TCP: \(describe(connection)) ended, \(why): \(connection.bytesFromGuest) bytes from the guest, "
                    + "\(connection.bytesToGuest) to it")
        // Acknowledged data still queued would make the kernel answer the close with a reset.
        if !abort { discardAcknowledged(connection) }
        connection.socket.close(abort: abort)
        table.remove(connection.key)
        connection.pending.forEach(pool.release)
        connection.pending.removeAll()
        writeBatch.clear(connection.index)
        connection.ackPending = false
    }

    /// The table or our descriptors are running out: the oldest half of the connections still in their
    /// handshake (most likely SYNs to addresses that never answer) make room for new ones.
    @discardableResult
    func reclaimHalfOpen(now: Int) -> Int {
        let reclaimed = table.reclaim(now: now, age: { $0.state == .established ? nil : $0.lastActivity },
                                      evict: { resetGuest($0, why: "reclaimed, connections running out") })
        if reclaimed > 0 && !reclaimLogged {
            logWarning("TCP: connections are running out; the oldest unfinished handshakes make room for new ones")
            reclaimLogged = true
        }
        return reclaimed
    }

    func logTableFull() {
        if !tableFullLogged {
            logWarning("TCP: connection limit reached (\(table.capacity) connections or the file descriptor limit); new connections are refused")
            tableFullLogged = true
        }
    }

    /// Both endpoints, as the guest sees them.
    func describe(_ connection: TCPConnection) -> String {
        "guest \(connection.key.guest.ip) port \(connection.key.guestPort) <-> \(connection.key.remote.ip) port \(connection.key.remotePort)"
    }
}
