/// The names a client is told to use: its host name (DHCP option 12, RFC 2132 section 3.14) and its fully
/// qualified domain name (DHCP option 81, RFC 4702; DHCPv6 option 39, RFC 4704). Each function gives the
/// option's value, or nil when the name can't be carried (the option is then left out).
enum ClientNameOptions {
    /// RFC 4702 section 2.1 flags: N, we update no DNS records (so S stays 0); E, the name is in DNS wire
    /// format rather than the deprecated ASCII form.
    static let dhcpFlags: UInt8 = 0x08 | 0x04
    /// RFC 4702 section 2.2: a server sets both RCODE fields to 255.
    static let dhcpResponseCode: UInt8 = 255
    /// RFC 4704 section 4.1 flags: N, we update no DNS records.
    static let dhcpv6Flags: UInt8 = 0x04

    /// Option 12: the name's bytes, at least one (RFC 2132) and at most what one option holds.
    static func hostName(_ name: String) -> [UInt8]? {
        let bytes = Array(name.utf8)
        return (1...255).contains(bytes.count) ? bytes : nil
    }

    /// Option 81: flags, RCODE1, RCODE2, then the name in wire format, fully qualified (root label last).
    /// May exceed 255 bytes: the writer splits it as RFC 3396 describes.
    static func dhcpFQDN(_ name: String) -> [UInt8]? {
        guard let wire = wireFormat(name) else { return nil }
        return [dhcpFlags, dhcpResponseCode, dhcpResponseCode] + wire
    }

    /// Option 39: flags, then the name in wire format, fully qualified.
    static func dhcpv6FQDN(_ name: String) -> [UInt8]? {
        guard let wire = wireFormat(name) else { return nil }
        return [dhcpv6Flags] + wire
    }

    private static func wireFormat(_ name: String) -> [UInt8]? {
        let wire = DomainNameEncoding.encode([name], compressed: false)
        return wire.isEmpty ? nil : wire
    }
}
