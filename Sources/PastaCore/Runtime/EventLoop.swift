import CLinux
import Glibc

/// The single-threaded epoll loop: tap frames in batches, signals, a one-second housekeeping timer and
/// the namespace quit watcher.
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
    private var guest = GuestLink()
    private let housekeeping: TimerDescriptor
    private var advertisements: AdvertisementSchedule
    private let replyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)

    public init(tap: TapDevice, services: LocalServices, pcap: PcapWriter?, quitWatcher: NamespaceQuitWatcher?,
                command: SpawnedCommand?) throws {
        poll = try EventPoll()
        self.services = services
        self.tap = tap
        self.pcap = pcap
        self.quitWatcher = quitWatcher
        self.command = command
        tracing = Logger.shared.enabled(.trace)
        housekeeping = try TimerDescriptor(intervalMilliseconds: 1000)
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
            for index in 0..<count {
                let frame = batch[index]
                pcap?.record(frame)
                if tracing { logTrace("tap: \(frame.count) bytes from the namespace") }
                handleFrame(frame)
            }
            if count < batch.capacity { return }
        }
    }

    /// Answers what we can answer locally; everything else is dropped until its protocol handler exists.
    private func handleFrame(_ frame: UnsafeRawBufferPointer) {
        if let ethernet = EthernetFrame(frame), guest.learn(from: ethernet, ours: services.settings.ourMAC),
           let mac = guest.mac {
            logDebug("guest MAC address: \(mac)")
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

    /// Once a second: unsolicited Router Advertisements when due.
    private func runHousekeeping() {
        housekeeping.acknowledge()
        if advertisements.due(now: MonotonicClock.seconds()),
           let length = NDPResponder.unsolicitedAdvertisement(settings: services.settings, into: replyBuffer) {
            sendToTap(UnsafeRawBufferPointer(rebasing: replyBuffer[0..<length]))
        }
    }

    private func sendToTap(_ frame: UnsafeRawBufferPointer) {
        pcap?.record(frame)
        tap.send(frame)
    }

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
