import CLinux
import Glibc

/// The main epoll loop: tap frames in batches, flows' sockets, forwarding sockets, signals, a 100 ms
/// housekeeping timer and the namespace quit watcher. Spliced TCP connections run on worker threads.
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
    private let udp: UDPFlows
    private let udpEnabled: Bool
    private let icmp: ICMPFlows
    private let icmpEnabled: Bool
    private let tcpListeners: Listeners
    private let udpListeners: Listeners
    private let tcpInbound: TCPInbound
    private let udpSplice: UDPSplice
    private let udpInbound: UDPInbound
    private let autoForwarding: AutoForwarding
    private var lastSecond = 0
    private var guest = GuestLink()
    private let housekeeping: TimerDescriptor
    private var advertisements: AdvertisementSchedule
    private let replyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)

    public init(tap: TapDevice, namespace: NetworkNamespace, configuration: RuntimeConfiguration, pcap: PcapWriter?,
                quitWatcher: NamespaceQuitWatcher?, command: SpawnedCommand?) throws {
        poll = try EventPoll()
        services = LocalServices(ServiceSettings(configuration))
        sink = TapSink(tap: tap, pcap: pcap)
        let guestAddresses = GuestAddresses(configuration)
        tcp = try TCPFlows(configuration: configuration, guestAddresses: guestAddresses, poll: poll, sink: sink)
        tcpEnabled = !configuration.options.noTCP
        udp = try UDPFlows(configuration: configuration, guestAddresses: guestAddresses, poll: poll, sink: sink)
        udpEnabled = !configuration.options.noUDP
        icmp = ICMPFlows(configuration: configuration, poll: poll, sink: sink)
        icmpEnabled = !configuration.options.noICMP
        tcpListeners = Listeners(.tcp, poll: poll, namespace: namespace)
        udpListeners = Listeners(.udp, poll: poll, namespace: namespace)
        try ConfiguredForwarding.open(configuration, tcp: tcpListeners, udp: udpListeners)
        let spliceTargets = SpliceTargets(configuration, guest: guestAddresses)
        tcpInbound = TCPInbound(listeners: tcpListeners, flows: tcp, splice: TCPSplice(namespace: namespace),
                                targets: spliceTargets)
        udpSplice = UDPSplice(targets: spliceTargets, poll: poll, namespace: namespace)
        udpInbound = UDPInbound(listeners: udpListeners, flows: udp, splice: udpSplice)
        autoForwarding = try AutoForwarding(configuration: configuration, tcp: tcpListeners, udp: udpListeners,
                                            namespace: namespace)
        autoForwarding.scan()  // what is bound already is forwarded by the time we report ready
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
                case .udpSocket: udp.socketEvent(event.reference, now: MonotonicClock.milliseconds())
                case .udpListener: udpInbound.receive(event.reference, now: MonotonicClock.milliseconds())
                case .udpSplicedSocket: udpSplice.socketEvent(event.reference, now: MonotonicClock.milliseconds())
                case .icmpSocket: icmp.socketEvent(event.reference, now: MonotonicClock.milliseconds())
                case .tcpListener: tcpInbound.accept(event.reference, now: MonotonicClock.milliseconds())
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
            tcp.finishBatch()
            udp.flushDatagrams()
            if count < batch.capacity { return }
        }
    }

    /// TCP, UDP and ICMP echo go to their flows; what the services answer (ARP, DHCP, NDP, DHCPv6) is
    /// answered; everything else is dropped.
    private func handleFrame(_ frame: UnsafeRawBufferPointer, now: Int) {
        guard let ethernet = EthernetFrame(frame) else { return }
        if guest.learn(from: ethernet, ours: services.settings.ourMAC), let mac = guest.mac {
            logDebug("guest MAC address: \(mac)")
            tcp.guestMAC = mac.bytes
            udp.guestMAC = mac.bytes
            icmp.guestMAC = mac.bytes
        }
        switch ethernet.etherType {
        case EtherType.ipv4:
            guard let packet = IPv4Packet(ethernet.payload) else { return }
            switch packet.protocolNumber {
            case IPProtocol.tcp:
                if tcpEnabled { tcp.handle(ipv4: packet, now: now) }
                return
            case IPProtocol.udp where !Self.isServicePort(packet.payload, DHCPServer.serverPort):
                if udpEnabled { udp.handle(ipv4: packet, now: now) }
                return
            case IPProtocol.icmp:
                if icmpEnabled { icmp.handle(ipv4: packet, now: now) }
                return
            default:
                break
            }
        case EtherType.ipv6:
            guard let packet = IPv6Packet(ethernet.payload) else { return }
            switch packet.nextHeader {
            case IPProtocol.tcp:
                if tcpEnabled { tcp.handle(ipv6: packet, now: now) }
                return
            case IPProtocol.udp where !Self.isServicePort(packet.payload, DHCPv6Server.serverPort):
                if udpEnabled { udp.handle(ipv6: packet, now: now) }
                return
            case IPProtocol.icmpv6 where packet.payload.first == ICMPFlows.echoRequest6:
                if icmpEnabled { icmp.handle(ipv6: packet, now: now) }
                return
            default:
                break
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

    /// Whether a UDP payload is addressed to one of our services' ports (DHCP, DHCPv6).
    private static func isServicePort(_ udp: UnsafeRawBufferPointer, _ port: UInt16) -> Bool {
        udp.count >= 4 && udp.bigEndianUInt16(at: 2) == port
    }

    /// Every 100 ms: TCP timers; once a second, auto-mode forwarding, UDP and ICMP expiry and Router
    /// Advertisements when due.
    private func runHousekeeping() {
        housekeeping.acknowledge()
        let now = MonotonicClock.milliseconds()
        tcp.tick(now: now)
        guard now / 1000 != lastSecond else { return }
        lastSecond = now / 1000
        autoForwarding.scan()
        udp.tick(now: now)
        udpSplice.tick(now: now)
        icmp.tick(now: now)
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
