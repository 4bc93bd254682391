/// What we learn about the namespace or guest from the frames it sends: its MAC address, so frames we
/// originate can go to it rather than to broadcast.
public struct GuestLink {
    public private(set) var mac: MACAddress?

    public init() {}

    /// Takes the source of `frame` as the guest's MAC if it is a plausible unicast address that isn't
    /// `ours`; returns true when that changed what we knew.
    public mutating func learn(from frame: EthernetFrame, ours: MACAddress) -> Bool {
        let source = frame.source
        guard source[0] & 0x01 == 0, source.contains(where: { $0 != 0 }) else { return false }
        if let mac, mac.bytes.elementsEqual(source) { return false }
        if ours.bytes.elementsEqual(source) { return false }
        mac = MACAddress(bytes: source)
        return true
    }

    /// Where frames for the guest go: its MAC once known, broadcast before.
    public var destination: [UInt8] { mac?.bytes ?? ReplyFrame.broadcastMAC }
}
