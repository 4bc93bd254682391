/// The host's data on its way to the guest: peeked from the socket straight into frames, resent from the
/// socket (it stays there until the guest acknowledges it), and our receive window.
extension TCPEngine {
    /// Sends what the socket has and the guest's window allows, in segments read straight into frames;
    /// at the end of the stream, a FIN.
    func pump(_ connection: TCPConnection, now: Int) {
        // Nothing new since the last peek found the end: the next EPOLLIN (edge-triggered, for data that
        // arrives after that peek) brings us back, and a peek now would only return EAGAIN. Once the peer
        // closed, a peek past the data finds the end of the stream, which no later event announces.
        guard connection.state == .established, !connection.finSent,
              !connection.socketDrained || connection.peerClosed else { return }
        guard !port.isFull else { return waitForRoom(connection) }
        while true {
            // After a timeout, one segment until the guest says what it has (see `tick`): once it is out,
            // nothing more, however often the socket or the backend calls us back, until the guest's ACK
            // or the next timeout (which goes back to the oldest unacknowledged byte again).
            if connection.probing && connection.sendNext != connection.sendUnacknowledged { return }
            let inFlight = connection.bytesInFlight
            guard connection.guestWindow > inFlight else {
                if connection.retransmitAt == .max {
                    connection.retransmitAt = now + connection.retransmitTimeout
                    startRetransmitClock()
                }
                return
            }
            guard pumpOnce(connection, room: Int(connection.guestWindow - inFlight), now: now) else { return }
        }
    }

    /// One peek into frames and their sending; false when the pump is done for now. The frames are the
    /// guest's own buffers where the backend lends them (one copy: the kernel's, into the guest), else ours.
    private func pumpOnce(_ connection: TCPConnection, room: Int, now: Int) -> Bool {
        let frameLimit = frameLimit(connection)
        // A probe is one frame, as large as the first transmission's: a smaller one would leave the rest
        // of that frame as a hole of its own.
        let wanted = connection.probing ? min(room, frameLimit) : room
        let (loan, full) = borrowGuestFrames(connection, bytes: min(wanted, connection.loanSize), frameLimit: frameLimit)
        if full {
            waitForRoom(connection)
            return false
        }
        let parts: UnsafeBufferPointer<UnsafeMutableRawBufferPointer>
        let requestedBytes: Int
        if let loan {
            parts = loan.payloadParts
            requestedBytes = loan.capacity
        } else {
            let requested = prepareFrames(connection, bytes: wanted, frameLimit: frameLimit)
            parts = UnsafeBufferPointer(start: peekBuffers, count: requested.frames)
            requestedBytes = requested.bytes
        }
        let received: Int
        switch connection.socket.peek(into: parts) {
        case .done(let count):
            received = count
            // Twice what this peek found: a loan it filled grows until the socket has less than that.
            if loan != nil { connection.loanSize = max(TCPConnection.smallestLoan, min(2 * count, 1 << 24)) }
        case .wouldBlock:
            if let loan { _ = port.settle(loan, frames: 0) }
            connection.socketDrained = true
            return false
        case .failed(let code):
            if let loan { _ = port.settle(loan, frames: 0) }
            resetGuest(connection, why: "reading from the host socket failed: \(errorDescription(code))")
            return false
        }
        if received == 0 {
            if let loan { _ = port.settle(loan, frames: 0) }
            connection.socketEOF = true
            sendFin(connection, now: now)
            return false
        }
        let frames: Int
        let taken: Int
        let takenBytes: Int
        if let loan {
            frames = completeLentFrames(connection, loan, received: received)
            taken = port.settle(loan, frames: frames)
            takenBytes = taken == frames ? received : (0..<taken).reduce(0) { $0 + loan.payloadLength($1) }
        } else {
            frames = completeFrames(connection, received: received, from: connection.sendNext, flags: TCPFlags.ack,
                                    lastFlags: TCPFlags.psh)
            taken = port.send(UnsafeBufferPointer(start: outgoing, count: frames))
            takenBytes = (0..<taken).reduce(0) { $0 + peekBuffers[$1].count }
        }
        sent(connection, bytes: takenBytes, now: now)
        if connection.probing && taken > 0 {
            connection.probesSent += 1
            return false
        }
        if taken < frames {
            // The guest's side is full: what it didn't take is still in the socket. Peek from there
            // again once the backend drains.
            discardAcknowledged(connection)
            connection.socket.setPeekOffset(Int(connection.sendNext &- connection.sendUnacknowledged))
            connection.socketDrained = false
            waitForRoom(connection)
            return false
        }
        if received < requestedBytes {
            // All there is for now. After the peer's FIN no edge follows the data it came with: peek
            // again, for the end of the stream.
            if connection.peerClosed { return true }
            connection.socketDrained = true
            return false
        }
        return true
    }

