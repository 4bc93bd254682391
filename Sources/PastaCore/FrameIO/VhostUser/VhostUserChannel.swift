import Glibc

/// The vhost-user control connection: messages in (with the descriptors that came in SCM_RIGHTS), replies
/// out, over a connected non-blocking UNIX stream socket.
///
/// Each receive asks for no more than the rest of the message in progress (its header, then its payload),
/// so a read never spans two messages and the descriptors it brings belong to the message it read from.
final class VhostUserChannel {
    enum ReadOutcome: Equatable {
        /// Nothing more now.
        case waiting
        /// Peer gone or stream broken: the reason, for the log.
        case closed(String)
    }

    /// More than any request carries (a memory table has at most 8); a peer sending more is broken.
    static let maximumDescriptors = 16
    /// How long `send` waits, in 1 ms steps, for a full socket to take a reply.
    static let sendWaitSteps = 200
    static let messagesPerRead = 64

    private let socket: Descriptor
    /// Holds one message: header, then payload.
    private let buffer: UnsafeMutableRawBufferPointer
    private var filled = 0
    private var header: VhostUserHeader?
    /// Descriptors received during the message in progress.
    private var held: [Int32] = []
    private var closedReason: String?

    init(socket: Descriptor) {
        self.socket = socket
        buffer = .allocate(byteCount: VhostUserHeader.size + VhostUserHeader.maximumPayload, alignment: 8)
    }

    deinit {
        closeHeld()
        buffer.deallocate()
    }

    /// Reads what arrived and hands each complete message (header, payload, descriptors) to `handle`, in
    /// order; descriptors belong to `handle`, the payload only lasts for the call. `handle` returns false
    /// to stop reading (the frontend is being dropped). Returns when the socket has no more bytes, after
    /// `messagesPerRead` messages (.waiting: a frontend that never stops writing can't keep the loop from
    /// the datapath; the socket stays readable) or when it is done (.closed; every later call says so again).
    func read(_ handle: (VhostUserHeader, UnsafeRawBufferPointer, [Int32]) -> Bool) -> ReadOutcome {
        if let closedReason { return .closed(closedReason) }
        var handled = 0
        while true {
            let wanted = VhostUserHeader.size + Int(header?.size ?? 0)
            if let header, filled == wanted {
                let descriptors = held
                held = []
                filled = 0
                self.header = nil
                guard handle(header, UnsafeRawBufferPointer(rebasing: buffer[VhostUserHeader.size..<wanted]), descriptors) else {
                    return .waiting
                }
                handled += 1
                if handled == Self.messagesPerRead { return .waiting }
                continue
            }
            let (result, descriptors, truncated) = SocketCalls.receiveWithDescriptors(
                socket.raw, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<wanted]))
            held.append(contentsOf: descriptors)
            if truncated || held.count > Self.maximumDescriptors {
                return close("more than \(Self.maximumDescriptors) descriptors with one message")
            }
            switch result {
            case .wouldBlock:
                return .waiting
            case .failed(let code) where code == EINTR:
                continue
            case .failed(let code):
                return close("receive: \(errorDescription(code))")
            case .done(0):
                return close(filled == 0 && held.isEmpty ? "peer closed the connection"
                                                         : "peer closed the connection inside a message")
            case .done(let count):
                filled += count
                if header == nil && filled == VhostUserHeader.size {
                    let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<VhostUserHeader.size])
                    guard let parsed = VhostUserHeader.parse(bytes) else { return close(Self.headerRefusal(bytes)) }
                    header = parsed
                }
            }
        }
    }

    /// Sends a reply whole (retrying briefly on EAGAIN: replies are small); false if the peer is gone.
    func send(_ bytes: [UInt8]) -> Bool {
        if closedReason != nil { return false }
        return bytes.withUnsafeBytes { all in
            var offset = 0
            var waits = 0
            while offset < all.count {
                switch SocketCalls.send(socket.raw, UnsafeRawBufferPointer(rebasing: all[offset...])) {
                case .done(let count):
                    offset += count
                case .wouldBlock:
                    guard waits < Self.sendWaitSteps else { return false }
                    waits += 1
                    usleep(1000)
                case .failed(let code) where code == EINTR:
                    continue
                case .failed:
                    return false
                }
            }
            return true
        }
    }

    private func close(_ reason: String) -> ReadOutcome {
        closeHeld()
        filled = 0
        header = nil
        closedReason = reason
        return .closed(reason)
    }

    private func closeHeld() {
        for descriptor in held { Glibc.close(descriptor) }
        held = []
    }

    /// Why `parse` refused a header, for the log.
    private static func headerRefusal(_ bytes: UnsafeRawBufferPointer) -> String {
        let request = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
        let flags = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let size = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        if flags & VhostUserFlags.versionMask != VhostUserFlags.version {
            return "request \(request): protocol version \(flags & VhostUserFlags.versionMask), not 1"
        }
        return "request \(request): payload of \(size) bytes, more than \(VhostUserHeader.maximumPayload)"
    }
}
