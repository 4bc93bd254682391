import Glibc

/// The forwarding sockets of one protocol, on both sides, opened for the forwarding tables' rules and by
/// auto mode while running.
public final class Listeners {
    public enum Transport {
        case tcp
        case udp
    }

    public let transport: Transport
    private let table = SlotTable<Listener>(capacity: 1 << 20)
    private let poll: EventPoll
    private let namespace: NetworkNamespace?
    /// `--freebind`: sockets bound to a specific address don't need it configured yet.
    private let freebind: Bool

    public init(_ transport: Transport, poll: EventPoll, namespace: NetworkNamespace?, freebind: Bool = false) {
        self.transport = transport
        self.poll = poll
        self.namespace = namespace
        self.freebind = freebind
    }

    public var count: Int { table.count }

    /// The listener an epoll reference points to, if it is still the same one.
    public subscript(reference: EventReference) -> Listener? {
        guard let listener = table[Int(reference.index)], listener.reference.generation == reference.generation
        else { return nil }
        return listener
    }

    /// Opens a socket on `side` at address:port; throws with errno's reason when that fails.
    @discardableResult
    public func open(side: ForwardingSide, address: IPAddress, interface: String? = nil, port: UInt16,
                     targetPort: UInt16, targetAddress: IPAddress? = nil, automatic: Bool = false) throws -> Listener {
        // Only where the rule names an address: a wildcard is never "not configured".
        let freebind = freebind && !address.isUnspecified
        let makeSocket = { [transport] () -> Result<Int32, SystemError> in
            SocketCalls.listen(stream: transport == .tcp, family: address.family, address: address.networkBytes,
                               port: port, device: interface, freebind: freebind)
        }
        let result: Result<Int32, SystemError>
        if side == .namespace {
            guard let namespace, let made = namespace.inside(makeSocket) else {
                throw SystemError("can't enter the target namespace", code: EPERM)
            }
            result = made
        } else {
            result = makeSocket()
        }
        let fd = try result.get()
        let socket = Descriptor(fd)
        if transport == .udp { SocketCalls.setBufferSizes(fd, UDPFlows.socketBuffer) }
        let kind: EventKind = transport == .tcp ? .tcpListener : .udpListener
        let listener = table.insert { index, generation in
            Listener(socket: socket, side: side, address: address, interface: interface, port: port,
                     targetPort: targetPort, targetAddress: targetAddress, automatic: automatic,
                     reference: EventReference(kind, index: UInt32(index), generation: generation))
        }
        guard let listener else { throw SystemError("too many listening sockets", code: EMFILE) }
        do {
            try poll.add(fd, listener.reference)
        } catch {
            table.remove(at: Int(listener.reference.index))
            throw error
        }
        return listener
    }

    /// Closes a listener now (flows still holding it see a closed socket).
    public func close(_ listener: Listener) {
        poll.remove(listener.socket.raw)
        listener.socket.close()
        table.remove(at: Int(listener.reference.index))
    }

    public func forEach(_ body: (Listener) -> Void) { table.forEach(body) }
}