    /// Room in the guest's own buffers for frames of `bytes` in all, where the backend lends it (with
    /// segmentation offload only: the checksum stays partial, so the payload is never read back); nil
    /// to build them in ours. `full`: the guest's side has no room at all.
    private func borrowGuestFrames(_ connection: TCPConnection, bytes: Int, frameLimit: Int) -> (loan: FrameLoan?, full: Bool) {
        guard port.segmentationOffload else { return (nil, false) }
        switch port.borrowFrames(headerLength: TCPFrameWriter.payloadOffset(ipv4: connection.isIPv4),
                                 payloadLimit: frameLimit, bytes: bytes) {
        case .lent(let loan):
            // A peek into no room would read as the end of the stream.
            guard loan.capacity > 0 else {
                _ = port.settle(loan, frames: 0)
                return (nil, false)
            }
            return (loan, false)
        case .full: return (nil, true)
        case .unavailable: return (nil, false)
        }
    }

    /// Writes the headers of the lent frames a peek of `received` bytes filled (their checksums partial, as
    /// lending needs segmentation offload); returns how many frames.
    private func completeLentFrames(_ connection: TCPConnection, _ loan: FrameLoan, received: Int) -> Int {
        let count = loan.fill(received)
        let window = advertisedWindow(connection)
        var sequence = connection.sendNext
        for frame in 0..<count {
            let length = loan.payloadLength(frame)
            _ = TCPFrameWriter.complete(
                loan.header(frame), key: connection.key, ourMAC: ourMAC, guestMAC: port.guestMAC, sequence: sequence,
                acknowledgment: connection.receiveNext, flags: TCPFlags.ack | (frame == count - 1 ? TCPFlags.psh : 0),
                window: window, payloadLength: length, partialChecksum: true)
            sequence = sequence &+ UInt32(length)
        }
        return count
    }

    /// The largest payload of one frame: with offloads, 64 KiB segments the tap cuts to the MSS itself.
    func frameLimit(_ connection: TCPConnection) -> Int {
        port.segmentationOffload ? Self.largestSegment(ipv4: connection.isIPv4) : connection.segmentSize
    }

    /// Points the peek buffers at the payload space of up to `framesPerPeek` frames for `bytes` bytes.
    private func prepareFrames(_ connection: TCPConnection, bytes: Int, frameLimit: Int) -> (frames: Int, bytes: Int) {
        let payloadOffset = TCPFrameWriter.payloadOffset(ipv4: connection.isIPv4)
        var left = bytes
        var count = 0
        while left > 0 && count < Self.framesPerPeek {
            let length = min(left, frameLimit)
            peekBuffers[count] = UnsafeMutableRawBufferPointer(start: frames + count * Self.frameSize + payloadOffset,
                                                               count: length)
            left -= length
            count += 1
        }
        return (count, bytes - left)
    }

    /// Writes the headers of the frames whose payload a peek of `received` bytes filled, numbered from
    /// `sequence` on, into `outgoing`; the last gets `lastFlags` too. Returns how many frames.
    private func completeFrames(_ connection: TCPConnection, received: Int, from sequence: UInt32, flags: UInt8,
                                lastFlags: UInt8) -> Int {
        let window = advertisedWindow(connection)
        var offset = 0
        var frame = 0
        var sequence = sequence
        while offset < received {
            let length = min(peekBuffers[frame].count, received - offset)
            let buffer = UnsafeMutableRawBufferPointer(start: frames + frame * Self.frameSize, count: Self.frameSize)
            let last = offset + length == received
            let size = TCPFrameWriter.complete(
                buffer, key: connection.key, ourMAC: ourMAC, guestMAC: port.guestMAC, sequence: sequence,
                acknowledgment: connection.receiveNext, flags: flags | (last ? lastFlags : 0),
                window: window, payloadLength: length, partialChecksum: port.segmentationOffload)
            outgoing[frame] = UnsafeRawBufferPointer(start: buffer.baseAddress, count: size)
            peekBuffers[frame] = UnsafeMutableRawBufferPointer(start: peekBuffers[frame].baseAddress, count: length)
            sequence = sequence &+ UInt32(length)
            offset += length
            frame += 1
        }
        return frame
    }

    /// The backend took frames holding `bytes` of payload, from sendNext on.
    private func sent(_ connection: TCPConnection, bytes: Int, now: Int) {
        guard bytes > 0 else { return }
        connection.sendNext = connection.sendNext &+ UInt32(bytes)
        if sequenceLess(connection.sendMax, connection.sendNext) { connection.sendMax = connection.sendNext }
        connection.ackPending = false
        connection.acknowledgedUpTo = connection.receiveNext
        connection.sentDataSinceGuestData = true
        if connection.retransmitAt == .max {
            connection.retransmitAt = now + connection.retransmitTimeout
            startRetransmitClock()
        }
    }

