import CLinux
import Glibc

/// Where the guest's frames come from.
public enum GuestConnection {
    /// pasta: the tap in the namespace, there for the whole run.
    case tap(TapDevice)
    /// passt: a VM connects to the socket; when it leaves, the next one may (with `oneOff`, we exit).
    /// `protocol`: what a connected client speaks.
    case socket(PasstSocket, oneOff: Bool, protocol: PasstProtocol)
    /// passt `--fd`: a socket connected already; we exit when it closes.
    case connected(FrameBackend)
    /// pasta `--splice-only`: no tap, so no guest frames; only the forwarding sockets carry traffic.
    case none
}

/// What passt's clients speak: qemu's stream framing, or vhost-user (`--vhost-user`; the guest's MTU sets
/// the segment size of the TCP frames it gets with segmentation offload).
public enum PasstProtocol {
    case stream
    case vhostUser(mtu: Int)

    func backend(for socket: Descriptor) throws -> FrameBackend {
        switch self {
        case .stream: return try StreamBackend(socket: socket)
        case .vhostUser(let mtu): return try VhostUserBackend(socket: socket, mtu: mtu)
        }
    }
}

/// The main epoll loop: frames from the guest in batches, flows' sockets, forwarding sockets, signals, a
/// 100 ms housekeeping timer and the namespace quit watcher. Spliced TCP connections run on worker
/// threads. What the events mean is the datapath's business; the loop only dispatches them.
public final class EventLoop {
    private let poll: EventPoll
    private let datapath: Datapath
    private let guestFrames: GuestFrames
    private let batch = FrameBatch()
    private let connection: GuestConnection
    private var signals: Descriptor?
    private let quitWatcher: NamespaceQuitWatcher?
    private let command: SpawnedCommand?
    private var exitCode: Int32?
    private var lastSecond = 0
    private let housekeeping: TimerDescriptor
    private var advertisements: AdvertisementSchedule
    private let statistics: EventStatistics?
    private let hostFollower: HostFollower?

    /// `exitDescriptor`: we leave when it becomes readable or hangs up (slirp4netns's `-e FD`).
    /// `statsInterval`: `--stats`, seconds between event statistics in the log. `hostFollower`: what
    /// keeps the configuration in step with the host's network (not with `--no-follow-host`).
    init(poll: EventPoll, datapath: Datapath, connection: GuestConnection, quitWatcher: NamespaceQuitWatcher?,
         command: SpawnedCommand?, exitDescriptor: Int32? = nil, statsInterval: Int? = nil,
         hostFollower: HostFollower? = nil) throws {
        self.poll = poll
        self.datapath = datapath
        self.connection = connection
        guestFrames = GuestFrames(datapath: datapath)
        self.quitWatcher = quitWatcher
        self.command = command
        self.hostFollower = hostFollower
        housekeeping = try TimerDescriptor(intervalMilliseconds: 100)
        advertisements = AdvertisementSchedule(now: MonotonicClock.seconds())
        statistics = statsInterval.map { EventStatistics(intervalSeconds: $0, now: MonotonicClock.milliseconds()) }
        switch connection {
        case .tap(let tap):
            try tap.descriptor.setNonBlocking()
            try datapath.port.attach(tap)
        case .socket(let socket, _, _):
            try poll.add(socket.listener.raw, EventReference(.guestListener))
        case .connected(let backend):
            try datapath.port.attach(backend)
        case .none:
            break
        }
        try poll.add(housekeeping.descriptor.raw, EventReference(.periodicTimer))
        if let exitDescriptor { try poll.add(exitDescriptor, EventReference(.exitDescriptor)) }
        // A guest that configures itself (SLAAC) hears of a new IPv6 prefix or router at once, then as
        // after start: three advertisements close together.
        hostFollower?.changed = { [unowned self] change in
            if change.ipv6Changed { advertisements = AdvertisementSchedule(now: MonotonicClock.seconds()) }
        }
        if let watch = hostFollower?.watch {
            try poll.add(watch.routeEvents.raw, EventReference(.hostRouteChange))
            if let inotify = watch.resolverEvents { try poll.add(inotify.raw, EventReference(.hostResolverChange)) }
        }
        if let quitWatcher {
            try poll.add(quitWatcher.descriptor.raw,
                         EventReference(quitWatcher.mechanism == .timer ? .quitTimer : .quitInotify))
        }
    }

