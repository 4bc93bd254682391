import Glibc

/// An IPv4 address, stored as its four bytes in network order.
public struct IPv4Address: Hashable, Comparable, CustomStringConvertible {
    /// The address as a host-order integer (192.0.2.1 is 0xC0000201).
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses strict dotted-quad notation.
    public init?(_ text: String) {
        var raw = in_addr()
        guard inet_pton(AF_INET, text, &raw) == 1 else { return nil }
        value = UInt32(bigEndian: raw.s_addr)
    }

    /// Reads four bytes in network order.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
         UInt8(truncatingIfNeeded: value)]
    }

    public var description: String { bytes.map(String.init).joined(separator: ".") }

    public static let any = IPv4Address(0)
    public static let loopback = IPv4Address(127, 0, 0, 1)

    public var isUnspecified: Bool { value == 0 }
    public var isLoopback: Bool { value >> 24 == 127 }
    public var isMulticast: Bool { value >> 28 == 0xE }
    public var isBroadcast: Bool { value == 0xFFFF_FFFF }
    public var isLinkLocal: Bool { value >> 16 == 0xA9FE }

    /// Netmask of `prefixLength` bits.
    public static func mask(prefixLength: Int) -> IPv4Address {
        prefixLength <= 0 ? IPv4Address(0) : IPv4Address(UInt32.max << UInt32(32 - min(prefixLength, 32)))
    }

    /// The prefix length of a contiguous netmask, or nil when the mask has holes.
    public var contiguousPrefixLength: Int? {
        let ones = value.leadingZeroBitCount == 0 ? (~value).leadingZeroBitCount : 0
        return IPv4Address.mask(prefixLength: ones) == self ? ones : nil
    }

    /// Classful prefix length (RFC 4632 section 3.1 legacy blocks) used when no host mask applies.
    public var classfulPrefixLength: Int {
        switch value >> 28 {
        case 0..<8: return 8
        case 8..<12: return 16
        default: return 24
        }
    }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// An IPv6 address, stored as its sixteen bytes in network order.
public struct IPv6Address: Hashable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init?(_ text: String) {
        var raw = in6_addr()
        guard inet_pton(AF_INET6, text, &raw) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &raw) { Array($0) }
        self.init(bytes: bytes)!
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let array = Array(bytes)
        high = array[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = array[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * $0)) }
    }

    public var description: String {
        var raw = in6_addr()
        let bytes = self.bytes
        withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
        return String(cString: text)
    }

    public static let any = IPv6Address(high: 0, low: 0)
    public static let loopback = IPv6Address(high: 0, low: 1)

    public var isUnspecified: Bool { high == 0 && low == 0 }
    public var isLoopback: Bool { high == 0 && low == 1 }
    public var isLinkLocal: Bool { high >> 54 == 0x3FA }  // fe80::/10
    public var isMulticast: Bool { high >> 56 == 0xFF }
}

/// Either address family, as options like `-a` and `-D` accept both.
public enum IPAddress: Hashable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init?(_ text: String) {
        if let a = IPv4Address(text) {
            self = .v4(a)
        } else if let a = IPv6Address(text) {
            self = .v6(a)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return a.description
        }
    }

    public var isUnspecified: Bool {
        switch self {
        case .v4(let a): return a.isUnspecified
        case .v6(let a): return a.isUnspecified
        }
    }

    public var isMulticast: Bool {
        switch self {
        case .v4(let a): return a.isMulticast || a.isBroadcast
        case .v6(let a): return a.isMulticast
        }
    }
}

/// A 48-bit Ethernet address.
public struct MACAddress: Hashable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        self.bytes = Array(bytes)
    }

    /// Parses six colon-separated hexadecimal octets.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var result: [UInt8] = []
        for part in parts {
            guard (1...2).contains(part.count), let byte = UInt8(part, radix: 16) else { return nil }
            result.append(byte)
        }
        bytes = result
    }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    public var isMulticast: Bool { bytes[0] & 1 != 0 }
    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// Locally administered unicast address used when the host has no usable interface MAC.
    public static let fallback = MACAddress(bytes: [0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55])!
    public static let broadcast = MACAddress(bytes: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])!
}

/// IPv4Address and IPv6Address, where code is the same for both families.
protocol FamilyAddress: Hashable {
    /// The address of this family inside `address`, nil for the other family.
    init?(_ address: IPAddress)
    var ip: IPAddress { get }
}

extension IPv4Address: FamilyAddress {
    init?(_ address: IPAddress) {
        guard case .v4(let a) = address else { return nil }
        self = a
    }

    var ip: IPAddress { .v4(self) }
}

extension IPv6Address: FamilyAddress {
    init?(_ address: IPAddress) {
        guard case .v6(let a) = address else { return nil }
        self = a
    }

    var ip: IPAddress { .v6(self) }
}