    func sendFin(_ connection: TCPConnection, now: Int) {
        guard !connection.finSent else { return }
        sendControl(connection, flags: TCPFlags.fin | TCPFlags.ack, sequence: connection.sendNext)
        connection.finSequence = connection.sendNext
        connection.sendNext = connection.sendNext &+ 1
        if sequenceLess(connection.sendMax, connection.sendNext) { connection.sendMax = connection.sendNext }
        connection.finSent = true
        connection.ackPending = false
        if connection.retransmitAt == .max {
            connection.retransmitAt = now + connection.retransmitTimeout
            startRetransmitClock()
        }
    }

    /// Goes back to the oldest unacknowledged byte and sends everything again from there.
    func rewind(_ connection: TCPConnection, now: Int) {
        connection.sendNext = connection.sendUnacknowledged
        if !connection.finAcknowledged { connection.finSent = false }
        connection.duplicateAcks = 0
        resetPeekOffset(connection)
        pump(connection, now: now)
    }

    /// Sends again the data from `start` up to `end` (a hole the guest reported), without going back on
    /// anything else: sendNext and the peek offset stay where they were.
    func resendHole(_ connection: TCPConnection, from start: UInt32, to end: UInt32) {
        guard !port.isFull, sequenceLess(start, end), sequenceLessOrEqual(end, connection.sendNext),
              !sequenceLess(start, connection.sendUnacknowledged) else { return }
        discardAcknowledged(connection)
        let requested = prepareFrames(connection, bytes: Int(end &- start), frameLimit: frameLimit(connection))
        connection.socket.setPeekOffset(Int(start &- connection.sendUnacknowledged))
        let peeked = connection.socket.peek(into: UnsafeBufferPointer(start: peekBuffers, count: requested.frames))
        connection.socket.setPeekOffset(Int(connection.sendNext &- connection.sendUnacknowledged))
        guard case .done(let received) = peeked, received > 0 else { return }
        let frames = completeFrames(connection, received: received, from: start, flags: TCPFlags.ack, lastFlags: 0)
        _ = port.send(UnsafeBufferPointer(start: outgoing, count: frames))
        logTrace("TCP: resent \(received) bytes the guest is missing for \(describe(connection))")
    }

    /// The next peek starts again at the oldest byte the guest has not acknowledged.
    func resetPeekOffset(_ connection: TCPConnection) {
        discardAcknowledged(connection)
        connection.socket.setPeekOffset(0)
        connection.socketDrained = false
    }

    /// Drops what the guest acknowledged from the socket's receive queue: before the batch ends, and
    /// before the peek offset is set (it counts from the head of the queue, where acknowledged data
    /// still is until then).
    func discardAcknowledged(_ connection: TCPConnection) {
        let count = connection.undiscarded
        connection.undiscarded = 0
        if count > 0 { _ = connection.socket.discard(count) }
    }

    /// Our receive window: the free room in the socket's send buffer, as the kernel accounts it. Payload
    /// takes a little more room than its size, so a guest filling the window now and then finds the socket
    /// full: the unwritten tail is dropped (the guest retransmits it after three duplicate ACKs), and the
    /// kernel grows an autotuned send buffer only for a socket that was found full. Smaller windows would
    /// keep the buffer, and so what can be in flight to a distant peer, at its initial size forever.
    func advertisedWindow(_ connection: TCPConnection) -> UInt16 {
        let memory = connection.socket.sendMemory()
        let free = memory.map { max(0, $0.size - $0.queued) } ?? 0
        if free < (memory?.size ?? 0) / 4 { watchWritable(connection) }
        let field = UInt16(min(free >> Int(connection.ourWindowScale), 65535))
        connection.lastAdvertisedWindow = UInt32(field) << UInt32(connection.ourWindowScale)
        connection.lastWindowField = field
        connection.largestAdvertisedWindow = max(connection.largestAdvertisedWindow, connection.lastAdvertisedWindow)
        return field
    }

    func advertisedWindowGrew(_ connection: TCPConnection, from before: UInt32) -> Bool {
        _ = advertisedWindow(connection)
        return connection.lastAdvertisedWindow > before
    }

    func watchWritable(_ connection: TCPConnection) {
        if !connection.watchingWritable { watch(connection, writable: true) }
    }

    /// Changes whether the socket's becoming writable wakes us; a connection whose socket can't be
    /// watched as it needs is reset rather than left to hang.
    func watch(_ connection: TCPConnection, writable: Bool) {
        guard isOpen(connection) else { return }
        connection.watchingWritable = writable
        guard connection.socket.watchWritable(writable) else { return resetGuest(connection, why: "its socket can't be watched") }
    }
}
