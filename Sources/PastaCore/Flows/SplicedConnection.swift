import Glibc

/// One direction of a spliced connection: bytes move from the source socket into a pipe and from the
/// pipe into the destination socket, never through our memory.
struct SpliceDirection {
    var pipe: SplicePipe
    /// Bytes in the pipe not yet written to the destination.
    var pending = 0
    /// The source sent FIN.
    var sourceEnded = false
    /// Its FIN was passed on (shutdown(SHUT_WR) on the destination).
    var finished = false
    /// Bytes moved so far, for the connection's log line.
    var moved = 0
}

/// Two sockets in different namespaces joined by splice(): `sockets[0]` was accepted by a listener,
/// `sockets[1]` connected by us on the other side. Direction 0 carries 0 -> 1, direction 1 the reverse.
///
/// Sockets are watched level-triggered, and only for what can make progress: readable while their
/// direction's pipe is empty, writable while data for them waits in a pipe. So a pass never needs a final
/// read that would only say EAGAIN (anything left is reported again), and a full destination stops
/// reading from its source.
final class SplicedConnection {
    let index: Int
    let generation: UInt32
    let sockets: [Int32]
    /// The number its log lines carry (the main loop's, which logged its start).
    let number: UInt32
    var directions: [SpliceDirection]
    var connected = false
    /// The epoll events each socket is registered for; 0 while it is not registered.
    var registered: [UInt32] = [0, 0]

    init(index: Int, generation: UInt32, accepted: Int32, connecting: Int32, number: UInt32,
         pipes: (SplicePipe, SplicePipe)) {
        self.index = index
        self.generation = generation
        self.number = number
        sockets = [accepted, connecting]
        directions = [SpliceDirection(pipe: pipes.0), SpliceDirection(pipe: pipes.1)]
    }

    func reference(side: Int) -> EventReference {
        EventReference(.splicedSocket, index: UInt32(index * 2 + side), generation: generation)
    }

    var bothFinished: Bool { directions[0].finished && directions[1].finished }

    /// What socket `side` should be watched for now (0: nothing, unregister it, so a socket shut down
    /// both ways can't keep reporting EPOLLHUP while the other direction drains).
    func interest(_ side: Int) -> UInt32 {
        guard connected else { return side == 1 ? EventPoll.writable : 0 }  // our connect()'s completion
        var events: UInt32 = 0
        if !directions[side].sourceEnded && directions[side].pending == 0 { events |= EventPoll.readable }
        if directions[1 - side].pending > 0 { events |= EventPoll.writable }
        return events
    }

    /// What one pass over a direction found.
    enum PumpResult {
        case waiting
        /// A socket failed (reset by its peer, most likely): the connection must be torn down.
        case failed
    }

    /// Moves what can move in `direction` now. A read shorter than asked for ends the pass: if the pipe,
    /// not the socket, ran out of room, the socket is still readable and epoll reports it again.
    func pump(_ direction: Int) -> PumpResult {
        let source = sockets[direction], destination = sockets[1 - direction]
        var state = directions[direction]
        defer { directions[direction] = state }
        var mayHaveMore = true
        while true {
            if state.pending > 0 {
                switch SocketCalls.splice(from: state.pipe.read, to: destination, count: state.pending, more: false) {
                case .done(let n): state.pending -= n
                case .wouldBlock: return .waiting
                case .failed: return .failed
                }
                if state.pending > 0 { continue }
            }
            if state.sourceEnded || !mayHaveMore { break }
            let requested = state.pipe.capacity
            let moved = SocketCalls.splice(from: source, to: state.pipe.write, count: requested, more: false)
            if case .failed = moved { return .failed }
            guard case .done(let n) = moved else { break }  // the socket has nothing now
            if n == 0 {
                state.sourceEnded = true
                break
            }
            state.pending += n
            state.moved += n
            mayHaveMore = n == requested
        }
        if state.sourceEnded && state.pending == 0 && !state.finished {
            SocketCalls.shutdownWrite(destination)
            state.finished = true
        }
        return .waiting
    }
}
