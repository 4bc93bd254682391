import CLinux
import Glibc

/// TCP translation between segments on the tap and ordinary host sockets, without a TCP stack of our own:
/// the socket's queues are the only buffers (see TCPConnection).
public final class TCPFlows {
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
    /// The largest TCP payload one frame carries when the guest's side segments it: what an IP packet's
    /// length field (IPv4's total, IPv6's payload) can say with our 20-byte TCP header, within a frame slot.
    static func largestSegment(ipv4: Bool) -> Int {
        min(ipv4 ? 65535 - 20 - 20 : 65535 - 20, frameSize - TCPFrameWriter.payloadOffset(ipv4: ipv4))
    }
    /// Segments of one batch written to a socket in one send.
    static let queuedPerConnection = 64

    let table: FlowTable<TCPConnection>
    private let pool = SegmentPool(capacity: TCPFlows.pendingSegments)
    private let poll: EventPoll
    private let port: GuestPort
    private let ourMAC: [UInt8]
    let translation: AddressTranslation
    /// Guest addresses seen in its frames; inbound connections go to these, else to the configured ones.
    private let guestAddresses: GuestAddresses
    /// Largest payload per segment our MTU allows, per family.
    private let maximumPayload4: Int
    private let maximumPayload6: Int
    private let frames: UnsafeMutableRawPointer
    private let control: UnsafeMutableRawBufferPointer
    private let peekBases: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let peekLengths: UnsafeMutablePointer<Int>
    private var ackQueue: [Int] = []
    /// Connections with frames for the guest that waited for the backend to drain.
    private var waitingForRoom: [Int] = []
    private let outgoing: UnsafeMutablePointer<UnsafeRawBufferPointer>
    /// Connections with guest data queued from the current batch, and with acknowledged data to discard.
    private var queuedConnections: [Int] = []
    private var discardQueue: [Int] = []
    private let writeBases: UnsafeMutablePointer<UnsafeRawPointer?>
    private let writeLengths: UnsafeMutablePointer<Int>
    /// Connections whose ACK for a small write waits briefly, so the reply can carry it.
    private var delayedAcks: [Int] = []
    private let ackTimer: TimerDescriptor
    private var ackTimerArmed = false
    private let retransmitClock: TimerDescriptor
    private var retransmitClockRunning = false
    static let ackDelay = 1
    private var tableFullLogged = false
    private var reclaimLogged = false
    /// Selective acknowledgments (RFC 2018): offered in our SYN and SYN-ACK unless PASTA_TCP_SACK=0, which
    /// goes back to resending everything after a hole (test_tcp_stress times both under loss).
    private let sackEnabled = getenv("PASTA_TCP_SACK").map { String(cString: $0) != "0" } ?? true

