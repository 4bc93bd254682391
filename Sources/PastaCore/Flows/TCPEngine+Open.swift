/// Handshakes: a guest's SYN opens a host connection, and an accepted host connection opens one
/// towards the guest.
extension TCPEngine {
    /// A guest SYN: connect a host socket to the (translated) destination; the SYN-ACK waits for it.
    func openOutbound(_ segment: TCPSegment, key: FlowKey, now: Int) {
        // DNS over TCP to the --dns-forward address goes to the resolver; its other ports are refused.
        guard let destination = translation.hostDestination(for: key.remote.ip, port: key.remotePort) else {
            flowLog.log(now: now, "TCP: guest \(key.guest.ip) port \(key.guestPort) to \(key.remote.ip) port \(key.remotePort): "
                        + "only DNS (port 53) is forwarded there")
            return resetUnknown(segment, key: key)
        }
        if table.isNearlyFull { reclaimHalfOpen(now: now) }
        var opened = opener.connect(to: destination, port: key.remotePort)
        if case .failure(let error) = opened, isOutOfDescriptors(error.code), reclaimHalfOpen(now: now) > 0 {
            opened = opener.connect(to: destination, port: key.remotePort)
        }
        let socket: HostSocket
        switch opened {
        case .success(let opened):
            socket = opened
        case .failure(let error):
            if isOutOfDescriptors(error.code) { logTableFull() } else {
                flowLog.log(now: now, "TCP: guest \(key.guest.ip) port \(key.guestPort) can't connect to \(destination) port \(key.remotePort): \(error)")
            }
            return resetUnknown(segment, key: key)
        }
        guard let connection = table.insert(key, { index, generation in
            TCPConnection(index: index, generation: generation, key: key, socket: socket, state: .connecting, now: now)
        }) else {
            socket.close(abort: false)
            logTableFull()
            return resetUnknown(segment, key: key)
        }
        connection.receiveNext = segment.sequence &+ 1
        connection.guestInitialSequence = segment.sequence
        connection.retransmitAt = now + Self.connectTimeout
        connection.initialSequence = initialSequence()
        connection.recoverPoint = connection.initialSequence
        applySynOptions(connection, segment)
        connection.guestWindow = UInt32(segment.window)
        guard socket.watch(index: connection.index, generation: connection.generation, connecting: true) else {
            return close(connection, abort: true, why: "its socket can't be watched")
        }
        flowLog.log(now: now, "TCP: guest connects to \(key.remote.ip) port \(key.remotePort) via \(destination), "
                    + "from guest \(key.guest.ip) port \(key.guestPort)")
    }

    /// The host socket's connect finished: on success, our SYN-ACK goes to the guest.
    func connected(_ connection: TCPConnection, _ readiness: SocketReadiness, now: Int) {
        let error = connection.socket.pendingError()
        guard error == 0, readiness.contains(.writable) else {
            return resetGuest(connection, why: "connect failed: \(errorDescription(error))")
        }
        connection.state = .synAckSent
        connection.sendNext = connection.initialSequence &+ 1
        connection.sendMax = connection.sendNext
        connection.sendUnacknowledged = connection.initialSequence
        sendControl(connection, flags: TCPFlags.syn | TCPFlags.ack, sequence: connection.initialSequence)
        connection.retransmitAt = now + Self.handshakeTimeout
        watch(connection, writable: false)
    }

    func applySynOptions(_ connection: TCPConnection, _ segment: TCPSegment) {
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
    func acceptSynAck(_ connection: TCPConnection, _ segment: TCPSegment, now: Int) {
        connection.receiveNext = segment.sequence &+ 1
        connection.guestInitialSequence = segment.sequence
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
        pump(connection, now: now)
    }

    /// Takes a connection a forwarding listener accepted from `peer` and opens it towards the guest's
    /// `guestPort` with a SYN.
    func adopt(_ socket: HostSocket, peer: IPAddress, peerPort port: UInt16, guestPort: UInt16,
               guestAddress: IPAddress? = nil, now: Int) {
        self.now = now
        guard let remote = translation.guestSource(for: peer),
              let guest = guestAddress ?? guestAddresses.address(like: remote), guest.family == remote.family else {
            logDebug("TCP: no guest address for a connection from \(peer)")
            return socket.close(abort: false)
        }
        let key = FlowKey(guest: FlowAddress(guest), remote: FlowAddress(remote), guestPort: guestPort, remotePort: port)
        if let index = table.index(of: key), let stale = table[index] {
            // The host reused the client's address and port, so it is done with the connection this flow
            // served (its last ACK from the guest may still be due): the guest's side is reset first, so
            // the new SYN meets no old socket there.
            resetGuest(stale, why: "replaced by a new connection from the same port")
        }
        guard let connection = table.insert(key, { index, generation in
            TCPConnection(index: index, generation: generation, key: key, socket: socket, state: .synSent, now: now)
        }) else {
            logTableFull()
            return socket.close(abort: false)
        }
        connection.initialSequence = initialSequence()
        connection.recoverPoint = connection.initialSequence
        connection.sendUnacknowledged = connection.initialSequence
        connection.sendNext = connection.initialSequence &+ 1
        connection.sendMax = connection.sendNext
        connection.scaling = true  // offered in our SYN; kept only if the guest offers too
        if case .v4 = remote { connection.segmentSize = maximumPayload4 } else { connection.segmentSize = maximumPayload6 }
        guard socket.watch(index: connection.index, generation: connection.generation, connecting: false) else {
            return close(connection, abort: true, why: "its socket can't be watched")
        }
        sendControl(connection, flags: TCPFlags.syn, sequence: connection.initialSequence)
        connection.retransmitAt = now + Self.handshakeTimeout
        flowLog.log(now: now, "TCP: \(peer) port \(port) connects to guest \(guest) port \(guestPort)")
    }
}
