import XCTest
@testable import PastaCore

/// Host name (DHCP option 12) and FQDN (DHCP option 81, DHCPv6 option 39) in real replies, read back with
/// a decoder of this test's own that checks every length before it reads.
final class ClientNameOptionsTests: XCTestCase {
    private static let nameLengths = [0, 1, 63, 64, 255]

    // MARK: The test's own decoders

    /// DHCP options by code, repeated codes concatenated (RFC 3396); nil if anything runs past the end or
    /// End is missing.
    static func dhcpOptions(_ message: [UInt8]) -> [UInt8: [UInt8]]? {
        guard message.count >= 240, Array(message[236..<240]) == [0x63, 0x82, 0x53, 0x63] else { return nil }
        var options: [UInt8: [UInt8]] = [:]
        var index = 240
        while true {
            guard index < message.count else { return nil }
            let code = message[index]
            if code == 255 { return options }
            if code == 0 { index += 1; continue }
            guard index + 1 < message.count else { return nil }
            let length = Int(message[index + 1])
            guard index + 2 + length <= message.count else { return nil }
            options[code, default: []] += message[(index + 2)..<(index + 2 + length)]
            index += 2 + length
        }
    }

    /// DHCPv6 options by code after the 4-byte header; nil if one runs past the end.
    static func dhcpv6Options(_ message: [UInt8]) -> [UInt16: [UInt8]]? {
        guard message.count >= 4 else { return nil }
        var options: [UInt16: [UInt8]] = [:]
        var index = 4
        while index < message.count {
            guard index + 4 <= message.count else { return nil }
            let code = UInt16(message[index]) << 8 | UInt16(message[index + 1])
            let length = Int(message[index + 2]) << 8 | Int(message[index + 3])
            guard index + 4 + length <= message.count else { return nil }
            options[code] = Array(message[(index + 4)..<(index + 4 + length)])
            index += 4 + length
        }
        return options
    }

    /// A fully qualified name in wire format, no compression (RFC 1035 section 3.1); nil unless the bytes
    /// are exactly one such name.
    static func wireName(_ bytes: ArraySlice<UInt8>) -> String? {
        var labels: [String] = []
        var index = bytes.startIndex
        while true {
            guard index < bytes.endIndex else { return nil }
            let length = Int(bytes[index])
            if length == 0 { break }
            guard length <= 63, index + 1 + length <= bytes.endIndex else { return nil }
            labels.append(String(decoding: bytes[(index + 1)..<(index + 1 + length)], as: UTF8.self))
            index += 1 + length
        }
        guard index + 1 == bytes.endIndex, bytes.count <= 255 else { return nil }
        return labels.joined(separator: ".")
    }

    /// A name of exactly `length` bytes in labels of at most 63 ("aaa...a.bbb...").
    static func domain(length: Int) -> String {
        var labels: [String] = []
        var left = length
        var letter = UInt8(ascii: "a")
        while left > 0 {
            let take = left <= 63 ? left : min(63, left - 2)
            labels.append(String(repeating: Character(UnicodeScalar(letter)), count: take))
            letter += 1
            left -= take + (left > take ? 1 : 0)
        }
        let name = labels.joined(separator: ".")
        precondition(name.utf8.count == length)
        return name
    }

    // MARK: Requests

    private func discover(maximumSize: Int?) -> [UInt8] {
        var bytes: [UInt8] = [1, 1, 6, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, 0x80, 0]
        bytes += [UInt8](repeating: 0, count: 16)
        bytes += FrameFixtures.guestMAC.bytes + [UInt8](repeating: 0, count: 10 + 64 + 128)
        bytes += [0x63, 0x82, 0x53, 0x63, 53, 1, 1]
        if let maximumSize { bytes += [57, 2, UInt8(maximumSize >> 8), UInt8(maximumSize & 0xFF)] }
        bytes += [55, 4, 1, 3, 12, 81, 255]
        return FrameFixtures.udp4(bytes, sourcePort: 68, destinationPort: 67)
    }

