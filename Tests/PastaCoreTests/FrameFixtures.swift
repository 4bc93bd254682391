import XCTest
@testable import PastaCore

/// Builds request frames the way a guest's clients send them, runs services on them, and mutates them.
enum FrameFixtures {
    static let guestMAC = MACAddress("52:54:00:12:34:56")!
    static let ourMAC = MACAddress("02:00:00:00:00:02")!

    static func udp4(_ payload: [UInt8], source: IPv4Address = .any, destination: IPv4Address = IPv4Address(0xFFFF_FFFF),
                     sourcePort: UInt16, destinationPort: UInt16) -> [UInt8] {
        build(payload, at: ReplyFrame.udp4PayloadOffset) {
            ReplyFrame.completeUDPv4($0, payloadLength: payload.count, sourceMAC: guestMAC,
                                     destinationMAC: ReplyFrame.broadcastMAC, source: source, destination: destination,
                                     sourcePort: sourcePort, destinationPort: destinationPort)
        }
    }

    static func udp6(_ payload: [UInt8], source: IPv6Address, destination: IPv6Address,
                     sourcePort: UInt16, destinationPort: UInt16) -> [UInt8] {
        build(payload, at: ReplyFrame.udp6PayloadOffset) {
            ReplyFrame.completeUDPv6($0, payloadLength: payload.count, sourceMAC: guestMAC,
                                     destinationMAC: ReplyFrame.multicastMAC(destination), source: source,
                                     destination: destination, sourcePort: sourcePort, destinationPort: destinationPort)
        }
    }

    /// An ICMPv6 frame; `message` includes the type, code and a checksum field (filled in here).
    static func icmp6(_ message: [UInt8], source: IPv6Address, destination: IPv6Address, hopLimit: UInt8 = 255) -> [UInt8] {
        build(message, at: ReplyFrame.icmp6MessageOffset) {
            ReplyFrame.completeICMPv6($0, messageLength: message.count, sourceMAC: guestMAC,
                                      destinationMAC: ReplyFrame.multicastMAC(destination), source: source,
                                      destination: destination, hopLimit: hopLimit)
        }
    }

    private static func build(_ payload: [UInt8], at offset: Int,
                              complete: (UnsafeMutableRawBufferPointer) -> Int) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: offset + payload.count)
        frame.replaceSubrange(offset..., with: payload)
        let length = frame.withUnsafeMutableBytes { complete($0) }
        return Array(frame[0..<length])
    }

    typealias Service = (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> ServiceOutcome

    /// Runs `service` on `frame`; returns the outcome and the reply's bytes, if any.
    static func run(_ service: Service, _ frame: [UInt8]) -> (ServiceOutcome, [UInt8]?) {
        var reply = [UInt8](repeating: 0, count: 4096)
        let outcome = frame.withUnsafeBytes { input in reply.withUnsafeMutableBytes { service(input, $0) } }
        return (outcome, outcome.replyLength.map { Array(reply[0..<$0]) })
    }

    /// Whether the IP header and transport checksums of `frame` are all correct, computed independently
    /// of the views under test; false for anything whose lengths don't even frame a packet.
    static func checksumsValid(_ frame: [UInt8]) -> Bool {
        guard frame.count >= 14 else { return false }
        let etherType = UInt16(frame[12]) << 8 | UInt16(frame[13])
        let packet = Array(frame[14...])
        if etherType == EtherType.ipv4 {
            guard packet.count >= 20 else { return false }
            let headerLength = Int(packet[0] & 0x0F) * 4
            let total = Int(packet[2]) << 8 | Int(packet[3])
            guard headerLength >= 20, total >= headerLength, total <= packet.count else { return false }
            guard onesComplementSum(Array(packet[0..<headerLength])) == 0xFFFF else { return false }
            let segment = Array(packet[headerLength..<total])
            if packet[9] == IPProtocol.udp, segment.count >= 8, segment[6] == 0, segment[7] == 0 { return true }
            let pseudo = Array(packet[12..<20]) + [0, packet[9], UInt8(segment.count >> 8), UInt8(segment.count & 0xFF)]
            return onesComplementSum(pseudo + segment) == 0xFFFF
        }
        if etherType == EtherType.ipv6 {
            guard packet.count >= 40 else { return false }
            let length = Int(packet[4]) << 8 | Int(packet[5])
            guard 40 + length <= packet.count else { return false }
            let segment = Array(packet[40..<40 + length])
            let pseudo = Array(packet[8..<40]) + [0, 0, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0, 0, packet[6]]
            return onesComplementSum(pseudo + segment) == 0xFFFF
        }
        return true
    }

    private static func onesComplementSum(_ bytes: [UInt8]) -> UInt32 {
        var sum: UInt32 = 0
        var index = 0
        while index < bytes.count {
            sum += UInt32(bytes[index]) << 8 | (index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0)
            index += 2
        }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return sum
    }

    /// Feeds `service` every truncation of `valid` (no reply allowed: the IP length no longer fits) and
    /// `count` random mutations of 1-4 bytes anywhere past the Ethernet addresses: no trap, and no reply
    /// to a frame whose checksums no longer hold. Any reply must itself carry correct checksums.
    static func fuzz(_ service: Service, valid: [UInt8], count: Int = 10_000,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotNil(run(service, valid).1, "the unmutated frame is answered", file: file, line: line)
        for length in 0..<valid.count {
            let (outcome, _) = run(service, Array(valid[0..<length]))
            XCTAssertNil(outcome.replyLength, "answered a frame cut at \(length)", file: file, line: line)
        }
        var generator = SystemRandomNumberGenerator()
        var answeredBroken = 0, repliesWithBadChecksums = 0
        for _ in 0..<count {
            var frame = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                frame[Int.random(in: 12..<frame.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let (_, reply) = run(service, frame)
            guard let reply else { continue }
            if !checksumsValid(frame) { answeredBroken += 1 }
            if !checksumsValid(reply) { repliesWithBadChecksums += 1 }
        }
        XCTAssertEqual(answeredBroken, 0, "replies to frames with broken checksums", file: file, line: line)
        XCTAssertEqual(repliesWithBadChecksums, 0, "replies with bad checksums", file: file, line: line)
    }
}
