@testable import PastaCore

/// The guest's TCP, as a Linux guest behaves in what matters here: slow start and congestion avoidance,
/// fast retransmit and NewReno recovery (holes by SACK where agreed), a retransmission timer with
/// back-off, delayed ACKs, window scaling, zero-window probes, an application that may stop reading,
/// and FIN/RST handling. One connection, IPv4; as a client (it sends the SYN) or a server (our SYN
/// comes to it).
final class GuestTCP {
    struct Settings {
        var mss = 1460
        var sack = true
        /// Offered window scale; nil offers none.
        var windowScale: UInt8? = 7
        var receiveBuffer = 256 * 1024
        var delayedAck = true
        var initialWindow = 10
    }

    enum State { case idle, synSent, listening, synReceived, established, dead }

    static let guestAddress = IPv4Address(198, 51, 100, 2)
    static let remoteAddress = IPv4Address(203, 0, 113, 10)
    let guestPort: UInt16
    let remotePort: UInt16
    let settings: Settings
    private let scheduler: SimulationScheduler
    private let transmit: ([UInt8]) -> Void
    private(set) var state = State.idle

    /// When the application closes its side: once it sent everything, or once the peer closed too.
    enum Closing { case whenSent, afterPeer }

    // What the application sends, and when it closes.
    let outgoing: StreamPattern
    let outgoingLength: Int
    let closing: Closing
    /// The application has closed: a FIN follows the data.
    private var closeWhenSent: Bool
    private(set) var resetSent = false
    /// It reset before the peer's FIN reached it: the host must see the reset, not an orderly close.
    private(set) var resetMidStream = false

    // Sending.
    private var iss: UInt32
    private var sndUna: UInt32 = 0, sndNxt: UInt32 = 0, sndMax: UInt32 = 0
    private var peerWindow: UInt32 = 0
    private var peerScale: UInt8 = 0
    private var ourScale: UInt8 = 0
    private var peerMSS = 536
    private var sackAgreed = false
    private var cwnd = 0, ssthresh = Int.max
    private var dupAcks = 0
    private var inRecovery = false
    private var recover: UInt32 = 0
    private var retransmittedUpTo: UInt32 = 0
    private var scoreboard: [(left: UInt32, right: UInt32)] = []
    private var rto = 200
    private var rtoTimer = 0       // generation of the armed timer; 0: none
    private var timerGeneration = 0
    private(set) var finSent = false
    /// Timeouts that resent data or the FIN.
    private(set) var retransmissionTimeouts = 0
    private(set) var finAcknowledged = false

    // Receiving.
    private var rcvNxt: UInt32 = 0
    private var outOfOrder: [UInt32: (bytes: [UInt8], fin: Bool)] = [:]
    private var outOfOrderBytes = 0
    private(set) var received: [UInt8] = []
    private var unread = 0
    var readingStoppedUntil = 0
    private(set) var finsReceived = 0
    private(set) var resetsReceived = 0
    private var segmentsUnacknowledged = 0
    private var delayedAckGeneration = 0
    private var lastWindowField: UInt16 = 0
    private var lastHeard = 0
    /// A broken guest: every ACK claims a SACK block this far above what it has (past what was sent).
    var bogusSACKAhead: UInt32?
    /// Its reset goes this far past what it sent, as one sent behind data of its that was lost.
    var resetAhead: UInt32 = 0
    /// The right edge of the window we advertised (it never moves back: RFC 9293 3.8.6).
    private var advertisedEdge: UInt32 = 0
    /// Segments from us that weren't ours to take: a window overrun, or data past a FIN.
    private(set) var protocolViolations: [String] = []

    init(settings: Settings, guestPort: UInt16, remotePort: UInt16, outgoing: StreamPattern, outgoingLength: Int,
         closing: Closing, initialSequence: UInt32, scheduler: SimulationScheduler, transmit: @escaping ([UInt8]) -> Void) {
        self.settings = settings
        self.guestPort = guestPort
        self.remotePort = remotePort
        self.outgoing = outgoing
        self.outgoingLength = outgoingLength
        self.closing = closing
        closeWhenSent = closing == .whenSent
        self.iss = initialSequence
        self.scheduler = scheduler
        self.transmit = transmit
    }

