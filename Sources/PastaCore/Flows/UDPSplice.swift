import Glibc

/// A local UDP exchange across the namespaces: datagrams a listener got from `client` leave through a
/// socket on the other side connected to the target; what comes back is sent to the client from the
/// listener's socket.
final class UDPSpliceFlow {
    let index: Int
    let generation: UInt32
    let key: FlowKey
    let listener: Listener
    let client: IPAddress
    let clientPort: UInt16
    let socket: Descriptor
    var lastActivity: Int
    var answered = false

    init(index: Int, generation: UInt32, key: FlowKey, listener: Listener, client: IPAddress, clientPort: UInt16,
         socket: Descriptor, now: Int) {
        self.index = index
        self.generation = generation
        self.key = key
        self.listener = listener
        self.client = client
        self.clientPort = clientPort
        self.socket = socket
        lastActivity = now
    }
}

/// UDP between loopback addresses of the two namespaces, never through the tap: everything a `-U`
/// listener receives goes to the host's loopback, datagrams from a loopback address to a `-u` listener go
/// to the guest's address (its loopback with --host-lo-to-ns-lo). Both ways move in batches: what a listener
/// received in one recvmmsg() leaves with one sendmmsg() per run of datagrams of the same flow; replies
/// are read with recvmmsg() and sent to the client with sendmmsg().
final class UDPSplice {
    private let flows = FlowTable<UDPSpliceFlow>(capacity: 4096)
    private let poll: EventPoll
    /// None in passt mode, where nothing is spliced (SpliceTargets never answers).
    private let namespace: NetworkNamespace?
    private let targets: SpliceTargets
    private let replies = DatagramBatch(count: UDPSplice.batch, slotSize: UDPSplice.datagramSize)
    private let outbound = DatagramQueue(capacity: UDPSplice.batch)
    static let batch = 32
    static let datagramSize = 65536

    init(targets: SpliceTargets, poll: EventPoll, namespace: NetworkNamespace?) {
        self.poll = poll
        self.namespace = namespace
        self.targets = targets
    }

    /// Queues a datagram `listener` received from client:port if it is local traffic (flush() sends it);
    /// false when it belongs to the tap instead.
    func forward(_ payload: UnsafeRawBufferPointer, from client: IPAddress, port: UInt16, on listener: Listener,
                 now: Int) -> Bool {
        guard let destination = targets.destination(for: listener, client: client) else { return false }
        let key = FlowKey(guest: FlowAddress(client), remote: FlowAddress(listener.address), guestPort: port,
                          remotePort: listener.port)
        let flow: UDPSpliceFlow
        if let index = flows.index(of: key), let existing = flows[index], existing.listener === listener {
            flow = existing
        } else {
            if flows.index(of: key) != nil {  // its listener is gone
                outbound.flush()
                flows.remove(key)
            }
            guard let created = open(key, destination: destination, on: listener.side.other, listener: listener,
                                     client: client, clientPort: port, now: now) else { return true }
            flow = created
        }
        flow.lastActivity = now
        outbound.append(payload, on: flow.socket.raw)
        return true
    }

    /// Sends the queued run of datagrams for one flow with one sendmmsg(); called before the buffers they
    /// point into are reused.
    func flush() { outbound.flush() }

    private func open(_ key: FlowKey, destination: IPAddress, on side: ForwardingSide, listener: Listener,
                      client: IPAddress, clientPort: UInt16, now: Int) -> UDPSpliceFlow? {
        let family = destination.family
        let made = side == .namespace ? namespace?.inside { SocketCalls.open(family: family, type: SocketCalls.datagram) }
                                      : SocketCalls.open(family: family, type: SocketCalls.datagram)
        guard case .success(let fd)? = made else { return nil }
        let socket = Descriptor(fd)
        SocketCalls.setBufferSizes(fd, UDPFlows.socketBuffer)
        if let error = SocketCalls.connect(fd, family: family, address: destination.networkBytes, port: listener.targetPort) {
            logDebug("UDP splice: can't reach \(destination) port \(listener.targetPort): \(error)")
            return nil
        }
        guard let flow = flows.insert(key, { index, generation in
            UDPSpliceFlow(index: index, generation: generation, key: key, listener: listener, client: client,
                          clientPort: clientPort, socket: socket, now: now)
        }) else { return nil }
        do {
            try poll.add(fd, EventReference(.udpSplicedSocket, index: UInt32(flow.index), generation: flow.generation))
        } catch {
            flows.remove(key)
            return nil
        }
        return flow
    }

    /// Replies on a flow's socket go back to its client from the listener's socket.
    func socketEvent(_ reference: EventReference, now: Int) {
        guard let flow = flows[Int(reference.index)], flow.generation == reference.generation else { return }
        while true {
            let received = SocketCalls.receiveDatagrams(flow.socket.raw, bases: replies.bases, lengths: replies.lengths,
                                                        count: Self.batch, received: replies.received)
            guard case .done(let count) = received, count > 0 else { return }
            flow.lastActivity = now
            flow.answered = true
            var sent = 0
            while sent < count {  // the received sizes are the lengths to send
                let result = SocketCalls.sendDatagrams(flow.listener.socket.raw, bases: replies.bases + sent,
                                                       lengths: replies.received + sent, count: count - sent,
                                                       to: flow.client, port: flow.clientPort)
                guard case .done(let n) = result, n > 0 else { break }  // the client's buffer is full: UDP may drop
                sent += n
            }
            if count < Self.batch { return }
        }
    }

    /// Idle flows go as the tap's UDP flows do: 10 s unanswered, or 120 s once answered.
    func tick(now: Int) {
        flush()
        var expired: [UDPSpliceFlow] = []
        flows.forEach { flow in
            let limit = flow.answered ? UDPFlows.twoWayTimeout : UDPFlows.unansweredTimeout
            if now - flow.lastActivity > limit || flow.listener.socket.raw < 0 { expired.append(flow) }
        }
        for flow in expired {
            poll.remove(flow.socket.raw)
            flows.remove(flow.key)
        }
    }
}
