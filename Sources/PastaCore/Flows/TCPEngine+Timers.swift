/// Retransmissions, handshake and idle timeouts.
extension TCPEngine {
    /// Runs the fine retransmission clock (if it isn't running) now that some data is in flight.
    func startRetransmitClock() {
        guard !retransmitClockRunning else { return }
        timers.setRetransmitClock(running: true)
        retransmitClockRunning = true
    }

    /// The fine retransmission clock ticked: the timers are checked, and the clock stops once no
    /// connection has data in flight.
    func retransmitClockFired(now: Int) {
        tick(now: now)
        var inFlight = false
        table.forEach { if $0.state == .established && $0.retransmitAt != .max { inFlight = true } }
        if !inFlight && retransmitClockRunning {
            timers.setRetransmitClock(running: false)
            retransmitClockRunning = false
        }
    }

    /// Retransmissions, handshake and idle timeouts; called every 100 ms or so, and by the fine clock.
    func tick(now: Int) {
        self.now = now
        table.forEach { connection in
            if now - connection.lastActivity > Self.idleTimeout {
                return resetGuest(connection, why: "idle for \(Self.idleTimeout / 3_600_000) hours")
            }
            guard now >= connection.retransmitAt else { return }
            connection.retries += 1
            switch connection.state {
            case .connecting:
                resetGuest(connection, why: "the destination didn't answer within \(Self.connectTimeout / 1000) s")
            case .synSent, .synAckSent:
                handshakeTimedOut(connection, now: now)
            case .established:
                retransmissionTimeout(connection, now: now)
            }
        }
    }

    private func handshakeTimedOut(_ connection: TCPConnection, now: Int) {
        guard connection.retries <= 3 else {
            return resetGuest(connection, why: "the guest didn't finish the handshake")
        }
        let flags = connection.state == .synSent ? TCPFlags.syn : TCPFlags.syn | TCPFlags.ack
        sendControl(connection, flags: flags, sequence: connection.initialSequence)
        connection.retransmitAt = now + Self.handshakeTimeout << connection.retries
    }

    private func retransmissionTimeout(_ connection: TCPConnection, now: Int) {
        // Frames the guest's backend hasn't taken yet are late, not lost: no timeout while it is full.
        if port.isFull {
            connection.retransmitAt = now + connection.retransmitTimeout
            return
        }
        guard connection.retries <= Self.maximumRetries else {
            return resetGuest(connection, why: "the guest stopped acknowledging")
        }
        connection.retransmitTimeout = min(connection.retransmitTimeout * 2, Self.maximumRetransmitTimeout)
        connection.retransmitAt = now + connection.retransmitTimeout
        if connection.bytesInFlight > 0 || (connection.finSent && !connection.finAcknowledged) {
            // Resend the oldest segment only (RFC 6298 section 5.4): the guest may well have the rest (a
            // stalled guest, not lost segments), and its ACK tells where to go on from.
            logTrace("TCP: retransmission timeout for \(describe(connection))")
            connection.retransmissionTimeouts += 1
            connection.probing = true
            connection.recoverPoint = connection.sendMax
            rewind(connection, now: now)
        } else {
            // The window is closed: an ACK makes the guest tell us its window again.
            sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext &- 1)
        }
    }
}
