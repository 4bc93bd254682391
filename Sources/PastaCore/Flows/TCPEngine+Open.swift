/// Handshakes: a guest's SYN opens a host connection, and an accepted host connection opens one
/// towards the guest.
extension TCPEngine {
    /// A guest SYN: connect a host socket to the (translated) destination; the SYN-ACK waits for it.
    func openOutbound(_ segment: TCPSegment, key: FlowKey, timeToLive: UInt8, now: Int) {
        // DNS over TCP to the --dns-forward address goes to the resolver; its other ports are refused.
        guard let destination = translation.hostDestination(for: key.remote.ip, port: key.remotePort) else {
            flowLog.log(now: now, "TCP: guest \(key.guest.ip) port \(key.guestPort) to \(key.remote.ip) port \(key.remotePort): "
                        + "only DNS (port 53) is forwarded there")
            return resetUnknown(segment, key: key)
        }
        if table.isNearlyFull { reclaimHalfOpen(now: now) }
        var opened = opener.connect(to: destination, port: key.remotePort, timeToLive: timeToLive)
        if case .failure(let error) = opened, isOutOfDescriptors(error.code), reclaimHalfOpen(now: now) > 0 {
            opened = opener.connect(to: destination, port: key.remotePort, timeToLive: timeToLive)
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

    /// The host socket's connect finished: on success, our SYN-ACK goes to the guest. A refused connect
    /// is a reset; one an ICMP error ended (unreachable, prohibited, a router's time exceeded) is that
    /// error, relayed: the guest's connect fails as it would behind a router, and traceroute -T sees hops.
    func connected(_ connection: TCPConnection, _ readiness: SocketReadiness, now: Int) {
        let error = connection.socket.pendingError()
        guard error == 0, readiness.contains(.writable) else {
            let why = "connect failed: \(errorDescription(error))"
            if let queued = connection.socket.takeQueuedError(), relayConnectError(connection, queued) {
                return close(connection, abort: true, why: why + ", relayed as an ICMP error")
            }
            return resetGuest(connection, why: why)
        }
        connection.socket.connectFinished()
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

    /// The ICMP error the host's connect got, to the guest about its SYN; false if it isn't one to relay.
    private func relayConnectError(_ connection: TCPConnection, _ queued: QueuedSocketError) -> Bool {
        let key = connection.key
        guard let kind = ICMPErrorRelay.relayable(queued, ipv4: key.guest.isIPv4), let sourceMAC = MACAddress(bytes: ourMAC),
              let destination = translation.hostDestination(for: key.remote.ip, port: key.remotePort) else { return false }
        let reporter = translation.guestReporter(of: queued.offender, peer: key.remote.ip, hostDestination: destination,
                                                 guest: key.guest.ip)
        let length = synHeader(connection).withUnsafeBytes { syn in
            ICMPErrorFrame.build(into: control, type: kind.type, code: kind.code, info: kind.info, reporter: reporter,
                                 guest: key.guest.ip, remote: key.remote.ip, protocolNumber: IPProtocol.tcp, hopLimit: 64,
                                 transport: syn, sourceMAC: sourceMAC, destinationMAC: port.guestMAC)
        }
        guard let length else { return false }
        return port.send(UnsafeRawBufferPointer(start: control.baseAddress, count: length))
    }

    /// The guest's SYN as an error quotes it: its ports and sequence number (what the guest matches on).
    private func synHeader(_ connection: TCPConnection) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 20)
        header.withUnsafeMutableBytes { bytes in
            bytes.storeBigEndian(connection.key.guestPort, at: 0)
            bytes.storeBigEndian(connection.key.remotePort, at: 2)
            bytes.storeBigEndian(connection.guestInitialSequence ?? 0, at: 4)
        }
        header[12] = 5 << 4
        header[13] = TCPFlags.syn
        return header
    }
}
