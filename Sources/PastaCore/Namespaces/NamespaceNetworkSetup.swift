import Glibc

/// Brings up `lo` and, with `--config-net`, the tap: MTU, addresses and routes as the host template has them.
public enum NamespaceNetworkSetup {
    /// Runs inside the target namespace. Without a tap (`--splice-only`), only `lo` is brought up. With
    /// `--config-net`, returns what changes the tap's addresses and routes later, as the host's change.
    @discardableResult
    public static func apply(_ configuration: RuntimeConfiguration, tap: TapDevice?) throws -> NamespaceReconfiguration? {
        let netlink = try RouteNetlinkSocket()
        guard let loopback = try netlink.link(named: "lo") else { throw OptionError("no loopback interface in the namespace") }
        try step("bring up lo") { try netlink.setLink(index: loopback.index, up: true) }
        guard let tap else { return nil }
        guard let tapLink = try netlink.link(named: tap.name) else {
            throw OptionError("tap device \(tap.name) vanished from the namespace")
        }
        let options = configuration.options
        if let mac = options.namespaceMACAddress {
            try step("set MAC address \(mac) on \(tap.name)") { try netlink.setLink(index: tapLink.index, mac: mac) }
        }
        guard options.configureNetwork else { return nil }
        let mtu = configuration.mtu == 0 ? RuntimeConfiguration.defaultMTU : configuration.mtu
        try step("set MTU \(mtu) on \(tap.name)") { try netlink.setLink(index: tapLink.index, mtu: UInt32(mtu)) }
        // Before the link comes up, when the kernel starts probing addresses and soliciting routers.
        // No DAD: nothing else is on this link, and a tentative link-local address would delay IPv6 for a
        // second or more. No RA acceptance, as pasta does: the addresses and routes are the ones copied
        // here, not also a SLAAC address from our own Router Advertisements (those still serve namespaces
        // that configure themselves, without --config-net).
        setIPv6Parameter("accept_dad", to: 0, on: tap.name)
        setIPv6Parameter("accept_ra", to: 0, on: tap.name)
        try step("bring up \(tap.name)") { try netlink.setLink(index: tapLink.index, up: true) }

        let addresses = (configuration.ipv4?.addresses ?? []) + (configuration.ipv6?.addresses ?? [])
        for entry in addresses {
            try step("add address \(entry.address)/\(entry.prefixLength) to \(tap.name)") {
                try netlink.addAddress(entry.address, prefixLength: entry.prefixLength, interfaceIndex: tapLink.index)
            }
        }
        try addRoutes((configuration.ipv4?.routes ?? []) + (configuration.ipv6?.routes ?? []),
                      netlink: netlink, interfaceIndex: tapLink.index, tapName: tap.name)
        return NamespaceReconfiguration(netlink: netlink, interfaceIndex: tapLink.index, interfaceName: tap.name)
    }

    /// Routes may depend on each other (a gateway reachable only through another route): retry in passes
    /// until nothing more can be added. A default route that can't be added is an error, others a warning.
    static func addRoutes(_ routes: [RouteInfo], netlink: RouteNetlinkSocket, interfaceIndex: Int32,
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

    /// Lets every group of the user namespace we joined open ping sockets (icmp(7)) in a network namespace
    /// we created for a command: a new namespace starts with none allowed ("1 0"), and the command's ping
    /// would fail where the user's own works. Runs inside the namespace; a failure only costs ping.
    public static func allowPingSockets() {
        let path = "/proc/sys/net/ipv4/ping_group_range"
        guard let map = try? readSmallFile("/proc/self/gid_map", limit: 1 << 16),
              let range = pingGroupRange(gidMap: String(decoding: map, as: UTF8.self)) else {
            return logDebug("can't read our group ID map: ping sockets stay as the namespace has them")
        }
        do {
            let fd = try Descriptor.open(path, O_WRONLY)
            try fd.writeAll("\(range.lowerBound) \(range.upperBound)\n")
        } catch {
            logDebug("can't set \(path) to \(range.lowerBound) \(range.upperBound): \(error)")
        }
    }

    /// The group IDs a gid_map (user_namespaces(7): "inside outside count" per line) maps inside, from
    /// the lowest to the highest, within what ping_group_range takes (0 to 2^31 - 1); nil if none is
    /// mapped or a line is malformed.
    static func pingGroupRange(gidMap: String) -> ClosedRange<Int>? {
        let largest = 2_147_483_647
        var lowest: Int?, highest: Int?
        for line in gidMap.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 3, let inside = UInt32(fields[0]), UInt32(fields[1]) != nil,
                  let count = UInt32(fields[2]) else { return nil }
            guard count > 0, Int(inside) <= largest else { continue }
            let last = min(Int(inside) + Int(count) - 1, largest)
            lowest = min(lowest ?? Int(inside), Int(inside))
            highest = max(highest ?? last, last)
        }
        guard let lowest, let highest else { return nil }
        return lowest...highest
    }

    /// Sets net.ipv6.conf.INTERFACE.NAME through /proc/sys, which shows the namespace of the thread that
    /// opens it: rtnetlink can't, as RTM_SETLINK takes no IPv6 device settings (IFLA_INET6_CONF is only
    /// reported). Without IPv6 the file is missing, which is fine.
    private static func setIPv6Parameter(_ name: String, to value: Int, on interface: String) {
        let path = "/proc/sys/net/ipv6/conf/\(interface)/\(name)"
        do {
            let fd = try Descriptor.open(path, O_WRONLY)
            try fd.writeAll("\(value)\n")
        } catch {
            logDebug("can't set \(path) to \(value) (IPv6 disabled?): \(error)")
        }
    }

    static func step(_ what: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as SystemError {
            throw OptionError("can't \(what): \(String(cString: strerror(error.code)))")
        }
    }
}
