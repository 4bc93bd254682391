/// rtnetlink constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h).
enum Netlink {
    static let headerLength = 16
    // nlmsg_type
    static let noop: UInt16 = 1, error: UInt16 = 2, done: UInt16 = 3
    static let newLink: UInt16 = 16, getLink: UInt16 = 18
    static let newAddress: UInt16 = 20, deleteAddress: UInt16 = 21, getAddress: UInt16 = 22
    static let newRoute: UInt16 = 24, deleteRoute: UInt16 = 25, getRoute: UInt16 = 26
    // nlmsg_flags
    static let request: UInt16 = 0x1, multi: UInt16 = 0x2, ack: UInt16 = 0x4
    static let dump: UInt16 = 0x300, replace: UInt16 = 0x100, exclusive: UInt16 = 0x200, create: UInt16 = 0x400
    // IFLA_*
    static let linkAddress: UInt16 = 1, linkName: UInt16 = 3, linkMTU: UInt16 = 4
    // IFA_*
    static let addressAddress: UInt16 = 1, addressLocal: UInt16 = 2, addressFlags: UInt16 = 8
    static let addressFlagNoDAD: UInt32 = 0x02, addressFlagPermanent: UInt32 = 0x80
    static let addressFlagTemporary: UInt32 = 0x01, addressFlagDADFailed: UInt32 = 0x08
    static let addressFlagDeprecated: UInt32 = 0x20
    // RTA_*
    static let routeDestination: UInt16 = 1, routeOutput: UInt16 = 4, routeGateway: UInt16 = 5
    static let routePriority: UInt16 = 6, routePreferredSource: UInt16 = 7, routeTable: UInt16 = 15
    static let routeMultipath: UInt16 = 9
    static let tableMain: UInt8 = 254
    static let protocolKernel: UInt8 = 2, protocolBoot: UInt8 = 3
    static let scopeUniverse: UInt8 = 0, scopeLink: UInt8 = 253, scopeHost: UInt8 = 254
    static let typeUnicast: UInt8 = 1
    static let routeFlagCloned: UInt32 = 0x200  // RTM_F_CLONED
    static let interfaceUp: UInt32 = 0x1
    static let familyIPv4: UInt8 = 2, familyIPv6: UInt8 = 10, familyUnspecified: UInt8 = 0
}

/// Builds one netlink request: header, a fixed family-specific part, then attributes.
struct NetlinkRequest {
    private(set) var bytes: [UInt8]

    init(type: UInt16, flags: UInt16) {
        bytes = []
        bytes.reserveCapacity(128)
        append(UInt32(0))  // length, patched by finish()
        append(type)
        append(flags | Netlink.request)
        append(UInt32(0))  // sequence, set by the socket
        append(UInt32(0))  // port id: the kernel
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    mutating func append(bytes more: [UInt8]) { bytes.append(contentsOf: more) }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    mutating func attribute(_ type: UInt16, _ payload: [UInt8]) {
        pad()
        append(UInt16(4 + payload.count))
        append(type)
        bytes.append(contentsOf: payload)
        pad()
    }

    mutating func attribute<T: FixedWidthInteger>(_ type: UInt16, integer value: T) {
        attribute(type, withUnsafeBytes(of: value) { Array($0) })
    }

    /// Sets the length and sequence number; returns the finished bytes.
    func finished(sequence: UInt32) -> [UInt8] {
        var out = bytes
        withUnsafeBytes(of: UInt32(out.count)) { out.replaceSubrange(0..<4, with: $0) }
        withUnsafeBytes(of: sequence) { out.replaceSubrange(8..<12, with: $0) }
        return out
    }
}

/// A received netlink message: header fields and the payload after the header, bounds checked.
struct NetlinkMessage {
    let type: UInt16
    let flags: UInt16
    let sequence: UInt32
    let payload: ArraySlice<UInt8>

    /// Splits a datagram into messages; stops at the first malformed header.
    static func split(_ datagram: ArraySlice<UInt8>) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var offset = datagram.startIndex
        while datagram.endIndex - offset >= Netlink.headerLength {
            let length = Int(datagram.loadNative(UInt32.self, at: offset))
            guard length >= Netlink.headerLength, length <= datagram.endIndex - offset else { break }
            messages.append(NetlinkMessage(
                type: datagram.loadNative(UInt16.self, at: offset + 4),
                flags: datagram.loadNative(UInt16.self, at: offset + 6),
                sequence: datagram.loadNative(UInt32.self, at: offset + 8),
                payload: datagram[(offset + Netlink.headerLength)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
        return messages
    }

    /// For NLMSG_ERROR: the (positive) errno, 0 for an acknowledgement, nil when truncated.
    var errorCode: Int32? {
        guard type == Netlink.error, payload.count >= 4 else { return nil }
        return -payload.loadNative(Int32.self, at: payload.startIndex)
    }
}

/// Type-length-value attributes after a fixed header, as rtnetlink messages carry them.
struct NetlinkAttributes {
    private(set) var values: [UInt16: ArraySlice<UInt8>] = [:]

    init(_ bytes: ArraySlice<UInt8>) {
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let length = Int(bytes.loadNative(UInt16.self, at: offset))
            let type = bytes.loadNative(UInt16.self, at: offset + 2) & 0x3FFF  // drop NLA_F_NESTED/BYTEORDER
            guard length >= 4, length <= bytes.endIndex - offset else { break }
            if values[type] == nil { values[type] = bytes[(offset + 4)..<(offset + length)] }
            offset += (length + 3) & ~3
        }
    }

    subscript(type: UInt16) -> ArraySlice<UInt8>? { values[type] }

    func uint32(_ type: UInt16) -> UInt32? {
        guard let value = values[type], value.count >= 4 else { return nil }
        return value.loadNative(UInt32.self, at: value.startIndex)
    }

    /// A NUL-terminated string attribute.
    func string(_ type: UInt16) -> String? {
        guard let value = values[type] else { return nil }
        let text = value.prefix { $0 != 0 }
        return String(decoding: text, as: UTF8.self)
    }
}

extension ArraySlice where Element == UInt8 {
    /// Loads an integer in host byte order; the caller has checked the bounds.
    func loadNative<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        precondition(offset >= startIndex && offset + MemoryLayout<T>.size <= endIndex)
        return withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset - startIndex, as: T.self) }
    }
}
