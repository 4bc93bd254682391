/// A network interface as RTM_NEWLINK describes it.
public struct LinkInfo: Equatable {
    public var index: Int32
    public var name: String
    public var flags: UInt32
    public var mac: MACAddress?
    public var mtu: UInt32?

    /// Parses an ifinfomsg (16 bytes) and its attributes; nil when truncated.
    static func parse(_ payload: ArraySlice<UInt8>) -> LinkInfo? {
        guard payload.count >= 16 else { return nil }
        let base = payload.startIndex
        let attributes = NetlinkAttributes(payload.dropFirst(16))
        guard let name = attributes.string(Netlink.linkName), !name.isEmpty else { return nil }
        return LinkInfo(
            index: payload.loadNative(Int32.self, at: base + 4),
            name: name,
            flags: payload.loadNative(UInt32.self, at: base + 8),
            mac: attributes[Netlink.linkAddress].flatMap { MACAddress(bytes: $0) },
            mtu: attributes.uint32(Netlink.linkMTU))
    }
}

/// An interface address as RTM_NEWADDR describes it.
public struct AddressInfo: Equatable {
    public var interfaceIndex: Int32
    public var address: IPAddress
    public var prefixLength: Int
    public var scope: UInt8
    /// IFA_F_* (the IFA_FLAGS attribute, or ifa_flags where the kernel sends none).
    public var flags: UInt32 = 0

    /// An IPv6 privacy address (RFC 8981), one being given up, or one another host holds: not the host's
    /// address to copy or hand out. (For IPv4 the same bit as "temporary" means secondary: those count.)
    var isTransient: Bool {
        guard case .v6 = address else { return false }
        return flags & (Netlink.addressFlagTemporary | Netlink.addressFlagDeprecated | Netlink.addressFlagDADFailed) != 0
    }

    static func parse(_ payload: ArraySlice<UInt8>) -> AddressInfo? {
        guard payload.count >= 8 else { return nil }
        let base = payload.startIndex
        let family = payload[base]
        let attributes = NetlinkAttributes(payload.dropFirst(8))
        // IFA_LOCAL is the local address on point-to-point links; IFA_ADDRESS elsewhere.
        guard let raw = attributes[Netlink.addressLocal] ?? attributes[Netlink.addressAddress],
              let address = IPAddress(family: family, bytes: raw)
        else { return nil }
        let prefix = Int(payload[base + 1])
        guard prefix <= (family == Netlink.familyIPv4 ? 32 : 128) else { return nil }
        return AddressInfo(
            interfaceIndex: Int32(bitPattern: payload.loadNative(UInt32.self, at: base + 4)),
            address: address, prefixLength: prefix, scope: payload[base + 3],
            flags: attributes.uint32(Netlink.addressFlags) ?? UInt32(payload[base + 2]))
    }
}

/// A route as RTM_NEWROUTE describes it.
public struct RouteInfo: Equatable {
    public var family: UInt8
    public var destination: IPAddress?
    public var destinationLength: Int
    public var gateway: IPAddress?
    public var outputInterface: Int32?
    public var table: UInt32
    public var routingProtocol: UInt8
    public var scope: UInt8
    public var type: UInt8
    public var priority: UInt32?

    public var isDefault: Bool { destinationLength == 0 }

    /// Whether an rtmsg describes a route the kernel cloned (RTM_F_CLONED in rtm_flags): a cache entry,
    /// such as an IPv6 path MTU exception, not a route of the table.
    static func isCloned(_ payload: ArraySlice<UInt8>) -> Bool {
        guard payload.count >= 12 else { return false }
        return payload.loadNative(UInt32.self, at: payload.startIndex + 8) & Netlink.routeFlagCloned != 0
    }

    static func parse(_ payload: ArraySlice<UInt8>) -> RouteInfo? {
        guard payload.count >= 12 else { return nil }
        let base = payload.startIndex
        let family = payload[base]
        guard family == Netlink.familyIPv4 || family == Netlink.familyIPv6 else { return nil }
        let destinationLength = Int(payload[base + 1])
        guard destinationLength <= (family == Netlink.familyIPv4 ? 32 : 128) else { return nil }
        let attributes = NetlinkAttributes(payload.dropFirst(12))
        return RouteInfo(
            family: family,
            destination: attributes[Netlink.routeDestination].flatMap { IPAddress(family: family, bytes: $0) },
            destinationLength: destinationLength,
            gateway: attributes[Netlink.routeGateway].flatMap { IPAddress(family: family, bytes: $0) },
            outputInterface: attributes.uint32(Netlink.routeOutput).map { Int32(bitPattern: $0) },
            table: attributes.uint32(Netlink.routeTable) ?? UInt32(payload[base + 4]),
            routingProtocol: payload[base + 5],
            scope: payload[base + 6],
            type: payload[base + 7],
            priority: attributes.uint32(Netlink.routePriority))
    }
}

extension IPAddress {
    init?(family: UInt8, bytes: ArraySlice<UInt8>) {
        switch family {
        case Netlink.familyIPv4:
            guard let a = IPv4Address(bytes: bytes) else { return nil }
            self = .v4(a)
        case Netlink.familyIPv6:
            guard let a = IPv6Address(bytes: bytes) else { return nil }
            self = .v6(a)
        default: return nil
        }
    }

    var netlinkFamily: UInt8 {
        if case .v4 = self { return Netlink.familyIPv4 }
        return Netlink.familyIPv6
    }

    var rawBytes: [UInt8] {
        switch self {
        case .v4(let a): return a.bytes
        case .v6(let a): return a.bytes
        }
    }
}
