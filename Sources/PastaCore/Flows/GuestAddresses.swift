/// The guest's addresses as its own packets show them (the configured ones until it has sent any): where
/// inbound connections and datagrams go. One instance is shared by the TCP and UDP flows and the splice
/// targets, so whichever protocol sees the guest first informs them all.
final class GuestAddresses {
    private(set) var ipv4: IPv4Address?
    private(set) var ipv6: IPv6Address?
    /// Addresses forwarding rules send to besides the guest's own (`-t PORT:ADDR/PORT`): what comes from
    /// them says nothing about the guest's address.
    private var forwardingTargets4: [IPv4Address] = []
    private var forwardingTargets6: [IPv6Address] = []

    init(_ configuration: RuntimeConfiguration) {
        reset(to: configuration)
    }

    /// The configured addresses again: the host's changed, and so did the guest's (`--config-net`), or
    /// will at its next DHCP or SLAAC round.
    func reset(to configuration: RuntimeConfiguration) {
        let translation = AddressTranslation(configuration)
        ipv4 = translation.guestAddress4
        ipv6 = translation.guestAddress6
    }

    @inline(__always)
    func observe(_ source: IPv4Address) {
        if !source.isUnspecified, ipv4 != source, !forwardingTargets4.contains(source) { ipv4 = source }
    }

    /// Link-local sources are skipped: a global address is what a connection from outside can reach.
    @inline(__always)
    func observe(_ source: IPv6Address) {
        if !source.isLinkLocal, !source.isUnspecified, ipv6 != source, !forwardingTargets6.contains(source) { ipv6 = source }
    }

    func setForwardingTargets(_ targets: [IPAddress]) {
        forwardingTargets4 = targets.compactMap { if case .v4(let a) = $0 { return a }; return nil }
        forwardingTargets6 = targets.compactMap { if case .v6(let a) = $0 { return a }; return nil }
    }

    /// The guest's address of the same family as `other`.
    func address(like other: IPAddress) -> IPAddress? {
        switch other {
        case .v4: return ipv4.map(IPAddress.v4)
        case .v6: return ipv6.map(IPAddress.v6)
        }
    }
}
