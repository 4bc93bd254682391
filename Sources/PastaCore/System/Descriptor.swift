import CLinux
import Glibc

/// An owned file descriptor, closed when the last reference goes away.
public final class Descriptor {
    public private(set) var raw: Int32

    public init(_ raw: Int32) { self.raw = raw }

    deinit { if raw >= 0 { Glibc.close(raw) } }

    /// Closes now instead of at deinit.
    public func close() {
        if raw >= 0 { Glibc.close(raw) }
        raw = -1
    }

    /// Gives up ownership: the caller is responsible for the returned descriptor.
    public func release() -> Int32 {
        let fd = raw
        raw = -1
        return fd
    }

    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Descriptor {
        let fd = try retryingEINTR("open \(path)") { CLinux_open(path, flags | CLinux_O_CLOEXEC, mode) }
        return Descriptor(fd)
    }

    public func setNonBlocking() throws {
        try retryingEINTR("fcntl O_NONBLOCK") { CLinux_set_nonblocking(raw) }
    }

    /// Reads up to `count` bytes into `buffer`; returns nil when the read would block.
    public func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int? {
        while true {
            let n = Glibc.read(raw, buffer, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN { return nil }
            throw SystemError("read")
        }
    }

    /// Writes all of `bytes`, retrying short writes and EINTR.
    public func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(raw, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write")
            }
            offset += n
        }
    }

    public func writeAll(_ string: String) throws {
        var copy = string
        try copy.withUTF8 { try writeAll(UnsafeRawBufferPointer($0)) }
    }
}

/// Reads a whole (small) file, as /proc and /etc files are, up to `limit` bytes.
public func readSmallFile(_ path: String, limit: Int = 1 << 20) throws -> [UInt8] {
    try Descriptor.open(path, O_RDONLY).readToEnd(limit: limit)
}

extension Descriptor {
    /// Reads from where the descriptor is to its end, or `limit` bytes.
    func readToEnd(limit: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while result.count < limit {
            let n = try chunk.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: $0.count) } ?? 0
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<min(n, limit - result.count)])
        }
        return result
    }
}
