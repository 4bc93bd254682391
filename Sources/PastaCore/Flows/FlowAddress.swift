/// An address of either family in one 128-bit form (IPv4 as ::ffff:a.b.c.d), so flow keys hash the same
/// way for both.
public struct FlowAddress: Hashable {
    public var high: UInt64
    public var low: UInt64

    public init(_ address: IPAddress) {
        switch address {
        case .v4(let a): (high, low) = (0, 0xFFFF_0000_0000 | UInt64(a.value))
        case .v6(let a): (high, low) = (a.high, a.low)
        }
    }

    public init(ipv4 value: UInt32) { (high, low) = (0, 0xFFFF_0000_0000 | UInt64(value)) }
    public init(high: UInt64, low: UInt64) { (self.high, self.low) = (high, low) }

    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    public var ip: IPAddress {
        isIPv4 ? .v4(IPv4Address(UInt32(truncatingIfNeeded: low))) : .v6(IPv6Address(high: high, low: low))
    }
}

/// A flow as the guest sees it: its own address and port, and the peer's.
public struct FlowKey: Hashable {
    public var guest: FlowAddress
    public var remote: FlowAddress
    public var guestPort: UInt16
    public var remotePort: UInt16
}

extension IPAddress {
    /// An address as the socket shim reports one: a family and 16 bytes, IPv4 in the first 4.
    init(family: Int32, shimBytes bytes: some Collection<UInt8>) {
        self = family == 2 /* AF_INET */ ? .v4(IPv4Address(bytes: bytes.prefix(4))!) : .v6(IPv6Address(bytes: bytes.prefix(16))!)
    }

    /// The address bytes in network order (4 or 16), for the socket shim.
    var networkBytes: [UInt8] {
        switch self {
        case .v4(let a): return a.bytes
        case .v6(let a): return a.bytes
        }
    }

    var family: Int32 {
        switch self {
        case .v4: return 2   // AF_INET
        case .v6: return 10  // AF_INET6
        }
    }

    var isLoopback: Bool {
        switch self {
        case .v4(let a): return a.isLoopback
        case .v6(let a): return a.isLoopback
        }
    }
}
