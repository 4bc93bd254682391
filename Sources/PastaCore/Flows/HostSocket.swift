/// A TCP connection's socket on the host, as the TCP engine uses it: the socket's queues are the
/// connection's only buffers (see TCPConnection). The real one is `TCPSocket` (System/); the simulation
/// tests use one in memory.
protocol HostSocket: AnyObject {
    /// One send gathering `parts`; `.done(n)`: the first n bytes were taken.
    func send(_ parts: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> IOResult
    /// Reads into `buffers`, in order, from the peek offset on without consuming; the offset moves past
    /// what was read. `.done(0)`: the peer's stream ended there.
    func peek(into buffers: UnsafeBufferPointer<UnsafeMutableRawBufferPointer>) -> IOResult
    /// Where the next peek starts, in bytes from the head of the receive queue.
    func setPeekOffset(_ offset: Int)
    /// Drops up to `count` bytes from the head of the receive queue; returns how many went.
    func discard(_ count: Int) -> Int
    /// Our side's FIN to the peer, after what the send buffer holds.
    func shutdownWrite()
    /// The send buffer's size and what its queue takes, in the kernel's accounting (payload plus
    /// overhead); nil if unknown.
    func sendMemory() -> (size: Int, queued: Int)?
    /// The send buffer's size in bytes, as the SYN's window.
    var sendBufferSize: Int { get }
    /// The socket's pending error (SO_ERROR), 0 if none.
    func pendingError() -> Int32
    /// Starts watching the socket (readable, the peer's FIN, errors; and writable while `connecting`),
    /// its events tagged with the connection's slot. False if that failed: the connection can't go on.
    func watch(index: Int, generation: UInt32, connecting: Bool) -> Bool
    /// Adds or removes interest in the socket becoming writable. False if that failed.
    func watchWritable(_ writable: Bool) -> Bool
    /// Stops watching and closes; `abort`: the peer gets a reset instead of a FIN.
    func close(abort: Bool)
    /// The connect succeeded: what it was set up with for the guest's SYN (its TTL, errors queued with
    /// their reporters) goes back to the socket's defaults.
    func connectFinished()
    /// The error an ICMP message queued while connecting (who reported what), if any; the queue is
    /// emptied.
    func takeQueuedError() -> QueuedSocketError?
}

extension HostSocket {
    func connectFinished() {}
    func takeQueuedError() -> QueuedSocketError? { nil }
}

/// Opens host sockets for connections the guest starts.
protocol HostSocketOpener: AnyObject {
    /// A new socket, connecting (non-blocking) to `destination` port `port` with the guest's SYN's
    /// `timeToLive`; it turns writable, or reports an error, once the connect is done.
    func connect(to destination: IPAddress, port: UInt16, timeToLive: UInt8) -> Result<HostSocket, SystemError>
}

/// What the event loop saw on a host socket.
struct SocketReadiness: OptionSet {
    let rawValue: UInt8
    static let readable = SocketReadiness(rawValue: 1)
    static let writable = SocketReadiness(rawValue: 2)
    /// The peer's FIN arrived, or the connection hung up.
    static let peerClosed = SocketReadiness(rawValue: 4)
    static let error = SocketReadiness(rawValue: 8)
}
