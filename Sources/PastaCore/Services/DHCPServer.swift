/// DHCPv4 server (RFC 2131, options from RFC 2132): hands the one configured address, its mask, the
/// router, DNS servers, the search list (RFC 3397), the MTU, and with `-H`/`--fqdn` the host name and
/// FQDN (RFC 4702) to whoever asks.
public enum DHCPServer {
    static let serverPort: UInt16 = 67
    static let clientPort: UInt16 = 68
    static let fixedLength = 236
    static let magicCookie: UInt32 = 0x6382_5363
    /// BOOTP's minimum message size (RFC 1542 section 3.4); shorter replies upset some clients.
    static let minimumLength = 300
    /// What every DHCP client accepts (RFC 2131 section 2): the reply must fit unless the client says more.
    static let defaultMaximumIPLength = 576

    enum MessageType: UInt8 {
        case discover = 1, offer, request, decline, ack, nak, release, inform
    }

    enum Option {
        static let pad: UInt8 = 0
        static let subnetMask: UInt8 = 1
        static let router: UInt8 = 3
        static let domainNameServer: UInt8 = 6
        static let hostName: UInt8 = 12
        static let interfaceMTU: UInt8 = 26
        static let requestedAddress: UInt8 = 50
        static let leaseTime: UInt8 = 51
        static let messageType: UInt8 = 53
        static let serverIdentifier: UInt8 = 54
        static let maximumMessageSize: UInt8 = 57
        static let clientFQDN: UInt8 = 81
        static let domainSearch: UInt8 = 119
        static let end: UInt8 = 255
    }

    /// The fields of a request we act on.
    struct Request {
        var type: MessageType
        var transactionID: UInt32
        var flags: UInt16
        var clientAddress: IPv4Address
        var relayAddress: IPv4Address
        var requestedAddress: IPv4Address?
        var serverIdentifier: IPv4Address?
        var maximumMessageSize: Int?
        var broadcast: Bool { flags & 0x8000 != 0 }
    }

    /// Answers a DHCP request in `frame` by writing a reply frame into `reply`.
    public static func reply(to frame: UnsafeRawBufferPointer, settings: ServiceSettings,
                             into reply: UnsafeMutableRawBufferPointer) -> ServiceOutcome {
        guard let ethernet = EthernetFrame(frame), ethernet.etherType == EtherType.ipv4,
              let ip = IPv4Packet(ethernet.payload), ip.protocolNumber == IPProtocol.udp
        else { return .notForUs }
        let payload = ip.payload
        guard payload.count >= UDPDatagram.headerLength, payload.bigEndianUInt16(at: 2) == serverPort
        else { return .notForUs }
        guard let config = settings.dhcp else { return .dropped("DHCP is disabled") }
        guard let udp = UDPDatagram(ip) else { return .dropped("DHCP: bad UDP length or checksum") }
        guard let request = parse(udp.payload) else { return .dropped("DHCP: malformed request") }
        let message = udp.payload

        let answer: MessageType
        switch request.type {
        case .discover:
            answer = .offer
        case .request:
            if let server = request.serverIdentifier, server != config.router {
                return .dropped("DHCP: client chose another server")
            }
            let wanted = request.requestedAddress ?? request.clientAddress
            answer = wanted == config.address ? .ack : .nak
        case .inform:
            answer = .ack
        case .release, .decline:
            return .dropped("DHCP: \(request.type) from the client")
        case .offer, .ack, .nak:
            return .dropped("DHCP: server message \(request.type) from the client")
        }
        let informing = request.type == .inform

        // BOOTP header: the request's transaction, flags, relay and hardware address kept as they were.
        var out = PayloadWriter(reply, at: ReplyFrame.udp4PayloadOffset)
        out.bytes([2, 1, 6, 0])
        out.uint32(request.transactionID)
        out.uint16(0)
        out.uint16(request.flags)
        out.uint32(request.clientAddress.value)
        out.uint32(answer == .nak || informing ? 0 : config.address.value)
        out.uint32(0)
        out.uint32(request.relayAddress.value)
        out.bytes(UnsafeRawBufferPointer(rebasing: message[28..<44]))  // chaddr
        out.zeros(64 + 128)  // sname, file
        out.uint32(magicCookie)

        out.bytes([Option.messageType, 1, answer.rawValue])
        out.bytes([Option.serverIdentifier, 4])
        out.uint32(config.router.value)
        if answer != .nak {
            if !informing {
                out.bytes([Option.leaseTime, 4])
                out.uint32(ServiceSettings.leaseSeconds)
            }
            out.bytes([Option.subnetMask, 4])
            out.uint32(IPv4Address.mask(prefixLength: config.prefixLength).value)
            out.bytes([Option.router, 4])
            out.uint32(config.router.value)
            if !config.dnsServers.isEmpty, config.dnsServers.count <= 63 {
                out.bytes([Option.domainNameServer, UInt8(config.dnsServers.count * 4)])
                for server in config.dnsServers { out.uint32(server.value) }
            }
            if let mtu = settings.mtu, (68...65535).contains(mtu) {
                out.bytes([Option.interfaceMTU, 2])
                out.uint16(UInt16(mtu))
            }
            // Each left out if the reply would then exceed what the client accepts (IP and UDP headers
            // take 28 bytes of it).
            let limit = (request.maximumMessageSize ?? defaultMaximumIPLength) - 28
            if let name = settings.hostNameOption { writeLongOption(Option.hostName, name, into: &out, limit: limit) }
            if let name = settings.fqdnOption { writeLongOption(Option.clientFQDN, name, into: &out, limit: limit) }
            writeLongOption(Option.domainSearch, settings.searchListCompressed, into: &out, limit: limit)
        }
        out.uint8(Option.end)
        if out.length < minimumLength { out.zeros(minimumLength - out.length) }
        guard !out.overflowed else { return .dropped("DHCP: reply does not fit the buffer") }

        // RFC 2131 section 4.1: NAKs are broadcast; a client with an address gets unicast to it; otherwise
        // broadcast if the client asks, else unicast to the offered address at the client's hardware address.
        let destination: IPv4Address, destinationMAC: [UInt8]
        if answer == .nak || (request.clientAddress.isUnspecified && request.broadcast) {
            destination = IPv4Address(0xFFFF_FFFF)
            destinationMAC = ReplyFrame.broadcastMAC
        } else {
            destination = request.clientAddress.isUnspecified ? config.address : request.clientAddress
            destinationMAC = Array(message[28..<34])
        }
        let length = ReplyFrame.completeUDPv4(
            reply, payloadLength: out.length, sourceMAC: settings.ourMAC, destinationMAC: destinationMAC,
            source: config.router, destination: destination, sourcePort: serverPort, destinationPort: clientPort)
        return .reply(length)
    }

