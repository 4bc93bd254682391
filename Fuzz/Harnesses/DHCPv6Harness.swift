@testable import PastaCore

/// DHCPv6 requests (RFC 8415). Input: a control byte, then a DHCPv6 message that goes out in a UDP
/// datagram from port 546 to 547 (all servers and relays) with correct checksums, or (control bit 2) a
/// whole Ethernet frame as is. Control bits 0-1 pick the service configuration.
enum DHCPv6Harness {
    static let harness = Harness(
        name: "dhcpv6", summary: "DHCPv6 server: requests in UDP frames, or raw frames",
        run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let control = input.byte()
        let settings = ServiceVariants.pick(control)
        let frame = control & 4 != 0 ? input.rest()
            : FrameBuilder.udp6(input.rest(), source: ServiceVariants.guestLinkLocal,
                                destination: DHCPv6Server.allServersAndRelays,
                                sourcePort: DHCPv6Server.clientPort, destinationPort: DHCPv6Server.serverPort)
        ServiceRun.run(harness.name, frame) { DHCPv6Server.reply(to: $0, settings: settings, into: $1) }
    }

    static func option(_ code: UInt16, _ value: [UInt8]) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF), UInt8(value.count >> 8), UInt8(value.count & 0xFF)] + value
    }

    static func seeds() -> [[UInt8]] {
        let clientID = option(1, [0, 3, 0, 1] + FrameBuilder.guestMAC.bytes)
        let serverID = option(2, DHCPv6Server.serverDUID(ServiceVariants.ourMAC))
        let identityAssociation = option(3, [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0])
        let requestedOptions = option(6, [0, 23, 0, 24])
        let solicit = [1, 0xAB, 0xCD, 0xEF] + clientID + identityAssociation + requestedOptions
        let rapidSolicit = solicit + option(14, [])
        let request = [3, 0, 0, 1] + clientID + serverID + identityAssociation
        let renew = [5, 0, 0, 2] + clientID + serverID + identityAssociation
        let information = [11, 0, 0, 3] + clientID + requestedOptions
        return [[0] + solicit, [1] + rapidSolicit, [2] + request, [0] + renew, [0] + information,
                [4] + FrameBuilder.udp6(solicit, source: ServiceVariants.guestLinkLocal,
                                        destination: DHCPv6Server.allServersAndRelays, sourcePort: 546, destinationPort: 547)]
    }
}
