/// ARP proxy (RFC 826): every address but the asker's own is answered with our MAC, so the namespace
/// or guest sends everything to us. Probes (RFC 5227: sender 0.0.0.0) are answered too, but for the
/// guest's own addresses (the configured one, and the one its packets show, a static address of its own
/// maybe), which must look free when the guest checks them before taking them.
public enum ArpResponder {
    static let packetLength = 28
    static let hardwareEthernet: UInt16 = 1
    static let operationRequest: UInt16 = 1
    static let operationReply: UInt16 = 2

    /// Writes the reply to an ARP request `frame` into `reply`; returns its length, or nil when the frame
    /// is not a well-formed Ethernet/IPv4 request we should answer (announcements, a probe for one of
    /// `guestAddresses` or any probe while none is known).
    public static func reply(to frame: UnsafeRawBufferPointer, ourMAC: MACAddress, guestAddresses: [IPv4Address],
                             into reply: UnsafeMutableRawBufferPointer) -> Int? {
        guard let ethernet = EthernetFrame(frame), ethernet.etherType == EtherType.arp else { return nil }
        let arp = ethernet.payload
        guard arp.count >= packetLength,
              arp.bigEndianUInt16(at: 0) == hardwareEthernet, arp.bigEndianUInt16(at: 2) == EtherType.ipv4,
              arp[4] == 6, arp[5] == 4, arp.bigEndianUInt16(at: 6) == operationRequest
        else { return nil }
        let senderMAC = arp[8..<14], senderIP = arp[14..<18], targetIP = arp[24..<28]
        // An announcement (sender == target) asks nobody. A probe for the guest's address answered would
        // make the guest think its address is taken; one for another address is a question like any other
        // (arping -D, a DHCP client checking an address).
        if senderIP.elementsEqual(targetIP) { return nil }
        if senderIP.allSatisfy({ $0 == 0 }) {
            guard !guestAddresses.isEmpty, !guestAddresses.contains(where: { targetIP.elementsEqual($0.bytes) }) else { return nil }
        }
        let length = EthernetFrame.headerLength + packetLength
        guard reply.count >= length, ourMAC.bytes.count == 6 else { return nil }
        // Ethernet: back to the asker, from us. ARP: the fixed header as asked, operation reply.
        reply.copy(senderMAC, at: 0)
        reply.copy(ourMAC.bytes, at: 6)
        reply.storeBigEndian(EtherType.arp, at: 12)
        let body = EthernetFrame.headerLength
        reply.storeBigEndian(hardwareEthernet, at: body)
        reply.storeBigEndian(EtherType.ipv4, at: body + 2)
        reply[body + 4] = 6
        reply[body + 5] = 4
        reply.storeBigEndian(operationReply, at: body + 6)
        reply.copy(ourMAC.bytes, at: body + 8)
        reply.copy(targetIP, at: body + 14)
        reply.copy(senderMAC, at: body + 18)
        reply.copy(senderIP, at: body + 24)
        return length
    }
}