    /// An option in as many pieces of up to 255 bytes as it needs (RFC 3396), left out if the reply would
    /// then exceed what the client accepts (`limit` bytes of DHCP message, one byte kept for End).
    private static func writeLongOption(_ code: UInt8, _ value: [UInt8], into out: inout PayloadWriter, limit: Int) {
        guard !value.isEmpty else { return }
        let pieces = (value.count + 254) / 255
        guard out.length + value.count + 2 * pieces + 1 <= limit else { return }
        var start = 0
        while start < value.count {
            let end = min(start + 255, value.count)
            out.bytes([code, UInt8(end - start)])
            out.bytes(value[start..<end])
            start = end
        }
    }

    /// Validates the fixed header and walks the options; nil for anything malformed.
    static func parse(_ message: UnsafeRawBufferPointer) -> Request? {
        guard message.count >= fixedLength + 4, message[0] == 1, message[1] == 1, message[2] == 6,
              message.bigEndianUInt32(at: fixedLength) == magicCookie
        else { return nil }
        var type: MessageType?
        var requested: IPv4Address?, server: IPv4Address?, maximumSize: Int?
        var index = fixedLength + 4
        var sawEnd = false
        while index < message.count {
            let code = message[index]
            if code == Option.pad { index += 1; continue }
            if code == Option.end { sawEnd = true; break }
            guard index + 2 <= message.count else { return nil }
            let length = Int(message[index + 1])
            let value = index + 2
            guard value + length <= message.count else { return nil }
            switch code {
            case Option.messageType:
                guard length == 1, type == nil, let known = MessageType(rawValue: message[value]) else { return nil }
                type = known
            case Option.requestedAddress:
                guard length == 4 else { return nil }
                requested = IPv4Address(message.bigEndianUInt32(at: value))
            case Option.serverIdentifier:
                guard length == 4 else { return nil }
                server = IPv4Address(message.bigEndianUInt32(at: value))
            case Option.maximumMessageSize:
                guard length == 2 else { return nil }
                maximumSize = max(Int(message.bigEndianUInt16(at: value)), defaultMaximumIPLength)
            default:
                break
            }
            index = value + length
        }
        guard sawEnd, let type else { return nil }
        return Request(type: type, transactionID: message.bigEndianUInt32(at: 4), flags: message.bigEndianUInt16(at: 10),
                       clientAddress: IPv4Address(message.bigEndianUInt32(at: 12)),
                       relayAddress: IPv4Address(message.bigEndianUInt32(at: 24)),
                       requestedAddress: requested, serverIdentifier: server, maximumMessageSize: maximumSize)
    }
}
