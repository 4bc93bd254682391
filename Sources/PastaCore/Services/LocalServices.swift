/// The services answered locally (ARP, DHCP, NDP, DHCPv6), tried on each frame from the namespace or guest.
public struct LocalServices {
    public let settings: ServiceSettings

    public init(_ settings: ServiceSettings) { self.settings = settings }

    /// Writes the reply to `frame`, if any service has one, into `reply`. `seenGuestAddress4`: the IPv4
    /// address the guest's packets show, if it differs from the configured one.
    public func answer(_ frame: UnsafeRawBufferPointer, into reply: UnsafeMutableRawBufferPointer,
                       seenGuestAddress4: IPv4Address? = nil) -> ServiceOutcome {
        guard let ethernet = EthernetFrame(frame) else { return .notForUs }
        switch ethernet.etherType {
        case EtherType.arp:
            let guest = [settings.guestAddress4, seenGuestAddress4].compactMap { $0 }
            return ArpResponder.reply(to: frame, ourMAC: settings.ourMAC, guestAddresses: guest, into: reply).map(ServiceOutcome.reply)
                ?? .notForUs
        case EtherType.ipv4:
            return DHCPServer.reply(to: frame, settings: settings, into: reply)
        case EtherType.ipv6:
            let ndp = NDPResponder.reply(to: frame, settings: settings, into: reply)
            if ndp != .notForUs { return ndp }
            return DHCPv6Server.reply(to: frame, settings: settings, into: reply)
        default:
            return .notForUs
        }
    }
}
