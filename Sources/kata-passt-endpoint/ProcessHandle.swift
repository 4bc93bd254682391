import Glibc

/// A process to signal and wait for, held as a pidfd when the C library has pidfd_open(2) (glibc 2.36):
/// the pidfd is opened *before* the PID is verified, so a signal through it reaches the verified process
/// or nobody, even if the PID is reused in between. Without pidfds, each signal re-verifies first.
/// passt is not our child once it daemonised, so exit is seen as the pidfd turning readable, or the
/// process vanishing (or turning zombie) in /proc.
final class ProcessHandle {
    let pid: pid_t
    private let pidfd: Int32

    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private typealias PidfdSendSignal = @convention(c) (Int32, Int32, UnsafeMutableRawPointer?, UInt32) -> Int32
    // The Glibc module doesn't export the pidfd calls; look them up in the C library at run time.
    private static let library = dlopen(nil, RTLD_NOW)
    private static let pidfdOpen = dlsym(library, "pidfd_open").map { unsafeBitCast($0, to: PidfdOpen.self) }
    private static let pidfdSendSignal = dlsym(library, "pidfd_send_signal").map { unsafeBitCast($0, to: PidfdSendSignal.self) }

    /// Opens a handle on `pid` and checks that it is our passt for `paths`; nil with the reason otherwise.
    static func open(_ pid: pid_t, verifiedFor paths: EndpointPaths) -> Result<ProcessHandle, VerificationFailure> {
        var pidfd: Int32 = -1
        if let pidfdOpen, pidfdSendSignal != nil {
            pidfd = pidfdOpen(pid, 0)
            if pidfd < 0 && errno == ESRCH { return .failure(.init(verdict: .notRunning("process \(pid) is not running"))) }
        }
        let handle = ProcessHandle(pid: pid, pidfd: pidfd)
        let verdict = PasstIdentity.check(pid, for: paths)
        guard case .ours = verdict else { return .failure(.init(verdict: verdict)) }
        return .success(handle)
    }

    struct VerificationFailure: Error {
        let verdict: PasstIdentity.Verdict
    }

    private init(pid: pid_t, pidfd: Int32) {
        self.pid = pid
        self.pidfd = pidfd
    }

    deinit {
        if pidfd >= 0 { close(pidfd) }
    }

    enum SignalOutcome {
        case sent
        case gone
        case refused(String)
    }

    func signal(_ number: Int32, verifyingFor paths: EndpointPaths) -> SignalOutcome {
        let result: Int32
        if pidfd >= 0, let send = Self.pidfdSendSignal {
            result = send(pidfd, number, nil, 0)
        } else {
            guard case .ours = PasstIdentity.check(pid, for: paths) else { return .gone }
            result = kill(pid, number)
        }
        if result == 0 { return .sent }
        return errno == ESRCH ? .gone : .refused(errnoText())
    }

    /// Waits up to `milliseconds` for the process to exit; true once it has.
    func waitForExit(milliseconds: Int) -> Bool {
        let deadline = monotonicMilliseconds() + milliseconds
        while true {
            if hasExited { return true }
            let left = deadline - monotonicMilliseconds()
            if left <= 0 { return false }
            if pidfd >= 0 {
                var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
                _ = poll(&entry, 1, Int32(min(left, 100)))
            } else {
                usleep(UInt32(min(left, 10)) * 1000)
            }
        }
    }

    var hasExited: Bool {
        if pidfd >= 0 {
            var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, 0) > 0 { return true }
        }
        switch ProcFiles.read("/proc/\(pid)/stat", limit: PasstIdentity.statLimit) {
        case .failed: return true
        case .bytes(let bytes):
            let state = ProcFiles.state(fromStat: bytes)
            return state == "Z" || state == "X"
        }
    }
}
