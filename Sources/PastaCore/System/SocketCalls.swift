import CLinux
import Glibc

/// The socket, pipe and thread calls of the flows, the frame backends and the forwarding sockets: every
/// system call they make goes through here (or TCPSocket, EventPoll, Descriptor), so the list is in one
/// place for the seccomp filter, and errors come back as values: errno is read where the call failed.
/// Sockets are non-blocking and close-on-exec; addresses are raw bytes (4 or 16, network order).
enum SocketCalls {
    static let stream = Int32(SOCK_STREAM.rawValue)
    static let datagram = Int32(SOCK_DGRAM.rawValue)
    /// Most buffers one gathering call takes.
    static let maximumParts = Int(CLinux_MAX_PARTS)

    // MARK: Descriptors

    /// A new socket of `type` (`stream`, `datagram`) and `protocolNumber` (0: the type's own).
    static func open(family: Int32, type: Int32, protocolNumber: Int32 = 0) -> Result<Int32, SystemError> {
        let fd = protocolNumber == 0 ? CLinux_socket(family, type) : CLinux_socket_protocol(family, type, protocolNumber)
        return fd >= 0 ? .success(fd) : .failure(SystemError("socket"))
    }

    /// Binds to `address` (all zero: any) and `port`; `device` sets SO_BINDTODEVICE.
    static func bind(_ fd: Int32, family: Int32, address: [UInt8], port: UInt16, device: String?) -> SystemError? {
        CLinux_bind_ip(fd, family, address, port, device) == 0 ? nil : SystemError("bind")
    }

    /// Starts connecting: nil once connected or under way (EINPROGRESS), else why not.
    static func connect(_ fd: Int32, family: Int32, address: [UInt8], port: UInt16) -> SystemError? {
        if CLinux_connect_ip(fd, family, address, port) == 0 { return nil }
        let code = errno
        return code == EINPROGRESS ? nil : SystemError("connect", code: code)
    }

    /// A listening TCP socket, or a bound UDP one, on address:port (IPv6 ones v6-only); with `freebind`
    /// the address need not exist yet.
    static func listen(stream: Bool, family: Int32, address: [UInt8], port: UInt16, device: String?,
                       freebind: Bool) -> Result<Int32, SystemError> {
        let fd = stream ? CLinux_listen_ip(family, address, port, 1024, device, freebind ? 1 : 0)
                        : CLinux_udp_bound(family, address, port, device, freebind ? 1 : 0)
        return fd >= 0 ? .success(fd) : .failure(SystemError("bind"))
    }

    /// An accepted connection and its peer; `.wouldBlock` when none waits.
    static func accept(_ fd: Int32) -> (IOResult, peer: IPAddress?, port: UInt16) {
        var family: Int32 = 0, port: UInt16 = 0
        var address = [UInt8](repeating: 0, count: 16)
        let result = IOResult(returned: Int(CLinux_accept_ip(fd, &family, &address, &port)))
        guard case .done = result else { return (result, nil, 0) }
        return (result, IPAddress(family: family, shimBytes: address), port)
    }

    /// A UNIX stream listener at `path` (non-blocking), a blocking client connection to one, and an
    /// accepted connection on a listener.
    static func unixListen(_ path: String, backlog: Int32) -> Result<Int32, SystemError> {
        let fd = CLinux_unix_listen(path, backlog)
        return fd >= 0 ? .success(fd) : .failure(SystemError("listen on \(path)"))
    }

    static func unixConnect(_ path: String) -> Result<Int32, SystemError> {
        let fd = CLinux_unix_connect(path)
        return fd >= 0 ? .success(fd) : .failure(SystemError("connect to \(path)"))
    }

    static func unixAccept(_ fd: Int32) -> IOResult { IOResult(returned: Int(CLinux_accept(fd))) }

    // MARK: Options

    static func setNoDelay(_ fd: Int32) { _ = CLinux_set_nodelay(fd) }

    /// SO_LINGER with no timeout: the close sends a reset.
    static func setLingerReset(_ fd: Int32) { _ = CLinux_set_linger_reset(fd) }

    /// Asks for `bytes` of receive and send buffer (capped by the kernel).
    static func setBufferSizes<Size: BinaryInteger>(_ fd: Int32, _ bytes: Size) {
        CLinux_set_buffer_sizes(fd, Int32(clamping: bytes))
    }