    // MARK: Life

    /// The client's SYN, and its retransmissions (1, 2, 4 s) until answered.
    func connect() {
        keepAlive()
        state = .synSent
        sndUna = iss
        sndNxt = iss &+ 1
        sndMax = sndNxt
        sendSyn(ack: false, attempt: 0)
    }

    func listen() {
        keepAlive()
        state = .listening
    }

    /// TCP keepalive (SO_KEEPALIVE with a 5 s idle time): after 5 s without a segment from us, an empty
    /// ACK below what it sent asks for an answer; a connection that was reset (the reset lost) is then
    /// answered with a reset and ends, instead of waiting forever.
    private func keepAlive() {
        scheduler.after(1000) { [weak self] in
            guard let self, self.state != .dead else { return }
            if self.state == .established && self.scheduler.now - self.lastHeard >= 5000 {
                self.send(flags: TCPFlags.ack, sequence: self.sndNxt &- 1)
                self.lastHeard = self.scheduler.now
            }
            self.keepAlive()
        }
    }

    /// Done: everything sent was acknowledged (with the FIN, if it closes), and the peer's FIN or a reset
    /// came.
    var finished: Bool {
        if state == .dead { return true }
        return state == .established && finAcknowledged && sndUna == dataEnd &+ 1 && finsReceived > 0
    }

    /// Aborts: a reset to the peer.
    func abort() {
        guard state == .established else { return }
        send(flags: TCPFlags.rst | TCPFlags.ack, sequence: sndNxt &+ resetAhead)
        resetSent = true
        resetMidStream = finsReceived == 0
        state = .dead
    }

    private var dataEnd: UInt32 { iss &+ 1 &+ UInt32(outgoingLength) }
    private var effectiveMSS: Int { min(settings.mss, peerMSS) }
    private var flight: Int { Int(sndNxt &- sndUna) }

    // MARK: Segments from us

    func receive(_ frame: [UInt8]) {
        frame.withUnsafeBytes { raw in
            guard let ethernet = EthernetFrame(raw), let packet = IPv4Packet(ethernet.payload),
                  packet.protocolNumber == IPProtocol.tcp, let segment = TCPSegment(packet.payload),
                  segment.destinationPort == guestPort, segment.sourcePort == remotePort else { return }
            handle(segment)
        }
    }

    private func handle(_ segment: TCPSegment) {
        lastHeard = scheduler.now
        if state == .dead {
            // A connection it reset is gone: what still comes for it is answered with a reset, as a
            // Linux stack answers segments for no socket (RFC 9293 3.10.7.1).
            if resetSent && !segment.has(TCPFlags.rst) && segment.has(TCPFlags.ack) {
                send(flags: TCPFlags.rst, sequence: segment.acknowledgment)
            }
            return
        }
        if segment.has(TCPFlags.rst) { return handleReset(segment) }
        switch state {
        case .idle, .dead: return
        case .synSent: return handleSynAck(segment)
        case .listening: return handleSyn(segment)
        case .synReceived:
            if segment.has(TCPFlags.syn) && !segment.has(TCPFlags.ack) { return sendSynAck() }
            guard segment.has(TCPFlags.ack), segment.acknowledgment == iss &+ 1 else { return }
            state = .established
            sndUna = segment.acknowledgment
            cancelRetransmission()
        case .established:
            if segment.has(TCPFlags.syn) { return sendAck() }  // our ACK of its SYN-ACK was lost
        }
        processAck(segment)
        processData(segment)
        trySend()
    }

    /// RFC 5961 section 3, as Linux does it: a reset at exactly the next sequence ends the connection;
    /// one elsewhere in the window draws a challenge ACK (whose answer, from a peer that has forgotten
    /// the connection, is a reset at exactly that point).
    private func handleReset(_ segment: TCPSegment) {
        if state == .synSent {
            guard segment.has(TCPFlags.ack), segment.acknowledgment == iss &+ 1 else { return }
        } else if segment.sequence != rcvNxt {
            let offset = Int(segment.sequence &- rcvNxt)
            if offset > 0 && offset < max(windowBytes, 1) + 65536 { sendAck() }
            return
        }
        resetsReceived += 1
        state = .dead
        cancelRetransmission()
    }

