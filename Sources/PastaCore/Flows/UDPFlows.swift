import Glibc

/// One UDP flow: the guest's datagrams to a peer and the peer's replies. Outbound flows own a socket
/// connected to the (translated) peer; inbound ones answer through the `-u` listener that received them.
final class UDPFlow {
    let index: Int
    let generation: UInt32
    let key: FlowKey
    let socket: Descriptor?
    /// Inbound: the listener to answer through (the latest one to receive for the flow: auto mode may have
    /// replaced it), and the client on the host side.
    var listener: Listener?
    let client: IPAddress?
    let clientPort: UInt16
    var lastActivity: Int
    var heardFromGuest = false
    var heardFromPeer = false
    /// Out of epoll while the guest's frame backend is full.
    var paused = false
    /// The TTL (hop limit) the socket sends with: the guest's, so traceroute works. 64 is Linux's default:
    /// a guest that sends with it costs no call.
    var timeToLive: UInt8 = 64

    init(index: Int, generation: UInt32, key: FlowKey, socket: Descriptor?, listener: Listener?, client: IPAddress?,
         clientPort: UInt16, now: Int) {
        self.index = index
        self.generation = generation
        self.key = key
        self.socket = socket
        self.listener = listener
        self.client = client
        self.clientPort = clientPort
        lastActivity = now
    }
}

/// UDP between the tap and host sockets, with DNS forwarding (`--dns-forward`); inbound datagrams from
/// forwarding sockets arrive through UDPInbound.
public final class UDPFlows {
    /// Idle timeouts: a flow with traffic both ways goes after 120 s idle; one whose other side never
    /// answered after 10 s. A DNS client has given up on a query by then (resolv.conf's default timeout is
    /// 5 s), a stream that only sends keeps its flow by sending, and a guest sending to random ports holds
    /// a socket per port for no more than 10 s.
    static let unansweredTimeout = 10_000
    static let twoWayTimeout = 120_000
    static let datagramsPerEvent = 64
    static let framesPerReceive = 32
    static let frameSize = FrameBatch.frameCapacity
    /// Socket buffers for bursts: datagrams that arrive while the loop is busy wait here, not get dropped.
    static let socketBuffer: Int32 = 4 << 20

    private let table: FlowTable<UDPFlow>
    private let poll: EventPoll
    private let port: GuestPort
    private let ourMAC: MACAddress
    var translation: AddressTranslation
    private let guestAddresses: GuestAddresses
    private var tableFullLogged = false
    private var pausedFlows: [Int] = []
    /// Each flow's first and last line with `-d`.
    private let flowLog = FlowLog()
    private let outbound = DatagramQueue(capacity: UDPFlows.datagramsPerEvent)
    private let replies = DatagramBatch(count: UDPFlows.framesPerReceive, slotSize: UDPFlows.frameSize)
    private let errors: ICMPErrorRelay

    init(configuration: RuntimeConfiguration, guestAddresses: GuestAddresses, poll: EventPoll, port: GuestPort,
         errors: ICMPErrorRelay) throws {
        self.errors = errors
        self.guestAddresses = guestAddresses
        self.poll = poll
        self.port = port
        ourMAC = configuration.ourMAC
        translation = AddressTranslation(configuration)
        table = FlowTable(capacity: 16384)
    }

    deinit {
    }

    // MARK: Datagrams from the guest

    /// `offload`: what the frame's virtio-net header said: a checksum not to verify, several datagrams.
    func handle(ipv4 packet: IPv4Packet, offload: ReceivedOffload = ReceivedOffload(), now: Int) {
        guard let datagram = UDPDatagram(packet, checksumTrusted: offload.checksumTrusted) else { return logDebug("UDP: bad length or checksum from the guest") }
        let source = packet.sourceAddress
        guestAddresses.observe(source)
        let destination = packet.destinationAddress
        if destination.isBroadcast || destination.isMulticast { return }
        handle(datagram, key: FlowKey(guest: FlowAddress(ipv4: source.value), remote: FlowAddress(ipv4: destination.value),
                                      guestPort: datagram.sourcePort, remotePort: datagram.destinationPort),
               timeToLive: packet.timeToLive, datagramSize: offload.datagramSize, now: now)
    }

    func handle(ipv6 packet: IPv6Packet, offload: ReceivedOffload = ReceivedOffload(), now: Int) {
        guard let datagram = UDPDatagram(packet, checksumTrusted: offload.checksumTrusted) else { return logDebug("UDP: bad length or checksum from the guest") }
        let source = packet.sourceAddress, destination = packet.destinationAddress
        guestAddresses.observe(source)
        if destination.isMulticast { return }
        handle(datagram, key: FlowKey(guest: FlowAddress(high: source.high, low: source.low),
                                      remote: FlowAddress(high: destination.high, low: destination.low),
                                      guestPort: datagram.sourcePort, remotePort: datagram.destinationPort),
               timeToLive: packet.hopLimit, datagramSize: offload.datagramSize, now: now)
    }

