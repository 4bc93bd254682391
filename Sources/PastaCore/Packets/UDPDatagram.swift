/// A validated view of a UDP datagram (RFC 768): its length field matches the IP payload and the checksum
/// is correct (a zero checksum means "none" over IPv4 only), unless the caller knows it needs no verifying
/// (`checksumTrusted`: a tap's partial or already checked checksum).
public struct UDPDatagram {
    public static let headerLength = 8
    public let bytes: UnsafeRawBufferPointer

    public init?(_ ipv4: IPv4Packet, checksumTrusted: Bool = false) {
        guard ipv4.protocolNumber == IPProtocol.udp, let datagram = Self.framed(ipv4.payload) else { return nil }
        if !checksumTrusted && datagram.bigEndianUInt16(at: 6) != 0 {
            let sum = InternetChecksum.ipv4(source: ipv4.source, destination: ipv4.destination,
                                            protocolNumber: IPProtocol.udp, segment: datagram)
            guard sum == 0 else { return nil }
        }
        bytes = datagram
    }

    public init?(_ ipv6: IPv6Packet, checksumTrusted: Bool = false) {
        guard ipv6.nextHeader == IPProtocol.udp, let datagram = Self.framed(ipv6.payload),
              checksumTrusted || (datagram.bigEndianUInt16(at: 6) != 0 &&
                                  InternetChecksum.ipv6(source: ipv6.source, destination: ipv6.destination,
                                                        nextHeader: IPProtocol.udp, segment: datagram) == 0)
        else { return nil }
        bytes = datagram
    }

    private static func framed(_ payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard payload.count >= headerLength else { return nil }
        let length = Int(payload.bigEndianUInt16(at: 4))
        guard length >= headerLength, length <= payload.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: payload[0..<length])
    }

    public var sourcePort: UInt16 { bytes.bigEndianUInt16(at: 0) }
    public var destinationPort: UInt16 { bytes.bigEndianUInt16(at: 2) }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[Self.headerLength...]) }
}
