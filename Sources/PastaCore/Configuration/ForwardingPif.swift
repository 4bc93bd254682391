/// The pesto protocol's names for the sides traffic enters by ("pif", passt interface): each forwarding
/// table belongs to the one its listening sockets live on.
public enum ForwardingPif: UInt8, CaseIterable {
    /// The host: `-t`/`-u`, to the guest.
    case host = 1
    /// The guest's own interface (outbound rules): not a table of ours.
    case tap = 2
    /// pasta's namespace: `-T`/`-U`, to the host's loopback.
    case splice = 3

    public var name: String {
        switch self {
        case .host: return "HOST"
        case .tap: return "TAP"
        case .splice: return "SPLICE"
        }
    }

    /// By name, in any case (`-C host`).
    public init?(name: String) {
        guard let pif = Self.allCases.first(where: { $0.name == name.uppercased() }) else { return nil }
        self = pif
    }
}