    /// `datagramSize` > 0: the payload is datagrams of that size (the last may be shorter), sent as one
    /// frame by a namespace with UDP segmentation offload; each leaves as the datagram it stands for.
    private func handle(_ datagram: UDPDatagram, key: FlowKey, timeToLive: UInt8, datagramSize: Int, now: Int) {
        let flow: UDPFlow
        if let index = table.index(of: key), let existing = table[index] {
            flow = existing
        } else {
            guard let created = openOutbound(key, now: now) else { return }
            flow = created
        }
        flow.lastActivity = now
        flow.heardFromGuest = true
        if let socket = flow.socket, flow.timeToLive != timeToLive {
            // What is queued went with the TTL it came with: out first, then the new one applies.
            flushDatagrams()
            if SocketCalls.setTimeToLive(socket.raw, ipv4: key.guest.isIPv4, timeToLive) { flow.timeToLive = timeToLive }
        }
        let payload = datagram.payload
        guard datagramSize > 0 && payload.count > datagramSize else { return send(payload, on: flow) }
        var start = 0
        while start < payload.count {
            let end = min(start + datagramSize, payload.count)
            send(UnsafeRawBufferPointer(rebasing: payload[start..<end]), on: flow)
            start = end
        }
    }

    private func send(_ payload: UnsafeRawBufferPointer, on flow: UDPFlow) {
        if let socket = flow.socket {
            // Queued for one sendmmsg() per flow and batch; the frame stays in the batch buffer until then.
            outbound.append(payload, on: socket.raw)
        } else if let listener = flow.listener, let client = flow.client {
            _ = SocketCalls.send(listener.socket.raw, payload, to: client, port: flow.clientPort)
        }
    }

    /// Sends the guest's queued datagrams; called before the frames they point into are reused.
    public func flushDatagrams() { outbound.flush() }

    private func openOutbound(_ key: FlowKey, now: Int) -> UDPFlow? {
        // Ports of the --dns-forward address other than 53 lead nowhere.
        guard let destination = translation.hostDestination(for: key.remote.ip, port: key.remotePort) else { return nil }
        if table.isNearlyFull { reclaimUnanswered(now: now) }
        var opened = SocketCalls.open(family: destination.family, type: SocketCalls.datagram)
        if case .failure(let error) = opened, isOutOfDescriptors(error.code), reclaimUnanswered(now: now) > 0 {
            opened = SocketCalls.open(family: destination.family, type: SocketCalls.datagram)
        }
        let fd: Int32
        switch opened {
        case .success(let descriptor): fd = descriptor
        case .failure(let error):
            if isOutOfDescriptors(error.code) { logTableFull() } else { logDebug("UDP: can't open a socket: \(error)") }
            return nil
        }
        let socket = Descriptor(fd)
        SocketCalls.setBufferSizes(fd, Self.socketBuffer)
        SocketCalls.queueErrors(fd, ipv4: destination.family == AF_INET)
        if let error = translation.bindOutbound(fd, to: destination)
            ?? SocketCalls.connect(fd, family: destination.family, address: destination.networkBytes, port: key.remotePort) {
            logDebug("UDP: can't reach \(destination) port \(key.remotePort): \(error)")
            return nil
        }
        guard let flow = table.insert(key, { index, generation in
            UDPFlow(index: index, generation: generation, key: key, socket: socket, listener: nil, client: nil,
                    clientPort: 0, now: now)
        }) else {
            logTableFull()
            return nil
        }
        do {
            try poll.add(fd, EventReference(.udpSocket, index: UInt32(flow.index), generation: flow.generation))
        } catch {
            table.remove(key)
            return nil
        }
        flowLog.log(now: now, "UDP: \(Self.describe(key)) opened (via \(destination))")
        return flow
    }

    /// Both endpoints, as the guest sees them.
    private static func describe(_ key: FlowKey) -> String {
        "guest \(key.guest.ip) port \(key.guestPort) <-> \(key.remote.ip) port \(key.remotePort)"
    }

    // MARK: Datagrams from the host