    init(configuration: RuntimeConfiguration, guestAddresses: GuestAddresses, poll: EventPoll, port: GuestPort) throws {
        self.guestAddresses = guestAddresses
        self.poll = poll
        self.port = port
        ourMAC = configuration.ourMAC.bytes
        translation = AddressTranslation(configuration)
        let mtu = configuration.mtu == 0 ? RuntimeConfiguration.defaultMTU : configuration.mtu
        let largest = Self.frameSize - TCPFrameWriter.payloadOffset(ipv4: false)
        maximumPayload4 = min(mtu - 40, largest)
        maximumPayload6 = min(mtu - 60, largest)
        let fileLimit = CLinux_raise_file_limit()
        // Every flow holds one socket; keep room for listeners and our own descriptors.
        table = FlowTable(capacity: max(64, min(65536, (fileLimit > 0 ? Int(fileLimit) : 1024) - 256)))
        frames = UnsafeMutableRawPointer.allocate(byteCount: Self.framesPerPeek * Self.frameSize, alignment: 64)
        control = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 16)
        peekBases = .allocate(capacity: Self.framesPerPeek)
        peekLengths = .allocate(capacity: Self.framesPerPeek)
        precondition(Self.framesPerPeek <= Int(CLinux_MAX_PARTS) && Self.queuedPerConnection <= Int(CLinux_MAX_PARTS))
        outgoing = .allocate(capacity: Self.framesPerPeek)
        writeBases = .allocate(capacity: Self.queuedPerConnection)
        writeLengths = .allocate(capacity: Self.queuedPerConnection)
        ackTimer = try TimerDescriptor()
        try poll.add(ackTimer.descriptor.raw, EventReference(.tcpAckTimer))
        retransmitClock = try TimerDescriptor()
        try poll.add(retransmitClock.descriptor.raw, EventReference(.tcpRetransmitClock))
    }

    deinit {
        frames.deallocate()
        control.deallocate()
        peekBases.deallocate()
        peekLengths.deallocate()
        outgoing.deallocate()
        writeBases.deallocate()
        writeLengths.deallocate()
    }

    // MARK: Segments from the guest

    /// `checksumTrusted`: the backend says the checksum needs no verifying (left for us to finish, or
    /// checked already); otherwise a segment with a bad one is dropped and counted.
    public func handle(ipv4 packet: IPv4Packet, checksumTrusted: Bool = false, now: Int) {
        guard let segment = TCPSegment(packet.payload) else { return }
        guard checksumTrusted || InternetChecksum.ipv4(source: packet.source, destination: packet.destination,
                                                       protocolNumber: IPProtocol.tcp, segment: packet.payload) == 0
        else { return dropBadChecksum() }
        let source = packet.sourceAddress
        guestAddresses.observe(source)
        let key = FlowKey(guest: FlowAddress(ipv4: source.value), remote: FlowAddress(ipv4: packet.destinationAddress.value),
                          guestPort: segment.sourcePort, remotePort: segment.destinationPort)
        handle(segment, key: key, now: now)
    }

    public func handle(ipv6 packet: IPv6Packet, checksumTrusted: Bool = false, now: Int) {
        guard let segment = TCPSegment(packet.payload) else { return }
        guard checksumTrusted || InternetChecksum.ipv6(source: packet.source, destination: packet.destination,
                                                       nextHeader: IPProtocol.tcp, segment: packet.payload) == 0
        else { return dropBadChecksum() }
        let source = packet.sourceAddress
        guestAddresses.observe(source)
        let destination = packet.destinationAddress
        let key = FlowKey(guest: FlowAddress(high: source.high, low: source.low),
                          remote: FlowAddress(high: destination.high, low: destination.low),
                          guestPort: segment.sourcePort, remotePort: segment.destinationPort)
        handle(segment, key: key, now: now)
    }

    /// Segments from the guest dropped for a bad checksum, since the start.
    private(set) var badChecksums = 0

    private func dropBadChecksum() {
        badChecksums += 1
        logDebug("TCP: segment with a bad checksum from the guest dropped (\(badChecksums) so far)")
    }

    private func handle(_ segment: TCPSegment, key: FlowKey, now: Int) {
        guard let index = table.index(of: key), let connection = table[index] else {
            if segment.has(TCPFlags.syn) && !segment.has(TCPFlags.ack) {
                openOutbound(segment, key: key, now: now)
            } else if !segment.has(TCPFlags.rst) {
                resetUnknown(segment, key: key)
            }
            return
        }
        connection.lastActivity = now
        if segment.has(TCPFlags.rst) {
            // RFC 5961 section 3: only a reset at the expected sequence number is believed.
            if segment.sequence == connection.receiveNext || connection.state == .synSent {
                logDebug("TCP: guest reset \(describe(connection))")
                close(connection, abort: true)
            }
            return
        }
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
        case .synSent:
            guard segment.has(TCPFlags.syn), segment.has(TCPFlags.ack),
                  segment.acknowledgment == connection.initialSequence &+ 1
            else { return }
            acceptSynAck(connection, segment)
            return
        case .established:
            if segment.has(TCPFlags.syn) {
                queueAck(connection)
                return
            }
        }
        if segment.has(TCPFlags.ack) { processAck(connection, segment, now: now) }
        guard table[connection.index] === connection else { return }
        if segment.payloadLength > 0 || segment.has(TCPFlags.fin) {
            processData(connection, segment)
        } else if sequenceLess(segment.sequence, connection.receiveNext) {
            // A window probe or keepalive (an empty segment below what we expect): it asks for an ACK with
            // our window (RFC 9293 section 3.10.7.4). Left unanswered, a guest we told "window 0" whose
            // update was lost would back off for up to two minutes.
            queueAck(connection)
        }
        guard table[connection.index] === connection else { return }
        closeIfDone(connection)
    }

    /// A guest SYN: connect a host socket to the (translated) destination; the SYN-ACK waits for it.
    private func openOutbound(_ segment: TCPSegment, key: FlowKey, now: Int) {
        let destination = translation.hostDestination(for: key.remote.ip)
        let family = destination.family
        if table.isNearlyFull { reclaimHalfOpen(now: now) }
        var fd = CLinux_socket(family, Int32(SOCK_STREAM.rawValue))
        if fd < 0 && (errno == EMFILE || errno == ENFILE) && reclaimHalfOpen(now: now) > 0 {
            fd = CLinux_socket(family, Int32(SOCK_STREAM.rawValue))
        }
        guard fd >= 0 else {
            if errno == EMFILE || errno == ENFILE { logTableFull() } else {
                logDebug("TCP: can't open a socket: \(String(cString: strerror(errno)))")
            }
            return resetUnknown(segment, key: key)
        }
        let socket = Descriptor(fd)
        guard prepare(fd) else { return resetUnknown(segment, key: key) }
        if !translation.bindOutbound(fd, to: destination) { return resetUnknown(segment, key: key) }
        let bytes = destination.networkBytes
        if CLinux_connect_ip(fd, family, bytes, key.remotePort) < 0 && errno != EINPROGRESS {
            logDebug("TCP: connect to \(destination) port \(key.remotePort): \(String(cString: strerror(errno)))")
            return resetUnknown(segment, key: key)
        }
        guard let connection = table.insert(key, { index, generation in
            TCPConnection(index: index, generation: generation, key: key, socket: socket, state: .connecting, now: now)
        }) else {
            logTableFull()
            return resetUnknown(segment, key: key)
        }
        connection.receiveNext = segment.sequence &+ 1
        connection.retransmitAt = now + Self.connectTimeout
        connection.initialSequence = UInt32.random(in: 0...UInt32.max)
        connection.recoverPoint = connection.initialSequence
        applySynOptions(connection, segment)
        connection.guestWindow = UInt32(segment.window)
        do {
            try poll.add(fd, connection.eventReference, events: CLinux_EPOLLOUT)
        } catch {
            return close(connection, abort: true)
        }
        logDebug("TCP: guest connects to \(key.remote.ip) port \(key.remotePort) via \(destination)")
    }

    /// Socket options every connection needs: no Nagle delay (the guest's stack already coalesces), and
    /// a peek offset, so each MSG_PEEK continues after what was already sent to the guest.
    private func prepare(_ fd: Int32) -> Bool {
        _ = CLinux_set_nodelay(fd)
        guard CLinux_set_peek_offset(fd, 0) == 0 else {
            logError("TCP: this kernel has no SO_PEEK_OFF for TCP sockets (Linux 6.10 or later needed)")
            return false
        }
        return true
    }

    private func applySynOptions(_ connection: TCPConnection, _ segment: TCPSegment) {
        let options = segment.synOptions
        let largest = connection.isIPv4 ? maximumPayload4 : maximumPayload6
        let announced = Int(options.maximumSegmentSize ?? (connection.isIPv4 ? 536 : 1220))
        connection.segmentSize = max(64, min(announced, largest))
        if let scale = options.windowScale {
            connection.scaling = true
            connection.guestWindowScale = scale
            connection.ourWindowScale = Self.ourWindowScale
        }
        connection.sackPermitted = options.sackPermitted && sackEnabled
    }

    /// The guest answered our SYN for an inbound connection.
    private func acceptSynAck(_ connection: TCPConnection, _ segment: TCPSegment) {
        connection.receiveNext = segment.sequence &+ 1
        // Our SYN offered window scaling; it applies only if the guest's SYN-ACK offers it too (RFC 7323).
        connection.scaling = false
        connection.guestWindowScale = 0
        connection.ourWindowScale = 0
        applySynOptions(connection, segment)
        connection.guestWindow = UInt32(segment.window)
        connection.sendUnacknowledged = segment.acknowledgment
        connection.sendNext = segment.acknowledgment
        connection.sendMax = segment.acknowledgment
        connection.state = .established
        connection.retransmitAt = .max
        connection.retries = 0
        sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext)
        pump(connection)
    }

    private func processAck(_ connection: TCPConnection, _ segment: TCPSegment, now: Int) {
        let ack = segment.acknowledgment
        let window = UInt32(segment.window) << UInt32(connection.guestWindowScale)
        // Anything up to the highest sequence ever sent counts: after a rewind, the guest may acknowledge
        // data it had received before we started resending it.
        if sequenceLess(connection.sendUnacknowledged, ack) && sequenceLessOrEqual(ack, connection.sendMax) {
            var acknowledged = Int(ack &- connection.sendUnacknowledged)
            if let fin = connection.finSequence, ack == fin &+ 1 {
                connection.finAcknowledged = true
                connection.finSent = true
                acknowledged -= 1
            }
            if acknowledged > 0 { discardLater(connection, acknowledged) }
            connection.sendUnacknowledged = ack
            if connection.probing && connection.finSequence == nil {
                // The first new ACK after the one segment resent on a timeout: most likely the first
                // transmission arriving after all (a slow guest, not lost segments; an ACK short of the
                // resent segment can only be for the first transmission). As RFC 5682 (F-RTO) does, go on
                // with new data after everything sent before; if the guest was missing some, its duplicate
                // ACKs for this point make us resend from here.
                connection.sendNext = connection.sendMax
                discardAcknowledged(connection)
                _ = CLinux_set_peek_offset(connection.socket.raw, Int32(connection.sendMax &- ack))
                connection.socketDrained = false
                connection.recoverPoint = ack &- 1
                // Each resent segment the guest already had comes back as one duplicate ACK: no loss.
                connection.expectedDuplicateAcks = connection.probesSent
                if connection.sackPermitted && !sackBlocks(connection, segment, acknowledgment: ack).isEmpty {
                    // It was missing more, and says exactly what: a recovery resends those holes now (below)
                    // rather than one per timeout while its full window draws no duplicate ACKs.
                    connection.recoverPoint = connection.sendMax
                    connection.resentUpTo = ack
                }
            } else if sequenceLess(connection.sendNext, ack) {
                // Past what we resent so far: continue after what the guest has.
                connection.sendNext = ack
                resetPeekOffset(connection)
            }
            connection.duplicateAcks = 0
            connection.retries = 0
            connection.probing = false
            connection.probesSent = 0
            // A partial ACK while recovering (RFC 6675 and 6582): the next hole starts here.
            if connection.sackPermitted && sequenceLess(ack, connection.recoverPoint)
                && sequenceLess(ack, connection.sendNext) {
                resendHoles(connection, sackBlocks(connection, segment, acknowledgment: ack), acknowledgment: ack)
            }
            connection.retransmitTimeout = Self.initialRetransmitTimeout
            let outstanding = connection.bytesInFlight > 0 || (connection.finSent && !connection.finAcknowledged)
            connection.retransmitAt = outstanding ? now + connection.retransmitTimeout : .max
            if outstanding { startRetransmitClock() }
            connection.guestWindow = window
            pump(connection)
        } else if ack == connection.sendUnacknowledged {
            let probe = segment.payloadLength == 0 && !segment.has(TCPFlags.fin) && window == connection.guestWindow
            let opened = window > connection.guestWindow
            connection.guestWindow = window
            if probe && connection.bytesInFlight > 0 && connection.expectedDuplicateAcks > 0 {
                connection.expectedDuplicateAcks -= 1  // the guest's answer to a segment we resent it had
            } else if probe && connection.bytesInFlight > 0 {
                connection.duplicateAcks += 1
                // Fast retransmit (RFC 5681 section 3.2) without SACK: everything from the hole on.
                // Not again for duplicates of what the last resend already covers (RFC 6582 section 3.2):
                // resent segments the guest had make it repeat its ACK, which would start it all over.
                let blocks = connection.sackPermitted ? sackBlocks(connection, segment, acknowledgment: ack) : []
                if sequenceLess(connection.recoverPoint, ack)
                    && (connection.duplicateAcks == 3 || sackSaysLost(connection, blocks)) {
                    connection.recoverPoint = connection.sendMax
                    connection.resentUpTo = ack
                    if !blocks.isEmpty {
                        // The guest said what it has past the holes: only those go out again.
                        resendHoles(connection, blocks, acknowledgment: ack)
                    } else {
                        logDebug("TCP: three duplicate ACKs, resending from \(ack) for \(describe(connection))")
                        rewind(connection)
                    }
                } else if !blocks.isEmpty && sequenceLess(ack, connection.recoverPoint) {
                    // Duplicates in a SACK recovery show holes further up, or a resend lost again.
                    resendHoles(connection, blocks, acknowledgment: ack)
                }
            } else if opened {
                pump(connection)
            }
        }
    }

    /// Notes bytes the guest acknowledged; they leave the socket's receive queue at the end of the batch,
    /// with one recv for all of a batch's ACKs (each recv may also send the peer a window update).
    private func discardLater(_ connection: TCPConnection, _ count: Int) {
        if connection.undiscarded == 0 { discardQueue.append(connection.index) }
        connection.undiscarded += count
    }

    /// Drops what the guest acknowledged from the socket's receive queue: before the batch ends, and
    /// before the peek offset is set (it counts from the head of the queue, where acknowledged data
    /// still is until then).
    private func discardAcknowledged(_ connection: TCPConnection) {
        var left = connection.undiscarded
        connection.undiscarded = 0
        while left > 0 {
            let n = CLinux_discard(connection.socket.raw, left)
            if n <= 0 { break }
            left -= n
        }
    }

    /// Guest data goes to the socket in sequence order; what the socket can't take yet, or what lies
    /// beyond a gap, waits in the segment pool (unacknowledged) rather than being dropped. Data that
    /// continues the stream is queued and written with the rest of the batch's in one send.
    private func processData(_ connection: TCPConnection, _ segment: TCPSegment) {
        if connection.guestFinished { return }
        var payload = segment.payload
        var sequence = segment.sequence
        let fin = segment.has(TCPFlags.fin)
        let expected = connection.receiveNext &+ UInt32(connection.queuedBytes)
        if !fin && connection.pending.isEmpty && sequenceLessOrEqual(sequence, expected) {
            let old = Int(expected &- sequence)
            if old < payload.count {
                return enqueue(connection, UnsafeRawBufferPointer(rebasing: payload[old...]), sequence: expected)
            }
        }
        guard writeQueued(connection) else { return }
        if sequenceLess(connection.receiveNext, sequence) {
            holdBack(connection, payload, sequence: sequence, fin: fin)
            sendDuplicateAck(connection)  // out of order: the guest learns where the gap is
            return
        }
        let old = Int(connection.receiveNext &- sequence)
        if old > payload.count || (old == payload.count && !fin) {
            sendDuplicateAck(connection)  // a retransmission of what the socket already has
            return
        }
        payload = UnsafeRawBufferPointer(rebasing: payload[old...])
        sequence = connection.receiveNext
        guard deliver(connection, payload, fin: fin) else { return }
        flushPending(connection)
    }

    /// Queues in-sequence data until the end of the batch (or until the queue is full).
    private func enqueue(_ connection: TCPConnection, _ payload: UnsafeRawBufferPointer, sequence: UInt32) {
        if connection.queuedData.count == Self.queuedPerConnection {
            guard writeQueued(connection) else { return }
            // The socket is full: the segment waits in the pool like any other.
            if !connection.pending.isEmpty { return holdBack(connection, payload, sequence: sequence, fin: false) }
        }
        if connection.queuedData.isEmpty { queuedConnections.append(connection.index) }
        connection.queuedData.append(payload)
        connection.queuedBytes += payload.count
        noteGuestData(connection)
    }

    /// The guest sent data: was it an answer to data of ours (see TCPAckDelay)?
    private func noteGuestData(_ connection: TCPConnection) {
        connection.interactive = connection.sentDataSinceGuestData
        connection.sentDataSinceGuestData = false
    }

    /// Writes the connection's queued data with one send; what the socket doesn't take waits in the pool.
    /// Returns false if the connection went away.
    private func writeQueued(_ connection: TCPConnection) -> Bool {
        let count = connection.queuedData.count
        guard count > 0 else { return true }
        for (index, part) in connection.queuedData.enumerated() {
            writeBases[index] = part.baseAddress
            writeLengths[index] = part.count
        }
        let written = CLinux_send_parts(connection.socket.raw, writeBases, writeLengths, Int32(count))
        guard var taken = socketTook(connection, written) else { return false }
        if taken < connection.queuedBytes {
            var sequence = connection.receiveNext
            for part in connection.queuedData {
                if taken >= part.count {
                    taken -= part.count
                    continue
                }
                let rest = UnsafeRawBufferPointer(rebasing: part[taken...])
                holdBack(connection, rest, sequence: sequence, fin: false)
                sequence = sequence &+ UInt32(rest.count)
                taken = 0
            }
            watchWritable(connection)
        }
        connection.queuedData.removeAll(keepingCapacity: true)
        connection.queuedBytes = 0
        queueAck(connection)
        return true
    }

    /// How much of the guest's data a send to the socket took (now acknowledgeable); nil after a failure,
    /// which resets the connection.
    private func socketTook(_ connection: TCPConnection, _ written: Int) -> Int? {
        if written < 0 && errno != EAGAIN && errno != EWOULDBLOCK {
            logDebug("TCP: write to \(describe(connection)): \(String(cString: strerror(errno)))")
            resetGuest(connection)
            return nil
        }
        let taken = max(0, written)
        connection.receiveNext = connection.receiveNext &+ UInt32(taken)
        return taken
    }

    /// Writes in-sequence guest data (and then its FIN) to the socket; whatever doesn't fit waits in the
    /// pool. Returns false if the connection went away or the socket is full.
    private func deliver(_ connection: TCPConnection, _ payload: UnsafeRawBufferPointer, fin: Bool) -> Bool {
        if !payload.isEmpty {
            let written = CLinux_send(connection.socket.raw, payload.baseAddress, payload.count)
            guard let taken = socketTook(connection, written) else { return false }
            noteGuestData(connection)
            queueAck(connection)
            if taken < payload.count {
                holdBack(connection, UnsafeRawBufferPointer(rebasing: payload[taken...]),
                         sequence: connection.receiveNext, fin: fin)
                watchWritable(connection)
                return false
            }
        }
        if fin {
            connection.receiveNext = connection.receiveNext &+ 1
            connection.guestFinished = true
            _ = CLinux_shutdown_write(connection.socket.raw)
            queueAck(connection)
        }
        return true
    }

    /// Keeps a segment in the pool, in sequence order, unless an equal one is there or the pool is full.
    private func holdBack(_ connection: TCPConnection, _ payload: UnsafeRawBufferPointer, sequence: UInt32, fin: Bool) {
        var position = connection.pending.count
        for (offset, slot) in connection.pending.enumerated() {
            let held = pool.slots[slot].sequence
            if held == sequence { return }
            if sequenceLess(sequence, held) {
                position = offset
                break
            }
        }
        guard connection.pending.count < Self.pendingPerConnection,
              let slot = pool.store(payload, sequence: sequence, fin: fin)
        else { return }
        connection.pending.insert(slot, at: position)
    }

    /// Writes held segments that are now in sequence, until a gap or a full socket.
    private func flushPending(_ connection: TCPConnection) {
        while let slot = connection.pending.first {
            let held = pool.slots[slot]
            let end = held.sequence &+ UInt32(held.length)
            if sequenceLess(connection.receiveNext, held.sequence) { return }  // still a gap
            connection.pending.removeFirst()
            defer { pool.release(slot) }
            if sequenceLess(end, connection.receiveNext) || (end == connection.receiveNext && !held.fin) { continue }
            let skip = Int(connection.receiveNext &- held.sequence)
            let bytes = pool.bytes(slot)
            // `deliver` holds back what it can't write in a new slot before this one is released.
            guard deliver(connection, UnsafeRawBufferPointer(rebasing: bytes[skip...]), fin: held.fin) else { return }
            if connection.guestFinished { return }
        }
    }

    private func closeIfDone(_ connection: TCPConnection) {
        if connection.guestFinished && connection.finAcknowledged { close(connection, abort: false) }
    }

    // MARK: Host sockets

    public func socketEvent(_ reference: EventReference, events: UInt32, now: Int) {
        guard let connection = table[Int(reference.index)], connection.generation == reference.generation else { return }
        connection.lastActivity = now
        // Remembered in every state: a peer that sends and closes before the handshake with the guest is
        // done raises its one edge now, and the first pump after it must still look for the end of stream.
        if events & (CLinux_EPOLLRDHUP | CLinux_EPOLLHUP) != 0 { connection.peerClosed = true }
        switch connection.state {
        case .connecting:
            let error = CLinux_socket_error(connection.socket.raw)
            guard error == 0, events & CLinux_EPOLLOUT != 0 else {
                logDebug("TCP: connect for \(describe(connection)): \(String(cString: strerror(error)))")
                return resetGuest(connection)
            }
            connection.state = .synAckSent
            connection.sendNext = connection.initialSequence &+ 1
            connection.sendMax = connection.sendNext
            connection.sendUnacknowledged = connection.initialSequence
            sendControl(connection, flags: TCPFlags.syn | TCPFlags.ack, sequence: connection.initialSequence)
            connection.retransmitAt = now + Self.handshakeTimeout
            watch(connection, writable: false)
        case .synAckSent, .synSent:
            if events & CLinux_EPOLLERR != 0 { resetGuest(connection) }
        case .established:
            if events & CLinux_EPOLLERR != 0, CLinux_socket_error(connection.socket.raw) != 0 {
                return resetGuest(connection)
            }
            if events & CLinux_EPOLLOUT != 0 && connection.watchingWritable {
                watch(connection, writable: false)
                flushPending(connection)
                guard table[connection.index] === connection else { return }
                let before = connection.lastAdvertisedWindow
                // A window update, if the window grew; otherwise the next ACK carries it.
                if advertisedWindowGrew(connection, from: before) {
                    sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext)
                }
            }
            if events & (CLinux_EPOLLIN | CLinux_EPOLLRDHUP | CLinux_EPOLLHUP) != 0 {
                connection.socketDrained = false
                pump(connection)
            }
            if table[connection.index] === connection { closeIfDone(connection) }
        }
    }

    /// Sends what the socket has and the guest's window allows, in segments read straight into frames;
    /// at the end of the stream, a FIN.
    func pump(_ connection: TCPConnection) {
        // Nothing new since the last peek found the end: the next EPOLLIN (edge-triggered, for data that
        // arrives after that peek) brings us back, and a peek now would only return EAGAIN. Once the peer
        // closed, a peek past the data finds the end of the stream, which no later event announces.
        guard connection.state == .established, !connection.finSent,
              !connection.socketDrained || connection.peerClosed else { return }
        guard !port.isFull else { return waitForRoom(connection) }
        let payloadOffset = TCPFrameWriter.payloadOffset(ipv4: connection.isIPv4)
        while true {
            // After a timeout, one segment until the guest says what it has (see `tick`): once it is out,
            // nothing more, however often the socket or the backend calls us back, until the guest's ACK
            // or the next timeout (which goes back to the oldest unacknowledged byte again).
            if connection.probing && connection.sendNext != connection.sendUnacknowledged { return }
            let inFlight = connection.bytesInFlight
            guard connection.guestWindow > inFlight else {
                if connection.retransmitAt == .max {
                    connection.retransmitAt = MonotonicClock.milliseconds() + connection.retransmitTimeout
                    startRetransmitClock()
                }
                return
            }
            // A tap with offloads takes segments of up to 64 KiB and cuts them to the MSS itself.
            let frameLimit = port.segmentationOffload ? Self.largestSegment(ipv4: connection.isIPv4) : connection.segmentSize
            // A probe is one frame, as large as the first transmission's: a smaller one would leave the
            // rest of that frame as a hole of its own.
            var room = connection.probing ? min(Int(connection.guestWindow - inFlight), frameLimit)
                                          : Int(connection.guestWindow - inFlight)
            var count = 0
            var requested = 0
            while room > 0 && count < Self.framesPerPeek {
                let length = min(room, frameLimit)
                peekBases[count] = frames + count * Self.frameSize + payloadOffset
                peekLengths[count] = length
                requested += length
                room -= length
                count += 1
            }
            let received = CLinux_peek_into(connection.socket.raw, peekBases, peekLengths, Int32(count))
            if received < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    connection.socketDrained = true
                    return
                }
                logDebug("TCP: read from \(describe(connection)): \(String(cString: strerror(errno)))")
                return resetGuest(connection)
            }
            if received == 0 {
                connection.socketEOF = true
                sendFin(connection)
                return
            }
            let window = advertisedWindow(connection)
            var offset = 0
            var frame = 0
            var sequence = connection.sendNext
            while offset < received {
                let length = min(peekLengths[frame], received - offset)
                let buffer = UnsafeMutableRawBufferPointer(start: frames + frame * Self.frameSize, count: Self.frameSize)
                let last = offset + length == received
                let size = TCPFrameWriter.complete(
                    buffer, key: connection.key, ourMAC: ourMAC, guestMAC: port.guestMAC, sequence: sequence,
                    acknowledgment: connection.receiveNext, flags: TCPFlags.ack | (last ? TCPFlags.psh : 0),
                    window: window, payloadLength: length, partialChecksum: port.segmentationOffload)
                outgoing[frame] = UnsafeRawBufferPointer(start: buffer.baseAddress, count: size)
                peekLengths[frame] = length
                sequence = sequence &+ UInt32(length)
                offset += length
                frame += 1
            }
            let taken = port.send(UnsafeBufferPointer(start: outgoing, count: frame))
            for index in 0..<taken { connection.sendNext = connection.sendNext &+ UInt32(peekLengths[index]) }
            if taken > 0 {
                if sequenceLess(connection.sendMax, connection.sendNext) { connection.sendMax = connection.sendNext }
                connection.ackPending = false
                connection.acknowledgedUpTo = connection.receiveNext
                connection.sentDataSinceGuestData = true
                if connection.retransmitAt == .max {
                    connection.retransmitAt = MonotonicClock.milliseconds() + connection.retransmitTimeout
                    startRetransmitClock()
                }
            }
            if connection.probing && taken > 0 {
                connection.probesSent += 1
                return
            }
            if taken < frame {
                // The guest's side is full: what it didn't take is still in the socket. Peek from there
                // again once the backend drains.
                discardAcknowledged(connection)
                _ = CLinux_set_peek_offset(connection.socket.raw, Int32(connection.sendNext &- connection.sendUnacknowledged))
                connection.socketDrained = false
                return waitForRoom(connection)
            }
            if received < requested {
                // All there is for now. After the peer's FIN no edge follows the data it came with:
                // peek again, for the end of the stream.
                if connection.peerClosed { continue }
                connection.socketDrained = true
                return
            }
        }
    }

    /// The connection has something for the guest that the full backend can't take yet.
    private func waitForRoom(_ connection: TCPConnection) {
        guard !connection.waitingForRoom else { return }
        connection.waitingForRoom = true
        waitingForRoom.append(connection.index)
    }

    /// The backend drained: connections that waited send their ACKs and data, in turn, until it is full
    /// again; the rest wait for the next drain.
    public func resume() {
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
            if table[index] === connection { pump(connection) }
        }
    }

    private func sendFin(_ connection: TCPConnection) {
        guard !connection.finSent else { return }
        sendControl(connection, flags: TCPFlags.fin | TCPFlags.ack, sequence: connection.sendNext)
        connection.finSequence = connection.sendNext
        connection.sendNext = connection.sendNext &+ 1
        if sequenceLess(connection.sendMax, connection.sendNext) { connection.sendMax = connection.sendNext }
        connection.finSent = true
        connection.ackPending = false
        if connection.retransmitAt == .max {
            connection.retransmitAt = MonotonicClock.milliseconds() + connection.retransmitTimeout
            startRetransmitClock()
        }
    }

    /// Goes back to the oldest unacknowledged byte and sends everything again from there.
    private func rewind(_ connection: TCPConnection) {
        connection.sendNext = connection.sendUnacknowledged
        if !connection.finAcknowledged { connection.finSent = false }
        connection.duplicateAcks = 0
        resetPeekOffset(connection)
        pump(connection)
    }

    /// The guest's SACK blocks above its acknowledgment that lie within what we sent: one reaching past
    /// that is invalid (RFC 2018 section 3 leaves it to us), and believing it would let a guest make us
    /// resend its holes on every ACK.
    private func sackBlocks(_ connection: TCPConnection, _ segment: TCPSegment, acknowledgment ack: UInt32)
        -> [(left: UInt32, right: UInt32)] {
        segment.sackBlocks(above: ack).filter { sequenceLessOrEqual($0.right, connection.sendMax) }
    }

    /// RFC 6675's IsLost for the first hole: more than two segments' worth of data above it SACKed (its
    /// DupThresh of 3 in bytes). With 64 KiB frames the guest sends too few duplicate ACKs to count three.
    private func sackSaysLost(_ connection: TCPConnection, _ blocks: [(left: UInt32, right: UInt32)]) -> Bool {
        var sacked = 0
        for block in blocks { sacked += Int(block.right &- block.left) }
        return sacked > 2 * connection.segmentSize
    }

    /// Sends again what the guest's SACK blocks (those of `sackBlocks`) say it is missing (RFC 6675,
    /// simplified): every hole between its acknowledgment and the last block, once per recovery.
    private func resendHoles(_ connection: TCPConnection, _ blocks: [(left: UInt32, right: UInt32)], acknowledgment ack: UInt32) {
        if blocks.contains(where: { sequenceLess(connection.resendMark, $0.right) })
            && sequenceLess(ack, connection.resentUpTo) {
            // The guest has data sent after our last resend but not the resent hole: it was lost again.
            connection.resentUpTo = ack
        }
        var resent = false
        var holeStart = ack
        for block in blocks {
            let holeEnd = block.left
            // Each hole goes out once per recovery; one resent already waits for its ACK or the timer.
            if sequenceLess(holeStart, holeEnd) && sequenceLess(connection.resentUpTo, holeEnd) {
                let from = sequenceLess(holeStart, connection.resentUpTo) ? connection.resentUpTo : holeStart
                resendHole(connection, from: from, to: holeEnd)
                connection.resentUpTo = holeEnd
                resent = true
            }
            if sequenceLess(holeStart, block.right) { holeStart = block.right }
        }
        if resent { connection.resendMark = connection.sendMax }
    }

    /// Sends again the data from `start` up to `end` (a hole the guest reported), without going back on
    /// anything else: sendNext and the peek offset stay where they were.
    private func resendHole(_ connection: TCPConnection, from start: UInt32, to end: UInt32) {
        guard !port.isFull, sequenceLess(start, end), sequenceLessOrEqual(end, connection.sendNext),
              !sequenceLess(start, connection.sendUnacknowledged) else { return }
        discardAcknowledged(connection)
        let fd = connection.socket.raw
        let payloadOffset = TCPFrameWriter.payloadOffset(ipv4: connection.isIPv4)
        let frameLimit = port.segmentationOffload ? Self.largestSegment(ipv4: connection.isIPv4) : connection.segmentSize
        var left = Int(end &- start)
        var count = 0
        while left > 0 && count < Self.framesPerPeek {
            peekBases[count] = frames + count * Self.frameSize + payloadOffset
            peekLengths[count] = min(left, frameLimit)
            left -= peekLengths[count]
            count += 1
        }
        _ = CLinux_set_peek_offset(fd, Int32(start &- connection.sendUnacknowledged))
        let received = CLinux_peek_into(fd, peekBases, peekLengths, Int32(count))
        _ = CLinux_set_peek_offset(fd, Int32(connection.sendNext &- connection.sendUnacknowledged))
        guard received > 0 else { return }
        let window = advertisedWindow(connection)
        var sequence = start, offset = 0, frame = 0
        while offset < received {
            let length = min(peekLengths[frame], received - offset)
            let buffer = UnsafeMutableRawBufferPointer(start: frames + frame * Self.frameSize, count: Self.frameSize)
            let size = TCPFrameWriter.complete(
                buffer, key: connection.key, ourMAC: ourMAC, guestMAC: port.guestMAC, sequence: sequence,
                acknowledgment: connection.receiveNext, flags: TCPFlags.ack, window: window, payloadLength: length,
                partialChecksum: port.segmentationOffload)
            outgoing[frame] = UnsafeRawBufferPointer(start: buffer.baseAddress, count: size)
            sequence = sequence &+ UInt32(length)
            offset += length
            frame += 1
        }
        _ = port.send(UnsafeBufferPointer(start: outgoing, count: frame))
        logDebug("TCP: resent \(received) bytes the guest is missing for \(describe(connection))")
    }

    /// The next peek starts again at the oldest byte the guest has not acknowledged.
    private func resetPeekOffset(_ connection: TCPConnection) {
        discardAcknowledged(connection)
        _ = CLinux_set_peek_offset(connection.socket.raw, 0)
        connection.socketDrained = false
    }

    /// Our receive window: the free room in the socket's send buffer, as the kernel accounts it. Payload
    /// takes a little more room than its size, so a guest filling the window now and then finds the socket
    /// full: the unwritten tail is dropped (the guest retransmits it after three duplicate ACKs), and the
    /// kernel grows an autotuned send buffer only for a socket that was found full. Smaller windows would
    /// keep the buffer, and so what can be in flight to a distant peer, at its initial size forever.
    private func advertisedWindow(_ connection: TCPConnection) -> UInt16 {
        let fd = connection.socket.raw
        var size: Int32 = 0, queued: Int32 = 0
        let free = CLinux_send_memory(fd, &size, &queued) == 0 ? max(0, Int(size) - Int(queued)) : 0
        if free < Int(size) / 4 { watchWritable(connection) }
        let field = UInt16(min(free >> Int(connection.ourWindowScale), 65535))
        connection.lastAdvertisedWindow = UInt32(field) << UInt32(connection.ourWindowScale)
        connection.lastWindowField = field
        connection.largestAdvertisedWindow = max(connection.largestAdvertisedWindow, connection.lastAdvertisedWindow)
        return field
    }

    private func advertisedWindowGrew(_ connection: TCPConnection, from before: UInt32) -> Bool {
        _ = advertisedWindow(connection)
        return connection.lastAdvertisedWindow > before
    }

    private func watchWritable(_ connection: TCPConnection) {
        if !connection.watchingWritable { watch(connection, writable: true) }
    }

    private func watch(_ connection: TCPConnection, writable: Bool) {
        connection.watchingWritable = writable
        var events = CLinux_EPOLLIN | CLinux_EPOLLRDHUP | CLinux_EPOLLET
        if writable { events |= CLinux_EPOLLOUT }
        try? poll.modify(connection.socket.raw, connection.eventReference, events: events)
    }

    // MARK: Inbound connections

    /// Takes a connection a forwarding listener accepted from `peer` and opens it towards the guest's
    /// `guestPort` with a SYN through the tap.
    func adopt(_ socket: Descriptor, peer: IPAddress, peerPort port: UInt16, guestPort: UInt16,
               guestAddress: IPAddress? = nil, now: Int) {
        guard let remote = translation.guestSource(for: peer),
              let guest = guestAddress ?? guestAddresses.address(like: remote), guest.family == remote.family else {
            logDebug("TCP: no guest address for a connection from \(peer)")
            return
        }
        let key = FlowKey(guest: FlowAddress(guest), remote: FlowAddress(remote), guestPort: guestPort, remotePort: port)
        if let index = table.index(of: key), let stale = table[index] {
            // The host reused the client's address and port, so it is done with the connection this flow
            // served (its last ACK from the guest may still be due): the guest's side is reset first, so
            // the new SYN meets no old socket there.
            logDebug("TCP: \(describe(stale)) replaced by a new connection from the same port")
            resetGuest(stale)
        }
        guard let connection = table.insert(key, { index, generation in
            TCPConnection(index: index, generation: generation, key: key, socket: socket, state: .synSent, now: now)
        }) else {
            logTableFull()
            return
        }
        guard prepare(socket.raw) else {
            close(connection, abort: true)
            return
        }
        connection.initialSequence = UInt32.random(in: 0...UInt32.max)
        connection.recoverPoint = connection.initialSequence
        connection.sendUnacknowledged = connection.initialSequence
        connection.sendNext = connection.initialSequence &+ 1
        connection.sendMax = connection.sendNext
        connection.scaling = true  // offered in our SYN; kept only if the guest offers too
        connection.segmentSize = remote.family == AF_INET ? maximumPayload4 : maximumPayload6
        do {
            try poll.add(socket.raw, connection.eventReference, events: CLinux_EPOLLIN | CLinux_EPOLLRDHUP | CLinux_EPOLLET)
        } catch {
            close(connection, abort: true)
            return
        }
        sendControl(connection, flags: TCPFlags.syn, sequence: connection.initialSequence)
        connection.retransmitAt = now + Self.handshakeTimeout
        logDebug("TCP: \(peer) port \(port) -> guest port \(guestPort)")
    }

    /// Called when accept() ran out of descriptors.
    func acceptFailed() {
        if errno == EMFILE || errno == ENFILE { logTableFull() }
    }

    // MARK: Timers

    /// Runs the fine retransmission clock (if it isn't running) now that some data is in flight.
    private func startRetransmitClock() {
        guard !retransmitClockRunning else { return }
        retransmitClock.arm(afterMilliseconds: Self.retransmitClockInterval, repeating: true)
        retransmitClockRunning = true
    }

    /// The fine retransmission clock ticked: the timers are checked, and the clock stops once no
    /// connection has data in flight.
    public func retransmitClockFired() {
        retransmitClock.acknowledge()
        tick(now: MonotonicClock.milliseconds())
        var inFlight = false
        table.forEach { if $0.state == .established && $0.retransmitAt != .max { inFlight = true } }
        if !inFlight {
            retransmitClock.disarm()
            retransmitClockRunning = false
        }
    }

    /// Retransmissions, handshake and idle timeouts; called every 100 ms or so.
    public func tick(now: Int) {
        table.forEach { connection in
            if now - connection.lastActivity > Self.idleTimeout {
                logDebug("TCP: \(describe(connection)) idle, resetting")
                return resetGuest(connection)
            }
            guard now >= connection.retransmitAt else { return }
            connection.retries += 1
            switch connection.state {
            case .connecting:
                logDebug("TCP: \(describe(connection)) didn't answer within \(Self.connectTimeout / 1000) s")
                return resetGuest(connection)
            case .synSent, .synAckSent:
                guard connection.retries <= 3 else {
                    logDebug("TCP: handshake with the guest timed out for \(describe(connection))")
                    return resetGuest(connection)
                }
                let flags = connection.state == .synSent ? TCPFlags.syn : TCPFlags.syn | TCPFlags.ack
                sendControl(connection, flags: flags, sequence: connection.initialSequence)
                connection.retransmitAt = now + Self.handshakeTimeout << connection.retries
            case .established:
                // Frames the guest's backend hasn't taken yet are late, not lost: no timeout while it is full.
                if port.isFull {
                    connection.retransmitAt = now + connection.retransmitTimeout
                    return
                }
                guard connection.retries <= Self.maximumRetries else {
                    logDebug("TCP: guest stopped acknowledging \(describe(connection))")
                    return resetGuest(connection)
                }
                connection.retransmitTimeout = min(connection.retransmitTimeout * 2, Self.maximumRetransmitTimeout)
                connection.retransmitAt = now + connection.retransmitTimeout
                if connection.bytesInFlight > 0 || (connection.finSent && !connection.finAcknowledged) {
                    // Resend the oldest segment only (RFC 6298 section 5.4): the guest may well have the
                    // rest (a stalled guest, not lost segments), and its ACK tells where to go on from.
                    logDebug("TCP: retransmission timeout for \(describe(connection))")
                    connection.probing = true
                    connection.recoverPoint = connection.sendMax
                    rewind(connection)
                } else {
                    // The window is closed: an ACK makes the guest tell us its window again.
                    sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext &- 1)
                }
            }
        }
    }

    // MARK: Control segments

    private func queueAck(_ connection: TCPConnection) {
        if !connection.ackPending {
            connection.ackPending = true
            ackQueue.append(connection.index)
        }
    }

    /// An ACK repeating the last window exactly: the guest counts it as a duplicate only if nothing but
    /// the segment changed (RFC 5681 section 2), and three of them make it retransmit at once.
    private func sendDuplicateAck(_ connection: TCPConnection) {
        let optionsLength = writeSackBlocks(connection)
        let size = TCPFrameWriter.complete(control, key: connection.key, ourMAC: ourMAC, guestMAC: port.guestMAC,
                                           sequence: connection.sendNext, acknowledgment: connection.receiveNext,
                                           flags: TCPFlags.ack, window: connection.lastWindowField,
                                           optionsLength: optionsLength, payloadLength: 0, partialChecksum: port.segmentationOffload)
        port.send(UnsafeRawBufferPointer(start: control.baseAddress, count: size))
        connection.acknowledgedUpTo = connection.receiveNext
    }

    /// Where SACK was agreed, an ACK below data we hold carries SACK blocks for what we hold (RFC 2018
    /// section 4): a guest that agreed to SACK counts only SACKed data towards a fast retransmit, so
    /// without them it would wait for its timeout. Writes NOP, NOP, the option (up to four blocks, in
    /// sequence order) where the control frame's options go; returns their length.
    private func writeSackBlocks(_ connection: TCPConnection) -> Int {
        guard connection.sackPermitted, !connection.pending.isEmpty else { return 0 }
        let held = connection.pending.lazy.map { (sequence: self.pool.slots[$0].sequence, length: self.pool.slots[$0].length) }
        let blocks = SACKBlocks.covering(held, above: connection.receiveNext)
        guard !blocks.isEmpty else { return 0 }
        let at = TCPFrameWriter.payloadOffset(ipv4: connection.isIPv4)
        control.copy([1, 1, 5, UInt8(2 + 8 * blocks.count)], at: at)
        for (index, block) in blocks.enumerated() {
            control.storeBigEndian(block.left, at: at + 4 + index * 8)
            control.storeBigEndian(block.right, at: at + 8 + index * 8)
        }
        return 4 + 8 * blocks.count
    }

    /// Ends a batch of frames: writes the guest data queued from it (it points into the batch's frames, so
    /// this runs before the batch is read again), then sends the ACKs its segments asked for, one per
    /// connection. An ACK for a small request waits up to a millisecond (RFC 9293 allows far longer; see
    /// TCPAckDelay): the answer usually comes sooner, and carries it.
    public func finishBatch() {
        for index in queuedConnections {
            if let connection = table[index] { _ = writeQueued(connection) }
        }
        queuedConnections.removeAll(keepingCapacity: true)
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
            ackTimer.arm(afterMilliseconds: Self.ackDelay)
            ackTimerArmed = true
        }
    }

    /// The delayed ACKs that no reply carried in time.
    public func ackTimerExpired() {
        ackTimer.acknowledge()
        ackTimerArmed = false
        for index in delayedAcks {
            guard let connection = table[index], connection.ackPending else { continue }
            connection.ackPending = false
            sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext)
        }
        delayedAcks.removeAll(keepingCapacity: true)
    }

    private func sendControl(_ connection: TCPConnection, flags: UInt8, sequence: UInt32) {
        var optionsLength = 0
        let payloadOffset = TCPFrameWriter.payloadOffset(ipv4: connection.isIPv4)
        if flags & TCPFlags.syn != 0 {
            // MSS, then (if scaling) NOP + window scale.
            let mss = connection.isIPv4 ? maximumPayload4 : maximumPayload6
            control[payloadOffset] = 2
            control[payloadOffset + 1] = 4
            control.storeBigEndian(UInt16(min(mss, 65535)), at: payloadOffset + 2)
            optionsLength = 4
            if connection.scaling {
                control.copy([1, 3, 3, Self.ourWindowScale], at: payloadOffset + optionsLength)
                optionsLength += 4
            }
            // SACK-permitted (RFC 2018): in a SYN-ACK only if the guest's SYN offered it; our SYN offers it.
            if sackEnabled && (flags & TCPFlags.ack == 0 || connection.sackPermitted) {
                control.copy([1, 1, 4, 2], at: payloadOffset + optionsLength)
                optionsLength += 4
            }
        }
        if flags == TCPFlags.ack { optionsLength = writeSackBlocks(connection) }
        let window: UInt16 = flags & TCPFlags.syn != 0
            ? UInt16(min(65535, max(0, Int(CLinux_send_buffer_size(connection.socket.raw)))))
            : advertisedWindow(connection)
        let acknowledgment = flags & TCPFlags.ack != 0 ? connection.receiveNext : 0
        let size = TCPFrameWriter.complete(control, key: connection.key, ourMAC: ourMAC, guestMAC: port.guestMAC,
                                           sequence: sequence, acknowledgment: acknowledgment, flags: flags,
                                           window: window, optionsLength: optionsLength, payloadLength: 0, partialChecksum: port.segmentationOffload)
        if port.send(UnsafeRawBufferPointer(start: control.baseAddress, count: size)) {
            if flags & TCPFlags.ack != 0 { connection.acknowledgedUpTo = connection.receiveNext }
        } else if flags == TCPFlags.ack {
            // The ACK goes out once the backend drains; a lost SYN or FIN is retransmitted by the timer.
            connection.ackPending = true
            waitForRoom(connection)
        }
    }

    /// Answers a segment for no known connection with a reset (RFC 9293 section 3.10.7.1).
    private func resetUnknown(_ segment: TCPSegment, key: FlowKey) {
        let sequence: UInt32, acknowledgment: UInt32, flags: UInt8
        if segment.has(TCPFlags.ack) {
            (sequence, acknowledgment, flags) = (segment.acknowledgment, 0, TCPFlags.rst)
        } else {
            let length = UInt32(segment.payloadLength) + (segment.has(TCPFlags.syn) ? 1 : 0) + (segment.has(TCPFlags.fin) ? 1 : 0)
            (sequence, acknowledgment, flags) = (0, segment.sequence &+ length, TCPFlags.rst | TCPFlags.ack)
        }
        let size = TCPFrameWriter.complete(control, key: key, ourMAC: ourMAC, guestMAC: port.guestMAC, sequence: sequence,
                                           acknowledgment: acknowledgment, flags: flags, window: 0, payloadLength: 0, partialChecksum: port.segmentationOffload)
        port.send(UnsafeRawBufferPointer(start: control.baseAddress, count: size))
    }

    /// The host side failed or gave up: the guest gets a reset, the socket is aborted.
    private func resetGuest(_ connection: TCPConnection) {
        let size = TCPFrameWriter.complete(control, key: connection.key, ourMAC: ourMAC, guestMAC: port.guestMAC,
                                           sequence: connection.sendNext, acknowledgment: connection.receiveNext,
                                           flags: TCPFlags.rst | TCPFlags.ack, window: 0, payloadLength: 0, partialChecksum: port.segmentationOffload)
        port.send(UnsafeRawBufferPointer(start: control.baseAddress, count: size))
        close(connection, abort: true)
    }

    /// Forgets the connection; `abort` makes the socket's close send a reset to its peer.
    private func close(_ connection: TCPConnection, abort: Bool) {
        if abort {
            _ = CLinux_set_linger_reset(connection.socket.raw)
        } else {
            // Acknowledged data still queued would make the kernel answer the close with a reset.
            discardAcknowledged(connection)
        }
        poll.remove(connection.socket.raw)
        table.remove(connection.key)
        connection.pending.forEach(pool.release)
        connection.pending.removeAll()
        connection.queuedData.removeAll()
        connection.queuedBytes = 0
        connection.ackPending = false
    }

    /// The table or our descriptors are running out: the oldest half of the connections still in their
    /// handshake (most likely SYNs to addresses that never answer) make room for new ones.
    @discardableResult
    private func reclaimHalfOpen(now: Int) -> Int {
        let reclaimed = table.reclaim(now: now, age: { $0.state == .established ? nil : $0.lastActivity },
                                      evict: { resetGuest($0) })
        if reclaimed > 0 && !reclaimLogged {
            logWarning("TCP: connections are running out; the oldest unfinished handshakes make room for new ones")
            reclaimLogged = true
        }
        return reclaimed
    }

    private func logTableFull() {
        if !tableFullLogged {
            logWarning("TCP: connection limit reached (\(table.capacity) connections or the file descriptor limit); new connections are refused")
            tableFullLogged = true
        }
    }

    private func describe(_ connection: TCPConnection) -> String {
        "guest port \(connection.key.guestPort) <-> \(connection.key.remote.ip) port \(connection.key.remotePort)"
    }
}