    private func handleSynAck(_ segment: TCPSegment) {
        guard segment.has(TCPFlags.syn), segment.has(TCPFlags.ack), segment.acknowledgment == iss &+ 1 else { return }
        takeSynOptions(segment)
        rcvNxt = segment.sequence &+ 1
        advertisedEdge = rcvNxt
        sndUna = segment.acknowledgment
        peerWindow = UInt32(segment.window)
        state = .established
        cwnd = settings.initialWindow * effectiveMSS
        cancelRetransmission()
        sendAck()
        trySend()
    }

    private func handleSyn(_ segment: TCPSegment) {
        guard segment.has(TCPFlags.syn), !segment.has(TCPFlags.ack) else { return }
        takeSynOptions(segment)
        rcvNxt = segment.sequence &+ 1
        advertisedEdge = rcvNxt
        peerWindow = UInt32(segment.window)
        sndUna = iss
        sndNxt = iss &+ 1
        sndMax = sndNxt
        cwnd = settings.initialWindow * effectiveMSS
        state = .synReceived
        sendSynAck()
    }

    private func takeSynOptions(_ segment: TCPSegment) {
        let options = segment.synOptions
        peerMSS = Int(options.maximumSegmentSize ?? 536)
        if let theirs = options.windowScale, let ours = settings.windowScale {
            peerScale = theirs
            ourScale = ours
        }
        sackAgreed = settings.sack && options.sackPermitted
    }

    // MARK: Acknowledgments of our data

    private func processAck(_ segment: TCPSegment) {
        guard segment.has(TCPFlags.ack) else { return }
        let ack = segment.acknowledgment
        let window = UInt32(segment.window) << UInt32(peerScale)
        if sequenceLess(sndUna, ack) && sequenceLessOrEqual(ack, sndMax) {
            newlyAcknowledged(ack, segment: segment)
            peerWindow = window
        } else if ack == sndUna && segment.payloadLength == 0 && !segment.has(TCPFlags.fin)
                    && window == peerWindow && sndMax != sndUna {
            duplicate(segment)
        } else if ack == sndUna {
            peerWindow = window
        }
    }

    private func newlyAcknowledged(_ ack: UInt32, segment: TCPSegment) {
        let acked = Int(ack &- sndUna)
        sndUna = ack
        if finSent && ack == dataEnd &+ 1 { finAcknowledged = true }
        if sequenceLess(sndNxt, sndUna) { sndNxt = sndUna }
        scoreboard = scoreboard.filter { sequenceLess(ack, $0.right) }
        noteSack(segment)
        dupAcks = 0
        if inRecovery {
            if sequenceLessOrEqual(recover, ack) {
                inRecovery = false
                cwnd = ssthresh
            } else {
                retransmitNextHole()  // a partial ACK: the next segment is missing too (RFC 6582)
            }
        } else {
            cwnd += cwnd < ssthresh ? min(acked, effectiveMSS) : max(1, effectiveMSS * effectiveMSS / max(cwnd, 1))
        }
        rto = 200
        if sndUna != sndMax { armRetransmission() } else { cancelRetransmission() }
    }

    private func duplicate(_ segment: TCPSegment) {
        dupAcks += 1
        noteSack(segment)
        if inRecovery {
            cwnd += effectiveMSS
            if sackAgreed { retransmitNextHole() }
        } else if dupAcks == 3 && sequenceLess(recover, sndUna) || dupAcks == 3 && recover == 0 {
            ssthresh = max(flight / 2, 2 * effectiveMSS)
            cwnd = ssthresh + 3 * effectiveMSS
            inRecovery = true
            recover = sndMax
            retransmittedUpTo = sndUna
            retransmitNextHole()
        }
    }

    private func noteSack(_ segment: TCPSegment) {
        guard sackAgreed else { return }
        for block in segment.sackBlocks(above: sndUna) where !scoreboard.contains(where: { $0 == block }) {
            scoreboard.append(block)
        }
        scoreboard.sort { sequenceLess($0.left, $1.left) }
    }

