@testable import PastaCore

/// Frames as the guest's stack would send them, around bytes from the fuzzer: headers and checksums are
/// filled in, so mutations reach the protocol under test instead of dying at a checksum.
enum FrameBuilder {
    static let guestMAC = MACAddress("52:54:00:12:34:56")!
    /// What every IPv4 datagram can carry: lengths beyond it would no longer match their 16-bit fields.
    static let largestIPPayload = 65535 - IPv4Packet.minimumHeaderLength

    static func ethernet(_ etherType: UInt16, _ payload: [UInt8], destination: [UInt8] = ReplyFrame.broadcastMAC) -> [UInt8] {
        destination + guestMAC.bytes + [UInt8(etherType >> 8), UInt8(etherType & 0xFF)] + payload
    }

    static func udp4(_ payload: [UInt8], source: IPv4Address, destination: IPv4Address,
                     sourcePort: UInt16, destinationPort: UInt16) -> [UInt8] {
        let payload = Array(payload.prefix(largestIPPayload - UDPDatagram.headerLength))
        return build(payload, at: ReplyFrame.udp4PayloadOffset) {
            ReplyFrame.completeUDPv4($0, payloadLength: payload.count, sourceMAC: guestMAC,
                                     destinationMAC: ReplyFrame.broadcastMAC, source: source, destination: destination,
                                     sourcePort: sourcePort, destinationPort: destinationPort)
        }
    }

    static func udp6(_ payload: [UInt8], source: IPv6Address, destination: IPv6Address,
                     sourcePort: UInt16, destinationPort: UInt16) -> [UInt8] {
        let payload = Array(payload.prefix(65535 - UDPDatagram.headerLength))
        return build(payload, at: ReplyFrame.udp6PayloadOffset) {
            ReplyFrame.completeUDPv6($0, payloadLength: payload.count, sourceMAC: guestMAC,
                                     destinationMAC: ReplyFrame.multicastMAC(destination), source: source,
                                     destination: destination, sourcePort: sourcePort, destinationPort: destinationPort)
        }
    }

    /// `message` starts with type and code; its checksum field (bytes 2-3) is overwritten.
    static func icmp6(_ message: [UInt8], source: IPv6Address, destination: IPv6Address, hopLimit: UInt8 = 255) -> [UInt8] {
        var message = Array(message.prefix(65535))
        while message.count < 4 { message.append(0) }
        return build(message, at: ReplyFrame.icmp6MessageOffset) {
            ReplyFrame.completeICMPv6($0, messageLength: message.count, sourceMAC: guestMAC,
                                      destinationMAC: ReplyFrame.multicastMAC(destination), source: source,
                                      destination: destination, hopLimit: hopLimit)
        }
    }

    /// `message` starts with type and code; its checksum field is overwritten.
    static func icmp4(_ message: [UInt8], source: IPv4Address, destination: IPv4Address) -> [UInt8] {
        var message = Array(message.prefix(largestIPPayload))
        while message.count < 4 { message.append(0) }
        return build(message, at: ReplyFrame.icmp4MessageOffset) {
            ReplyFrame.completeICMPv4($0, messageLength: message.count, sourceMAC: guestMAC,
                                      destinationMAC: ReplyFrame.broadcastMAC, source: source, destination: destination)
        }
    }

    /// An IPv4 header (checksum included) in front of `payload`, which is not checked any further (TCP's
    /// checksum is not verified on the tap side).
    static func ipv4(_ protocolNumber: UInt8, _ payload: [UInt8], source: IPv4Address, destination: IPv4Address) -> [UInt8] {
        let payload = Array(payload.prefix(largestIPPayload))
        return build(payload, at: ReplyFrame.icmp4MessageOffset) {
            ReplyFrame.writeEthernet(into: $0, destination: ReplyFrame.broadcastMAC, source: guestMAC,
                                     etherType: EtherType.ipv4)
            IPv4Packet.writeHeader(into: $0, at: EthernetFrame.headerLength, source: source, destination: destination,
                                   protocolNumber: protocolNumber, payloadLength: payload.count)
            return $0.count
        }
    }

    static func ipv6(_ nextHeader: UInt8, _ payload: [UInt8], source: IPv6Address, destination: IPv6Address) -> [UInt8] {
        let payload = Array(payload.prefix(65535))
        return build(payload, at: ReplyFrame.icmp6MessageOffset) {
            ReplyFrame.writeEthernet(into: $0, destination: ReplyFrame.broadcastMAC, source: guestMAC,
                                     etherType: EtherType.ipv6)
            IPv6Packet.writeHeader(into: $0, at: EthernetFrame.headerLength, source: source, destination: destination,
                                   nextHeader: nextHeader, payloadLength: payload.count)
            return $0.count
        }
    }

    private static func build(_ payload: [UInt8], at offset: Int,
                              complete: (UnsafeMutableRawBufferPointer) -> Int) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: offset + payload.count)
        frame.replaceSubrange(offset..., with: payload)
        let length = frame.withUnsafeMutableBytes { complete($0) }
        return Array(frame[0..<length])
    }
}
