/// The guest's data and FIN on their way to the host socket. Nothing is acknowledged that the socket
/// didn't take: what it can't take yet, or what lies beyond a gap, waits in the segment pool.
extension TCPEngine {
    /// Guest data goes to the socket in sequence order. Data that continues the stream is queued and
    /// written with the rest of the batch's in one send.
    func processData(_ connection: TCPConnection, _ segment: TCPSegment) {
        if connection.guestFinished { return }
        guard !segment.scattered.isEmpty else {
            return processData(connection, segment, payload: segment.payload, queueable: true)
        }
        if enqueueScattered(connection, segment) { return }
        // Out of order, with a FIN, or behind held-back data: read whole, from a pool slot released once
        // handled (what must wait is copied to a slot of its own; nothing queues a view of this one).
        guard let slot = pool.store(segment.scattered, sequence: segment.sequence, fin: false) else { return }
        defer { pool.release(slot) }
        processData(connection, segment, payload: pool.bytes(slot), queueable: false)
    }

    /// The segment from the guest's frame: its header and payload together, or the header alone in
    /// `payload` with the payload `scattered`.
    static func segment(_ payload: UnsafeRawBufferPointer, _ scattered: ScatteredPayload) -> TCPSegment? {
        scattered.isEmpty ? TCPSegment(payload) : TCPSegment(header: payload, payload: scattered)
    }

    /// Scattered data that continues the stream is queued part by part, where it lies, to be written
    /// with the rest of the batch's; false (nothing done) when it doesn't continue the stream.
    private func enqueueScattered(_ connection: TCPConnection, _ segment: TCPSegment) -> Bool {
        let expected = connection.receiveNext &+ UInt32(writeBatch.bytes(connection.index))
        guard !segment.has(TCPFlags.fin), connection.pending.isEmpty, sequenceLessOrEqual(segment.sequence, expected)
        else { return false }
        var skip = Int(expected &- segment.sequence)
        guard skip < segment.payloadLength else { return false }
        var sequence = expected
        for part in segment.scattered.parts {
            if skip >= part.count {
                skip -= part.count
                continue
            }
            let piece = UnsafeRawBufferPointer(rebasing: part[skip...])
            skip = 0
            // Once the socket is found full, what follows waits in the pool behind what it didn't take.
            if connection.pending.isEmpty {
                enqueue(connection, piece, sequence: sequence)
            } else {
                holdBack(connection, piece, sequence: sequence, fin: false)
            }
            guard isOpen(connection) else { return true }
            sequence = sequence &+ UInt32(piece.count)
        }
        return true
    }

    /// `payload`: contiguous, from the guest's frame (`queueable`: valid until the batch ends) or a pool slot.
    private func processData(_ connection: TCPConnection, _ segment: TCPSegment, payload: UnsafeRawBufferPointer,
                             queueable: Bool) {
        var payload = payload
        let sequence = segment.sequence
        #if DEBUG
        // The simulation tests' planted bug: they must notice a FIN that came with data being lost.
        let fin = segment.has(TCPFlags.fin) && !(Self.plantedBugForgetsFinWithData && !payload.isEmpty)
        #else
        let fin = segment.has(TCPFlags.fin)
        #endif
        let expected = connection.receiveNext &+ UInt32(writeBatch.bytes(connection.index))
        if queueable && !fin && connection.pending.isEmpty && sequenceLessOrEqual(sequence, expected) {
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
        guard deliver(connection, payload, fin: fin) else { return }
        flushPending(connection)
    }

    /// Queues in-sequence data until the end of the batch (or until the queue is full).
    private func enqueue(_ connection: TCPConnection, _ payload: UnsafeRawBufferPointer, sequence: UInt32) {
        if writeBatch.isFull(connection.index) {
            guard writeQueued(connection) else { return }
            // The socket is full: the segment waits in the pool like any other.
            if !connection.pending.isEmpty { return holdBack(connection, payload, sequence: sequence, fin: false) }
        }
        writeBatch.append(connection.index, payload)
        noteGuestData(connection)
    }

    /// The guest sent data: was it an answer to data of ours (see TCPAckDelay)?
    private func noteGuestData(_ connection: TCPConnection) {
        connection.interactive = connection.sentDataSinceGuestData
        connection.sentDataSinceGuestData = false
    }

    /// Writes the connection's queued data with one send; what the socket doesn't take waits in the pool.
    /// Returns false if the connection went away.
    func writeQueued(_ connection: TCPConnection) -> Bool {
        let slot = connection.index
        guard writeBatch.count(slot) > 0 else { return true }
        let written = writeBatch.withParts(slot) { connection.socket.send($0) }
        guard var taken = socketTook(connection, written) else { return false }
        if taken < writeBatch.bytes(slot) {
            var sequence = connection.receiveNext
            for part in writeBatch.partList(slot) {
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
        writeBatch.clear(slot)
        queueAck(connection)
        return true
    }

    /// How much of the guest's data a send to the socket took (now acknowledgeable); nil after a failure,
    /// which resets the connection.
    private func socketTook(_ connection: TCPConnection, _ written: IOResult) -> Int? {
        let taken: Int
        switch written {
        case .done(let count): taken = count
        case .wouldBlock: taken = 0
        case .failed(let code):
            resetGuest(connection, why: "writing to the host socket failed: \(errorDescription(code))")
            return nil
        }
        connection.receiveNext = connection.receiveNext &+ UInt32(taken)
        return taken
    }

    /// Writes in-sequence guest data (and then its FIN) to the socket; whatever doesn't fit waits in the
    /// pool. Returns false if the connection went away or the socket is full.
    private func deliver(_ connection: TCPConnection, _ payload: UnsafeRawBufferPointer, fin: Bool) -> Bool {
        if !payload.isEmpty {
            let written = withUnsafePointer(to: payload) { connection.socket.send(UnsafeBufferPointer(start: $0, count: 1)) }
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
            connection.socket.shutdownWrite()
            queueAck(connection)
        }
        return true
    }

    /// Keeps a segment in the pool, in sequence order, unless an equal one is there or the pool is full.
    func holdBack(_ connection: TCPConnection, _ payload: UnsafeRawBufferPointer, sequence: UInt32, fin: Bool) {
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
    func flushPending(_ connection: TCPConnection) {
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

    /// Both sides finished and our FIN is acknowledged: the connection goes. The ACK for the guest's FIN
    /// goes first, if it still waits (forgotten with the connection, it would leave the guest resending
    /// its FIN until our reset for an unknown connection answers it); with the backend full, the
    /// connection stays until `resume` sent it.
    func closeIfDone(_ connection: TCPConnection) {
        guard connection.guestFinished && connection.finAcknowledged else { return }
        if connection.ackPending {
            connection.ackPending = false
            sendControl(connection, flags: TCPFlags.ack, sequence: connection.sendNext)
            if connection.ackPending { return }  // it waits for room
        }
        close(connection, abort: false, why: "closed by both sides")
    }
}