    /// Resends the first stretch of the lowest hole not resent yet in this recovery.
    private func retransmitNextHole() {
        var start = sequenceLess(retransmittedUpTo, sndUna) ? sndUna : retransmittedUpTo
        for block in scoreboard where sequenceLessOrEqual(block.left, start) && sequenceLess(start, block.right) {
            start = block.right
        }
        guard sequenceLess(start, sndMax) else { return }
        var end = sndMax
        if let next = scoreboard.first(where: { sequenceLess(start, $0.left) }) { end = next.left }
        let length = min(effectiveMSS, Int(end &- start))
        sendFrom(start, length: length)
        retransmittedUpTo = start &+ UInt32(max(length, 1))
    }

    // MARK: Sending

    /// Sends what the windows allow; at the end, the FIN (again after a timeout, until acknowledged).
    func trySend() {
        guard state == .established else { return }
        while true {
            if sequenceLess(sndNxt, dataEnd) {
                let room = min(cwnd, Int(peerWindow)) - flight
                let left = Int(dataEnd &- sndNxt)
                guard room > 0 else { return armProbeIfClosed() }
                let length = min(effectiveMSS, room, left)
                // No runt segments while others are in flight, except the last (RFC 9293's SWS avoidance).
                if length < effectiveMSS && length < left && flight > 0 { return }
                // The FIN rides on the last segment when the application has closed, as Linux sends it.
                let withFin = closeWhenSent && length == left
                sendFrom(sndNxt, length: length, fin: withFin)
                sndNxt = sndNxt &+ UInt32(length) &+ (withFin ? 1 : 0)
                if withFin { finSent = true }
                if sequenceLess(sndMax, sndNxt) { sndMax = sndNxt }
                armRetransmissionIfIdle()
                if withFin { return }
            } else if closeWhenSent && sndNxt == dataEnd {
                send(flags: TCPFlags.fin | TCPFlags.ack, sequence: dataEnd)
                finSent = true
                sndNxt = dataEnd &+ 1
                if sequenceLess(sndMax, sndNxt) { sndMax = sndNxt }
                armRetransmissionIfIdle()
                return
            } else {
                return
            }
        }
    }

    /// Sends (or resends) data from `sequence`; the FIN goes with the last byte if it was sent before
    /// or `fin` says so now.
    private func sendFrom(_ sequence: UInt32, length: Int, fin: Bool = false) {
        if closeWhenSent && sequence == dataEnd {
            return send(flags: TCPFlags.fin | TCPFlags.ack, sequence: sequence)
        }
        let offset = Int(sequence &- (iss &+ 1))
        let count = min(length, outgoingLength - offset)
        guard count > 0 else { return }
        let last = offset + count == outgoingLength
        let finFlag = last && (fin || finSent) ? TCPFlags.fin : 0
        send(flags: TCPFlags.ack | (last ? TCPFlags.psh : 0) | finFlag, sequence: sequence,
             payload: outgoing.bytes(offset..<offset + count))
    }

    /// The peer's window is closed with data to send and nothing in flight: a probe after the timeout.
    private func armProbeIfClosed() {
        guard flight == 0 else { return }
        armRetransmissionIfIdle()
    }

    // MARK: The retransmission timer

    private func armRetransmissionIfIdle() { if rtoTimer == 0 { armRetransmission() } }

    private func armRetransmission() {
        timerGeneration += 1
        let generation = timerGeneration
        rtoTimer = generation
        scheduler.after(rto) { [weak self] in
            guard let self, self.rtoTimer == generation else { return }
            self.rtoTimer = 0
            self.retransmissionTimeout()
        }
    }

    private func cancelRetransmission() { rtoTimer = 0 }

    private func retransmissionTimeout() {
        switch state {
        case .synSent, .synReceived, .dead, .idle, .listening: return
        case .established: break
        }
        rto = min(rto * 2, 60_000)
        if sndUna == sndMax {
            // Nothing in flight: a zero-window probe (an ACK below what the peer expects).
            if sequenceLess(sndNxt, dataEnd) && peerWindow == 0 {
                send(flags: TCPFlags.ack, sequence: sndNxt &- 1)
                armRetransmission()
            }
            return
        }
        retransmissionTimeouts += 1
        ssthresh = max(flight / 2, 2 * effectiveMSS)
        cwnd = effectiveMSS
        inRecovery = false
        dupAcks = 0
        recover = sndMax
        scoreboard.removeAll()
        sndNxt = sndUna  // go back to the first unacknowledged byte
        if finSent && sndUna == dataEnd { sndNxt = dataEnd }
        armRetransmission()
        let window = peerWindow
        if window == 0 { peerWindow = UInt32(effectiveMSS) }  // the probe goes whatever the window
        trySendFromStart()
        if window == 0 { peerWindow = window }
    }