    /// Replies from a flow's socket, up to 32 per recvmmsg() straight behind the headers of as many frames;
    /// errors it queued (EPOLLERR) go to the guest as ICMP errors.
    public func socketEvent(_ reference: EventReference, events: UInt32, now: Int) {
        guard let flow = table[Int(reference.index)], flow.generation == reference.generation,
              let socket = flow.socket
        else { return }
        if events & EventPoll.error != 0 {
            flow.lastActivity = now
            errors.drain(socket.raw, key: flow.key, sent: .udp,
                         hostDestination: translation.hostDestination(for: flow.key.remote.ip, port: flow.key.remotePort)
                             ?? flow.key.remote.ip,
                         hopLimit: flow.timeToLive, now: now)
        }
        guard !port.isFull else {
            // Level-triggered: left in epoll, the unread socket would wake us at once, again and again.
            if !flow.paused { pausedFlows.append(flow.index) }
            flow.paused = true
            watch(flow, events: 0)
            return
        }
        replies.place(at: flow.key.guest.isIPv4 ? ReplyFrame.udp4PayloadOffset : ReplyFrame.udp6PayloadOffset)
        for _ in 0..<(Self.datagramsPerEvent / Self.framesPerReceive) {
            let received = SocketCalls.receiveDatagrams(socket.raw, bases: replies.bases, lengths: replies.lengths,
                                                        count: Self.framesPerReceive, received: replies.received)
            // Drained, or an ICMP error queued on the connected socket.
            guard case .done(let count) = received, count > 0 else { return }
            flow.lastActivity = now
            flow.heardFromPeer = true
            if port.udpSegmentation && count > 1 {
                sendRuns(flow.key, count: count)
            } else {
                for slot in 0..<count {
                    sendToGuest(flow.key, payloadLength: replies.received[slot], in: replies.slot(slot))
                }
            }
            if count < Self.framesPerReceive { return }
        }
    }

    /// Datagrams a forwarding socket received from client:port for the guest, in `slots` of `batch`, each
    /// at `payloadOffset` (room for either family's headers) in a slot of a whole frame's size. Several
    /// (a run of equal sizes, only the last shorter) go as one frame, built in the first one's slot.
    func deliverInbound(_ batch: DatagramBatch, slots: Range<Int>, payloadOffset offset: Int,
                        from client: IPAddress, port: UInt16, on listener: Listener, now: Int) {
        guard let remote = translation.guestSource(for: client),
              let guest = listener.targetAddress ?? guestAddresses.address(like: remote), guest.family == remote.family else {
            return
        }
        let key = FlowKey(guest: FlowAddress(guest), remote: FlowAddress(remote), guestPort: listener.targetPort,
                          remotePort: port)
        let flow: UDPFlow
        if let index = table.index(of: key), let existing = table[index] {
            flow = existing
            flow.listener = listener
        } else {
            guard let created = table.insert(key, { slot, generation in
                UDPFlow(index: slot, generation: generation, key: key, socket: nil, listener: listener,
                        client: client, clientPort: port, now: now)
            }) else {
                return logTableFull()
            }
            flow = created
            flowLog.log(now: now, "UDP: \(Self.describe(key)) opened by \(client) port \(port) on the host")
        }
        flow.lastActivity = now
        flow.heardFromPeer = true
        let payloadOffset = key.guest.isIPv4 ? ReplyFrame.udp4PayloadOffset : ReplyFrame.udp6PayloadOffset
        let frame = batch.slot(slots.lowerBound)
        let first = batch.received[slots.lowerBound]
        if payloadOffset != offset {
            (frame.baseAddress! + payloadOffset).copyMemory(from: frame.baseAddress! + offset, byteCount: first)
        }
        guard slots.count > 1 else { return sendToGuest(key, payloadLength: first, in: frame) }
        let rest = batch.gather(slots.dropFirst(), to: frame.baseAddress! + payloadOffset + first)
        sendToGuest(key, payloadLength: first + rest, in: frame, datagramSize: first)
    }

    /// The `count` replies just received: runs of equal-sized ones (only the last may be shorter) go as one
    /// frame each, their payloads copied behind the first one's in its slot, for the guest's stack to cut
    /// (a backend with UDP segmentation); the others one frame each.
    private func sendRuns(_ key: FlowKey, count: Int) {
        var index = 0
        while index < count {
            let run = SegmentRun.length(replies.received, count: count, from: index)
            let first = replies.received[index]
            guard run > 1 else {
                sendToGuest(key, payloadLength: first, in: replies.slot(index))
                index += 1
                continue
            }
            // The slot has room for SegmentRun.maximumBytes after the headers: the run fits.
            let rest = replies.gather(index + 1..<index + run, to: replies.bases[index]! + first)
            sendToGuest(key, payloadLength: first + rest, in: replies.slot(index), datagramSize: first)
            index += run
        }
    }

