/// Neighbor Discovery (RFC 4861): Neighbor Advertisements with our MAC for every address but the guest's
/// own, and Router Advertisements (prefix for SLAAC, MTU, RDNSS and DNSSL from RFC 8106) on solicitation
/// and periodically.
public enum NDPResponder {
    enum MessageType {
        static let routerSolicitation: UInt8 = 133
        static let routerAdvertisement: UInt8 = 134
        static let neighborSolicitation: UInt8 = 135
        static let neighborAdvertisement: UInt8 = 136
    }

    enum Option {
        static let sourceLinkLayerAddress: UInt8 = 1
        static let targetLinkLayerAddress: UInt8 = 2
        static let prefixInformation: UInt8 = 3
        static let mtu: UInt8 = 5
        static let recursiveDNSServer: UInt8 = 25
        static let dnsSearchList: UInt8 = 31
    }

    static let allNodes = IPv6Address("ff02::1")!
    /// Lifetimes from RFC 4861 section 6.2.1 defaults (MaxRtrAdvInterval 600 s); RDNSS and DNSSL follow
    /// the router lifetime as RFC 8106 section 5.1 suggests.
    static let routerLifetime: UInt16 = 1800
    static let validLifetime: UInt32 = 2_592_000
    static let preferredLifetime: UInt32 = 604_800
    static let dnsLifetime: UInt32 = 1800
    static let maximumAdvertisementInterval = 600
    static let minimumAdvertisementInterval = 200

    /// Answers a Neighbor or Router Solicitation in `frame` by writing a reply frame into `reply`.
    public static func reply(to frame: UnsafeRawBufferPointer, settings: ServiceSettings,
                             into reply: UnsafeMutableRawBufferPointer) -> ServiceOutcome {
        guard let ethernet = EthernetFrame(frame), ethernet.etherType == EtherType.ipv6,
              let ip = IPv6Packet(ethernet.payload), ip.nextHeader == IPProtocol.icmpv6
        else { return .notForUs }
        let message = ip.payload
        guard message.count >= 4,
              message[0] == MessageType.neighborSolicitation || message[0] == MessageType.routerSolicitation
        else { return .notForUs }
        guard settings.ndp, let config = settings.ipv6 else { return .dropped("NDP is disabled") }
        // RFC 4861 sections 6.1.1 and 7.1.1: hop limit 255 (not forwarded), code 0, a correct checksum.
        guard ip.hopLimit == 255, message[1] == 0,
              InternetChecksum.ipv6(source: ip.source, destination: ip.destination, nextHeader: IPProtocol.icmpv6,
                                    segment: message) == 0
        else { return .dropped("NDP: bad hop limit, code or checksum") }
        let isNeighborSolicitation = message[0] == MessageType.neighborSolicitation
        let fixedLength = isNeighborSolicitation ? 24 : 8
        guard message.count >= fixedLength,
              let sourceLinkLayer = sourceLinkLayerAddress(in: message, from: fixedLength)
        else { return .dropped("NDP: truncated message or malformed options") }
        let source = ip.sourceAddress
        // An unspecified source (duplicate address detection) must not carry a link-layer address option.
        if source.isUnspecified && !sourceLinkLayer.isEmpty { return .dropped("NDP: unspecified source with an address option") }
        let peerMAC = sourceLinkLayer.isEmpty ? Array(ethernet.source) : sourceLinkLayer

        if isNeighborSolicitation {
            let target = message.ipv6Address(at: 8)
            guard !target.isMulticast else { return .dropped("NDP: solicitation for a multicast address") }
            // Duplicate address detection asks whether anybody else has the address: nobody does.
            if source.isUnspecified || target == source || target == config.address {
                return .dropped("NDP: not answering for the guest's own address \(target)")
            }
            return .reply(neighborAdvertisement(for: target, to: source, at: peerMAC, settings: settings, into: reply))
        }
        guard settings.routerAdvertisements else { return .dropped("router advertisements are disabled") }
        let destination = source.isUnspecified ? allNodes : source
        let destinationMAC = source.isUnspecified ? ReplyFrame.multicastMAC(allNodes) : peerMAC
        return routerAdvertisement(to: destination, at: destinationMAC, settings: settings, into: reply)
            .map(ServiceOutcome.reply) ?? .dropped("NDP: advertisement does not fit the buffer")
    }