    private func trySendFromStart() {
        if closeWhenSent && finSent && sndNxt == dataEnd {
            send(flags: TCPFlags.fin | TCPFlags.ack, sequence: dataEnd)
            sndNxt = dataEnd &+ 1
            return
        }
        trySend()
    }

    private func sendSyn(ack: Bool, attempt: Int) {
        send(flags: ack ? TCPFlags.syn | TCPFlags.ack : TCPFlags.syn, sequence: iss, options: synOptions(answering: ack))
        guard attempt < 5 else { return }
        scheduler.after(1000 << attempt) { [weak self] in
            guard let self else { return }
            if ack ? self.state == .synReceived : self.state == .synSent { self.sendSyn(ack: ack, attempt: attempt + 1) }
        }
    }

    private func sendSynAck() { sendSyn(ack: true, attempt: 0) }

    private func synOptions(answering: Bool) -> [UInt8] {
        var options: [UInt8] = [2, 4, UInt8(settings.mss >> 8), UInt8(settings.mss & 0xFF)]
        if let scale = settings.windowScale, !answering || ourScale != 0 || peerScale != 0 {
            options += [1, 3, 3, scale]
        }
        if settings.sack && (!answering || sackAgreed) { options += [1, 1, 4, 2] }
        return options
    }

    // MARK: Data from us

    private func processData(_ segment: TCPSegment) {
        let fin = segment.has(TCPFlags.fin)
        guard segment.payloadLength > 0 || fin else { return }
        var payload = Array(segment.payload)
        var sequence = segment.sequence
        if sequenceLess(sequence, rcvNxt) {
            let old = Int(rcvNxt &- sequence)
            if old >= payload.count + (fin ? 1 : 0) { return sendAck() }  // a duplicate
            payload.removeFirst(min(old, payload.count))
            sequence = rcvNxt
        }
        if sequenceLess(advertisedEdge, sequence &+ UInt32(payload.count)) {
            protocolViolations.append("a segment at \(sequence &- rcvNxt) + \(payload.count) past the window's edge at \(advertisedEdge &- rcvNxt)")
        }
        if sequence != rcvNxt {
            if outOfOrder[sequence] == nil {
                outOfOrder[sequence] = (payload, fin)
                outOfOrderBytes += payload.count
            }
            return sendAck()  // a duplicate ACK at once, with SACK blocks
        }
        let filledHole = !outOfOrder.isEmpty
        take(payload, fin: fin)
        while let next = outOfOrder.first(where: { sequenceLessOrEqual($0.key, rcvNxt) }) {
            outOfOrder.removeValue(forKey: next.key)
            outOfOrderBytes -= next.value.bytes.count
            let skip = Int(rcvNxt &- next.key)
            if skip < next.value.bytes.count || (skip == next.value.bytes.count && next.value.fin) {
                take(Array(next.value.bytes.dropFirst(skip)), fin: next.value.fin)
            }
        }
        if filledHole || fin || finsReceived > 0 || !settings.delayedAck {
            sendAck()
        } else {
            segmentsUnacknowledged += max(1, payload.count / max(effectiveMSS, 1))
            if segmentsUnacknowledged >= 2 { sendAck() } else { delayAck() }
        }
    }

    private func take(_ payload: [UInt8], fin: Bool) {
        if finsReceived > 0 && !payload.isEmpty {
            protocolViolations.append("data after the FIN")
            return
        }
        received += payload
        rcvNxt = rcvNxt &+ UInt32(payload.count)
        if scheduler.now >= readingStoppedUntil { unread = 0 } else { unread += payload.count }
        if fin && finsReceived == 0 {
            rcvNxt = rcvNxt &+ 1
            finsReceived += 1
            if closing == .afterPeer { closeWhenSent = true }
        }
    }

