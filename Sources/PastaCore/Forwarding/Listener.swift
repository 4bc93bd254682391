import Glibc

/// Which namespace a forwarding socket lives in: ours (the host's, `-t`/`-u`) or the target's (`-T`/`-U`).
public enum ForwardingSide: Equatable {
    case host
    case namespace

    public var other: ForwardingSide { self == .host ? .namespace : .host }
}

/// One listening (TCP) or bound (UDP) socket that forwards `port` to `targetPort` on the other side, at
/// `targetAddress` if its rule names one. The target may change under a socket that stays: a rule
/// replaced by one with the same listening address and port keeps its socket and what waits in it.
public final class Listener {
    public let socket: Descriptor
    public let side: ForwardingSide
    public let address: IPAddress
    public let interface: String?
    public let port: UInt16
    public internal(set) var targetPort: UInt16
    /// Nil: the guest's own address (the host's loopback for namespace-side listeners).
    public internal(set) var targetAddress: IPAddress?
    /// Opened by auto mode because the port is bound on the other side (closed when it no longer is).
    public internal(set) var automatic: Bool
    let reference: EventReference

    init(socket: Descriptor, side: ForwardingSide, address: IPAddress, interface: String?, port: UInt16,
         targetPort: UInt16, targetAddress: IPAddress?, automatic: Bool, reference: EventReference) {
        self.socket = socket
        self.side = side
        self.address = address
        self.interface = interface
        self.port = port
        self.targetPort = targetPort
        self.targetAddress = targetAddress
        self.automatic = automatic
        self.reference = reference
    }
}
