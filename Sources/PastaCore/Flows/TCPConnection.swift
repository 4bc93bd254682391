/// One TCP connection between the guest and a host socket. No data is buffered here: what the host sent
/// stays in the socket's receive queue until the guest acknowledges it, and what the guest sent is
/// acknowledged only once the socket took it.
public final class TCPConnection {
    public enum State {
        /// Guest sent SYN; our socket is connecting.
        case connecting
        /// Socket connected; our SYN-ACK is out, waiting for the guest's ACK.
        case synAckSent
        /// Accepted on a host listener; our SYN is out, waiting for the guest's SYN-ACK.
        case synSent
        case established
    }

    let index: Int
    /// Distinguishes this connection's epoll events from those of an earlier one in the same slot.
    let generation: UInt32
    let key: FlowKey
    let socket: HostSocket
    let isIPv4: Bool
    var state: State

    // Sequence space towards the guest (ours) and from it.
    var sendUnacknowledged: UInt32 = 0
    var sendNext: UInt32 = 0
    var receiveNext: UInt32 = 0
    /// The highest sequence number sent so far (RFC 9293's SND.MAX), and our FIN's, once sent.
    var sendMax: UInt32 = 0
    var finSequence: UInt32?
    /// Our initial sequence number; the SYN or SYN-ACK carries it. And the guest's, for byte counts.
    var initialSequence: UInt32 = 0
    var guestInitialSequence: UInt32?

    var guestWindow: UInt32 = 65535
    var guestWindowScale: UInt8 = 0
    var ourWindowScale: UInt8 = 0
    var scaling = false
    /// Both SYNs offered SACK (RFC 2018): the guest's ACKs may say what it has beyond a hole.
    var sackPermitted = false
    /// Payload bytes per segment towards the guest.
    var segmentSize = 536
    /// The window we last announced, in bytes and as the 16-bit field that carried it.
    var lastAdvertisedWindow: UInt32 = 0
    var lastWindowField: UInt16 = 0
    var largestAdvertisedWindow: UInt32 = 0

    // Half-closes: the guest's FIN reached the socket (shutdown), the socket's EOF reached the guest.
    var guestFinished = false
    var socketEOF = false
    /// The last peek read everything the socket had past the peek offset.
    var socketDrained = false
    /// How much room in the guest's buffers to borrow for the next peek (see TCPEngine.borrowGuestFrames):
    /// about what the socket had last time, so a small reply doesn't take the whole ring only to give it back.
    var loanSize = TCPConnection.smallestLoan
    static let smallestLoan = 16 * 1024
    /// The peer's FIN arrived (EPOLLRDHUP): the socket's stream ends after what it holds.
    var peerClosed = false
    var finSent = false
    var finAcknowledged = false
    /// Bytes the guest acknowledged that are still at the head of the socket's receive queue.
    var undiscarded = 0

    /// Pool slots with segments waiting for the socket, in sequence order.
    var pending: [Int] = []
    var ackPending = false
    /// The acknowledgment number our last frame carried.
    var acknowledgedUpTo: UInt32 = 0
    /// We sent data since the guest's last data, and the guest's last data came after data of ours:
    /// the connection is an exchange of requests and replies, where an ACK may wait for the reply.
    var sentDataSinceGuestData = false
    var interactive = false
    var duplicateAcks = 0
    /// After a retransmission timeout: one segment per timeout until the guest acknowledges new data.
    var probing = false
    /// The highest sequence sent when we last went back to resend: duplicate ACKs below it don't make us
    /// resend again (RFC 6582's "recover").
    var recoverPoint: UInt32 = 0
    /// Segments resent while probing, and the duplicate ACKs they will draw from a guest that had them.
    var probesSent = 0
    /// In a SACK recovery: the end of the last hole resent, so each hole goes out once.
    var resentUpTo: UInt32 = 0
    /// In a SACK recovery: the highest sequence sent when holes were last resent. The link to the guest
    /// keeps order, so a SACK block reaching past it while a resent hole is still open means the resend
    /// was lost too (the idea of RACK, RFC 8985, without its timers).
    var resendMark: UInt32 = 0
    var expectedDuplicateAcks = 0
    /// Milliseconds (monotonic) of the last progress, and when unacknowledged data is resent.
    var lastActivity: Int
    var retransmitAt: Int = .max
    var retransmitTimeout = 200
    var retries = 0
    /// Retransmission timeouts that resent data or a FIN, since the start.
    var retransmissionTimeouts = 0
    var watchingWritable = false
    /// Frames for the guest wait for the frame backend to drain (see TCPFlows.resume).
    var waitingForRoom = false

    init(index: Int, generation: UInt32, key: FlowKey, socket: HostSocket, state: State, now: Int) {
        self.index = index
        self.generation = generation
        self.key = key
        self.socket = socket
        self.state = state
        isIPv4 = key.guest.isIPv4
        lastActivity = now
    }

    var ackDelay: TCPAckDelay {
        TCPAckDelay(unacknowledged: receiveNext &- acknowledgedUpTo, interactive: interactive, segmentSize: segmentSize,
                    largestWindow: largestAdvertisedWindow, heldBack: !pending.isEmpty, guestFinished: guestFinished)
    }

    /// The guest's bytes the host socket took, and ours the guest acknowledged (for the flow's log line).
    var bytesFromGuest: UInt32 {
        guard let first = guestInitialSequence else { return 0 }
        return receiveNext &- first &- 1 &- (guestFinished ? 1 : 0)
    }
    var bytesToGuest: UInt32 {
        sendUnacknowledged == initialSequence ? 0 : sendUnacknowledged &- initialSequence &- 1 &- (finAcknowledged ? 1 : 0)
    }

    /// Data (not SYN or FIN) sent to the guest and not yet acknowledged.
    var bytesInFlight: UInt32 { sendNext &- sendUnacknowledged &- (finSent ? 1 : 0) }
}

/// Sequence number comparison modulo 2^32 (RFC 9293 section 3.4).
@inline(__always) func sequenceLess(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inline(__always) func sequenceLessOrEqual(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) <= 0 }
