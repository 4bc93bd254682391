/// EtherType values (IEEE 802 numbers) this project handles.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let ipv6: UInt16 = 0x86DD
}

/// A bounds-checked view of an Ethernet II frame; nil when shorter than its header.
public struct EthernetFrame {
    public static let headerLength = 14
    public let bytes: UnsafeRawBufferPointer

    public init?(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count >= Self.headerLength else { return nil }
        self.bytes = bytes
    }

    public var destination: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[0..<6]) }
    public var source: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[6..<12]) }
    public var etherType: UInt16 { bytes.bigEndianUInt16(at: 12) }
    public var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[Self.headerLength...]) }
}
