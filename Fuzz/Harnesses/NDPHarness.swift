@testable import PastaCore

/// Neighbor and Router Solicitations (RFC 4861). Input: a control byte, then an ICMPv6 message (type,
/// code, checksum field, body; the checksum is filled in) sent with hop limit 255, or (control bit 2) a
/// whole Ethernet frame as is. Control bits 0-1 pick the service configuration; bit 3 sends from the
/// unspecified address (duplicate address detection), bit 4 with hop limit 64, bit 5 from the guest's
/// global rather than link-local address.
enum NDPHarness {
    static let harness = Harness(
        name: "ndp", summary: "NDP responder: solicitations in ICMPv6 frames, or raw frames",
        run: run, seeds: seeds)

    static let allRouters = IPv6Address("ff02::2")!

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let control = input.byte()
        let settings = ServiceVariants.pick(control)
        let frame: [UInt8]
        if control & 4 != 0 {
            frame = input.rest()
        } else {
            let source = control & 8 != 0 ? IPv6Address.any
                : control & 32 != 0 ? ServiceVariants.guestAddress6 : ServiceVariants.guestLinkLocal
            frame = FrameBuilder.icmp6(input.rest(), source: source, destination: allRouters,
                                       hopLimit: control & 16 != 0 ? 64 : 255)
        }
        ServiceRun.run(harness.name, frame) { NDPResponder.reply(to: $0, settings: settings, into: $1) }
    }

    static func seeds() -> [[UInt8]] {
        let sourceLinkLayer: [UInt8] = [1, 1] + FrameBuilder.guestMAC.bytes
        let routerSolicitation: [UInt8] = [133, 0, 0, 0, 0, 0, 0, 0] + sourceLinkLayer
        let gateway = IPv6Address("2001:db8:1::1")!.bytes
        let neighborSolicitation: [UInt8] = [135, 0, 0, 0, 0, 0, 0, 0] + gateway + sourceLinkLayer
        let duplicateAddressDetection: [UInt8] = [135, 0, 0, 0, 0, 0, 0, 0] + ServiceVariants.guestAddress6.bytes
        return [[0] + routerSolicitation, [2] + routerSolicitation, [8] + [133, 0, 0, 0, 0, 0, 0, 0],
                [0] + neighborSolicitation, [33] + neighborSolicitation, [8] + duplicateAddressDetection,
                [4] + FrameBuilder.icmp6(routerSolicitation, source: ServiceVariants.guestLinkLocal, destination: allRouters)]
    }
}
