
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
        while true {
            let (accepted, peer, port) = SocketCalls.accept(listener.socket.raw)
            guard case .done(let fd) = accepted, let peer else {
                if case .failed(let code) = accepted { flows.acceptFailed(code) }
                return
            }
            let socket = Descriptor(Int32(fd))
            if let destination = targets.destination(for: listener, client: peer) {
                splice.join(socket, from: peer, port: port, to: destination, port: listener.targetPort,
                            on: listener.side.other, now: now)
            } else {
                flows.adopt(socket, peer: peer, peerPort: port, guestPort: listener.targetPort,
                            guestAddress: listener.targetAddress, now: now)
            }
        }
    }
}
