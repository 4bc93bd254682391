/// DHCPv6 server (RFC 8415): the configured address in IA_NA, DNS servers (option 23, RFC 3646) and the
/// search list (option 24), with `--fqdn` the client FQDN (option 39, RFC 4704), with rapid commit when
/// the client asks for it.
public enum DHCPv6Server {
    static let clientPort: UInt16 = 546
    static let serverPort: UInt16 = 547
    static let allServersAndRelays = IPv6Address("ff02::1:2")!

    enum MessageType: UInt8 {
        case solicit = 1, advertise, request, confirm, renew, rebind, reply, release, decline, reconfigure
        case informationRequest = 11
    }

    enum Option {
        static let clientID: UInt16 = 1
        static let serverID: UInt16 = 2
        static let identityAssociationNA: UInt16 = 3
        static let identityAssociationAddress: UInt16 = 5
        static let statusCode: UInt16 = 13
        static let rapidCommit: UInt16 = 14
        static let dnsServers: UInt16 = 23
        static let domainList: UInt16 = 24
        static let clientFQDN: UInt16 = 39
    }

    /// The fields of a request we act on; client ID and IA_NA identifiers are kept as byte ranges.
    struct Request {
        var type: MessageType
        var transactionID: UInt32
        var clientID: Range<Int>?
        var serverID: Range<Int>?
        var identityAssociations: [UInt32] = []
        var rapidCommit = false
    }

    /// Lifetimes for the address: like the DHCPv4 lease; renew at half, rebind at 80% (RFC 8415 section 21.4).
    static let validLifetime = ServiceSettings.leaseSeconds
    static let preferredLifetime = ServiceSettings.leaseSeconds
    static let renewTime = ServiceSettings.leaseSeconds / 2
    static let rebindTime = ServiceSettings.leaseSeconds / 5 * 4

    /// Our DUID: DUID-LL (type 3) over our MAC (RFC 8415 section 11.4).
    static func serverDUID(_ mac: MACAddress) -> [UInt8] { [0, 3, 0, 1] + mac.bytes }

