/// The pesto control protocol, version 2, as pasta and passt serve it on `-c PATH` (a UNIX stream socket):
/// the server sends a hello and its forwarding tables; the client may send complete new tables, then
/// closes. There is no reply. All integers are big-endian.
///
///     hello   magic[8] "basil:s\0", u32 version, u32 pif_name_size (128), u32 ifnamsiz (16)
///     dump    { u8 pif, name[128] (NUL-terminated), u32 caps, u32 count, count x rule }..., u8 0
///     update  { u8 pif, u32 count (<= 255), count x rule }..., u8 0
///     rule    addr[16], taddr[16], ifname[16], u16 first, u16 last, u16 to, u8 proto, u8 flags (56 bytes)
///
/// Addresses are IPv6 or IPv4-mapped (::ffff:a.b.c.d); `addr` :: with flag 1 means any address of both
/// families, `taddr` :: the automatic target.
public enum PestoProtocol {
    public static let magic: [UInt8] = Array("basil:s".utf8) + [0]
    public static let version: UInt32 = 2
    public static let pifNameSize = 128
    public static let interfaceNameSize = 16
    public static let helloSize = 20
    public static let ruleSize = 56
    /// Rules a client may send for one table.
    public static let maximumRulesPerUpdate = 255

    /// Rule flags.
    static let dualStack: UInt8 = 1
    static let weak: UInt8 = 2
    static let scan: UInt8 = 4

    public static var hello: [UInt8] {
        var bytes = magic
        bytes.appendBigEndian(version)
        bytes.appendBigEndian(UInt32(pifNameSize))
        bytes.appendBigEndian(UInt32(interfaceNameSize))
        return bytes
    }

    /// The server's tables, for a client.
    public static func dump(_ tables: [ForwardingTable], capabilities: ForwardingCapabilities) -> [UInt8] {
        var bytes: [UInt8] = []
        for table in tables {
            bytes.append(table.pif.rawValue)
            var name = Array(table.pif.name.utf8.prefix(pifNameSize - 1))
            name += [UInt8](repeating: 0, count: pifNameSize - name.count)
            bytes += name
            bytes.appendBigEndian(capabilities.rawValue)
            bytes.appendBigEndian(UInt32(table.rules.count))
            for rule in table.rules { encode(rule, into: &bytes) }
        }
        bytes.append(0)
        return bytes
    }

    /// New tables, for the server.
    public static func update(_ tables: [ForwardingTable]) -> [UInt8] {
        var bytes: [UInt8] = []
        for table in tables {
            bytes.append(table.pif.rawValue)
            bytes.appendBigEndian(UInt32(table.rules.count))
            for rule in table.rules { encode(rule, into: &bytes) }
        }
        bytes.append(0)
        return bytes
    }

    static func encode(_ rule: ForwardingRule, into bytes: inout [UInt8]) {
        bytes += addressBytes(rule.address)
        bytes += addressBytes(rule.targetAddress)
        var name = Array((rule.interface ?? "").utf8.prefix(interfaceNameSize - 1))
        name += [UInt8](repeating: 0, count: interfaceNameSize - name.count)
        bytes += name
        bytes.appendBigEndian(rule.ports.lowerBound)
        bytes.appendBigEndian(rule.ports.upperBound)
        bytes.appendBigEndian(rule.targetFirst)
        bytes.append(rule.transport.rawValue)
        bytes.append((rule.address == nil ? dualStack : 0) | (rule.weak ? weak : 0) | (rule.scan ? scan : 0))
    }

    /// 16 bytes: IPv6 as is, IPv4 mapped, nil as ::.
    static func addressBytes(_ address: IPAddress?) -> [UInt8] {
        switch address {
        case .v4(let a)?: return [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + a.bytes
        case .v6(let a)?: return a.bytes
        case nil: return [UInt8](repeating: 0, count: 16)
        }
    }

    /// One rule from exactly `ruleSize` bytes, or why they aren't one.
    static func decodeRule(_ bytes: ArraySlice<UInt8>) -> Result<ForwardingRule, PestoProtocolError> {
        guard bytes.count == ruleSize else { return .failure(.init("a rule is \(ruleSize) bytes")) }
        let base = bytes.startIndex
        func u16(_ offset: Int) -> UInt16 { UInt16(bytes[base + offset]) << 8 | UInt16(bytes[base + offset + 1]) }
        let flags = bytes[base + 55]
        guard flags & ~(dualStack | weak | scan) == 0 else {
            return .failure(.init("unknown rule flags 0x\(String(flags, radix: 16))"))
        }
        guard let transport = ForwardingRule.TransportProtocol(rawValue: bytes[base + 54]) else {
            return .failure(.init("unknown protocol \(bytes[base + 54])"))
        }
        let first = u16(48), last = u16(50), to = u16(52)
        guard first <= last else { return .failure(.init("port range \(first)-\(last) is reversed")) }
        var address = Self.address(bytes[base..<(base + 16)])
        if flags & dualStack != 0 {
            guard address == .v6(.any) else { return .failure(.init("a dual-stack rule with address \(address.map(String.init(describing:)) ?? "")")) }
            address = nil
        }
        var target = Self.address(bytes[(base + 16)..<(base + 32)])
        if target == .v6(.any) { target = nil }
        let nameBytes = bytes[(base + 32)..<(base + 48)]
        guard let end = nameBytes.firstIndex(of: 0) else {
            return .failure(.init("an interface name without its terminating NUL"))
        }
        let name = nameBytes[nameBytes.startIndex..<end]
        // Names as the kernel takes them: printable, no '/', no blank, not "." or "..".
        guard name.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") }),
              name.elementsEqual([0x2E]) == false, name.elementsEqual([0x2E, 0x2E]) == false
        else { return .failure(.init("an invalid interface name")) }
        let interface = name.isEmpty ? nil : String(decoding: name, as: UTF8.self)
        return .success(ForwardingRule(transport, address: address, interface: interface, ports: first...last,
                                       targetFirst: to, targetAddress: target, weak: flags & weak != 0,
                                       scan: flags & scan != 0))
    }

    /// An address from 16 bytes, IPv4-mapped ones as IPv4; never nil.
    static func address(_ bytes: ArraySlice<UInt8>) -> IPAddress? {
        let isMapped = bytes.prefix(10).allSatisfy { $0 == 0 } && bytes.dropFirst(10).prefix(2).allSatisfy { $0 == 0xFF }
        if isMapped { return IPv4Address(bytes: bytes.suffix(4)).map(IPAddress.v4) }
        return IPv6Address(bytes: bytes).map(IPAddress.v6)
    }

    static func u32(_ bytes: ArraySlice<UInt8>, at offset: Int) -> UInt32 {
        let b = bytes.startIndex + offset
        return UInt32(bytes[b]) << 24 | UInt32(bytes[b + 1]) << 16 | UInt32(bytes[b + 2]) << 8 | UInt32(bytes[b + 3])
    }
}

public struct PestoProtocolError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
