/// Writes the Ethernet, IP and TCP headers of a segment to the guest in front of a payload that is
/// already in place (read there straight from the socket), checksums included.
enum TCPFrameWriter {
    static func ipHeaderLength(_ ipv4: Bool) -> Int { ipv4 ? IPv4Packet.minimumHeaderLength : IPv6Packet.headerLength }

    /// Where the payload starts for a segment with `optionsLength` bytes of TCP options.
    static func payloadOffset(ipv4: Bool, optionsLength: Int = 0) -> Int {
        EthernetFrame.headerLength + ipHeaderLength(ipv4) + TCPSegment.minimumHeaderLength + optionsLength
    }

    /// Completes the frame in `buffer` and returns its length. Options, if any, are already written right
    /// after the fixed TCP header.
    @inline(__always)
    static func complete(_ buffer: UnsafeMutableRawBufferPointer, key: FlowKey, ourMAC: [UInt8], guestMAC: [UInt8],
                         sequence: UInt32, acknowledgment: UInt32, flags: UInt8, window: UInt16,
                         optionsLength: Int = 0, payloadLength: Int, partialChecksum: Bool = false) -> Int {
        let ipv4 = key.guest.isIPv4
        let ip = EthernetFrame.headerLength
        let tcp = ip + ipHeaderLength(ipv4)
        let tcpLength = TCPSegment.minimumHeaderLength + optionsLength + payloadLength
        buffer.copy(guestMAC, at: 0)
        buffer.copy(ourMAC, at: 6)
        if ipv4 {
            buffer.storeBigEndian(EtherType.ipv4, at: 12)
            IPv4Packet.writeHeader(into: buffer, at: ip, source: IPv4Address(UInt32(truncatingIfNeeded: key.remote.low)),
                                   destination: IPv4Address(UInt32(truncatingIfNeeded: key.guest.low)),
                                   protocolNumber: IPProtocol.tcp, payloadLength: tcpLength)
        } else {
            buffer.storeBigEndian(EtherType.ipv6, at: 12)
            IPv6Packet.writeHeader(into: buffer, at: ip, source: IPv6Address(high: key.remote.high, low: key.remote.low),
                                   destination: IPv6Address(high: key.guest.high, low: key.guest.low),
                                   nextHeader: IPProtocol.tcp, payloadLength: tcpLength)
        }
        buffer.storeBigEndian(key.remotePort, at: tcp)
        buffer.storeBigEndian(key.guestPort, at: tcp + 2)
        buffer.storeBigEndian(sequence, at: tcp + 4)
        buffer.storeBigEndian(acknowledgment, at: tcp + 8)
        buffer[tcp + 12] = UInt8((TCPSegment.minimumHeaderLength + optionsLength) / 4) << 4
        buffer[tcp + 13] = flags
        buffer.storeBigEndian(window, at: tcp + 14)
        buffer.storeBigEndian(UInt32(0), at: tcp + 16)  // checksum, urgent pointer
        if partialChecksum {
            // The namespace's stack finishes it (a tap with offloads): only the pseudo-header's sum.
            let source = ipv4 ? buffer[ip + 12..<ip + 16] : buffer[ip + 8..<ip + 24]
            let destination = ipv4 ? buffer[ip + 16..<ip + 20] : buffer[ip + 24..<ip + 40]
            buffer.storeBigEndian(InternetChecksum.partial(source: UnsafeRawBufferPointer(rebasing: source),
                                                           destination: UnsafeRawBufferPointer(rebasing: destination),
                                                           protocolNumber: IPProtocol.tcp, length: tcpLength),
                                  at: tcp + 16)
            return tcp + tcpLength
        }
        let segment = UnsafeRawBufferPointer(rebasing: buffer[tcp..<tcp + tcpLength])
        let sum = ipv4
            ? InternetChecksum.ipv4(source: UnsafeRawBufferPointer(rebasing: buffer[ip + 12..<ip + 16]),
                                    destination: UnsafeRawBufferPointer(rebasing: buffer[ip + 16..<ip + 20]),
                                    protocolNumber: IPProtocol.tcp, segment: segment)
            : InternetChecksum.ipv6(source: UnsafeRawBufferPointer(rebasing: buffer[ip + 8..<ip + 24]),
                                    destination: UnsafeRawBufferPointer(rebasing: buffer[ip + 24..<ip + 40]),
                                    nextHeader: IPProtocol.tcp, segment: segment)
        buffer.storeBigEndian(sum, at: tcp + 16)
        return tcp + tcpLength
    }
}