    private func solicit() -> [UInt8] {
        func option(_ code: UInt16, _ body: [UInt8]) -> [UInt8] {
            [UInt8(code >> 8), UInt8(code & 0xFF), UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        }
        let options = option(1, [0, 3, 0, 1] + FrameFixtures.guestMAC.bytes)
            + option(3, [0, 0, 0, 1] + [UInt8](repeating: 0, count: 8)) + option(6, [0, 39])
        return FrameFixtures.udp6([1, 0xAB, 0xCD, 0xEF] + options, source: IPv6Address("fe80::5054:ff:fe12:3456")!,
                                  destination: DHCPv6Server.allServersAndRelays, sourcePort: 546, destinationPort: 547)
    }

    private func settings(hostname: String, fqdn: String) throws -> ServiceSettings {
        var settings = try ServiceFixtures.settings()
        settings.hostNameOption = ClientNameOptions.hostName(hostname)
        settings.fqdnOption = ClientNameOptions.dhcpFQDN(fqdn)
        settings.fqdnOption6 = ClientNameOptions.dhcpv6FQDN(fqdn)
        return settings
    }

    private func dhcpReply(_ settings: ServiceSettings, maximumSize: Int? = nil) throws -> [UInt8] {
        let (_, reply) = FrameFixtures.run({ DHCPServer.reply(to: $0, settings: settings, into: $1) },
                                           discover(maximumSize: maximumSize))
        let frame = try XCTUnwrap(reply)
        XCTAssertTrue(FrameFixtures.checksumsValid(frame))
        return Array(frame[ReplyFrame.udp4PayloadOffset...])
    }

    private func dhcpv6Reply(_ settings: ServiceSettings) throws -> [UInt8] {
        let (_, reply) = FrameFixtures.run({ DHCPv6Server.reply(to: $0, settings: settings, into: $1) }, solicit())
        let frame = try XCTUnwrap(reply)
        XCTAssertTrue(FrameFixtures.checksumsValid(frame))
        return Array(frame[ReplyFrame.udp6PayloadOffset...])
    }

    // MARK: Tests

    func testEncodingsAtEachNameLength() {
        for length in Self.nameLengths {
            let host = String(repeating: "h", count: length)
            XCTAssertEqual(ClientNameOptions.hostName(host), length == 0 ? nil : Array(host.utf8), "host name of \(length)")
            let name = Self.domain(length: length)
            let wire = DomainNameEncoding.encode([name], compressed: false)
            // A name takes its length plus 2 in wire format, which holds 255: 0 and 255 can't be carried.
            let carried = length > 0 && length + 2 <= 255
            if carried {
                XCTAssertEqual(ClientNameOptions.dhcpFQDN(name), [0x0C, 255, 255] + wire, "option 81, \(length)")
                XCTAssertEqual(ClientNameOptions.dhcpv6FQDN(name), [0x04] + wire, "option 39, \(length)")
                XCTAssertEqual(Self.wireName(wire[...]), name, "wire format of \(length)")
            } else {
                XCTAssertNil(ClientNameOptions.dhcpFQDN(name), "option 81, \(length)")
                XCTAssertNil(ClientNameOptions.dhcpv6FQDN(name), "option 39, \(length)")
            }
        }
        // A label is at most 63 bytes (RFC 1035 section 2.3.4).
        XCTAssertNil(ClientNameOptions.dhcpFQDN(String(repeating: "x", count: 64)))
        XCTAssertNil(ClientNameOptions.dhcpv6FQDN("a..b"))
    }

    func testDHCPRepliesCarryTheNamesAtEachLength() throws {
        for length in Self.nameLengths {
            let host = String(repeating: "h", count: length), name = Self.domain(length: length)
            // 1500: room for everything; without option 57 the reply stays within 576 bytes of IP datagram.
            for maximumSize in [1500, nil] {
                let message = try dhcpReply(try settings(hostname: host, fqdn: name), maximumSize: maximumSize)
                let options = try XCTUnwrap(Self.dhcpOptions(message), "reply with names of \(length)")
                XCTAssertLessThanOrEqual(message.count + 28, maximumSize ?? 576, "within the client's limit")
                XCTAssertEqual(options[53], [2], "still an OFFER")
                XCTAssertEqual(options[1], [255, 255, 255, 0], "the configuration is still there")
                if let hostName = options[12] {
                    XCTAssertEqual(hostName, Array(host.utf8))
                } else {
                    XCTAssertTrue(length == 0 || maximumSize == nil, "option 12 missing for \(length)")
                }
                if let fqdn = options[81] {
                    XCTAssertEqual(Array(fqdn.prefix(3)), [0x0C, 255, 255], "flags N and E, RCODEs 255")
                    XCTAssertEqual(Self.wireName(fqdn.dropFirst(3)), name)
                } else {
                    XCTAssertTrue(length == 0 || length == 255 || maximumSize == nil, "option 81 missing for \(length)")
                }
                if maximumSize == 1500, length == 255 { XCTAssertNotNil(options[12], "a 255-byte host name fits") }
            }
        }
    }

    func testLimitsLeaveWholeOptionsOutAndTheReplyWellFormed() throws {
        let settings = try settings(hostname: String(repeating: "h", count: 255), fqdn: Self.domain(length: 253))
        var sawBoth = false, sawHostOnly = false
        for maximumSize in stride(from: 576, through: 1500, by: 4) {
            let message = try dhcpReply(settings, maximumSize: maximumSize)
            XCTAssertLessThanOrEqual(message.count + 28, maximumSize)
            let options = try XCTUnwrap(Self.dhcpOptions(message), "limit \(maximumSize)")
            if let host = options[12] { XCTAssertEqual(host.count, 255) }
            if let fqdn = options[81] { XCTAssertNotNil(Self.wireName(fqdn.dropFirst(3)), "a whole name or none") }
            sawBoth = sawBoth || (options[12] != nil && options[81] != nil)
            sawHostOnly = sawHostOnly || (options[12] != nil && options[81] == nil)
        }
        // At 576 bytes the host name fits and the FQDN after it does not; at 1500 both do.
        XCTAssertTrue(sawBoth && sawHostOnly, "the limit decided what fits")
    }

    func testEveryTruncationOfTheRepliesIsHandledByTheDecoder() throws {
        let settings = try settings(hostname: "ctr", fqdn: Self.domain(length: 200))
        let message = try dhcpReply(settings, maximumSize: 1500)
        XCTAssertNotNil(Self.dhcpOptions(message)?[81])
        // Cut anywhere up to End, the options no longer parse; a cut in the padding after End loses nothing.
        let end = try XCTUnwrap(endIndex(message))
        for length in 0..<message.count {
            let parsed = Self.dhcpOptions(Array(message.prefix(length)))
            if length <= end {
                XCTAssertNil(parsed, "cut at \(length)")
            } else {
                XCTAssertEqual(parsed?[81], Self.dhcpOptions(message)?[81], "cut at \(length), after End")
            }
        }

        let message6 = try dhcpv6Reply(settings)
        let fqdn6 = try XCTUnwrap(Self.dhcpv6Options(message6)?[39])
        XCTAssertEqual(fqdn6.first, 0x04)
        XCTAssertEqual(Self.wireName(fqdn6.dropFirst()), Self.domain(length: 200))
        for length in 0..<message6.count {
            // Only cuts between whole options still parse, and then option 39 is whole or absent.
            if let parsed = Self.dhcpv6Options(Array(message6.prefix(length))), let cut = parsed[39] {
                XCTAssertEqual(cut, fqdn6, "cut at \(length)")
            }
        }
    }

    func testDHCPv6RepliesCarryTheFQDNAtEachLength() throws {
        for length in Self.nameLengths {
            let name = Self.domain(length: length)
            let options = try XCTUnwrap(Self.dhcpv6Options(try dhcpv6Reply(try settings(hostname: "", fqdn: name))))
            XCTAssertNotNil(options[3], "still the address")
            if length == 0 || length == 255 {
                XCTAssertNil(options[39], "no option 39 for a name of \(length)")
            } else {
                let fqdn = try XCTUnwrap(options[39], "option 39 for \(length)")
                XCTAssertEqual(fqdn.first, 0x04, "flag N")
                XCTAssertEqual(Self.wireName(fqdn.dropFirst()), name)
            }
        }
    }

    func testNoNameOptionsUnlessGiven() throws {
        let plain = try ServiceFixtures.settings()
        let options = try XCTUnwrap(Self.dhcpOptions(try dhcpReply(plain, maximumSize: 1500)))
        XCTAssertNil(options[12])
        XCTAssertNil(options[81])
        XCTAssertNil(try XCTUnwrap(Self.dhcpv6Options(try dhcpv6Reply(plain)))[39])
        let given = try ServiceFixtures.settings(["-H", "ctr", "--fqdn", "ctr.lab.example"])
        let withNames = try XCTUnwrap(Self.dhcpOptions(try dhcpReply(given, maximumSize: 1500)))
        XCTAssertEqual(withNames[12], Array("ctr".utf8))
        XCTAssertEqual(withNames[81].flatMap { Self.wireName($0.dropFirst(3)) }, "ctr.lab.example")
    }

    /// Where End is in a DHCP message: the index of the 255 that ends the options.
    private func endIndex(_ message: [UInt8]) -> Int? {
        var index = 240
        while index < message.count {
            if message[index] == 255 { return index }
            if message[index] == 0 { index += 1; continue }
            guard index + 1 < message.count else { return nil }
            index += 2 + Int(message[index + 1])
        }
        return nil
    }
}