    /// The application reads what waited, once it reads again; the peer hears of the open window.
    func resumeReading() {
        guard unread > 0, state == .established || state == .dead else { return }
        unread = 0
        if state == .established { sendAck() }
    }

    private var windowBytes: Int { max(0, settings.receiveBuffer - unread - outOfOrderBytes) }

    private func delayAck() {
        delayedAckGeneration += 1
        let generation = delayedAckGeneration
        scheduler.after(40) { [weak self] in
            guard let self, self.delayedAckGeneration == generation, self.segmentsUnacknowledged > 0 else { return }
            self.sendAck()
        }
    }

    func sendAck() {
        guard state == .established || state == .synReceived else { return }
        send(flags: TCPFlags.ack, sequence: sndNxt, options: sackOptions())
    }

    /// SACK blocks for what waits out of order (RFC 2018), most recent first as Linux sends them.
    private func sackOptions() -> [UInt8] {
        let bogus: [(UInt32, UInt32)] = bogusSACKAhead.map { [(rcvNxt &+ $0, rcvNxt &+ $0 &+ 1000)] } ?? []
        guard sackAgreed, !outOfOrder.isEmpty || !bogus.isEmpty else { return [] }
        var blocks: [(UInt32, UInt32)] = []
        for (start, held) in outOfOrder.sorted(by: { sequenceLess($0.key, $1.key) }) {
            let end = start &+ UInt32(held.bytes.count)
            if let last = blocks.last, sequenceLessOrEqual(start, last.1) {
                if sequenceLess(last.1, end) { blocks[blocks.count - 1].1 = end }
            } else {
                blocks.append((start, end))
            }
        }
        blocks = Array(blocks.prefix(4 - bogus.count)) + bogus
        var options: [UInt8] = [1, 1, 5, UInt8(2 + 8 * blocks.count)]
        for (left, right) in blocks {
            options += bigEndian(left) + bigEndian(right)
        }
        return options
    }

    // MARK: Frames

    private func send(flags: UInt8, sequence: UInt32, payload: [UInt8] = [], options: [UInt8] = []) {
        let scale = flags & TCPFlags.syn != 0 ? 0 : ourScale
        // The window's right edge never moves back (RFC 9293 3.8.6, as Linux's tcp_select_window): data
        // held out of order takes room, but the window offered before stays offered.
        let offered = sequenceLess(rcvNxt, advertisedEdge) ? Int(advertisedEdge &- rcvNxt) : 0
        let windowField = UInt16(min(max(windowBytes, offered) >> Int(scale), 65535))
        lastWindowField = windowField
        let edge = rcvNxt &+ (UInt32(windowField) << UInt32(scale))
        if flags & TCPFlags.ack != 0 && sequenceLess(advertisedEdge, edge) { advertisedEdge = edge }
        if flags & TCPFlags.ack != 0 {
            segmentsUnacknowledged = 0
            delayedAckGeneration += 1
        }
        let headerLength = 20 + options.count
        var tcp = [UInt8](repeating: 0, count: headerLength)
        tcp[0] = UInt8(guestPort >> 8); tcp[1] = UInt8(guestPort & 0xFF)
        tcp[2] = UInt8(remotePort >> 8); tcp[3] = UInt8(remotePort & 0xFF)
        tcp.replaceSubrange(4..<8, with: bigEndian(sequence))
        tcp.replaceSubrange(8..<12, with: bigEndian(flags & TCPFlags.ack != 0 ? rcvNxt : 0))
        tcp[12] = UInt8(headerLength / 4) << 4
        tcp[13] = flags
        tcp[14] = UInt8(windowField >> 8); tcp[15] = UInt8(windowField & 0xFF)
        tcp.replaceSubrange(20..., with: options)
        tcp += payload
        var packet = [UInt8](repeating: 0, count: 20) + tcp
        packet.withUnsafeMutableBytes {
            IPv4Packet.writeHeader(into: $0, at: 0, source: Self.guestAddress, destination: Self.remoteAddress,
                                   protocolNumber: IPProtocol.tcp, payloadLength: tcp.count)
        }
        transmit(packet)
    }

    private func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }
}
