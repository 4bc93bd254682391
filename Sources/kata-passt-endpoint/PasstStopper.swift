import Glibc

/// Stops a verified passt the way Kata's detach does, SIGQUIT, and makes sure of it: SIGKILL if it is
/// still there after the grace period.
enum PasstStopper {
    static let quitGraceMilliseconds = 5000
    /// SIGKILL can't be caught; this only covers a process stuck in the kernel for a moment.
    static let killGraceMilliseconds = 2000

    struct Stopped {
        let pid: pid_t
        /// The last signal it needed.
        let signal: String
        let milliseconds: Int
        var fields: [(key: String, value: JSON)] {
            [("stoppedPid", .int(Int(pid))), ("signal", .string(signal)), ("stoppedAfterMs", .int(milliseconds))]
        }
    }

    static func stop(_ handle: ProcessHandle, paths: EndpointPaths) throws(Failure) -> Stopped {
        let start = monotonicMilliseconds()
        func stopped(_ signal: String) -> Stopped {
            Stopped(pid: handle.pid, signal: signal, milliseconds: monotonicMilliseconds() - start)
        }
        switch handle.signal(SIGQUIT, verifyingFor: paths) {
        case .gone: return stopped("none (it had exited)")
        case .refused(let error):
            throw Failure(.stopFailed, "can't signal passt \(handle.pid): \(error)", details: [("pid", .int(Int(handle.pid)))])
        case .sent: break
        }
        if handle.waitForExit(milliseconds: quitGraceMilliseconds) { return stopped("SIGQUIT") }
        switch handle.signal(SIGKILL, verifyingFor: paths) {
        case .gone: return stopped("SIGQUIT")
        case .refused(let error):
            throw Failure(.stopFailed, "passt \(handle.pid) ignored SIGQUIT and can't be killed: \(error)",
                          details: [("pid", .int(Int(handle.pid)))])
        case .sent: break
        }
        if handle.waitForExit(milliseconds: killGraceMilliseconds) { return stopped("SIGKILL") }
        throw Failure(.stopFailed, "passt \(handle.pid) is still there \((quitGraceMilliseconds + killGraceMilliseconds) / 1000) s "
            + "after SIGQUIT and SIGKILL", details: [("pid", .int(Int(handle.pid)))])
    }
}
