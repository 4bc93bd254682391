/// Frames our services send to the namespace or guest: the service writes its payload at the offset for
/// its protocol, then one call completes the Ethernet, IP and transport headers (with checksums) in front.
enum ReplyFrame {
    static let udp4PayloadOffset = EthernetFrame.headerLength + IPv4Packet.minimumHeaderLength + UDPDatagram.headerLength
    static let udp6PayloadOffset = EthernetFrame.headerLength + IPv6Packet.headerLength + UDPDatagram.headerLength
    static let icmp6MessageOffset = EthernetFrame.headerLength + IPv6Packet.headerLength
    static let icmp4MessageOffset = EthernetFrame.headerLength + IPv4Packet.minimumHeaderLength

    static let broadcastMAC: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]

    /// The Ethernet address an IPv6 multicast group maps to (RFC 2464 section 7).
    static func multicastMAC(_ group: IPv6Address) -> [UInt8] {
        [0x33, 0x33] + group.bytes[12..<16]
    }

    static func writeEthernet<D: Collection>(into buffer: UnsafeMutableRawBufferPointer, destination: D,
                                             source: MACAddress, etherType: UInt16) where D.Element == UInt8 {
        buffer.copy(destination, at: 0)
        buffer.copy(source.bytes, at: 6)
        buffer.storeBigEndian(etherType, at: 12)
    }

    /// Completes a UDP/IPv4 frame around `payloadLength` bytes at `udp4PayloadOffset`; returns its length.
    /// `partialChecksum`: the checksum field gets only the pseudo-header's sum, for a receiving stack that
    /// was told to finish it (a virtio-net header's NEEDS_CSUM).
    static func completeUDPv4<D: Collection>(
        _ buffer: UnsafeMutableRawBufferPointer, payloadLength: Int,
        sourceMAC: MACAddress, destinationMAC: D, source: IPv4Address, destination: IPv4Address,
        sourcePort: UInt16, destinationPort: UInt16, partialChecksum: Bool = false
    ) -> Int where D.Element == UInt8 {
        let ip = EthernetFrame.headerLength
        let udp = ip + IPv4Packet.minimumHeaderLength
        let udpLength = UDPDatagram.headerLength + payloadLength
        writeEthernet(into: buffer, destination: destinationMAC, source: sourceMAC, etherType: EtherType.ipv4)
        IPv4Packet.writeHeader(into: buffer, at: ip, source: source, destination: destination,
                               protocolNumber: IPProtocol.udp, payloadLength: udpLength)
        writeUDPHeader(buffer, at: udp, sourcePort: sourcePort, destinationPort: destinationPort, length: udpLength)
        if partialChecksum {
            buffer.storeBigEndian(InternetChecksum.partial(source: UnsafeRawBufferPointer(rebasing: buffer[ip + 12..<ip + 16]),
                                                           destination: UnsafeRawBufferPointer(rebasing: buffer[ip + 16..<ip + 20]),
                                                           protocolNumber: IPProtocol.udp, length: udpLength),
                                  at: udp + 6)
            return udp + udpLength
        }
        var sum = InternetChecksum.ipv4(
            source: UnsafeRawBufferPointer(rebasing: buffer[ip + 12..<ip + 16]),
            destination: UnsafeRawBufferPointer(rebasing: buffer[ip + 16..<ip + 20]),
            protocolNumber: IPProtocol.udp, segment: UnsafeRawBufferPointer(rebasing: buffer[udp..<udp + udpLength]))
        if sum == 0 { sum = 0xFFFF }  // zero would mean "no checksum"
        buffer.storeBigEndian(sum, at: udp + 6)
        return udp + udpLength
    }

    /// Completes a UDP/IPv6 frame around `payloadLength` bytes at `udp6PayloadOffset`; returns its length.
    static func completeUDPv6<D: Collection>(
        _ buffer: UnsafeMutableRawBufferPointer, payloadLength: Int,
        sourceMAC: MACAddress, destinationMAC: D, source: IPv6Address, destination: IPv6Address,
        sourcePort: UInt16, destinationPort: UInt16, partialChecksum: Bool = false
    ) -> Int where D.Element == UInt8 {
        let udp = icmp6MessageOffset
        let udpLength = UDPDatagram.headerLength + payloadLength
        writeUDPHeader(buffer, at: udp, sourcePort: sourcePort, destinationPort: destinationPort, length: udpLength)
        return completeIPv6(buffer, transportLength: udpLength, nextHeader: IPProtocol.udp, checksumAt: 6,
                            sourceMAC: sourceMAC, destinationMAC: destinationMAC, source: source,
                            destination: destination, hopLimit: 64, partialChecksum: partialChecksum)
    }

    /// Completes an ICMPv6 frame around the `messageLength`-byte message at `icmp6MessageOffset` (its
    /// checksum field included); NDP messages go with hop limit 255 (RFC 4861 section 6.1).
    static func completeICMPv6<D: Collection>(
        _ buffer: UnsafeMutableRawBufferPointer, messageLength: Int,
        sourceMAC: MACAddress, destinationMAC: D, source: IPv6Address, destination: IPv6Address, hopLimit: UInt8
    ) -> Int where D.Element == UInt8 {
        completeIPv6(buffer, transportLength: messageLength, nextHeader: IPProtocol.icmpv6, checksumAt: 2,
                     sourceMAC: sourceMAC, destinationMAC: destinationMAC, source: source, destination: destination,
                     hopLimit: hopLimit)
    }

    /// Completes an ICMP/IPv4 frame around the `messageLength`-byte message at `icmp4MessageOffset`.
    static func completeICMPv4<D: Collection>(
        _ buffer: UnsafeMutableRawBufferPointer, messageLength: Int,
        sourceMAC: MACAddress, destinationMAC: D, source: IPv4Address, destination: IPv4Address
    ) -> Int where D.Element == UInt8 {
        let ip = EthernetFrame.headerLength
        let icmp = icmp4MessageOffset
        writeEthernet(into: buffer, destination: destinationMAC, source: sourceMAC, etherType: EtherType.ipv4)
        IPv4Packet.writeHeader(into: buffer, at: ip, source: source, destination: destination,
                               protocolNumber: IPProtocol.icmp, payloadLength: messageLength)
        buffer.storeBigEndian(UInt16(0), at: icmp + 2)
        var sum = InternetChecksum()
        sum.add(UnsafeRawBufferPointer(rebasing: buffer[icmp..<icmp + messageLength]))
        buffer.storeBigEndian(sum.value, at: icmp + 2)
        return icmp + messageLength
    }

    private static func writeUDPHeader(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int,
                                       sourcePort: UInt16, destinationPort: UInt16, length: Int) {
        buffer.storeBigEndian(sourcePort, at: offset)
        buffer.storeBigEndian(destinationPort, at: offset + 2)
        buffer.storeBigEndian(UInt16(truncatingIfNeeded: length), at: offset + 4)
        buffer.storeBigEndian(UInt16(0), at: offset + 6)
    }

    private static func completeIPv6<D: Collection>(
        _ buffer: UnsafeMutableRawBufferPointer, transportLength: Int, nextHeader: UInt8, checksumAt: Int,
        sourceMAC: MACAddress, destinationMAC: D, source: IPv6Address, destination: IPv6Address, hopLimit: UInt8,
        partialChecksum: Bool = false
    ) -> Int where D.Element == UInt8 {
        let ip = EthernetFrame.headerLength
        let transport = icmp6MessageOffset
        writeEthernet(into: buffer, destination: destinationMAC, source: sourceMAC, etherType: EtherType.ipv6)
        IPv6Packet.writeHeader(into: buffer, at: ip, source: source, destination: destination,
                               nextHeader: nextHeader, payloadLength: transportLength, hopLimit: hopLimit)
        if partialChecksum {
            buffer.storeBigEndian(InternetChecksum.partial(source: UnsafeRawBufferPointer(rebasing: buffer[ip + 8..<ip + 24]),
                                                           destination: UnsafeRawBufferPointer(rebasing: buffer[ip + 24..<ip + 40]),
                                                           protocolNumber: nextHeader, length: transportLength),
                                  at: transport + checksumAt)
            return transport + transportLength
        }
        buffer.storeBigEndian(UInt16(0), at: transport + checksumAt)
        let sum = InternetChecksum.ipv6(
            source: UnsafeRawBufferPointer(rebasing: buffer[ip + 8..<ip + 24]),
            destination: UnsafeRawBufferPointer(rebasing: buffer[ip + 24..<ip + 40]),
            nextHeader: nextHeader, segment: UnsafeRawBufferPointer(rebasing: buffer[transport..<transport + transportLength]))
        buffer.storeBigEndian(sum == 0 && nextHeader == IPProtocol.udp ? 0xFFFF : sum, at: transport + checksumAt)
        return transport + transportLength
    }
}
