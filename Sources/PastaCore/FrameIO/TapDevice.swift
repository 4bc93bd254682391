import CLinux
import Glibc

/// A tap interface (IFF_TAP | IFF_NO_PI), pasta's frame backend: each read returns one Ethernet frame,
/// each write sends one.
public final class TapDevice: FrameBackend {
    public let descriptor: Descriptor
    public let name: String
    /// Where received frames are read to: one slot per frame of a batch.
    private let slots: UnsafeMutableRawPointer

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
        slots = .allocate(byteCount: FrameBatch.capacity * FrameBatch.frameCapacity, alignment: 64)
    }

    deinit { slots.deallocate() }

    // MARK: FrameBackend

    public var eventDescriptor: Int32 { descriptor.raw }

    /// One read per frame, into slots of our own, until the tap is empty or the batch full.
    public func receive(into batch: FrameBatch) throws -> FrameReceipt {
        batch.removeAll()
        while !batch.isFull {
            let slot = slots + batch.count * FrameBatch.frameCapacity
            guard let n = try descriptor.read(into: slot, count: FrameBatch.frameCapacity), n > 0 else { break }
            batch.append(UnsafeRawBufferPointer(start: slot, count: n))
        }
        return .frames(batch.count, drained: !batch.isFull)
    }

    /// One write per frame. The tap takes frames until the namespace's input backlog is full; EAGAIN is
    /// the only refusal.
    public func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        for (index, frame) in frames.enumerated() {
            while Glibc.write(descriptor.raw, frame.baseAddress, frame.count) < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN { return index }
                break  // any other error loses this frame, as a congested link would
            }
        }
        return frames.count
    }

    /// Nothing is held back: writable means room.
    public func drain() -> Bool { true }
}
