import XCTest
@testable import PastaCore

/// The parsers in front of the UDP and ICMP flows: whatever the guest sends, malformed input is rejected
/// (nothing reaches a socket) and nothing traps.
final class DatagramParsingTests: XCTestCase {
    private let guest = IPv4Address(198, 51, 100, 2), peer = IPv4Address(203, 0, 113, 10)
    private let guest6 = IPv6Address("2001:db8:1::2")!, peer6 = IPv6Address("2001:db8:2::10")!

    private func udp4(_ payload: [UInt8]) -> [UInt8] {
        FrameFixtures.udp4(payload, source: guest, destination: peer, sourcePort: 40000, destinationPort: 53)
    }

    private func echo4(_ data: [UInt8] = Array("ping".utf8)) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: ReplyFrame.icmp4MessageOffset) + [8, 0, 0, 0, 0x12, 0x34, 0, 1] + data
        let count = frame.count - ReplyFrame.icmp4MessageOffset
        let length = frame.withUnsafeMutableBytes {
            ReplyFrame.completeICMPv4($0, messageLength: count, sourceMAC: FrameFixtures.guestMAC,
                                      destinationMAC: FrameFixtures.ourMAC.bytes, source: guest, destination: peer)
        }
        return Array(frame[0..<length])
    }

    /// What the flows would accept from `frame`: a UDP datagram's payload, or an echo identifier.
    private func accepted(_ frame: [UInt8]) -> String? {
        frame.withUnsafeBytes { raw -> String? in
            guard let ethernet = EthernetFrame(raw) else { return nil }
            if ethernet.etherType == EtherType.ipv4, let packet = IPv4Packet(ethernet.payload) {
                if let datagram = UDPDatagram(packet) { return "udp \(datagram.payload.count)" }
                if let id = ICMPFlows.echoIdentifier(ipv4: packet) { return "echo \(id)" }
            }
            if ethernet.etherType == EtherType.ipv6, let packet = IPv6Packet(ethernet.payload) {
                if let datagram = UDPDatagram(packet) { return "udp \(datagram.payload.count)" }
                if let id = ICMPFlows.echoIdentifier(ipv6: packet) { return "echo \(id)" }
            }
            return nil
        }
    }

    func testValidDatagramsAndEchoRequestsAreAccepted() {
        XCTAssertEqual(accepted(udp4([1, 2, 3])), "udp 3")
        XCTAssertEqual(accepted(echo4()), "echo 4660")
        let udp6 = FrameFixtures.udp6([9, 9], source: guest6, destination: peer6, sourcePort: 1, destinationPort: 2)
        XCTAssertEqual(accepted(udp6), "udp 2")
        let echo6 = FrameFixtures.icmp6([128, 0, 0, 0, 0xAB, 0xCD, 0, 1, 7], source: guest6, destination: peer6, hopLimit: 64)
        XCTAssertEqual(accepted(echo6), "echo 43981")
    }

    func testFragmentsBadLengthsAndBadChecksumsAreRejected() {
        var fragment = udp4([1, 2, 3])
        fragment[20] = 0x20  // more fragments
        fragment[24] = 0; fragment[25] = 0  // header checksum recomputed below
        fixIPv4HeaderChecksum(&fragment)
        XCTAssertNil(accepted(fragment), "fragment")
        var offsetFragment = udp4([1, 2, 3])
        offsetFragment[21] = 0x08
        fixIPv4HeaderChecksum(&offsetFragment)
        XCTAssertNil(accepted(offsetFragment), "non-zero fragment offset")
        var longUDP = udp4([1, 2, 3])
        longUDP[38 + 1] = 0xFF  // UDP length beyond the packet
        XCTAssertNil(accepted(longUDP))
        var badSum = udp4([1, 2, 3])
        badSum[42] ^= 0xFF
        XCTAssertNil(accepted(badSum), "payload changed, checksum not")
        var badEcho = echo4()
        badEcho[badEcho.count - 1] ^= 1
        XCTAssertNil(accepted(badEcho))
        var reply = echo4()
        reply[34] = 0  // an echo reply from the guest is not forwarded
        XCTAssertNil(accepted(reply))
    }

    func testTruncationsAndMutationsNeverTrapOrPassBrokenChecksums() {
        for valid in [udp4(Array(repeating: 5, count: 40)), echo4(Array(repeating: 6, count: 40))] {
            for length in 0..<valid.count { XCTAssertNil(accepted(Array(valid[0..<length])), "cut at \(length)") }
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<10_000 {
                var frame = valid
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    frame[Int.random(in: 14..<frame.count, using: &generator)] = .random(in: 0...255, using: &generator)
                }
                if accepted(frame) != nil {
                    XCTAssertTrue(frame[14 + 9] == IPProtocol.icmp ? icmpChecksumsValid(frame) : FrameFixtures.checksumsValid(frame),
                                  "accepted a frame with broken checksums")
                }
            }
        }
    }

    /// IPv4 header and ICMP message checksums (ICMP has no pseudo-header), computed by the plain definition.
    private func icmpChecksumsValid(_ frame: [UInt8]) -> Bool {
        func sum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
            var total: UInt32 = 0
            var index = bytes.startIndex
            while index < bytes.endIndex {
                total += UInt32(bytes[index]) << 8 | (index + 1 < bytes.endIndex ? UInt32(bytes[index + 1]) : 0)
                index += 2
            }
            while total >> 16 != 0 { total = (total & 0xFFFF) + (total >> 16) }
            return total
        }
        let total = Int(frame[16]) << 8 | Int(frame[17])
        guard frame.count >= 34, total >= 20, 14 + total <= frame.count else { return false }
        return sum(frame[14..<34]) == 0xFFFF && sum(frame[34..<14 + total]) == 0xFFFF
    }

    private func fixIPv4HeaderChecksum(_ frame: inout [UInt8]) {
        frame[24] = 0; frame[25] = 0
        var sum = InternetChecksum()
        frame.withUnsafeBytes { sum.add(UnsafeRawBufferPointer(rebasing: $0[14..<34])) }
        frame[24] = UInt8(sum.value >> 8); frame[25] = UInt8(sum.value & 0xFF)
    }
}
