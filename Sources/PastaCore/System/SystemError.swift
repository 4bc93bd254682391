import Glibc

/// A failed system call: what was attempted and the errno it returned.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let operation: String
    public let code: Int32

    public init(_ operation: String, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    public var description: String { "\(operation): \(String(cString: strerror(code)))" }
}

/// Runs a system call, retrying on EINTR, and throws `SystemError` when it returns a negative value.
@inline(__always)
@discardableResult
func retryingEINTR<T: BinaryInteger>(_ operation: @autoclosure () -> String, _ call: () -> T) throws -> T {
    while true {
        let result = call()
        if result >= 0 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(operation(), code: code)
    }
}
