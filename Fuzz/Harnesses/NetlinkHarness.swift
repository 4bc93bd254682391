@testable import PastaCore

/// rtnetlink replies, as the kernel answers our link, address and route dumps: split into messages,
/// parsed as RouteNetlinkSocket does, then the host's configuration is chosen from them and the runtime
/// configuration, its summary and the service settings are derived, as at start-up, and as a change of
/// the host's network would be (ConfigurationChange). Input: a control
/// byte, then one datagram of messages in host byte order. Control bits 0-1 name `eth0` with -i for IPv4
/// and IPv6; bits 2-3 pick extra options.
enum NetlinkHarness {
    static let harness = Harness(
        name: "netlink", summary: "rtnetlink link/address/route dumps into the host and runtime configuration",
        run: run, seeds: seeds)

    static let optionVariants: [Options] = [[], ["--no-copy-addrs"], ["--no-copy-routes", "-m", "1280"], ["-4", "-a", "192.0.2.9"]]
        .map { arguments in
            do { return try Options.parse(arguments, mode: .pasta) } catch { fatalError("netlink: \(arguments): \(error)") }
        }

    static func run(_ data: UnsafeRawBufferPointer) {
        let bytes = Array(data)
        guard let control = bytes.first else { return }
        let messages = NetlinkMessage.split(bytes[1...])
        var links: [LinkInfo] = [], addresses: [AddressInfo] = [], routes: [RouteInfo] = []
        for message in messages {
            switch message.type {
            case Netlink.error: _ = message.errorCode
            case Netlink.newLink: LinkInfo.parse(message.payload).map { links.append($0) }
            case Netlink.newAddress: AddressInfo.parse(message.payload).map { addresses.append($0) }
            case Netlink.newRoute: RouteInfo.parse(message.payload).map { routes.append($0) }
            default: break
            }
        }
        let host = HostNetwork.choose(links: links, addresses: addresses, routes: routes,
                                      interface4: control & 1 != 0 ? "eth0" : nil,
                                      interface6: control & 2 != 0 ? "eth0" : nil)
        let configuration = RuntimeConfiguration(options: optionVariants[Int(control >> 2 & 3)], host: host,
                                                 resolvConf: ResolvConf(text: ""))
        _ = configuration.summary
        _ = ServiceSettings(configuration)
        _ = AddressTranslation(configuration)
        // The same dump as a change of the host's network after a start in local mode, and back.
        let started = RuntimeConfiguration(options: optionVariants[Int(control >> 2 & 3)], host: HostNetwork(),
                                           resolvConf: ResolvConf(text: "nameserver 192.0.2.53\n"))
        let followed = started.following(host: host, resolvConf: ResolvConf(text: ""))
        _ = ConfigurationChange(from: started, to: followed).descriptions
        _ = ConfigurationChange(from: followed, to: started).descriptions
        if !ConfigurationChange(from: followed, to: followed).isEmpty {
            fatalError("netlink: a configuration differs from itself")
        }
    }

    /// One message: header (length, type, flags, sequence, port), fixed part, attributes, all 4-aligned.
    static func message(_ type: UInt16, _ fixed: [UInt8], _ attributes: [(UInt16, [UInt8])]) -> [UInt8] {
        var body = fixed
        for (attributeType, value) in attributes {
            body += native(UInt16(4 + value.count)) + native(attributeType) + value
            while body.count % 4 != 0 { body.append(0) }
        }
        return native(UInt32(16 + body.count)) + native(type) + native(Netlink.multi) + native(UInt32(1)) + native(UInt32(0)) + body
    }

    static func native<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value, Array.init) }

    static func seeds() -> [[UInt8]] {
        let link = message(Netlink.newLink, [0, 0] + native(UInt16(1)) + native(Int32(2)) + native(UInt32(1)) + native(UInt32(0)),
                           [(Netlink.linkName, Array("eth0".utf8) + [0]), (Netlink.linkAddress, [2, 0, 0, 0, 0, 9]),
                            (Netlink.linkMTU, native(UInt32(1500)))])
        let loopback = message(Netlink.newLink, [0, 0] + native(UInt16(772)) + native(Int32(1)) + native(UInt32(1)) + native(UInt32(0)),
                               [(Netlink.linkName, Array("lo".utf8) + [0])])
        let address4 = message(Netlink.newAddress, [Netlink.familyIPv4, 24, 0, 0] + native(Int32(2)),
                               [(Netlink.addressAddress, [198, 51, 100, 2]), (Netlink.addressLocal, [198, 51, 100, 2])])
        let address6 = message(Netlink.newAddress, [Netlink.familyIPv6, 64, 0, 0] + native(Int32(2)),
                               [(Netlink.addressAddress, IPv6Address("2001:db8:1::2")!.bytes)])
        let default4 = message(Netlink.newRoute, [Netlink.familyIPv4, 0, 0, 0, Netlink.tableMain, Netlink.protocolBoot,
                                                  Netlink.scopeUniverse, Netlink.typeUnicast] + native(UInt32(0)),
                               [(Netlink.routeGateway, [198, 51, 100, 1]), (Netlink.routeOutput, native(UInt32(2))),
                                (Netlink.routeTable, native(UInt32(254))), (Netlink.routePriority, native(UInt32(100)))])
        let default6 = message(Netlink.newRoute, [Netlink.familyIPv6, 0, 0, 0, Netlink.tableMain, Netlink.protocolBoot,
                                                  Netlink.scopeUniverse, Netlink.typeUnicast] + native(UInt32(0)),
                               [(Netlink.routeGateway, IPv6Address("fe80::1")!.bytes), (Netlink.routeOutput, native(UInt32(2)))])
        let subnet = message(Netlink.newRoute, [Netlink.familyIPv4, 24, 0, 0, Netlink.tableMain, Netlink.protocolBoot,
                                                Netlink.scopeLink, Netlink.typeUnicast] + native(UInt32(0)),
                             [(Netlink.routeDestination, [203, 0, 113, 0]), (Netlink.routeOutput, native(UInt32(2)))])
        let done = message(Netlink.done, native(Int32(0)), [])
        let error = message(Netlink.error, native(Int32(-1)) + [UInt8](repeating: 0, count: 16), [])
        return [[0] + link + loopback + address4 + address6 + default4 + default6 + subnet + done,
                [3] + link + address4 + default4, [4] + link + address6 + default6 + error, [12] + link + address4 + subnet]
    }
}
