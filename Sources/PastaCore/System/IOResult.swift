import Glibc

/// What a non-blocking call on a socket did, decided where the call returns: EAGAIN and EWOULDBLOCK are
/// `.wouldBlock`, any other failure carries its errno, and nobody reads errno later.
public enum IOResult: Equatable {
    case done(Int)
    case wouldBlock
    case failed(Int32)

    /// From a call's return value, reading errno at once if it failed.
    @inline(__always)
    init(returned value: Int) {
        if value >= 0 {
            self = .done(value)
        } else {
            let code = errno
            self = code == EAGAIN || code == EWOULDBLOCK ? .wouldBlock : .failed(code)
        }
    }
}

/// The text of an errno value, for logs.
public func errorDescription(_ code: Int32) -> String { String(cString: strerror(code)) }

/// The process (or the system) has no descriptors left: EMFILE or ENFILE.
public func isOutOfDescriptors(_ code: Int32) -> Bool { code == EMFILE || code == ENFILE }
