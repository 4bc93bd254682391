/// What every frame we send must be, whatever the guest sent: an Ethernet frame whose IP header and
/// transport checksums hold, with lengths that match the bytes. Computed here, independently of the
/// views and builders under test; a frame that fails stops the run as a finding.
enum SentFrameCheck {
    static func require(_ frame: UnsafeRawBufferPointer, from harness: String) {
        if let problem = problem(in: Array(frame)) {
            fatalError("\(harness): sent a malformed frame (\(problem)): \(frame.map { String($0, radix: 16) })")
        }
    }

    static func problem(in frame: [UInt8]) -> String? {
        guard frame.count >= 14 else { return "shorter than an Ethernet header" }
        let etherType = UInt16(frame[12]) << 8 | UInt16(frame[13])
        let packet = Array(frame[14...])
        switch etherType {
        case 0x0800:
            guard packet.count >= 20, packet[0] >> 4 == 4 else { return "IPv4 header" }
            let headerLength = Int(packet[0] & 0x0F) * 4
            let total = Int(packet[2]) << 8 | Int(packet[3])
            guard headerLength >= 20, total >= headerLength, total == packet.count else { return "IPv4 lengths" }
            guard sum(packet[0..<headerLength]) == 0xFFFF else { return "IPv4 header checksum" }
            let segment = Array(packet[headerLength..<total])
            let protocolNumber = packet[9]
            if protocolNumber == 1 { return sum(segment[...]) == 0xFFFF ? nil : "ICMP checksum" }
            if protocolNumber == 17 {
                guard segment.count >= 8, Int(segment[4]) << 8 | Int(segment[5]) == segment.count else { return "UDP length" }
                if segment[6] == 0 && segment[7] == 0 { return nil }
            }
            let pseudo = Array(packet[12..<20]) + [0, protocolNumber, UInt8(segment.count >> 8), UInt8(segment.count & 0xFF)]
            return sum((pseudo + segment)[...]) == 0xFFFF ? nil : "IPv4 transport checksum"
        case 0x86DD:
            guard packet.count >= 40, packet[0] >> 4 == 6 else { return "IPv6 header" }
            let length = Int(packet[4]) << 8 | Int(packet[5])
            guard 40 + length == packet.count else { return "IPv6 payload length" }
            let segment = Array(packet[40...])
            if packet[6] == 17, segment.count < 8 || Int(segment[4]) << 8 | Int(segment[5]) != segment.count {
                return "UDP length"
            }
            let pseudo = Array(packet[8..<40]) + [0, 0, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0, 0, packet[6]]
            return sum((pseudo + segment)[...]) == 0xFFFF ? nil : "IPv6 transport checksum"
        case 0x0806:
            return packet.count == 28 ? nil : "ARP length"
        default:
            return "EtherType \(etherType)"
        }
    }

    /// The ones'-complement sum of big-endian words (0xFFFF when a checksum over the words holds).
    private static func sum(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var total: UInt32 = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            total += UInt32(bytes[index]) << 8 | (index + 1 < bytes.endIndex ? UInt32(bytes[index + 1]) : 0)
            index += 2
        }
        while total >> 16 != 0 { total = (total & 0xFFFF) + (total >> 16) }
        return total
    }
}
