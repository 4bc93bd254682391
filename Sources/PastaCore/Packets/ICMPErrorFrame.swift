/// ICMP and ICMPv6 errors about a packet the guest sent (RFC 792, RFC 4443), for what a host socket
/// reported: the guest's packet is quoted as the guest sent it (its IP header rebuilt, then `transport`, its
/// UDP datagram or ICMP message as far as we have it), cut so the whole error fits the minimum MTU: 576
/// bytes for IPv4 (RFC 1812 4.3.2.3), 1280 for IPv6 (RFC 4443 2.4 (c)).
enum ICMPErrorFrame {
    static let largestIPv4 = 576
    static let largestIPv6 = 1280
    /// The error's own header: type, code, checksum and four bytes that depend on the type.
    static let headerLength = 8
    /// The largest frame either builder writes.
    static let largestFrame = EthernetFrame.headerLength + largestIPv6

    static let destinationUnreachable4: UInt8 = 3, timeExceeded4: UInt8 = 11
    static let fragmentationNeeded4: UInt8 = 4, portUnreachable4: UInt8 = 3
    static let destinationUnreachable6: UInt8 = 1, packetTooBig6: UInt8 = 2, timeExceeded6: UInt8 = 3
    static let portUnreachable6: UInt8 = 4

    /// Writes an ICMP error of `type` and `code` from `reporter` to `guest` into `buffer` (`largestFrame`
    /// bytes hold any); `nextHopMTU` goes where fragmentation-needed carries it (RFC 1191). The quoted
    /// packet went from `guest` to `remote` (as the guest addressed it) with `protocolNumber`. Returns the
    /// frame's length.
    static func ipv4(into buffer: UnsafeMutableRawBufferPointer, type: UInt8, code: UInt8, nextHopMTU: UInt16 = 0,
                     reporter: IPv4Address, guest: IPv4Address, remote: IPv4Address, protocolNumber: UInt8,
                     timeToLive: UInt8, transport: UnsafeRawBufferPointer, sourceMAC: MACAddress,
                     destinationMAC: [UInt8]) -> Int {
        let ip = EthernetFrame.headerLength
        let icmp = ip + IPv4Packet.minimumHeaderLength
        let quoted = icmp + headerLength
        let quotedTransport = quoted + IPv4Packet.minimumHeaderLength
        let kept = min(transport.count, largestIPv4 - (quotedTransport - ip))
        precondition(buffer.count >= quotedTransport + kept)
        let messageLength = quotedTransport - icmp + kept
        ReplyFrame.writeEthernet(into: buffer, destination: destinationMAC, source: sourceMAC, etherType: EtherType.ipv4)
        IPv4Packet.writeHeader(into: buffer, at: ip, source: reporter, destination: guest,
                               protocolNumber: IPProtocol.icmp, payloadLength: messageLength)
        buffer[icmp] = type
        buffer[icmp + 1] = code
        buffer.storeBigEndian(UInt16(0), at: icmp + 2)
        buffer.storeBigEndian(UInt16(0), at: icmp + 4)
        buffer.storeBigEndian(nextHopMTU, at: icmp + 6)
        // The quoted header's length is that of what we have of the packet (the error queue gives back no
        // more), even where the quote stops short of it.
        IPv4Packet.writeHeader(into: buffer, at: quoted, source: guest, destination: remote, protocolNumber: protocolNumber,
                               payloadLength: transport.count, timeToLive: timeToLive)
        if kept > 0 { (buffer.baseAddress! + quotedTransport).copyMemory(from: transport.baseAddress!, byteCount: kept) }
        var sum = InternetChecksum()
        sum.add(UnsafeRawBufferPointer(rebasing: buffer[icmp..<icmp + messageLength]))
        buffer.storeBigEndian(sum.value, at: icmp + 2)
        return icmp + messageLength
    }

    /// The same for IPv6: `info` is the four bytes after the checksum (the MTU of packet-too-big).
    static func ipv6(into buffer: UnsafeMutableRawBufferPointer, type: UInt8, code: UInt8, info: UInt32 = 0,
                     reporter: IPv6Address, guest: IPv6Address, remote: IPv6Address, nextHeader: UInt8,
                     hopLimit: UInt8, transport: UnsafeRawBufferPointer, sourceMAC: MACAddress,
                     destinationMAC: [UInt8]) -> Int {
        let ip = EthernetFrame.headerLength
        let icmp = ip + IPv6Packet.headerLength
        let quoted = icmp + headerLength
        let quotedTransport = quoted + IPv6Packet.headerLength
        let kept = min(transport.count, largestIPv6 - (quotedTransport - ip))
        precondition(buffer.count >= quotedTransport + kept)
        let messageLength = quotedTransport - icmp + kept
        buffer[icmp] = type
        buffer[icmp + 1] = code
        buffer.storeBigEndian(UInt16(0), at: icmp + 2)
        buffer.storeBigEndian(info, at: icmp + 4)
        IPv6Packet.writeHeader(into: buffer, at: quoted, source: guest, destination: remote, nextHeader: nextHeader,
                               payloadLength: transport.count, hopLimit: hopLimit)
        if kept > 0 { (buffer.baseAddress! + quotedTransport).copyMemory(from: transport.baseAddress!, byteCount: kept) }
        return ReplyFrame.completeICMPv6(buffer, messageLength: messageLength, sourceMAC: sourceMAC,
                                         destinationMAC: destinationMAC, source: reporter, destination: guest,
                                         hopLimit: 64)
    }

    /// Either family's error (`info`: the MTU where the type carries one); nil if the addresses aren't all
    /// of one family.
    static func build(into buffer: UnsafeMutableRawBufferPointer, type: UInt8, code: UInt8, info: UInt32,
                      reporter: IPAddress, guest: IPAddress, remote: IPAddress, protocolNumber: UInt8, hopLimit: UInt8,
                      transport: UnsafeRawBufferPointer, sourceMAC: MACAddress, destinationMAC: [UInt8]) -> Int? {
        switch (guest, remote, reporter) {
        case (.v4(let guest), .v4(let remote), .v4(let from)):
            return ipv4(into: buffer, type: type, code: code, nextHopMTU: UInt16(clamping: info), reporter: from, guest: guest,
                        remote: remote, protocolNumber: protocolNumber, timeToLive: hopLimit, transport: transport,
                        sourceMAC: sourceMAC, destinationMAC: destinationMAC)
        case (.v6(let guest), .v6(let remote), .v6(let from)):
            return ipv6(into: buffer, type: type, code: code, info: info, reporter: from, guest: guest, remote: remote,
                        nextHeader: protocolNumber, hopLimit: hopLimit, transport: transport, sourceMAC: sourceMAC,
                        destinationMAC: destinationMAC)
        default:
            return nil
        }
    }
}
