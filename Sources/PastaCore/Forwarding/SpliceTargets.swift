import Glibc

/// Where local traffic a listener receives goes on the other side, bypassing the tap: anything a `-T`/`-U`
/// listener gets goes to the host's loopback; what a `-t`/`-u` listener gets from a loopback address goes
/// to the guest's address in the namespace (its loopback with --host-lo-to-ns-lo), so services the guest
/// keeps on its own loopback stay private by default. Nil means "not local": the tap carries it.
struct SpliceTargets {
    private let fromHost: Bool
    private let namespace4: IPAddress?
    private let namespace6: IPAddress?

    init(_ configuration: RuntimeConfiguration) {
        let options = configuration.options
        fromHost = !options.noSplice
        let translation = AddressTranslation(configuration)
        if options.hostLoopbackToNamespaceLoopback {
            namespace4 = .v4(.loopback)
            namespace6 = .v6(.loopback)
        } else {
            namespace4 = translation.guestAddress4.map(IPAddress.v4)
            namespace6 = translation.guestAddress6.map(IPAddress.v6)
        }
    }

    func destination(listenerSide: ForwardingSide, client: IPAddress) -> IPAddress? {
        let isIPv4 = client.family == AF_INET
        switch listenerSide {
        case .namespace:
            return isIPv4 ? .v4(.loopback) : .v6(.loopback)
        case .host:
            guard fromHost, client.isLoopback else { return nil }
            return isIPv4 ? namespace4 : namespace6
        }
    }
}
