import CLinux
import Glibc

/// Which namespace a forwarding socket lives in: ours (the host's, `-t`/`-u`) or the target's (`-T`/`-U`).
public enum ForwardingSide: Equatable {
    case host
    case namespace

    public var other: ForwardingSide { self == .host ? .namespace : .host }
}

/// One listening (TCP) or bound (UDP) socket that forwards `port` to `targetPort` on the other side.
public final class Listener {
    public let socket: Descriptor
    public let side: ForwardingSide
    public let address: IPAddress
    public let port: UInt16
    public let targetPort: UInt16
    /// Opened by auto mode because the port is bound on the other side (closed when it no longer is).
    public let automatic: Bool
    let reference: EventReference

    init(socket: Descriptor, side: ForwardingSide, address: IPAddress, port: UInt16, targetPort: UInt16,
         automatic: Bool, reference: EventReference) {
        self.socket = socket
        self.side = side
        self.address = address
        self.port = port
        self.targetPort = targetPort
        self.automatic = automatic
        self.reference = reference
    }
}
