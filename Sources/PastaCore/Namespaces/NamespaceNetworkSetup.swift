import Glibc

/// Brings up `lo` and, with `--config-net`, the tap: MTU, addresses and routes as the host template has them.
public enum NamespaceNetworkSetup {
    /// Runs inside the target namespace.
    public static func apply(_ configuration: RuntimeConfiguration, tap: TapDevice) throws {
        let netlink = try RouteNetlinkSocket()
        guard let loopback = try netlink.link(named: "lo") else { throw OptionError("no loopback interface in the namespace") }
        try step("bring up lo") { try netlink.setLink(index: loopback.index, up: true) }
        guard let tapLink = try netlink.link(named: tap.name) else {
            throw OptionError("tap device \(tap.name) vanished from the namespace")
        }
        let options = configuration.options
        if let mac = options.namespaceMACAddress {
            try step("set MAC address \(mac) on \(tap.name)") { try netlink.setLink(index: tapLink.index, mac: mac) }
        }
        guard options.configureNetwork else { return }
        let mtu = configuration.mtu == 0 ? RuntimeConfiguration.defaultMTU : configuration.mtu
        try step("set MTU \(mtu) on \(tap.name)") { try netlink.setLink(index: tapLink.index, mtu: UInt32(mtu)) }
        disableDuplicateAddressDetection(tap.name)
        try step("bring up \(tap.name)") { try netlink.setLink(index: tapLink.index, up: true) }

        let addresses = (configuration.ipv4?.addresses ?? []) + (configuration.ipv6?.addresses ?? [])
        for entry in addresses {
            try step("add address \(entry.address)/\(entry.prefixLength) to \(tap.name)") {
                try netlink.addAddress(entry.address, prefixLength: entry.prefixLength, interfaceIndex: tapLink.index)
            }
        }
        try addRoutes((configuration.ipv4?.routes ?? []) + (configuration.ipv6?.routes ?? []),
                      netlink: netlink, interfaceIndex: tapLink.index, tapName: tap.name)
    }

    /// Routes may depend on each other (a gateway reachable only through another route): retry in passes
    /// until nothing more can be added. A default route that can't be added is an error, others a warning.
    private static func addRoutes(_ routes: [RouteInfo], netlink: RouteNetlinkSocket, interfaceIndex: Int32,
                                  tapName: String) throws {
        var pending = routes
        var lastErrors: [(RouteInfo, Error)] = []
        while !pending.isEmpty {
            lastErrors = []
            var stillPending: [RouteInfo] = []
            for route in pending {
                do {
                    try netlink.addRoute(route, interfaceIndex: interfaceIndex)
                } catch let error as SystemError where error.code == EEXIST {
                    continue
                } catch {
                    stillPending.append(route)
                    lastErrors.append((route, error))
                }
            }
            if stillPending.count == pending.count { break }
            pending = stillPending
        }
        for (route, error) in lastErrors {
            let text = "route \(route.destination.map { "\($0)/\(route.destinationLength)" } ?? "default")"
                + (route.gateway.map { " via \($0)" } ?? "") + " on \(tapName): \(error)"
            if route.isDefault { throw OptionError("can't add \(text)") }
            logWarning("can't add \(text)")
        }
    }

    /// No DAD on the tap: nothing else is on that link, and a tentative link-local address would
    /// delay IPv6 for a second or more. /proc/sys/net shows the namespace of the thread that opens it.
    private static func disableDuplicateAddressDetection(_ interface: String) {
        guard let fd = try? Descriptor.open("/proc/sys/net/ipv6/conf/\(interface)/accept_dad", O_WRONLY) else {
            logDebug("can't disable IPv6 DAD on \(interface) (IPv6 disabled?)")
            return
        }
        try? fd.writeAll("0\n")
    }

    private static func step(_ what: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as SystemError {
            throw OptionError("can't \(what): \(String(cString: strerror(error.code)))")
        }
    }
}