    /// Answers a DHCPv6 request in `frame` by writing a reply frame into `reply`.
    public static func reply(to frame: UnsafeRawBufferPointer, settings: ServiceSettings,
                             into reply: UnsafeMutableRawBufferPointer) -> ServiceOutcome {
        guard let ethernet = EthernetFrame(frame), ethernet.etherType == EtherType.ipv6,
              let ip = IPv6Packet(ethernet.payload), ip.nextHeader == IPProtocol.udp
        else { return .notForUs }
        let payload = ip.payload
        guard payload.count >= UDPDatagram.headerLength, payload.bigEndianUInt16(at: 2) == serverPort
        else { return .notForUs }
        guard settings.dhcpv6, let config = settings.ipv6 else { return .dropped("DHCPv6 is disabled") }
        guard let udp = UDPDatagram(ip) else { return .dropped("DHCPv6: bad UDP length or checksum") }
        let message = udp.payload
        guard let request = parse(message) else { return .dropped("DHCPv6: malformed request") }
        let duid = serverDUID(settings.ourMAC)
        let serverIDMatches = request.serverID.map { message[$0].elementsEqual(duid) }

        // RFC 8415 section 16: which messages must, may or must not name a server.
        switch request.type {
        case .solicit, .confirm, .rebind:
            guard request.clientID != nil, serverIDMatches == nil else { return .dropped("DHCPv6: invalid \(request.type)") }
        case .request, .renew, .release, .decline:
            guard request.clientID != nil, serverIDMatches != nil else { return .dropped("DHCPv6: invalid \(request.type)") }
            if serverIDMatches == false { return .dropped("DHCPv6: \(request.type) for another server") }
        case .informationRequest:
            if serverIDMatches == false { return .dropped("DHCPv6: information request for another server") }
        case .advertise, .reply, .reconfigure:
            return .dropped("DHCPv6: server message \(request.type) from a client")
        }

        let rapid = request.type == .solicit && request.rapidCommit
        var out = PayloadWriter(reply, at: ReplyFrame.udp6PayloadOffset)
        out.uint32(UInt32((request.type == .solicit && !rapid ? MessageType.advertise : .reply).rawValue) << 24
            | request.transactionID)
        if let clientID = request.clientID {
            option(Option.clientID, &out) { $0.bytes(message[clientID]) }
        }
        option(Option.serverID, &out) { $0.bytes(duid) }
        if rapid { option(Option.rapidCommit, &out) { _ in } }

        switch request.type {
        case .confirm, .release, .decline:
            // The address is ours to give and stays valid on this link; releasing it changes nothing.
            option(Option.statusCode, &out) { $0.uint16(0) }
        case .solicit, .request, .renew, .rebind:
            for identifier in request.identityAssociations {
                option(Option.identityAssociationNA, &out) { ia in
                    ia.uint32(identifier)
                    ia.uint32(renewTime)
                    ia.uint32(rebindTime)
                    option(Option.identityAssociationAddress, &ia) {
                        $0.ipv6(config.address)
                        $0.uint32(preferredLifetime)
                        $0.uint32(validLifetime)
                    }
                }
            }
        default:
            break
        }
        if request.type != .release, request.type != .decline {
            if !config.dnsServers.isEmpty {
                option(Option.dnsServers, &out) { list in config.dnsServers.forEach { list.ipv6($0) } }
            }
            if !settings.searchList.isEmpty {
                option(Option.domainList, &out) { $0.bytes(settings.searchList) }
            }
            if let fqdn = settings.fqdnOption6 {
                option(Option.clientFQDN, &out) { $0.bytes(fqdn) }
            }
        }
        guard !out.overflowed, out.length <= 0xFFFF else { return .dropped("DHCPv6: reply does not fit the buffer") }
        let length = ReplyFrame.completeUDPv6(
            reply, payloadLength: out.length, sourceMAC: settings.ourMAC, destinationMAC: Array(ethernet.source),
            source: config.routerLinkLocal, destination: ip.sourceAddress,
            sourcePort: serverPort, destinationPort: udp.sourcePort)
        return .reply(length)
    }

    /// Writes an option header, then the body `write` appends, then patches in the body's length.
    private static func option(_ code: UInt16, _ out: inout PayloadWriter, _ write: (inout PayloadWriter) -> Void) {
        out.uint16(code)
        let lengthField = out.placeholder16()
        let bodyStart = out.offset
        write(&out)
        out.patch(UInt16(truncatingIfNeeded: out.offset - bodyStart), at: lengthField)
    }

    /// Validates the message and walks its options (each inside the message, IA_NA at least 12 bytes);
    /// nil for anything malformed.
    static func parse(_ message: UnsafeRawBufferPointer) -> Request? {
        guard message.count >= 4, let type = MessageType(rawValue: message[0]) else { return nil }
        var request = Request(type: type, transactionID: message.bigEndianUInt32(at: 0) & 0xFF_FFFF)
        var index = 4
        while index < message.count {
            guard index + 4 <= message.count else { return nil }
            let code = message.bigEndianUInt16(at: index)
            let length = Int(message.bigEndianUInt16(at: index + 2))
            let value = index + 4
            guard value + length <= message.count else { return nil }
            switch code {
            case Option.clientID:
                guard length >= 2, request.clientID == nil else { return nil }
                request.clientID = value..<value + length
            case Option.serverID:
                guard length >= 2, request.serverID == nil else { return nil }
                request.serverID = value..<value + length
            case Option.identityAssociationNA:
                guard length >= 12 else { return nil }
                let identifier = message.bigEndianUInt32(at: value)
                if !request.identityAssociations.contains(identifier), request.identityAssociations.count < 8 {
                    request.identityAssociations.append(identifier)
                }
            case Option.rapidCommit:
                guard length == 0 else { return nil }
                request.rapidCommit = true
            default:
                break
            }
            index = value + length
        }
        return request
    }
}
