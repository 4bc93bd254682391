/// How Ethernet frames travel between us and the guest: a tap device in the namespace (pasta), qemu's
/// stream socket (passt), the guest's virtio rings (passt --vhost-user).
/// Flows never see a backend: they send through `GuestPort`.
///
/// A backend may refuse frames when the guest's side is full; it then reports writability on its
/// descriptor, and the port lets the flows that waited go on. Frames are plain Ethernet frames. A backend
/// that needs a header in front of each (a virtio-net header, for offloads) is meant to declare how many
/// bytes it needs, and the frame builders to leave that much room before every frame, so the header is
/// written in place rather than by copying frames.
public protocol FrameBackend: AnyObject {
    /// What the event loop watches: readable when the guest sent frames, writable (while the backend
    /// waits for room) when it can take more.
    var eventDescriptor: Int32 { get }

    /// Reads frames from the guest into `batch` until it is full or nothing more is waiting. The views
    /// stay valid until the next call, or until `release`.
    func receive(into batch: FrameBatch) throws -> FrameReceipt

    /// The frames of the last `receive` are done with: buffers the guest lent for them go back now, not
    /// at the next receive (a guest whose buffers we all hold would wait for them, and never send again).
    func release()

    /// Offers frames for the guest, in order; returns how many it took, each whole. Taking fewer than all
    /// means it is full until `drain()` says otherwise.
    func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int

    /// The descriptor became writable: pushes out what the backend still holds. True once it can take
    /// frames again.
    func drain() -> Bool

    /// See the extension.
    var segmentationOffload: Bool { get }

    /// See the extension.
    var udpSegmentation: Bool { get }

    /// Offers one frame whose UDP payload is datagrams of `datagramSize` bytes (the last may be shorter),
    /// its checksum left partial, for the guest's stack to cut; false if not taken (then full, as `send`).
    /// Only called where `udpSegmentation` is true.
    func sendDatagrams(_ frame: UnsafeRawBufferPointer, datagramSize: Int) -> Bool

    /// Lends room in the guest's own buffers for TCP frames with `headerLength` bytes of headers and up to
    /// `payloadLimit` bytes of payload each, `bytes` of payload in all at most (see FrameLoan). Only asked
    /// while `segmentationOffload` is true: the frames' checksums are left partial. `.full` means full as
    /// after `send`, until `drain()` says otherwise.
    func lend(_ loan: FrameLoan, headerLength: Int, payloadLimit: Int, bytes: Int) -> FrameLoanOutcome

    /// The first `frames` frames of the last loan are filled (their headers written): they go to the guest,
    /// the rest of the room goes back. Returns how many were taken, as `send` does.
    func settle(_ loan: FrameLoan, frames: Int) -> Int
}

extension FrameBackend {
    /// Frames are read into buffers of the backend's own.
    public func release() {}

    /// TCP frames may be up to 64 KiB whatever the MTU, with their checksum left to the guest's stack:
    /// only a tap with offloads takes them.
    public var segmentationOffload: Bool { false }

    /// Several UDP datagrams of a flow may travel as one frame: only a tap with UDP segmentation offload
    /// (Linux 6.2 and later) takes them.
    public var udpSegmentation: Bool { false }

    public func sendDatagrams(_ frame: UnsafeRawBufferPointer, datagramSize: Int) -> Bool { false }

    /// Frames are built in our memory and copied by `send`.
    public func lend(_ loan: FrameLoan, headerLength: Int, payloadLimit: Int, bytes: Int) -> FrameLoanOutcome { .unavailable }

    public func settle(_ loan: FrameLoan, frames: Int) -> Int { frames }
}

public enum FrameReceipt: Equatable {
    /// Frames are in the batch; `drained`: nothing more was waiting (else, receive again).
    case frames(Int, drained: Bool)
    /// The guest's side went away (a stream's peer closed it, or its framing was broken).
    case closed
}
