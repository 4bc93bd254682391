import XCTest
@testable import PastaCore

final class ICMPErrorFrameTests: XCTestCase {
    private let ourMAC = MACAddress("02:00:00:00:00:02")!
    private let guestMAC: [UInt8] = [0x52, 0x54, 0, 0x12, 0x34, 0x56]
    private let guest4 = IPv4Address(198, 51, 100, 2), remote4 = IPv4Address(203, 0, 113, 10)
    private let router4 = IPv4Address(192, 0, 2, 254)
    private let guest6 = IPv6Address("2001:db8:1::2")!, remote6 = IPv6Address("2001:db8:2::10")!
    private let router6 = IPv6Address("2001:db8:9::1")!

    /// A UDP datagram from the guest's port 40000 to port 7 with `payload` bytes.
    private func datagram(_ payload: Int) -> [UInt8] {
        let length = 8 + payload
        return [0x9c, 0x40, 0, 7, UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), 0, 0]
            + (0..<payload).map { UInt8(truncatingIfNeeded: $0 * 7) }
    }

    private func build4(_ transport: [UInt8], type: UInt8 = 3, code: UInt8 = 3, mtu: UInt16 = 0) -> [UInt8] {
        var frame = [UInt8](repeating: 0xEE, count: ICMPErrorFrame.largestFrame)
        let length = frame.withUnsafeMutableBytes { buffer in
            transport.withUnsafeBytes {
                ICMPErrorFrame.ipv4(into: buffer, type: type, code: code, nextHopMTU: mtu, reporter: router4, guest: guest4,
                                    remote: remote4, protocolNumber: IPProtocol.udp, timeToLive: 1, transport: $0,
                                    sourceMAC: ourMAC, destinationMAC: guestMAC)
            }
        }
        return Array(frame[0..<length])
    }

    private func build6(_ transport: [UInt8], type: UInt8 = 1, code: UInt8 = 4, info: UInt32 = 0) -> [UInt8] {
        var frame = [UInt8](repeating: 0xEE, count: ICMPErrorFrame.largestFrame)
        let length = frame.withUnsafeMutableBytes { buffer in
            transport.withUnsafeBytes {
                ICMPErrorFrame.ipv6(into: buffer, type: type, code: code, info: info, reporter: router6, guest: guest6,
                                    remote: remote6, nextHeader: IPProtocol.udp, hopLimit: 1, transport: $0,
                                    sourceMAC: ourMAC, destinationMAC: guestMAC)
            }
        }
        return Array(frame[0..<length])
    }

    func testPortUnreachableQuotesTheGuestsDatagram() throws {
        let transport = datagram(20)
        let frame = build4(transport)
        XCTAssertEqual(frame.count, 14 + 20 + 8 + 20 + 28)
        XCTAssertEqual(Array(frame[0..<6]), guestMAC)
        try frame.withUnsafeBytes { bytes in
            let ip = try XCTUnwrap(IPv4Packet(UnsafeRawBufferPointer(rebasing: bytes[14...])), "a valid IPv4 packet")
            XCTAssertEqual(ip.sourceAddress, router4, "from the address that reported it")
            XCTAssertEqual(ip.destinationAddress, guest4)
            XCTAssertEqual(ip.protocolNumber, IPProtocol.icmp)
            let icmp = ip.payload
            XCTAssertEqual(Array(icmp[0..<2]), [3, 3])
            var sum = InternetChecksum()
            sum.add(icmp)
            XCTAssertEqual(sum.value, 0, "ICMP checksum")
            let quoted = UnsafeRawBufferPointer(rebasing: icmp[8...])
            XCTAssertEqual(quoted[0], 0x45)
            XCTAssertEqual(quoted.bigEndianUInt16(at: 2), 48, "the quoted packet's whole length")
            XCTAssertEqual(quoted[9], IPProtocol.udp)
            XCTAssertEqual(IPv4Address(quoted.bigEndianUInt32(at: 12)), guest4)
            XCTAssertEqual(IPv4Address(quoted.bigEndianUInt32(at: 16)), remote4, "as the guest addressed it")
            var header = InternetChecksum()
            header.add(UnsafeRawBufferPointer(rebasing: quoted[0..<20]))
            XCTAssertEqual(header.value, 0, "quoted header checksum")
            XCTAssertEqual(Array(quoted[20...]), transport)
        }
    }

    func testFragmentationNeededCarriesTheNextHopMTU() {
        let frame = build4(datagram(100), type: 3, code: 4, mtu: 1280)
        XCTAssertEqual(Array(frame[34..<42]), [3, 4, frame[36], frame[37], 0, 0, 0x05, 0x00])
    }

    func testIPv4QuotesAreCutAt576Bytes() {
        for payload in [0, 1, 519, 520, 521, 1400, 65000] {
            let transport = datagram(payload)
            let frame = build4(transport)
            XCTAssertEqual(frame.count - 14, min(20 + 8 + 20 + transport.count, 576), "payload \(payload)")
            XCTAssertEqual(frame.withUnsafeBytes { $0.bigEndianUInt16(at: 14 + 2) }, UInt16(frame.count - 14))
            XCTAssertEqual(Array(frame[62...]), Array(transport[0..<(frame.count - 62)]))
            XCTAssertEqual(frame.withUnsafeBytes { $0.bigEndianUInt16(at: 42 + 2) }, UInt16(truncatingIfNeeded: 20 + transport.count))
        }
    }

    func testEveryTruncationOfTheQuotedPacketIsWellFormed() throws {
        let whole = datagram(600)
        for cut in 0...whole.count {
            let frame4 = build4(Array(whole[0..<cut]))
            try frame4.withUnsafeBytes { bytes in
                let ip = try XCTUnwrap(IPv4Packet(UnsafeRawBufferPointer(rebasing: bytes[14...])))
                var sum = InternetChecksum()
                sum.add(ip.payload)
                XCTAssertEqual(sum.value, 0, "cut at \(cut)")
            }
            let frame6 = build6(Array(whole[0..<cut]))
            try frame6.withUnsafeBytes { bytes in
                let ip = try XCTUnwrap(IPv6Packet(UnsafeRawBufferPointer(rebasing: bytes[14...])))
                XCTAssertEqual(InternetChecksum.ipv6(source: ip.source, destination: ip.destination,
                                                     nextHeader: IPProtocol.icmpv6, segment: ip.payload), 0, "cut at \(cut)")
                XCTAssertEqual(ip.payload.count, 8 + 40 + cut)
            }
        }
    }

    func testIPv6PacketTooBigQuotesUpTo1280Bytes() throws {
        let transport = datagram(3000)
        let frame = build6(transport, type: 2, code: 0, info: 1400)
        XCTAssertEqual(frame.count - 14, 1280)
        try frame.withUnsafeBytes { bytes in
            let ip = try XCTUnwrap(IPv6Packet(UnsafeRawBufferPointer(rebasing: bytes[14...])))
            XCTAssertEqual(ip.sourceAddress, router6)
            XCTAssertEqual(ip.destinationAddress, guest6)
            XCTAssertEqual(ip.nextHeader, IPProtocol.icmpv6)
            let icmp = ip.payload
            XCTAssertEqual(Array(icmp[0..<2]), [2, 0])
            XCTAssertEqual(icmp.bigEndianUInt32(at: 4), 1400, "the MTU")
            let quoted = UnsafeRawBufferPointer(rebasing: icmp[8...])
            XCTAssertEqual(quoted[0] >> 4, 6)
            XCTAssertEqual(Int(quoted.bigEndianUInt16(at: 4)), transport.count, "the quoted packet's whole payload length")
            XCTAssertEqual(IPv6Address(high: quoted.bigEndianUInt64(at: 8), low: quoted.bigEndianUInt64(at: 16)), guest6)
            XCTAssertEqual(IPv6Address(high: quoted.bigEndianUInt64(at: 24), low: quoted.bigEndianUInt64(at: 32)), remote6)
            XCTAssertEqual(Array(quoted[40...]), Array(transport[0..<(1280 - 40 - 8 - 40)]))
        }
    }
}
