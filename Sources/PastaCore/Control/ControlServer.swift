import CLinux
import Glibc

/// The `-c PATH` control socket: pesto clients read the forwarding tables and may replace them (protocol
/// version 2, PestoProtocol). One client is served at a time; the others wait in the backlog. A client is
/// handled from the event loop without ever blocking it: the greeting goes out as the socket takes it, the
/// update is read as it arrives, and a client that hasn't finished within `deadline` is dropped. An update
/// is applied whole or not at all (LiveForwarding); a rejected one is logged with its reason.
final class ControlServer {
    static let deadlineMilliseconds = 5000
    static let readChunk = 16384

    private final class Client {
        let socket: Descriptor
        let reference: EventReference
        let deadline: Int
        var output: [UInt8]
        var sent = 0
        var reader = PestoUpdateReader()

        init(socket: Descriptor, reference: EventReference, deadline: Int, output: [UInt8]) {
            self.socket = socket
            self.reference = reference
            self.deadline = deadline
            self.output = output
        }
    }

    private let listener: UnixListener
    private let poll: EventPoll
    private let forwarding: LiveForwarding
    private var client: Client?
    private var clients: UInt32 = 0
    private var buffer = [UInt8](repeating: 0, count: ControlServer.readChunk)

    var path: String { listener.path }

    init(path: String, poll: EventPoll, forwarding: LiveForwarding) throws {
        listener = try UnixListener(path: path, purpose: "control socket")
        self.poll = poll
        self.forwarding = forwarding
        do {
            try poll.add(listener.descriptor.raw, EventReference(.controlListener))
        } catch {
            listener.remove()
            throw error
        }
    }

    /// At exit.
    func remove() {
        if let client { close(client) }
        listener.remove()
    }

    /// A client is waiting: served if none is.
    func accept(now: Int) {
        guard client == nil, let socket = listener.accept() else { return }
        clients &+= 1
        let reference = EventReference(.controlClient, generation: clients)
        let greeting = PestoProtocol.hello + PestoProtocol.dump(forwarding.tables, capabilities: forwarding.capabilities)
        let served = Client(socket: socket, reference: reference, deadline: now + Self.deadlineMilliseconds, output: greeting)
        do {
            try poll.add(socket.raw, reference, events: CLinux_EPOLLIN | CLinux_EPOLLOUT)
            // Level-triggered: out of epoll while a client is served, or every waiting client wakes us.
            try poll.modify(listener.descriptor.raw, EventReference(.controlListener), events: 0)
        } catch {
            logWarning("control socket: can't serve a client: \(error)")
            poll.remove(socket.raw)
            return
        }
        client = served
        logDebug("control socket: client connected")
    }

    func clientEvent(_ reference: EventReference, events: UInt32, now: Int) {
        guard let client, client.reference == reference else { return }
        if events & CLinux_EPOLLOUT != 0 { send(client) }
        guard self.client === client else { return }
        if events & (CLinux_EPOLLIN | CLinux_EPOLLHUP | CLinux_EPOLLERR) != 0 { receive(client) }
    }

    /// Every 100 ms: a client past its deadline is dropped.
    func tick(now: Int) {
        guard let client, now >= client.deadline else { return }
        logWarning("control socket: client dropped after \(Self.deadlineMilliseconds / 1000) s without a complete update")
        close(client)
    }

    private func send(_ client: Client) {
        while client.sent < client.output.count {
            let n = client.output.withUnsafeBytes {
                Glibc.send(client.socket.raw, $0.baseAddress! + client.sent, $0.count - client.sent,
                           Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if n > 0 {
                client.sent += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return }
            // The client left before reading everything: what it sent, if anything, still counts.
            break
        }
        client.output = []
        client.sent = 0
        try? poll.modify(client.socket.raw, client.reference, events: CLinux_EPOLLIN)
    }

    private func receive(_ client: Client) {
        let n = buffer.withUnsafeMutableBytes { Glibc.recv(client.socket.raw, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if n < 0 {
            if errno == EAGAIN || errno == EINTR { return }
            return finish(client, client.reader.finish())
        }
        if n == 0 { return finish(client, client.reader.finish()) }
        let state = buffer.withUnsafeBytes { client.reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        if state != .reading { finish(client, state) }
    }

    private func finish(_ client: Client, _ state: PestoUpdateReader.State) {
        close(client)
        switch state {
        case .reading:
            break
        case .malformed(let reason):
            logWarning("control socket: update rejected, nothing changed: \(reason)")
        case .complete(let tables):
            guard !tables.isEmpty else { return }
            do {
                try forwarding.replace(with: tables)
                logInfo("forwarding tables set by a control client: " + forwarding.tables.map(\.description).joined(separator: "; "))
            } catch {
                logWarning("control socket: update rejected, nothing changed: \(error)")
            }
        }
    }

    private func close(_ client: Client) {
        poll.remove(client.socket.raw)
        client.socket.close()
        self.client = nil
        try? poll.modify(listener.descriptor.raw, EventReference(.controlListener), events: CLinux_EPOLLIN)
    }
}