    /// An integer socket option; false if refused.
    @discardableResult
    static func setIntegerOption(_ fd: Int32, level: Int32, name: Int32, _ value: Int32) -> Bool {
        var value = value
        return setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    /// IP_RECVERR / IPV6_RECVERR: ICMP errors about what the socket sent are queued for `receiveError`,
    /// with the address that reported them, besides failing the next call.
    /// `on` false: errors are no longer queued.
    static func queueErrors(_ fd: Int32, ipv4: Bool, _ on: Bool = true) {
        if ipv4 {
            setIntegerOption(fd, level: Int32(IPPROTO_IP), name: Int32(IP_RECVERR), on ? 1 : 0)
        } else {
            setIntegerOption(fd, level: Int32(IPPROTO_IPV6), name: Int32(IPV6_RECVERR), on ? 1 : 0)
        }
    }

    /// The TTL (hop limit) of what the socket sends from now on; nil: the system's default again.
    @discardableResult
    static func setTimeToLive(_ fd: Int32, ipv4: Bool, _ ttl: UInt8?) -> Bool {
        let value = ttl.map(Int32.init) ?? -1
        return ipv4 ? setIntegerOption(fd, level: Int32(IPPROTO_IP), name: Int32(IP_TTL), value)
            : setIntegerOption(fd, level: Int32(IPPROTO_IPV6), name: Int32(IPV6_UNICAST_HOPS), value)
    }

    /// Whether a failed send may have failed only because an ICMP error arrived since the socket's last
    /// call: with IP_RECVERR every such error, soft or hard, is left pending and fails (and clears on) the
    /// next call, whose data is not sent. Such a send is worth one more try.
    static func failedOnReportedError(_ result: IOResult) -> Bool {
        guard case .failed(let code) = result else { return false }
        return [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENONET, EACCES, ENOPROTOOPT, EOPNOTSUPP,
                EPROTO, EMSGSIZE].contains(code)
    }

    /// The oldest error in the socket's error queue and how many bytes of the packet it quotes (into
    /// `buffer`), or nil once the queue is empty.
    static func receiveError(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> (QueuedSocketError, Int)? {
        var error = CLinux_socket_error()
        let n = CLinux_receive_socket_error(fd, buffer.baseAddress, buffer.count, &error)
        guard n >= 0 else { return nil }
        var offender: IPAddress?
        if error.offender_family == AF_INET || error.offender_family == AF_INET6 {
            offender = IPAddress(family: error.offender_family, shimBytes: withUnsafeBytes(of: error.offender) { Array($0) })
        }
        return (QueuedSocketError(error: error.error, origin: error.origin, type: error.type, code: error.code,
                                  info: error.info, offender: offender), n)
    }

    /// SO_ERROR: the pending error, 0 if none.
    static func pendingError(_ fd: Int32) -> Int32 { CLinux_socket_error(fd) }

    static func shutdownWrite(_ fd: Int32) { _ = CLinux_shutdown_write(fd) }

    // MARK: Data

    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> IOResult {
        IOResult(returned: CLinux_send(fd, bytes.baseAddress, bytes.count))
    }

    /// One send gathering `count` buffers.
    static func send(_ fd: Int32, bases: UnsafePointer<UnsafeRawPointer?>, lengths: UnsafePointer<Int>, count: Int) -> IOResult {
        IOResult(returned: CLinux_send_parts(fd, bases, lengths, Int32(count)))
    }

    static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, to address: IPAddress, port: UInt16) -> IOResult {
        IOResult(returned: CLinux_sendto_ip(fd, bytes.baseAddress, bytes.count, address.family, address.networkBytes, port))
    }

    /// `count` datagrams with one sendmmsg() on a connected socket (or to address:port): how many went.
    static func sendDatagrams(_ fd: Int32, bases: UnsafePointer<UnsafeMutableRawPointer?>, lengths: UnsafePointer<Int>,
                              count: Int, to address: IPAddress? = nil, port: UInt16 = 0) -> IOResult {
        guard let address else { return IOResult(returned: Int(CLinux_send_datagrams(fd, bases, lengths, Int32(count)))) }
        return IOResult(returned: Int(CLinux_send_datagrams_to(fd, bases, lengths, Int32(count), address.family,
                                                              address.networkBytes, port)))
    }

    /// `count` payloads as datagrams of `segment` bytes with one UDP_SEGMENT send: the bytes sent.
    static func sendSegmented(_ fd: Int32, bases: UnsafePointer<UnsafeMutableRawPointer?>, lengths: UnsafePointer<Int>,
                              count: Int, segment: Int) -> IOResult {
        IOResult(returned: Int(CLinux_send_segmented(fd, bases, lengths, Int32(count), UInt16(segment))))
    }

    /// Up to `count` datagrams with one recvmmsg(): how many came, their sizes in `received`.
    static func receiveDatagrams(_ fd: Int32, bases: UnsafePointer<UnsafeMutableRawPointer?>, lengths: UnsafePointer<Int>,
                                 count: Int, received: UnsafeMutablePointer<Int>) -> IOResult {
        IOResult(returned: Int(CLinux_receive_datagrams(fd, bases, lengths, Int32(count), received)))
    }

    /// The same on an unbound socket, with each sender's family, address (16 bytes each) and port.
    static func receiveDatagrams(_ fd: Int32, bases: UnsafePointer<UnsafeMutableRawPointer?>, lengths: UnsafePointer<Int>,
                                 count: Int, received: UnsafeMutablePointer<Int>, families: UnsafeMutablePointer<Int32>,
                                 addresses: UnsafeMutablePointer<UInt8>, ports: UnsafeMutablePointer<UInt16>) -> IOResult {
        IOResult(returned: Int(CLinux_receive_datagrams_from(fd, bases, lengths, Int32(count), received, families,
                                                             addresses, ports)))
    }

    // MARK: Pipes, splice, threads

    /// Moves up to `count` bytes between a socket and a pipe without copying; `.done(0)` at the end.
    static func splice(from source: Int32, to destination: Int32, count: Int, more: Bool) -> IOResult {
        IOResult(returned: CLinux_splice(source, destination, count, more ? 1 : 0))
    }

    /// A non-blocking pipe asked to hold `size` bytes: its ends and capacity.
    static func pipe(size: Int) -> (read: Int32, write: Int32, capacity: Int)? {
        var fds: [Int32] = [-1, -1]
        let capacity = CLinux_pipe_sized(&fds, Int32(clamping: size))
        return capacity < 0 ? nil : (fds[0], fds[1], Int(capacity))
    }

    /// A blocking close-on-exec pipe.
    static func pipe() -> Result<(read: Int32, write: Int32), SystemError> {
        var fds: [Int32] = [-1, -1]
        return CLinux_pipe_cloexec(&fds) == 0 ? .success((fds[0], fds[1])) : .failure(SystemError("pipe"))
    }

    /// Runs `body(context)` on a detached thread of its own.
    static func startThread(_ body: @convention(c) (UnsafeMutableRawPointer?) -> Void,
                            _ context: UnsafeMutableRawPointer) -> Bool {
        CLinux_start_thread(body, context) == 0
    }

    static var onlineCPUs: Int { Int(CLinux_online_cpus()) }

    /// Raises the soft descriptor limit to the hard one; the new soft limit (0 if unknown).
    static func raiseFileLimit() -> Int { max(0, Int(CLinux_raise_file_limit())) }
}

extension SocketCalls {
    /// Up to `buffer.count` bytes and the descriptors that came with them (vhost-user's SCM_RIGHTS), at
    /// most 16; `truncated` when more came than fit (those were closed). Non-blocking.
    static func receiveWithDescriptors(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer)
        -> (IOResult, descriptors: [Int32], truncated: Bool) {
        var fds = [Int32](repeating: -1, count: 16)
        var count: Int32 = 0
        var truncated: Int32 = 0
        let n = fds.withUnsafeMutableBufferPointer {
            CLinux_receive_with_fds(fd, buffer.baseAddress, buffer.count, $0.baseAddress, 16, &count, &truncated)
        }
        let result = IOResult(returned: n)
        return (result, Array(fds[0..<Int(count)]), truncated != 0)
    }
}

/// An error from a socket's error queue (sock_extended_err, ip(7) IP_RECVERR).
struct QueuedSocketError {
    static let originLocal: UInt8 = 1
    static let originICMP: UInt8 = 2
    static let originICMP6: UInt8 = 3

    /// errno's value for it; 0 if the kernel said nothing about it.
    var error: Int32
    var origin: UInt8
    /// The ICMP (or ICMPv6) type and code, for errors that came as one.
    var type: UInt8
    var code: UInt8
    /// The MTU, for fragmentation needed / packet too big and local EMSGSIZE.
    var info: UInt32
    /// Who sent the ICMP error, if the kernel said.
    var offender: IPAddress?
}
