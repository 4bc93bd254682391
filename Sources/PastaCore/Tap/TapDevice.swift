import CLinux
import Glibc

/// A tap interface (IFF_TAP | IFF_NO_PI): each read returns one Ethernet frame, each write sends one.
public final class TapDevice {
    public let descriptor: Descriptor
    public let name: String

    /// Creates the tap in the calling thread's network namespace (call it inside `NetworkNamespace.run`).
    public static func create(name: String) throws -> TapDevice {
        let fd: Descriptor
        do {
            fd = try Descriptor.open("/dev/net/tun", O_RDWR | CLinux_O_NONBLOCK)
        } catch let error as SystemError {
            throw OptionError("can't open /dev/net/tun: \(String(cString: strerror(error.code)))")
        }
        var assigned = [CChar](repeating: 0, count: Int(CLinux_IFNAMSIZ))
        guard CLinux_tap_attach(fd.raw, name, &assigned) == 0 else {
            throw OptionError("can't create tap device \(name) in the namespace: \(String(cString: strerror(errno)))")
        }
        return TapDevice(descriptor: fd, name: String(cString: assigned))
    }

    private init(descriptor: Descriptor, name: String) {
        self.descriptor = descriptor
        self.name = name
    }

    /// Sends one frame; a full queue drops it, as a congested link would.
    @inline(__always)
    public func send(_ frame: UnsafeRawBufferPointer) {
        while Glibc.write(descriptor.raw, frame.baseAddress, frame.count) < 0 && errno == EINTR {}
    }
}

/// Preallocated storage for a batch of frames read in one wakeup.
public final class FrameBatch {
    public static let frameCapacity = 65536 + 16
    public let capacity: Int
    public private(set) var count = 0
    private let storage: UnsafeMutableRawPointer
    private var lengths: [Int]

    public init(capacity: Int = 64) {
        self.capacity = capacity
        storage = UnsafeMutableRawPointer.allocate(byteCount: capacity * Self.frameCapacity, alignment: 64)
        lengths = [Int](repeating: 0, count: capacity)
    }

    deinit { storage.deallocate() }

    public subscript(index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + index * Self.frameCapacity, count: lengths[index])
    }

    /// Reads frames from `descriptor` until it would block or the batch is full; returns how many.
    public func fill(from descriptor: Descriptor) throws -> Int {
        count = 0
        while count < capacity {
            let slot = storage + count * Self.frameCapacity
            guard let n = try descriptor.read(into: slot, count: Self.frameCapacity), n > 0 else { break }
            lengths[count] = n
            count += 1
        }
        return count
    }
}
