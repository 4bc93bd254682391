import CLinux
import Glibc

/// What a registered descriptor is, so dispatch is a switch on the tag rather than a lookup.
public enum EventKind: UInt8 {
    /// The frame backend: the tap, or the stream socket of the connected VM.
    case guest = 1
    /// passt's listening socket, where qemu connects.
    case guestListener
    case signal
    case quitTimer
    case quitInotify
    case periodicTimer
    case tcpSocket
    case tcpListener
    case tcpAckTimer
    /// Runs while TCP data is in flight, for retransmission timeouts finer than housekeeping's.
    case tcpRetransmitClock
    case udpSocket
    case udpListener
    case icmpSocket
    case udpSplicedSocket
    /// `-c`: the control socket, and the pesto client being served on it.
    case controlListener
    case controlClient
    /// slirp4netns mode: the API socket and its clients, and the exit descriptor (`-e FD`).
    case apiListener
    case apiClient
    case exitDescriptor
    /// The host's rtnetlink notifications, and inotify on its resolver file (HostChangeWatch).
    case hostRouteChange
    case hostResolverChange
    /// On a splice worker's own epoll.
    case splicedSocket
    case spliceHandoff
}

/// A tagged epoll reference: kind in the top byte, then 24 bits of generation, then an index for the
/// kind's own table. The generation tells a slot's current occupant from an earlier one whose events were
/// already fetched in the same epoll_wait batch when it was freed and the slot reused.
public struct EventReference: Equatable {
    public let kind: EventKind
    public let index: UInt32
    public let generation: UInt32

    public init(_ kind: EventKind, index: UInt32 = 0, generation: UInt32 = 0) {
        self.kind = kind
        self.index = index
        self.generation = generation & 0xFF_FFFF
    }

    var packed: UInt64 { UInt64(kind.rawValue) << 56 | UInt64(generation) << 32 | UInt64(index) }

    init?(packed: UInt64) {
        guard let kind = EventKind(rawValue: UInt8(truncatingIfNeeded: packed >> 56)) else { return nil }
        self.kind = kind
        self.generation = UInt32(truncatingIfNeeded: packed >> 32) & 0xFF_FFFF
        self.index = UInt32(truncatingIfNeeded: packed)
    }
}

public struct ReadyEvent {
    public let reference: EventReference
    public let events: UInt32

    public var isReadable: Bool { events & CLinux_EPOLLIN != 0 }
    public var isHangup: Bool { events & (CLinux_EPOLLHUP | CLinux_EPOLLERR) != 0 }
}

/// An epoll instance whose registrations carry `EventReference`s.
public final class EventPoll {
    /// The event bits, for registrations and for what `wait` reports.
    public static let readable = CLinux_EPOLLIN
    public static let writable = CLinux_EPOLLOUT
    public static let peerClosed = CLinux_EPOLLRDHUP
    public static let hangup = CLinux_EPOLLHUP
    public static let error = CLinux_EPOLLERR
    public static let edgeTriggered = CLinux_EPOLLET

    private let descriptor: Descriptor
    /// The epoll descriptor itself: readable when one of its own is ready, so a set can be watched from
    /// another (a vhost-user backend's control socket and kicks, as one guest descriptor).
    var raw: Int32 { descriptor.raw }
    private var buffer = [CLinux_epoll_event](repeating: CLinux_epoll_event(), count: 64)

    public init() throws {
        descriptor = Descriptor(try retryingEINTR("epoll_create1") { CLinux_epoll_create() })
    }

    public func add(_ fd: Int32, _ reference: EventReference, events: UInt32 = CLinux_EPOLLIN) throws {
        try retryingEINTR("epoll_ctl add") { CLinux_epoll_add(descriptor.raw, fd, events, reference.packed) }
    }

    public func modify(_ fd: Int32, _ reference: EventReference, events: UInt32) throws {
        try retryingEINTR("epoll_ctl modify") { CLinux_epoll_modify(descriptor.raw, fd, events, reference.packed) }
    }

    public func remove(_ fd: Int32) {
        _ = CLinux_epoll_remove(descriptor.raw, fd)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) and hands each ready event to `body`.
    public func wait(timeoutMilliseconds: Int32, _ body: (ReadyEvent) throws -> Void) throws {
        let count = buffer.count
        let n = buffer.withUnsafeMutableBufferPointer {
            CLinux_epoll_wait(descriptor.raw, $0.baseAddress, Int32(count), timeoutMilliseconds)
        }
        if n < 0 {
            if errno == EINTR { return }
            throw SystemError("epoll_wait")
        }
        for i in 0..<Int(n) {
            let event = buffer[i]
            guard let reference = EventReference(packed: event.data) else { continue }
            try body(ReadyEvent(reference: reference, events: event.events))
        }
    }
}
