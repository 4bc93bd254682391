import Glibc

/// Writes frames to a classic pcap file (microsecond timestamps, LINKTYPE_ETHERNET).
public final class PcapWriter {
    private let descriptor: Descriptor
    static let snapshotLength: UInt32 = 65535

    public init(path: String) throws {
        do {
            descriptor = try Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        } catch let error as SystemError {
            throw OptionError("can't open pcap file \(path): \(String(cString: strerror(error.code)))")
        }
        var header = [UInt8]()
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value) { header.append(contentsOf: $0) } }
        put(UInt32(0xa1b2_c3d4))  // magic, in our byte order: readers detect it
        put(UInt16(2)); put(UInt16(4))  // version 2.4
        put(Int32(0)); put(UInt32(0))  // GMT offset, timestamp accuracy
        put(Self.snapshotLength)
        put(UInt32(1))  // LINKTYPE_ETHERNET
        try header.withUnsafeBytes { try descriptor.writeAll($0) }
    }

    /// Records one frame; failures are logged once and otherwise ignored so capture never stops traffic.
    public func record(_ frame: UnsafeRawBufferPointer) {
        var now = timeval()
        gettimeofday(&now, nil)
        let captured = min(UInt32(frame.count), Self.snapshotLength)
        var record = (UInt32(truncatingIfNeeded: now.tv_sec), UInt32(truncatingIfNeeded: now.tv_usec), captured,
                      UInt32(frame.count))
        withUnsafeMutableBytes(of: &record) { header in
            var vectors = [
                iovec(iov_base: header.baseAddress, iov_len: 16),
                iovec(iov_base: UnsafeMutableRawPointer(mutating: frame.baseAddress), iov_len: Int(captured)),
            ]
            if writev(descriptor.raw, &vectors, 2) < 0 && !failed {
                failed = true
                logWarning("pcap write failed: \(String(cString: strerror(errno)))")
            }
        }
    }

    private var failed = false
}
