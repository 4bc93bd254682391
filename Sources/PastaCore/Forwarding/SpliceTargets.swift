import Glibc

/// Where local traffic a listener receives goes on the other side, bypassing the tap: anything a `-T`/`-U`
/// listener gets goes to the host's loopback (or its rule's target address); what a `-t`/`-u` listener
/// gets from a loopback address goes to its rule's target address in the namespace, else the guest's
/// address there (its loopback with --host-lo-to-ns-lo), so services the guest keeps on its own loopback
/// stay private by default. Nil means "not local": the tap carries it.
struct SpliceTargets {
    private let fromHost: Bool
    private let toNamespaceLoopback: Bool
    private let guest: GuestAddresses

    init(_ configuration: RuntimeConfiguration, guest: GuestAddresses) {
        // passt has no namespace to splice into: its local traffic goes to the guest like the rest.
        fromHost = configuration.options.mode == .pasta && !configuration.options.noSplice
        // --splice-only implies --host-lo-to-ns-lo: the namespace has no other address.
        toNamespaceLoopback = configuration.options.hostLoopbackToNamespaceLoopback || configuration.options.spliceOnly
        self.guest = guest
    }

    func destination(for listener: Listener, client: IPAddress) -> IPAddress? {
        let isIPv4 = client.family == AF_INET
        switch listener.side {
        case .namespace:
            return listener.targetAddress ?? (isIPv4 ? .v4(.loopback) : .v6(.loopback))
        case .host:
            guard fromHost, client.isLoopback else { return nil }
            if let target = listener.targetAddress { return target }
            if toNamespaceLoopback { return isIPv4 ? .v4(.loopback) : .v6(.loopback) }
            return guest.address(like: client)
        }
    }
}
