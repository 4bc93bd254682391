/// A unicast MAC address written as six colon-separated hex pairs; kept in lowercase.
struct MACAddress {
    let bytes: [UInt8]

    init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            // Two hex digits exactly: UInt8(_:radix:) alone would also take "+f".
            guard part.utf8.count == 2, part.allSatisfy(\.isHexDigit), let byte = UInt8(part, radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        // Bit 0 of the first octet marks group addresses; a NIC needs an individual one, and not all zeros.
        guard bytes[0] & 1 == 0, bytes.contains(where: { $0 != 0 }) else { return nil }
        self.bytes = bytes
    }

    /// qemu's locally administered 52:54:00 prefix, then 0x4b ('K', Kata) and the index: one address per
    /// endpoint index, so captures and guest logs tell sandboxes apart.
    init(defaultFor index: Int) {
        bytes = [0x52, 0x54, 0x00, 0x4b, UInt8((index >> 8) & 0xff), UInt8(index & 0xff)]
    }

    var text: String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}
