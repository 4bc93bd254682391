import CLinux
import Glibc

/// The single-threaded epoll loop: tap frames in batches, TCP sockets and listeners, signals, a 100 ms
/// housekeeping timer and the namespace quit watcher.
public final class EventLoop {
    private let poll: EventPoll
    private let tap: TapDevice
    private let batch = FrameBatch()
    private let pcap: PcapWriter?
    private var signals: Descriptor?
    private let quitWatcher: NamespaceQuitWatcher?
    private let command: SpawnedCommand?
    private var exitCode: Int32?
    private let tracing: Bool
    private let services: LocalServices
    private let sink: TapSink
    private let tcp: TCPFlows
    private let tcpEnabled: Bool
    private var guest = GuestLink()
    private let housekeeping: TimerDescriptor
    private var advertisements: AdvertisementSchedule
    private let replyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)

    public init(tap: TapDevice, configuration: RuntimeConfiguration, pcap: PcapWriter?,
                quitWatcher: NamespaceQuitWatcher?, command: SpawnedCommand?) throws {
        poll = try EventPoll()
        services = LocalServices(ServiceSettings(configuration))
        sink = TapSink(tap: tap, pcap: pcap)
        tcp = try TCPFlows(configuration: configuration, poll: poll, sink: sink)
        tcpEnabled = !configuration.options.noTCP
        self.tap = tap
        self.pcap = pcap
        self.quitWatcher = quitWatcher
        self.command = command
        tracing = Logger.shared.enabled(.trace)
        housekeeping = try TimerDescriptor(intervalMilliseconds: 100)
        advertisements = AdvertisementSchedule(now: MonotonicClock.seconds())
        try tap.descriptor.setNonBlocking()
        try poll.add(tap.descriptor.raw, EventReference(.tap))
        try poll.add(housekeeping.descriptor.raw, EventReference(.periodicTimer))
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
                switch event.reference.kind {
                case .tap: try readTap()
                case .signal: handleSignals()
                case .quitTimer, .quitInotify:
                    if quitWatcher?.namespaceGone() == true { exitCode = namespaceGone() }
                case .periodicTimer: runHousekeeping()
                case .tcpSocket: tcp.socketEvent(event.reference, events: event.events,
                                                 now: MonotonicClock.milliseconds())
                case .tcpAckTimer: tcp.ackTimerExpired()
                case .tcpListener: tcp.listenerEvent(index: Int(event.reference.index), now: MonotonicClock.milliseconds())
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

    private func readTap() throws {
        while true {
            let count = try batch.fill(from: tap.descriptor)
            let now = MonotonicClock.milliseconds()
            for index in 0..<count {
                let frame = batch[index]
                pcap?.record(frame)
                if tracing { logTrace("tap: \(frame.count) bytes from the namespace") }
                handleFrame(frame, now: now)
            }
            tcp.flushAcks()
            if count < batch.capacity { return }
        }
    }

    /// TCP goes to its flows; what the services answer is answered; everything else is dropped until its
    /// protocol handler exists.
    private func handleFrame(_ frame: UnsafeRawBufferPointer, now: Int) {
        guard let ethernet = EthernetFrame(frame) else { return }
        if guest.learn(from: ethernet, ours: services.settings.ourMAC), let mac = guest.mac {
            logDebug("guest MAC address: \(mac)")
            tcp.guestMAC = mac.bytes
        }
        switch ethernet.etherType {
        case EtherType.ipv4:
            if let packet = IPv4Packet(ethernet.payload), packet.protocolNumber == IPProtocol.tcp {
                if tcpEnabled { tcp.handle(ipv4: packet, now: now) }
                return
            }
        case EtherType.ipv6:
            if let packet = IPv6Packet(ethernet.payload), packet.nextHeader == IPProtocol.tcp {
                if tcpEnabled { tcp.handle(ipv6: packet, now: now) }
                return
            }
        default:
            break
        }
        switch services.answer(frame, into: replyBuffer) {
        case .reply(let length):
            sendToTap(UnsafeRawBufferPointer(rebasing: replyBuffer[0..<length]))
        case .dropped(let reason):
            logDebug(reason)
        case .notForUs:
            break
        }
    }

    /// Every 100 ms: TCP timers, and unsolicited Router Advertisements when due.
    private func runHousekeeping() {
        housekeeping.acknowledge()
        tcp.tick(now: MonotonicClock.milliseconds())
        if advertisements.due(now: MonotonicClock.seconds()),
           let length = NDPResponder.unsolicitedAdvertisement(settings: services.settings, into: replyBuffer) {
            sendToTap(UnsafeRawBufferPointer(rebasing: replyBuffer[0..<length]))
        }
    }

    private func sendToTap(_ frame: UnsafeRawBufferPointer) { sink.send(frame) }

    deinit { replyBuffer.deallocate() }

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
