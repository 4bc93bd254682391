/// What differs between two configurations, as the datapath and the namespace apply it.
public struct ConfigurationChange: Equatable {
    public var addressesRemoved: [AddressInfo] = []
    public var addressesAdded: [AddressInfo] = []
    public var routesRemoved: [RouteInfo] = []
    public var routesAdded: [RouteInfo] = []
    /// Every route of the new configuration: removing an address takes the routes through it away in
    /// the kernel, unchanged ones too, so they are all added again after an address change.
    public var routes: [RouteInfo] = []
    /// The address handed out or the gateway of a family changed, or a family came or went.
    public var addressingChanged = false
    public var resolversChanged = false
    public var searchDomainsChanged = false
    public var leftLocalMode = false
    /// What a guest learns from Router Advertisements changed: IPv6 came, went, or moved.
    public var ipv6Changed = false
    /// One line for each thing that changed, for the log.
    public var descriptions: [String] = []

    public var isEmpty: Bool { descriptions.isEmpty }

    public init(from old: RuntimeConfiguration, to new: RuntimeConfiguration) {
        let oldAddresses = old.allAddresses.map(\.comparable), newAddresses = new.allAddresses.map(\.comparable)
        addressesRemoved = oldAddresses.filter { !newAddresses.contains($0) }
        addressesAdded = newAddresses.filter { !oldAddresses.contains($0) }
        let oldRoutes = old.allRoutes.map(\.comparable), newRoutes = new.allRoutes.map(\.comparable)
        routesRemoved = oldRoutes.filter { !newRoutes.contains($0) }
        routesAdded = newRoutes.filter { !oldRoutes.contains($0) }
        routes = newRoutes
        leftLocalMode = old.localMode && !new.localMode

        if leftLocalMode {
            let from = [new.ipv4?.templateName, new.ipv6?.templateName].compactMap { $0 }.first ?? "options"
            descriptions.append("local mode ends: addresses and routes of \(from)")
        }
        describe(family: "IPv4", old.ipv4, new.ipv4)
        describe(family: "IPv6", old.ipv6, new.ipv6)
        ipv6Changed = old.ipv6 != new.ipv6
        if !addressesRemoved.isEmpty || !addressesAdded.isEmpty {
            descriptions.append("addresses: \(Self.list(newAddresses.map { "\($0.address)/\($0.prefixLength)" }))"
                + " (were \(Self.list(oldAddresses.map { "\($0.address)/\($0.prefixLength)" })))")
        }
        if !routesRemoved.isEmpty || !routesAdded.isEmpty {
            descriptions.append("routes: \(Self.list(newRoutes.map(\.text))) (were \(Self.list(oldRoutes.map(\.text))))")
        }
        if old.dnsServers != new.dnsServers {
            resolversChanged = true
            descriptions.append("resolvers: \(Self.list(new.dnsServers.map { "\($0)" }))"
                + " (were \(Self.list(old.dnsServers.map { "\($0)" })))")
        }
        if old.searchDomains != new.searchDomains {
            searchDomainsChanged = true
            descriptions.append("search domains: \(Self.list(new.searchDomains)) (were \(Self.list(old.searchDomains)))")
        }
    }

    private mutating func describe<A>(family: String, _ old: FamilyConfiguration<A>?, _ new: FamilyConfiguration<A>?) {
        switch (old, new) {
        case (nil, nil):
            return
        case (nil, let new?):
            addressingChanged = true
            descriptions.append("\(family) on: address \(new.address), gateway \(new.gateway.map { "\($0)" } ?? "none")")
        case (let old?, nil):
            addressingChanged = true
            descriptions.append("\(family) off (was address \(old.address))")
        case (let old?, let new?):
            if old.address != new.address || old.prefixLength != new.prefixLength {
                addressingChanged = true
                descriptions.append("\(family) address \(new.address)/\(new.prefixLength) (was \(old.address)/\(old.prefixLength))")
            }
            if old.gateway != new.gateway {
                addressingChanged = true
                descriptions.append("\(family) gateway \(new.gateway.map { "\($0)" } ?? "none")"
                    + " (was \(old.gateway.map { "\($0)" } ?? "none"))")
            }
        }
    }

    private static func list(_ items: [String]) -> String { items.isEmpty ? "none" : items.joined(separator: " ") }
}

extension RuntimeConfiguration {
    /// The addresses and routes `--config-net` gives the namespace, both families.
    var allAddresses: [AddressInfo] { (ipv4?.addresses ?? []) + (ipv6?.addresses ?? []) }
    var allRoutes: [RouteInfo] { (ipv4?.routes ?? []) + (ipv6?.routes ?? []) }
}

extension AddressInfo {
    /// What the namespace's copy has of it: the host's interface index and scope don't carry over.
    var comparable: AddressInfo {
        AddressInfo(interfaceIndex: 0, address: address, prefixLength: prefixLength, scope: 0)
    }
}

extension RouteInfo {
    /// What the namespace's copy has of it (the host's interface, protocol and scope don't carry over).
    var comparable: RouteInfo {
        RouteInfo(family: family, destination: destinationLength == 0 ? nil : destination,
                  destinationLength: destinationLength, gateway: gateway, outputInterface: nil,
                  table: UInt32(Netlink.tableMain), routingProtocol: Netlink.protocolBoot,
                  scope: Netlink.scopeUniverse, type: Netlink.typeUnicast, priority: priority)
    }

    var text: String {
        (destination.map { "\($0)/\(destinationLength)" } ?? "default") + (gateway.map { " via \($0)" } ?? "")
    }
}
