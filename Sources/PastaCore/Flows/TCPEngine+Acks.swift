/// The guest's acknowledgments: what it has of ours, and what it is missing (fast retransmit, SACK
/// recovery).
extension TCPEngine {
    typealias SACKBlock = (left: UInt32, right: UInt32)

    func processAck(_ connection: TCPConnection, _ segment: TCPSegment, now: Int) {
        let ack = segment.acknowledgment
        let window = UInt32(segment.window) << UInt32(connection.guestWindowScale)
        // Anything up to the highest sequence ever sent counts: after a rewind, the guest may acknowledge
        // data it had received before we started resending it.
        if sequenceLess(connection.sendUnacknowledged, ack) && sequenceLessOrEqual(ack, connection.sendMax) {
            newAck(connection, segment, window: window, now: now)
        } else if ack == connection.sendUnacknowledged {
            sameAck(connection, segment, window: window, now: now)
        }
    }

    /// The guest acknowledged data of ours it hadn't before.
    private func newAck(_ connection: TCPConnection, _ segment: TCPSegment, window: UInt32, now: Int) {
        let ack = segment.acknowledgment
        var acknowledged = Int(ack &- connection.sendUnacknowledged)
        if let fin = connection.finSequence, ack == fin &+ 1 {
            connection.finAcknowledged = true
            connection.finSent = true
            acknowledged -= 1
        }
        if acknowledged > 0 { discardLater(connection, acknowledged) }
        connection.sendUnacknowledged = ack
        if connection.probing && connection.finSequence == nil {
            endProbing(connection, segment)
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
        pump(connection, now: now)
    }

    /// The first new ACK after the one segment resent on a timeout: most likely the first transmission
    /// arriving after all (a slow guest, not lost segments; an ACK short of the resent segment can only be
    /// for the first transmission). As RFC 5682 (F-RTO) does, go on with new data after everything sent
    /// before; if the guest was missing some, its duplicate ACKs for this point make us resend from here.
    private func endProbing(_ connection: TCPConnection, _ segment: TCPSegment) {
        let ack = segment.acknowledgment
        connection.sendNext = connection.sendMax
        discardAcknowledged(connection)
        connection.socket.setPeekOffset(Int(connection.sendMax &- ack))
        connection.socketDrained = false
        connection.recoverPoint = ack &- 1
        // Each resent segment the guest already had comes back as one duplicate ACK: no loss.
        connection.expectedDuplicateAcks = connection.probesSent
        if connection.sackPermitted && !sackBlocks(connection, segment, acknowledgment: ack).isEmpty {
            // It was missing more, and says exactly what: a recovery resends those holes now (in newAck)
            // rather than one per timeout while its full window draws no duplicate ACKs.
            connection.recoverPoint = connection.sendMax
            connection.resentUpTo = ack
        }
    }

    /// An ACK for what the guest acknowledged before: a window update, or a duplicate saying a segment
    /// is missing.
    private func sameAck(_ connection: TCPConnection, _ segment: TCPSegment, window: UInt32, now: Int) {
        let probe = segment.payloadLength == 0 && !segment.has(TCPFlags.fin) && window == connection.guestWindow
        let opened = window > connection.guestWindow
        connection.guestWindow = window
        if probe && connection.bytesInFlight > 0 && connection.expectedDuplicateAcks > 0 {
            connection.expectedDuplicateAcks -= 1  // the guest's answer to a segment we resent it had
        } else if probe && connection.bytesInFlight > 0 {
            duplicateAck(connection, segment, now: now)
        } else if opened {
            pump(connection, now: now)
        }
    }

    /// Fast retransmit (RFC 5681 section 3.2), and with SACK only the holes. Not again for duplicates of
    /// what the last resend already covers (RFC 6582 section 3.2): resent segments the guest had make it
    /// repeat its ACK, which would start it all over.
    private func duplicateAck(_ connection: TCPConnection, _ segment: TCPSegment, now: Int) {
        let ack = segment.acknowledgment
        connection.duplicateAcks += 1
        let blocks = connection.sackPermitted ? sackBlocks(connection, segment, acknowledgment: ack) : []
        if sequenceLess(connection.recoverPoint, ack)
            && (connection.duplicateAcks == 3 || sackSaysLost(connection, blocks)) {
            connection.recoverPoint = connection.sendMax
            connection.resentUpTo = ack
            if !blocks.isEmpty {
                // The guest said what it has past the holes: only those go out again.
                resendHoles(connection, blocks, acknowledgment: ack)
            } else {
                logTrace("TCP: three duplicate ACKs, resending from \(ack) for \(describe(connection))")
                rewind(connection, now: now)
            }
        } else if !blocks.isEmpty && sequenceLess(ack, connection.recoverPoint) {
            // Duplicates in a SACK recovery show holes further up, or a resend lost again.
            resendHoles(connection, blocks, acknowledgment: ack)
        }
    }

    /// Notes bytes the guest acknowledged; they leave the socket's receive queue at the end of the batch,
    /// with one recv for all of a batch's ACKs (each recv may also send the peer a window update).
    func discardLater(_ connection: TCPConnection, _ count: Int) {
        if connection.undiscarded == 0 { discardQueue.append(connection.index) }
        connection.undiscarded += count
    }

    /// The guest's SACK blocks above its acknowledgment that lie within what we sent: one reaching past
    /// that is invalid (RFC 2018 section 3 leaves it to us), and believing it would let a guest make us
    /// resend its holes on every ACK.
    func sackBlocks(_ connection: TCPConnection, _ segment: TCPSegment, acknowledgment ack: UInt32) -> [SACKBlock] {
        segment.sackBlocks(above: ack).filter { sequenceLessOrEqual($0.right, connection.sendMax) }
    }

    /// RFC 6675's IsLost for the first hole: more than two segments' worth of data above it SACKed (its
    /// DupThresh of 3 in bytes). With 64 KiB frames the guest sends too few duplicate ACKs to count three.
    func sackSaysLost(_ connection: TCPConnection, _ blocks: [SACKBlock]) -> Bool {
        var sacked = 0
        for block in blocks { sacked += Int(block.right &- block.left) }
        return sacked > 2 * connection.segmentSize
    }

    /// Sends again what the guest's SACK blocks (those of `sackBlocks`) say it is missing (RFC 6675,
    /// simplified): every hole between its acknowledgment and the last block, once per recovery.
    func resendHoles(_ connection: TCPConnection, _ blocks: [SACKBlock], acknowledgment ack: UInt32) {
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
}
