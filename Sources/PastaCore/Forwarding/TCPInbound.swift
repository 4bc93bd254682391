import CLinux
import Glibc

/// Connections accepted by forwarding listeners: local ones (SpliceTargets) are spliced to the other side,
/// the rest become TCP flows through the tap.
final class TCPInbound {
    private let listeners: Listeners
    private let flows: TCPFlows
    private let splice: TCPSplice
    private let targets: SpliceTargets

    init(listeners: Listeners, flows: TCPFlows, splice: TCPSplice, targets: SpliceTargets) {
        self.listeners = listeners
        self.flows = flows
        self.splice = splice
        self.targets = targets
    }

    func accept(_ reference: EventReference, now: Int) {
        guard let listener = listeners[reference] else { return }
        var family: Int32 = 0, port: UInt16 = 0
        var address = [UInt8](repeating: 0, count: 16)
        while true {
            let fd = CLinux_accept_ip(listener.socket.raw, &family, &address, &port)
            if fd < 0 { return flows.acceptFailed() }
            let socket = Descriptor(fd)
            let peer = IPAddress(family: family, shimBytes: address)
            if let destination = targets.destination(for: listener, client: peer) {
                splice.join(socket, to: destination, port: listener.targetPort, on: listener.side.other)
            } else {
                flows.adopt(socket, peer: peer, peerPort: port, guestPort: listener.targetPort,
                            guestAddress: listener.targetAddress, now: now)
            }
        }
    }
}
