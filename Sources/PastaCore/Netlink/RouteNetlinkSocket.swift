import CLinux
import Glibc

/// An rtnetlink socket in the network namespace it was created in: dumps and changes links,
/// addresses and routes.
public final class RouteNetlinkSocket {
    let descriptor: Descriptor
    private var sequence: UInt32 = 1
    private var receiveBuffer = [UInt8](repeating: 0, count: 65536)

    public init() throws {
        descriptor = Descriptor(try retryingEINTR("netlink socket") { CLinux_netlink_route_socket() })
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor.raw, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Requests over `descriptor`, which passes them on to an rtnetlink socket elsewhere and the replies
    /// back, a datagram each (NamespaceNetlinkRelay).
    init(relay descriptor: Descriptor) {
        self.descriptor = descriptor
    }

    private func send(_ request: NetlinkRequest) throws -> UInt32 {
        sequence &+= 1
        let bytes = request.finished(sequence: sequence)
        _ = try bytes.withUnsafeBytes { raw in
            try retryingEINTR("netlink send") { Glibc.send(descriptor.raw, raw.baseAddress, raw.count, 0) }
        }
        return sequence
    }

    /// Receives messages answering `sequence` until DONE (dumps) or an ACK/error (requests).
    private func receive(sequence: UInt32, dump: Bool) throws -> [NetlinkMessage] {
        var collected: [NetlinkMessage] = []
        while true {
            let n = try receiveBuffer.withUnsafeMutableBytes { raw in
                try retryingEINTR("netlink receive") { recv(descriptor.raw, raw.baseAddress, raw.count, 0) }
            }
            guard n > 0 else { throw SystemError("netlink receive", code: EIO) }
            for message in NetlinkMessage.split(receiveBuffer[0..<n]) where message.sequence == sequence {
                switch message.type {
                case Netlink.done:
                    return collected
                case Netlink.error:
                    guard let code = message.errorCode else { throw SystemError("netlink reply", code: EBADMSG) }
                    if code != 0 { throw SystemError("netlink request", code: code) }
                    if !dump { return collected }
                case Netlink.noop:
                    continue
                default:
                    collected.append(message)
                }
            }
        }
    }

    private func dump(type: UInt16, family: UInt8, fixedLength: Int) throws -> [NetlinkMessage] {
        var request = NetlinkRequest(type: type, flags: Netlink.dump)
        request.append(family)
        request.append(bytes: [UInt8](repeating: 0, count: fixedLength - 1))
        return try receive(sequence: try send(request), dump: true)
    }

    private func perform(_ request: NetlinkRequest) throws {
        _ = try receive(sequence: try send(request), dump: false)
    }

    public func links() throws -> [LinkInfo] {
        try dump(type: Netlink.getLink, family: Netlink.familyUnspecified, fixedLength: 16)
            .filter { $0.type == Netlink.newLink }.compactMap { LinkInfo.parse($0.payload) }
    }

    public func addresses(family: UInt8) throws -> [AddressInfo] {
        try dump(type: Netlink.getAddress, family: family, fixedLength: 8)
            .filter { $0.type == Netlink.newAddress }.compactMap { AddressInfo.parse($0.payload) }
    }

    /// The routing tables' routes, without the kernel's cached clones (IPv6 path MTU exceptions are
    /// dumped too: copied, one would hide the namespace's own exception for that destination).
    public func routes(family: UInt8) throws -> [RouteInfo] {
        try dump(type: Netlink.getRoute, family: family, fixedLength: 12)
            .filter { $0.type == Netlink.newRoute && !RouteInfo.isCloned($0.payload) }
            .compactMap { RouteInfo.parse($0.payload) }
    }

    public func link(named name: String) throws -> LinkInfo? {
        try links().first { $0.name == name }
    }

    /// Changes flags, MTU and MAC address of a link.
    public func setLink(index: Int32, up: Bool? = nil, mtu: UInt32? = nil, mac: MACAddress? = nil) throws {
        var request = NetlinkRequest(type: Netlink.newLink, flags: Netlink.ack)
        request.append(Netlink.familyUnspecified)
        request.append(UInt8(0))
        request.append(UInt16(0))  // ifi_type
        request.append(index)
        request.append(up == true ? Netlink.interfaceUp : 0)  // ifi_flags
        request.append(up == nil ? UInt32(0) : Netlink.interfaceUp)  // ifi_change
        if let mtu { request.attribute(Netlink.linkMTU, integer: mtu) }
        if let mac { request.attribute(Netlink.linkAddress, mac.bytes) }
        try perform(request)
    }

    /// Adds an address with duplicate address detection disabled (IPv6 addresses are usable at once).
    public func addAddress(_ address: IPAddress, prefixLength: Int, interfaceIndex: Int32) throws {
        try perform(Self.addressRequest(Netlink.newAddress, flags: Netlink.create | Netlink.exclusive, address,
                                        prefixLength: prefixLength, interfaceIndex: interfaceIndex))
    }

    /// Removes an address (and with it the routes the kernel derived from it).
    public func deleteAddress(_ address: IPAddress, prefixLength: Int, interfaceIndex: Int32) throws {
        try perform(Self.addressRequest(Netlink.deleteAddress, flags: 0, address, prefixLength: prefixLength,
                                        interfaceIndex: interfaceIndex))
    }

    static func addressRequest(_ type: UInt16, flags: UInt16, _ address: IPAddress, prefixLength: Int,
                               interfaceIndex: Int32) -> NetlinkRequest {
        var request = NetlinkRequest(type: type, flags: Netlink.ack | flags)
        request.append(address.netlinkFamily)
        request.append(UInt8(prefixLength))
        request.append(UInt8(Netlink.addressFlagNoDAD))
        request.append(Netlink.scopeUniverse)
        request.append(UInt32(bitPattern: interfaceIndex))
        request.attribute(Netlink.addressLocal, address.rawBytes)
        request.attribute(Netlink.addressAddress, address.rawBytes)
        request.attribute(Netlink.addressFlags, integer: Netlink.addressFlagNoDAD | Netlink.addressFlagPermanent)
        return request
    }

    /// Adds a route in the main table through `interfaceIndex`.
    public func addRoute(_ route: RouteInfo, interfaceIndex: Int32) throws {
        try perform(Self.routeRequest(Netlink.newRoute, flags: Netlink.create | Netlink.exclusive, route,
                                      interfaceIndex: interfaceIndex))
    }

    /// Removes a route `addRoute` added.
    public func deleteRoute(_ route: RouteInfo, interfaceIndex: Int32) throws {
        try perform(Self.routeRequest(Netlink.deleteRoute, flags: 0, route, interfaceIndex: interfaceIndex))
    }

    static func routeRequest(_ type: UInt16, flags: UInt16, _ route: RouteInfo, interfaceIndex: Int32) -> NetlinkRequest {
        var request = NetlinkRequest(type: type, flags: Netlink.ack | flags)
        request.append(route.family)
        request.append(UInt8(route.destinationLength))
        request.append(UInt8(0))  // src_len
        request.append(UInt8(0))  // tos
        request.append(Netlink.tableMain)
        request.append(Netlink.protocolBoot)
        request.append(route.gateway == nil ? Netlink.scopeLink : Netlink.scopeUniverse)
        request.append(Netlink.typeUnicast)
        request.append(UInt32(0))  // rtm_flags
        if let destination = route.destination, route.destinationLength > 0 {
            request.attribute(Netlink.routeDestination, destination.rawBytes)
        }
        if let gateway = route.gateway { request.attribute(Netlink.routeGateway, gateway.rawBytes) }
        request.attribute(Netlink.routeOutput, integer: UInt32(bitPattern: interfaceIndex))
        if let priority = route.priority { request.attribute(Netlink.routePriority, integer: priority) }
        return request
    }
}