    /// Runs until a signal, the namespace's deletion or the command's exit; returns the exit status.
    public func run() throws -> Int32 {
        try watchSignals()
        // The namespace may have gone between setting up the watcher and now.
        if let quitWatcher, !quitWatcher.entryExists() { return namespaceGone() }
        if let status = command?.reap() { return status }
        while exitCode == nil {
            try poll.wait(timeoutMilliseconds: -1) { event in
                statistics?.record(event.reference.kind)
                switch event.reference.kind {
                case .guest:
                    // A backend whose room comes back as a readable event (vhost-user: the guest's kick
                    // when it posts receive buffers) is asked too, whenever it is full.
                    if event.events & CLinux_EPOLLOUT != 0 || datapath.port.isFull, datapath.port.writable() {
                        datapath.resume()
                    }
                    if event.events & (CLinux_EPOLLIN | CLinux_EPOLLHUP | CLinux_EPOLLERR) != 0 { try readGuest() }
                case .guestListener: acceptGuest()
                case .signal: handleSignals()
                case .quitTimer, .quitInotify:
                    if quitWatcher?.namespaceGone() == true { exitCode = namespaceGone() }
                case .periodicTimer: runHousekeeping()
                case .tcpSocket: datapath.tcp.socketEvent(event.reference, events: event.events,
                                                          now: MonotonicClock.milliseconds())
                case .tcpAckTimer: datapath.tcp.ackTimerExpired()
                case .tcpRetransmitClock: datapath.tcp.retransmitClockFired()
                case .udpSocket: datapath.udp.socketEvent(event.reference, events: event.events, now: MonotonicClock.milliseconds())
                case .udpListener: datapath.udpInbound.receive(event.reference, now: MonotonicClock.milliseconds())
                case .udpSplicedSocket: datapath.udpSplice.socketEvent(event.reference, now: MonotonicClock.milliseconds())
                case .icmpSocket: datapath.icmp.socketEvent(event.reference, events: event.events, now: MonotonicClock.milliseconds())
                case .tcpListener: datapath.tcpInbound.accept(event.reference, now: MonotonicClock.milliseconds())
                case .controlListener: datapath.control?.accept(now: MonotonicClock.milliseconds())
                case .controlClient: datapath.control?.clientEvent(event.reference, events: event.events,
                                                                   now: MonotonicClock.milliseconds())
                case .apiListener: datapath.slirpAPI?.accept(now: MonotonicClock.milliseconds())
                case .apiClient: datapath.slirpAPI?.clientEvent(event.reference, events: event.events,
                                                                now: MonotonicClock.milliseconds())
                case .exitDescriptor:
                    logInfo("exit descriptor closed or written to, exiting")
                    exitCode = 0
                case .hostRouteChange: hostFollower?.routeEvent(now: MonotonicClock.milliseconds())
                case .hostResolverChange: hostFollower?.resolverEvent(now: MonotonicClock.milliseconds())
                case .splicedSocket, .spliceHandoff: break  // on the splice workers' own epoll
                }
            }
        }
        return exitCode ?? 0
    }

    /// Created by the process that runs the loop: a signalfd only wakes epoll for signals of the
    /// process that registered it, so one made before daemonising would stay silent in the child.
    private func watchSignals() throws {
        // With a command in our foreground, ^C belongs to the command: we leave when it does.
        var handled = [SIGTERM, SIGQUIT, SIGCHLD, SIGHUP]
        if command != nil { handled.append(SIGINT) }
        let fd = handled.withUnsafeBufferPointer { CLinux_signalfd_for($0.baseAddress, Int32($0.count)) }
        guard fd >= 0 else { throw SystemError("signalfd") }
        signals = Descriptor(fd)
        try poll.add(fd, EventReference(.signal))
    }

    private func namespaceGone() -> Int32 {
        logInfo("namespace is gone, exiting")
        return 0
    }

    /// Frames from the guest, a batch at a time; each batch is finished (queued data written, ACKs sent)
    /// before the next is read over it.
    private func readGuest() throws {
        while true {
            switch try datapath.port.receive(into: batch) {
            case .closed:
                return guestLeft()
            case .frames(let count, let drained):
                let now = MonotonicClock.milliseconds()
                for index in 0..<count {
                    guestFrames.handle(batch[index], offload: batch.offload(index), scattered: batch.scattered(index), now: now)
                }
                datapath.finishBatch()
                datapath.port.release()
                if drained { return }
            }
        }
    }

    /// passt: a VM connected. One at a time: later ones are told so by having their connection closed.
    private func acceptGuest() {
        guard case .socket = connection else { return }
        while case .socket(let socket, _, let speaks) = connection, let client = socket.accept() {
            if datapath.port.isAttached {
                logInfo("another client connected while one is being served: closing its connection")
                continue
            }
            do {
                try datapath.port.attach(try speaks.backend(for: client))
                logInfo("guest connected")
            } catch {
                logWarning("can't serve the new client: \(error)")
            }
        }
    }

    /// The guest's side closed: passt waits for the next client unless it serves only one.
    private func guestLeft() {
        datapath.port.detach()
        switch connection {
        case .tap:
            logError("the tap device was closed")
            exitCode = 1
        case .socket(_, let oneOff, _):
            if oneOff {
                logInfo("client gone, exiting (one-off)")
                exitCode = 0
            } else {
                logInfo("client gone, waiting for the next one")
            }
        case .connected:
            logInfo("client gone, exiting")
            exitCode = 0
        case .none:
            break
        }
    }

    /// Every 100 ms: TCP timers; once a second, auto-mode forwarding, UDP and ICMP expiry and Router
    /// Advertisements when due.
    private func runHousekeeping() {
        housekeeping.acknowledge()
        let now = MonotonicClock.milliseconds()
        ForbiddenSyscallTrigger.check(now: now)
        datapath.tick(now: now)
        hostFollower?.tick(now: now)
        statistics?.reportIfDue(now: now)
        guard now / 1000 != lastSecond else { return }
        lastSecond = now / 1000
        datapath.tickSecond(now: now)
        if datapath.port.isAttached, advertisements.due(now: MonotonicClock.seconds()) { guestFrames.advertiseRouter() }
    }

    private func handleSignals() {
        while true {
            guard let signals else { return }
            let signal = CLinux_signalfd_read(signals.raw)
            if signal <= 0 { return }
            switch signal {
            case SIGCHLD:
                if let status = command?.reap() { exitCode = status }
            case SIGINT:
                continue  // delivered to the command too; its exit ends us
            default:
                logInfo("received signal \(signal), exiting")
                exitCode = 0
            }
        }
    }
}