    /// An unsolicited Router Advertisement to all nodes; nil when advertisements are off.
    public static func unsolicitedAdvertisement(settings: ServiceSettings,
                                                into reply: UnsafeMutableRawBufferPointer) -> Int? {
        guard settings.routerAdvertisements else { return nil }
        return routerAdvertisement(to: allNodes, at: ReplyFrame.multicastMAC(allNodes), settings: settings, into: reply)
    }

    /// Walks the options after `start`: every one at least 8 bytes and inside the message (RFC 4861
    /// section 4.6). Returns the source link-layer address (empty if absent), or nil if malformed.
    private static func sourceLinkLayerAddress(in message: UnsafeRawBufferPointer, from start: Int) -> [UInt8]? {
        var index = start
        var address: [UInt8] = []
        while index < message.count {
            guard index + 2 <= message.count else { return nil }
            let length = Int(message[index + 1]) * 8
            guard length > 0, index + length <= message.count else { return nil }
            if message[index] == Option.sourceLinkLayerAddress {
                guard length == 8 else { return nil }
                address = Array(message[index + 2..<index + 8])
            }
            index += length
        }
        return address
    }

    private static func neighborAdvertisement(for target: IPv6Address, to destination: IPv6Address,
                                              at destinationMAC: [UInt8], settings: ServiceSettings,
                                              into reply: UnsafeMutableRawBufferPointer) -> Int {
        var out = PayloadWriter(reply, at: ReplyFrame.icmp6MessageOffset)
        out.bytes([MessageType.neighborAdvertisement, 0, 0, 0])
        out.uint32(0xE000_0000)  // Router, Solicited, Override
        out.ipv6(target)
        out.bytes([Option.targetLinkLayerAddress, 1])
        out.bytes(settings.ourMAC.bytes)
        return ReplyFrame.completeICMPv6(reply, messageLength: out.length, sourceMAC: settings.ourMAC,
                                         destinationMAC: destinationMAC, source: target, destination: destination,
                                         hopLimit: 255)
    }

    private static func routerAdvertisement(to destination: IPv6Address, at destinationMAC: [UInt8],
                                            settings: ServiceSettings,
                                            into reply: UnsafeMutableRawBufferPointer) -> Int? {
        guard let config = settings.ipv6 else { return nil }
        var out = PayloadWriter(reply, at: ReplyFrame.icmp6MessageOffset)
        out.bytes([MessageType.routerAdvertisement, 0, 0, 0])
        // Current hop limit 64; Managed and Other flags when our DHCPv6 server is there to ask.
        out.bytes([64, settings.dhcpv6 ? 0xC0 : 0])
        out.uint16(routerLifetime)
        out.uint32(0)  // reachable time: unspecified
        out.uint32(0)  // retransmission timer: unspecified
        out.bytes([Option.sourceLinkLayerAddress, 1])
        out.bytes(settings.ourMAC.bytes)
        if let mtu = settings.mtu, (1280...65535).contains(mtu) {
            out.bytes([Option.mtu, 1, 0, 0])
            out.uint32(UInt32(mtu))
        }
        if config.advertisesPrefix {
            out.bytes([Option.prefixInformation, 4, 64, 0xC0])  // /64, on-link and autonomous
            out.uint32(validLifetime)
            out.uint32(preferredLifetime)
            out.uint32(0)
            out.ipv6(IPv6Address(high: config.address.high, low: 0))
        }
        if !config.dnsServers.isEmpty, config.dnsServers.count <= 127 {
            out.bytes([Option.recursiveDNSServer, UInt8(1 + 2 * config.dnsServers.count), 0, 0])
            out.uint32(dnsLifetime)
            for server in config.dnsServers { out.ipv6(server) }
        }
        let list = settings.searchList
        let paddedLength = (8 + list.count + 7) / 8 * 8
        if !list.isEmpty, paddedLength / 8 <= 255 {
            out.bytes([Option.dnsSearchList, UInt8(paddedLength / 8), 0, 0])
            out.uint32(dnsLifetime)
            out.bytes(list)
            out.zeros(paddedLength - 8 - list.count)
        }
        guard !out.overflowed else { return nil }
        return ReplyFrame.completeICMPv6(reply, messageLength: out.length, sourceMAC: settings.ourMAC,
                                         destinationMAC: destinationMAC, source: config.routerLinkLocal,
                                         destination: destination, hopLimit: 255)
    }
}
