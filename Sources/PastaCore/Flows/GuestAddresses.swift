/// The guest's addresses as its own packets show them (the configured ones until it has sent any): where
/// inbound connections and datagrams go. One instance is shared by the TCP and UDP flows and the splice
/// targets, so whichever protocol sees the guest first informs them all.
final class GuestAddresses {
    private(set) var ipv4: IPv4Address?
    private(set) var ipv6: IPv6Address?

    init(_ configuration: RuntimeConfiguration) {
        let translation = AddressTranslation(configuration)
        ipv4 = translation.guestAddress4
        ipv6 = translation.guestAddress6
    }

    @inline(__always)
    func observe(_ source: IPv4Address) {
        if !source.isUnspecified, ipv4 != source { ipv4 = source }
    }

    /// Link-local sources are skipped: a global address is what a connection from outside can reach.
    @inline(__always)
    func observe(_ source: IPv6Address) {
        if !source.isLinkLocal, !source.isUnspecified, ipv6 != source { ipv6 = source }
    }

    /// The guest's address of the same family as `other`.
    func address(like other: IPAddress) -> IPAddress? {
        switch other {
        case .v4: return ipv4.map(IPAddress.v4)
        case .v6: return ipv6.map(IPAddress.v6)
        }
    }
}
