import AdapterSupport
import CLinux
import Glibc
import PastaCore

/// slirp4netns's API socket (`-a PATH`): a client sends one JSON request (up to 4096 bytes), shuts down its
/// side, and gets one JSON reply (SlirpHostForwards). Served from the event loop without blocking it, up
/// to `maximumClients` at once (the rest wait in the backlog); a request is answered as soon as it is a
/// complete JSON document or the client's side closes, and a client that has done neither within
/// `deadline` is dropped.
final class SlirpAPIServer: APISocketServer {
    static let deadlineMilliseconds = 5000
    static let maximumRequest = 4096
    static let maximumClients = 16

    private final class Client {
        let socket: Descriptor
        let reference: EventReference
        let deadline: Int
        var request: [UInt8] = []
        var reply: [UInt8]?
        var sent = 0
        /// The reply is out and our side shut down: what the client still sends is read and dropped until it
        /// closes (closing with unread bytes would reset the connection before it read the reply).
        var draining = false

        init(socket: Descriptor, reference: EventReference, deadline: Int) {
            self.socket = socket
            self.reference = reference
            self.deadline = deadline
        }
    }

    private let listener: UnixListener
    private let poll: EventPoll
    private let forwards: SlirpHostForwards
    private var clients: [Client?] = Array(repeating: nil, count: SlirpAPIServer.maximumClients)
    private var generation: UInt32 = 0
    private var listening = true
    private var buffer = [UInt8](repeating: 0, count: SlirpAPIServer.maximumRequest + 1)

    /// The server of `context`, for PastaCore's datapath (APISocket.factory).
    convenience init(_ context: APISocket.Context) throws {
        try self.init(path: context.path, poll: context.poll,
                      forwards: SlirpHostForwards(table: context.forwarding, guest4: context.guest4, guest6: context.guest6))
    }

    init(path: String, poll: EventPoll, forwards: SlirpHostForwards) throws {
        listener = try UnixListener(path: path, backlog: 64, purpose: "API socket")
        self.poll = poll
        self.forwards = forwards
        do {
            try poll.add(listener.descriptor.raw, EventReference(.apiListener))
        } catch {
            listener.remove()
            throw error
        }
    }

    public func remove() {
        for client in clients.compactMap({ $0 }) { close(client) }
        listener.remove()
    }

    public func accept(now: Int) {
        while let slot = clients.firstIndex(where: { $0 == nil }) {
            guard let socket = listener.accept() else { return }
            generation &+= 1
            let client = Client(socket: socket, reference: EventReference(.apiClient, index: UInt32(slot), generation: generation),
                                deadline: now + Self.deadlineMilliseconds)
            do {
                try poll.add(socket.raw, client.reference, events: CLinux_EPOLLIN)
            } catch {
                continue
            }
            clients[slot] = client
        }
        // Full: the rest wait in the backlog until a slot frees (level-triggered, so out of epoll till then).
        setListening(false)
    }

    public func clientEvent(_ reference: EventReference, events: UInt32, now: Int) {
        guard Int(reference.index) < clients.count, let client = clients[Int(reference.index)],
              client.reference == reference else { return }
        if client.draining { return drain(client) }
        if client.reply != nil {
            if events & (CLinux_EPOLLOUT | CLinux_EPOLLHUP | CLinux_EPOLLERR) != 0 { send(client) }
            return
        }
        receive(client)
    }

    /// Every 100 ms: clients past their deadline are dropped.
    public func tick(now: Int) {
        for client in clients.compactMap({ $0 }) where now >= client.deadline {
            logDebug("API socket: client dropped after \(Self.deadlineMilliseconds / 1000) s")
            close(client)
        }
    }

    private func receive(_ client: Client) {
        let n = buffer.withUnsafeMutableBytes { Glibc.recv(client.socket.raw, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        if n < 0 { return close(client) }
        if n == 0 { return answer(client) }
        client.request += buffer[0..<n]
        if client.request.count > Self.maximumRequest {
            client.request = []
            return answer(client, with: .object([("error", .object([("desc", .string("bad request: larger than \(Self.maximumRequest) bytes"))]))]))
        }
        // Complete once it parses as an object: no need to wait for the client's shutdown.
        if client.request.last == UInt8(ascii: "}") || client.request.last == UInt8(ascii: "\n"),
           case .object? = try? JSONValue(parsing: client.request, limits: SlirpHostForwards.limits) {
            answer(client)
        }
    }

    private func answer(_ client: Client, with reply: JSONValue? = nil) {
        let value = reply ?? forwards.reply(to: client.request)
        if case .object(let members) = value, members.first?.0 == "error" {
            logDebug("API socket: \(value.serialized)")
        }
        client.reply = Array(value.serialized.utf8)
        send(client)
    }

    private func send(_ client: Client) {
        guard let reply = client.reply else { return }
        while client.sent < reply.count {
            let n = reply.withUnsafeBytes {
                Glibc.send(client.socket.raw, $0.baseAddress! + client.sent, $0.count - client.sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            }
            if n > 0 {
                client.sent += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN {
                try? poll.modify(client.socket.raw, client.reference, events: CLinux_EPOLLOUT)
                return
            }
            return close(client)
        }
        shutdown(client.socket.raw, Int32(SHUT_WR))
        client.draining = true
        try? poll.modify(client.socket.raw, client.reference, events: CLinux_EPOLLIN)
        drain(client)
    }

    private func drain(_ client: Client) {
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(client.socket.raw, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return }
            return close(client)
        }
    }

    private func close(_ client: Client) {
        poll.remove(client.socket.raw)
        client.socket.close()
        clients[Int(client.reference.index)] = nil
        setListening(true)
    }

    private func setListening(_ on: Bool) {
        guard on != listening else { return }
        listening = on
        try? poll.modify(listener.descriptor.raw, EventReference(.apiListener), events: on ? CLinux_EPOLLIN : 0)
    }
}
