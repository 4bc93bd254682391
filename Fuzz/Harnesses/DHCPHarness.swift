@testable import PastaCore

/// DHCPv4 requests (RFC 2131). Input: a control byte, then a DHCP message that goes out in a UDP datagram
/// from port 68 to 67 with correct checksums, or (control bit 2) a whole Ethernet frame as is.
/// Control bits 0-1 pick the service configuration; bit 3 sends from the guest's address rather than
/// 0.0.0.0, bit 4 to the gateway rather than broadcast.
enum DHCPHarness {
    static let harness = Harness(
        name: "dhcp", summary: "DHCPv4 server: requests in UDP frames, or raw frames",
        run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let control = input.byte()
        let settings = ServiceVariants.pick(control)
        let frame: [UInt8]
        if control & 4 != 0 {
            frame = input.rest()
        } else {
            let message = input.rest()
            #if FUZZ_PLANTED_BUG
            PlantedBug.walkDHCPOptions(message)
            #endif
            frame = FrameBuilder.udp4(message, source: control & 8 != 0 ? ServiceVariants.guestAddress4 : .any,
                                      destination: control & 16 != 0 ? ServiceVariants.gateway4 : IPv4Address(0xFFFF_FFFF),
                                      sourcePort: DHCPServer.clientPort, destinationPort: DHCPServer.serverPort)
        }
        ServiceRun.run(harness.name, frame) { DHCPServer.reply(to: $0, settings: settings, into: $1) }
    }

    /// A BOOTREQUEST from the guest's MAC with the magic cookie, then `options` and End.
    static func message(_ options: [UInt8], clientAddress: [UInt8] = [0, 0, 0, 0], broadcast: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = [1, 1, 6, 0, 0x12, 0x34, 0x56, 0x78, 0, 0, broadcast ? 0x80 : 0, 0]
        bytes += clientAddress + [UInt8](repeating: 0, count: 12)
        bytes += FrameBuilder.guestMAC.bytes + [UInt8](repeating: 0, count: 10 + 64 + 128)
        return bytes + [0x63, 0x82, 0x53, 0x63] + options + [255]
    }

    /// A broadcast DISCOVER asking for DNS and the search list, in its frame.
    static let discoverFrame = FrameBuilder.udp4(message([53, 1, 1, 55, 3, 1, 6, 119]), source: .any,
                                                 destination: IPv4Address(0xFFFF_FFFF), sourcePort: 68, destinationPort: 67)

    static func seeds() -> [[UInt8]] {
        let discover = message([53, 1, 1, 57, 2, 0x05, 0xDC, 55, 4, 1, 3, 6, 119], broadcast: true)
        let request = message([53, 1, 3, 50, 4, 198, 51, 100, 2, 54, 4, 198, 51, 100, 1])
        let wrongAddress = message([53, 1, 3, 50, 4, 198, 51, 100, 99])
        let inform = message([53, 1, 8, 0, 0], clientAddress: [198, 51, 100, 2])
        let release = message([53, 1, 7])
        return [[0] + discover, [1] + discover, [2] + request, [0] + wrongAddress, [24] + inform, [0] + release,
                [4] + FrameBuilder.udp4(discover, source: .any, destination: IPv4Address(0xFFFF_FFFF),
                                        sourcePort: 68, destinationPort: 67)]
    }
}
