@testable import PastaCore

/// ARP requests (RFC 826). Input: a control byte, then an ARP packet behind an Ethernet header from the
/// guest, or (control bit 2) a whole Ethernet frame as is. Control bits 0-1 pick the configuration
/// (our MAC address).
enum ArpHarness {
    static let harness = Harness(
        name: "arp", summary: "ARP responder: ARP packets in Ethernet frames, or raw frames",
        run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let control = input.byte()
        let settings = ServiceVariants.pick(control)
        let frame = control & 4 != 0 ? input.rest() : FrameBuilder.ethernet(EtherType.arp, input.rest())
        ServiceRun.run(harness.name, frame) { frame, reply in
            ArpResponder.reply(to: frame, ourMAC: settings.ourMAC, guestAddresses: settings.guestAddress4.map { [$0] } ?? [], into: reply).map(ServiceOutcome.reply) ?? .notForUs
        }
    }

    /// An Ethernet/IPv4 ARP request from the guest.
    static func request(sender: [UInt8], target: [UInt8]) -> [UInt8] {
        [0, 1, 0x08, 0x00, 6, 4, 0, 1] + FrameBuilder.guestMAC.bytes + sender + [0, 0, 0, 0, 0, 0] + target
    }

    static func seeds() -> [[UInt8]] {
        let whoHasGateway = request(sender: [198, 51, 100, 2], target: [198, 51, 100, 1])
        let probe = request(sender: [0, 0, 0, 0], target: [198, 51, 100, 2])
        let announcement = request(sender: [198, 51, 100, 2], target: [198, 51, 100, 2])
        return [[0] + whoHasGateway, [1] + probe, [0] + announcement,
                [4] + FrameBuilder.ethernet(EtherType.arp, whoHasGateway)]
    }
}
