import CLinux
import Glibc

/// A TCP connection's host socket: non-blocking, no Nagle delay (the guest's stack already coalesces),
/// and a peek offset, so each MSG_PEEK goes on after what was already sent to the guest. Every call the
/// TCP engine makes on it is here, with errors as values; so is its epoll registration.
final class TCPSocket: HostSocket {
    private let descriptor: Descriptor
    private let poll: EventPoll
    private var reference: EventReference?
    /// Scratch for gathering; the event loop is one thread, so one set serves every socket.
    private static let bases = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: Int(CLinux_MAX_PARTS))
    private static let lengths = UnsafeMutablePointer<Int>.allocate(capacity: Int(CLinux_MAX_PARTS))
    /// Most buffers one peek or send gathers.
    static let maximumParts = Int(CLinux_MAX_PARTS)
    /// While connecting: errors are queued with who reported them, and the TTL is the guest's SYN's
    /// where that differs from the usual 64 (traceroute -T).
    private var ipv4 = true
    private var timeToLiveChanged = false
    private static let errorQuote = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 8)

    /// Takes `descriptor` (accepted or just created); nil if the kernel lacks SO_PEEK_OFF for TCP.
    init?(_ descriptor: Descriptor, poll: EventPoll) {
        self.descriptor = descriptor
        self.poll = poll
        _ = CLinux_set_nodelay(descriptor.raw)
        guard CLinux_set_peek_offset(descriptor.raw, 0) == 0 else {
            logError("TCP: this kernel has no SO_PEEK_OFF for TCP sockets (Linux 6.10 or later needed)")
            return nil
        }
    }

    /// A socket connecting to `destination` port `port`, bound first to `source` and/or `device` where
    /// given (the outbound address and interface options).
    static func connect(to destination: IPAddress, port: UInt16, source: IPAddress?, device: String?,
                        timeToLive: UInt8, poll: EventPoll) -> Result<HostSocket, SystemError> {
        let family = destination.family
        let fd = CLinux_socket(family, Int32(SOCK_STREAM.rawValue))
        guard fd >= 0 else { return .failure(SystemError("socket")) }
        let descriptor = Descriptor(fd)
        guard let socket = TCPSocket(descriptor, poll: poll) else { return .failure(SystemError("SO_PEEK_OFF", code: ENOPROTOOPT)) }
        if source != nil || device != nil {
            let bytes = source?.networkBytes ?? [UInt8](repeating: 0, count: destination.networkBytes.count)
            guard CLinux_bind_ip(fd, family, bytes, 0, device) == 0 else { return .failure(SystemError("bind")) }
        }
        socket.ipv4 = family == AF_INET
        SocketCalls.queueErrors(fd, ipv4: socket.ipv4)
        if timeToLive != 64 { socket.timeToLiveChanged = SocketCalls.setTimeToLive(fd, ipv4: socket.ipv4, timeToLive) }
        if CLinux_connect_ip(fd, family, destination.networkBytes, port) < 0 && errno != EINPROGRESS {
            return .failure(SystemError("connect"))
        }
        return .success(socket)
    }

    func send(_ parts: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> IOResult {
        if parts.count == 1 {
            return IOResult(returned: CLinux_send(descriptor.raw, parts[0].baseAddress, parts[0].count))
        }
        let count = min(parts.count, Self.maximumParts)
        for index in 0..<count {
            Self.bases[index] = UnsafeMutableRawPointer(mutating: parts[index].baseAddress)
            Self.lengths[index] = parts[index].count
        }
        return Self.bases.withMemoryRebound(to: UnsafeRawPointer?.self, capacity: count) {
            IOResult(returned: CLinux_send_parts(descriptor.raw, $0, Self.lengths, Int32(count)))
        }
    }

    func peek(into buffers: UnsafeBufferPointer<UnsafeMutableRawBufferPointer>) -> IOResult {
        let count = min(buffers.count, Self.maximumParts)
        for index in 0..<count {
            Self.bases[index] = buffers[index].baseAddress
            Self.lengths[index] = buffers[index].count
        }
        return IOResult(returned: CLinux_peek_into(descriptor.raw, Self.bases, Self.lengths, Int32(count)))
    }

    func setPeekOffset(_ offset: Int) { _ = CLinux_set_peek_offset(descriptor.raw, Int32(clamping: offset)) }

    func discard(_ count: Int) -> Int {
        var left = count
        while left > 0 {
            let n = CLinux_discard(descriptor.raw, left)
            if n <= 0 { break }
            left -= n
        }
        return count - left
    }

    func shutdownWrite() { _ = CLinux_shutdown_write(descriptor.raw) }

    func sendMemory() -> (size: Int, queued: Int)? {
        var size: Int32 = 0, queued: Int32 = 0
        return CLinux_send_memory(descriptor.raw, &size, &queued) == 0 ? (Int(size), Int(queued)) : nil
    }

    var sendBufferSize: Int { max(0, Int(CLinux_send_buffer_size(descriptor.raw))) }

    func pendingError() -> Int32 { CLinux_socket_error(descriptor.raw) }

    func watch(index: Int, generation: UInt32, connecting: Bool) -> Bool {
        let reference = EventReference(.tcpSocket, index: UInt32(index), generation: generation)
        self.reference = reference
        let events = connecting ? CLinux_EPOLLOUT : CLinux_EPOLLIN | CLinux_EPOLLRDHUP | CLinux_EPOLLET
        do {
            try poll.add(descriptor.raw, reference, events: events)
            return true
        } catch {
            logDebug("TCP: can't watch a socket: \(error)")
            return false
        }
    }

    func watchWritable(_ writable: Bool) -> Bool {
        guard let reference else { return false }
        var events = CLinux_EPOLLIN | CLinux_EPOLLRDHUP | CLinux_EPOLLET
        if writable { events |= CLinux_EPOLLOUT }
        do {
            try poll.modify(descriptor.raw, reference, events: events)
            return true
        } catch {
            logDebug("TCP: can't change what a socket is watched for: \(error)")
            return false
        }
    }

    /// Connected: a soft ICMP error must stay soft (with IP_RECVERR the kernel makes it the connection's
    /// error), and the TTL goes back to the default.
    func connectFinished() {
        SocketCalls.queueErrors(descriptor.raw, ipv4: ipv4, false)
        if timeToLiveChanged { SocketCalls.setTimeToLive(descriptor.raw, ipv4: ipv4, nil) }
        timeToLiveChanged = false
    }

    func takeQueuedError() -> QueuedSocketError? {
        var first: QueuedSocketError?
        while let (error, _) = SocketCalls.receiveError(descriptor.raw, into: Self.errorQuote) {
            if first == nil && error.error != 0 { first = error }
        }
        return first
    }

    func close(abort: Bool) {
        if abort { _ = CLinux_set_linger_reset(descriptor.raw) }
        if reference != nil { poll.remove(descriptor.raw) }
        reference = nil
        descriptor.close()
    }
}

extension SocketReadiness {
    /// From epoll's event bits.
    init(epollEvents events: UInt32) {
        var readiness: SocketReadiness = []
        if events & CLinux_EPOLLIN != 0 { readiness.insert(.readable) }
        if events & CLinux_EPOLLOUT != 0 { readiness.insert(.writable) }
        if events & (CLinux_EPOLLRDHUP | CLinux_EPOLLHUP) != 0 { readiness.insert(.peerClosed) }
        if events & CLinux_EPOLLERR != 0 { readiness.insert(.error) }
        self = readiness
    }
}