    /// `datagramSize` > 0: the payload is datagrams of that size, sent as one frame (`sendRuns`).
    private func sendToGuest(_ key: FlowKey, payloadLength: Int, in frame: UnsafeMutableRawBufferPointer,
                             datagramSize: Int = 0) {
        let length: Int
        if key.guest.isIPv4 {
            guard payloadLength <= 65535 - 28 else { return }
            length = ReplyFrame.completeUDPv4(
                frame, payloadLength: payloadLength, sourceMAC: ourMAC, destinationMAC: port.guestMAC,
                source: IPv4Address(UInt32(truncatingIfNeeded: key.remote.low)),
                destination: IPv4Address(UInt32(truncatingIfNeeded: key.guest.low)),
                sourcePort: key.remotePort, destinationPort: key.guestPort, partialChecksum: datagramSize > 0)
        } else {
            guard payloadLength <= 65535 - 8 else { return }
            length = ReplyFrame.completeUDPv6(
                frame, payloadLength: payloadLength, sourceMAC: ourMAC, destinationMAC: port.guestMAC,
                source: IPv6Address(high: key.remote.high, low: key.remote.low),
                destination: IPv6Address(high: key.guest.high, low: key.guest.low),
                sourcePort: key.remotePort, destinationPort: key.guestPort, partialChecksum: datagramSize > 0)
        }
        let built = UnsafeRawBufferPointer(start: frame.baseAddress, count: length)
        if datagramSize > 0 {
            port.sendDatagrams(built, datagramSize: datagramSize)
        } else {
            port.send(built)
        }
    }

    /// The guest's backend drained: sockets left unread go back into epoll, which reports at once those
    /// with datagrams waiting.
    public func resume() {
        for index in pausedFlows {
            guard let flow = table[index], flow.paused else { continue }
            flow.paused = false
            watch(flow, events: EventPoll.readable)
        }
        pausedFlows.removeAll(keepingCapacity: true)
    }

    /// Changes what the flow's socket is watched for; a flow whose socket can't be watched as it needs is
    /// closed (its next datagram opens a new one) rather than left deaf.
    private func watch(_ flow: UDPFlow, events: UInt32) {
        guard let socket = flow.socket else { return }
        do {
            try poll.modify(socket.raw, EventReference(.udpSocket, index: UInt32(flow.index), generation: flow.generation),
                            events: events)
        } catch {
            logDebug("UDP: \(error); the flow is closed")
            poll.remove(socket.raw)
            table.remove(flow.key)
        }
    }

    // MARK: Timers

    /// Expires idle flows, closing their sockets.
    public func tick(now: Int) {
        flushDatagrams()
        var expired: [UDPFlow] = []
        table.forEach { flow in
            let limit = flow.heardFromGuest && flow.heardFromPeer ? Self.twoWayTimeout : Self.unansweredTimeout
            if now - flow.lastActivity > limit { expired.append(flow) }
        }
        for flow in expired {
            if let socket = flow.socket { poll.remove(socket.raw) }
            table.remove(flow.key)
            flowLog.log(now: now, "UDP: \(Self.describe(flow.key)) expired, "
                        + (flow.heardFromGuest && flow.heardFromPeer ? "idle" : "unanswered"))
        }
    }

    var count: Int { table.count }

    /// Closes the flows the guest opened to `remote` port `port` (the --dns-forward address, when the
    /// resolver behind it changed): the guest's next datagram opens one to where it goes now.
    func closeFlows(to remote: IPAddress, port: UInt16, now: Int) {
        var closing: [UDPFlow] = []
        table.forEach { if $0.key.remote.ip == remote && $0.key.remotePort == port { closing.append($0) } }
        for flow in closing {
            if let socket = flow.socket { poll.remove(socket.raw) }
            table.remove(flow.key)
            flowLog.log(now: now, "UDP: \(Self.describe(flow.key)) closed, its resolver changed")
        }
    }

    /// Flows or descriptors are running out: the oldest half of the flows nobody answered make room.
    @discardableResult
    private func reclaimUnanswered(now: Int) -> Int {
        table.reclaim(now: now, age: { $0.heardFromGuest && $0.heardFromPeer ? nil : $0.lastActivity },
                      evict: { flow in
                          if let socket = flow.socket { poll.remove(socket.raw) }
                          table.remove(flow.key)
                          flowLog.log(now: now, "UDP: \(Self.describe(flow.key)) reclaimed, flows running out")
                      })
    }

    private func logTableFull() {
        if !tableFullLogged {
            logWarning("UDP: flow limit reached (\(table.capacity) flows); new flows are dropped")
            tableFullLogged = true
        }
    }
}
