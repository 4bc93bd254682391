/// Segments without data to the guest: ACKs (with SACK blocks), SYNs, FINs and resets.
extension TCPEngine {
    func queueAck(_ connection: TCPConnection) {
        if !connection.ackPending {
            connection.ackPending = true
            ackQueue.append(connection.index)
        }
    }

    /// An ACK repeating the last window exactly: the guest counts it as a duplicate only if nothing but
    /// the segment changed (RFC 5681 section 2), and three of them make it retransmit at once.
    func sendDuplicateAck(_ connection: TCPConnection) {
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

    /// Writes the options of a SYN or SYN-ACK: MSS, window scale if we scale, SACK-permitted (in a
    /// SYN-ACK only if the guest's SYN offered it; our SYN offers it). Returns their length.
    private func writeSynOptions(_ connection: TCPConnection, synAck: Bool) -> Int {
        let at = TCPFrameWriter.payloadOffset(ipv4: connection.isIPv4)
        let mss = connection.isIPv4 ? maximumPayload4 : maximumPayload6
        control[at] = 2
        control[at + 1] = 4
        control.storeBigEndian(UInt16(min(mss, 65535)), at: at + 2)
        var length = 4
        if connection.scaling {
            control.copy([1, 3, 3, Self.ourWindowScale], at: at + length)
            length += 4
        }
        if sackEnabled && (!synAck || connection.sackPermitted) {
            control.copy([1, 1, 4, 2], at: at + length)
            length += 4
        }
        return length
    }

    func sendControl(_ connection: TCPConnection, flags: UInt8, sequence: UInt32) {
        let syn = flags & TCPFlags.syn != 0
        var optionsLength = syn ? writeSynOptions(connection, synAck: flags & TCPFlags.ack != 0) : 0
        if flags == TCPFlags.ack { optionsLength = writeSackBlocks(connection) }
        let window = syn ? UInt16(min(65535, connection.socket.sendBufferSize)) : advertisedWindow(connection)
        let acknowledgment = flags & TCPFlags.ack != 0 ? connection.receiveNext : 0
        let size = TCPFrameWriter.complete(control, key: connection.key, ourMAC: ourMAC, guestMAC: port.guestMAC,
                                           sequence: sequence, acknowledgment: acknowledgment, flags: flags,
                                           window: window, optionsLength: optionsLength, payloadLength: 0,
                                           partialChecksum: port.segmentationOffload)
        if port.send(UnsafeRawBufferPointer(start: control.baseAddress, count: size)) {
            if flags & TCPFlags.ack != 0 { connection.acknowledgedUpTo = connection.receiveNext }
        } else if flags == TCPFlags.ack {
            // The ACK goes out once the backend drains; a lost SYN or FIN is retransmitted by the timer.
            connection.ackPending = true
            waitForRoom(connection)
        }
    }

    /// Answers a segment for no known connection with a reset (RFC 9293 section 3.10.7.1).
    func resetUnknown(_ segment: TCPSegment, key: FlowKey) {
        let sequence: UInt32, acknowledgment: UInt32, flags: UInt8
        if segment.has(TCPFlags.ack) {
            (sequence, acknowledgment, flags) = (segment.acknowledgment, 0, TCPFlags.rst)
        } else {
            let length = UInt32(segment.payloadLength) + (segment.has(TCPFlags.syn) ? 1 : 0) + (segment.has(TCPFlags.fin) ? 1 : 0)
            (sequence, acknowledgment, flags) = (0, segment.sequence &+ length, TCPFlags.rst | TCPFlags.ack)
        }
        let size = TCPFrameWriter.complete(control, key: key, ourMAC: ourMAC, guestMAC: port.guestMAC, sequence: sequence,
                                           acknowledgment: acknowledgment, flags: flags, window: 0, payloadLength: 0,
                                           partialChecksum: port.segmentationOffload)
        port.send(UnsafeRawBufferPointer(start: control.baseAddress, count: size))
    }

    /// The host side failed or gave up: the guest gets a reset (later, if the backend is full now), the
    /// socket is aborted.
    func resetGuest(_ connection: TCPConnection, why: String) {
        let reset = (key: connection.key, sequence: connection.sendNext, acknowledgment: connection.receiveNext)
        if !refusedResets.isEmpty || !sendReset(key: reset.key, sequence: reset.sequence, acknowledgment: reset.acknowledgment) {
            if refusedResets.count < Self.refusedResetsKept { refusedResets.append(reset) }
        }
        close(connection, abort: true, why: why)
    }

    /// A reset (with ACK) for the connection `key`; false if the backend didn't take it.
    func sendReset(key: FlowKey, sequence: UInt32, acknowledgment: UInt32) -> Bool {
        let size = TCPFrameWriter.complete(control, key: key, ourMAC: ourMAC, guestMAC: port.guestMAC,
                                           sequence: sequence, acknowledgment: acknowledgment,
                                           flags: TCPFlags.rst | TCPFlags.ack, window: 0, payloadLength: 0,
                                           partialChecksum: port.segmentationOffload)
        return port.send(UnsafeRawBufferPointer(start: control.baseAddress, count: size))
    }
}

extension TCPEngine {
    /// The guest's address `address` was taken away (the host's changed under `--config-net`): its
    /// connections can't go on, so both sides are told now rather than at the guest's next timeout.
    func resetConnections(from address: IPAddress) {
        var gone: [TCPConnection] = []
        table.forEach { if $0.key.guest.ip == address { gone.append($0) } }
        for connection in gone { resetGuest(connection, why: "the guest's address \(address) is gone") }
    }
}
