import Glibc

/// `--config-net`, after start: the tap's addresses and routes changed as the host's did. The rtnetlink
/// socket was made inside the namespace at start, and stays there, so no thread needs to join it again;
/// once we are sandboxed, requests go through the relay that holds it (NamespaceNetlinkRelay).
public final class NamespaceReconfiguration {
    private var netlink: RouteNetlinkSocket
    private let interfaceIndex: Int32
    private let interfaceName: String
    /// The relay stopped answering (timed out or gone): nothing more is asked of it, so a hung relay costs
    /// the event loop one timeout, not one per request.
    private var unreachable = false

    init(netlink: RouteNetlinkSocket, interfaceIndex: Int32, interfaceName: String) {
        self.netlink = netlink
        self.interfaceIndex = interfaceIndex
        self.interfaceName = interfaceName
    }

    /// Before the sandbox takes our capabilities: from now on a relay that keeps CAP_NET_ADMIN sends our
    /// requests. Without one, changes are logged as failures, and the rest of following goes on.
    func relayThroughHelper() {
        guard let channel = NamespaceNetlinkRelay.start(netlink: netlink.descriptor.raw, interfaceIndex: interfaceIndex)
        else { return }
        netlink = RouteNetlinkSocket(relay: channel)
    }

    /// Old routes go first (their gateways may leave with the addresses), then old addresses; new
    /// addresses come before the routes that need them. A failure is logged and the rest still applied.
    func apply(_ change: ConfigurationChange) {
        guard !unreachable else { return }
        for route in change.routesRemoved {
            request("remove route \(route.text) from \(interfaceName)", ignoring: ESRCH) {  // gone with its address
                try netlink.deleteRoute(route, interfaceIndex: interfaceIndex)
            }
        }
        for entry in change.addressesRemoved {
            request("remove address \(entry.address)/\(entry.prefixLength) from \(interfaceName)",
                    ignoring: EADDRNOTAVAIL) {  // removed in the namespace already
                try netlink.deleteAddress(entry.address, prefixLength: entry.prefixLength, interfaceIndex: interfaceIndex)
            }
        }
        for entry in change.addressesAdded {
            request("add address \(entry.address)/\(entry.prefixLength) to \(interfaceName)", ignoring: EEXIST) {
                try netlink.addAddress(entry.address, prefixLength: entry.prefixLength, interfaceIndex: interfaceIndex)
            }
        }
        guard !unreachable else { return }
        let addressesChanged = !change.addressesRemoved.isEmpty || !change.addressesAdded.isEmpty
        do {
            try NamespaceNetworkSetup.addRoutes(addressesChanged ? change.routes : change.routesAdded,
                                                netlink: netlink, interfaceIndex: interfaceIndex, tapName: interfaceName)
        } catch {
            logWarning("\(error)")
        }
    }

    /// One request; a failure is logged (but `ignoring`, which means it is done already), and one that
    /// got no answer marks the relay unreachable.
    private func request(_ what: String, ignoring expected: Int32, _ body: () throws -> Void) {
        guard !unreachable else { return }
        do {
            try body()
        } catch let error as SystemError where error.code == expected {
            return
        } catch let error as SystemError where [EAGAIN, EWOULDBLOCK, EIO].contains(error.code) {
            unreachable = true
            logError("can't \(what): the netlink relay doesn't answer; the namespace's addresses no longer follow the host's")
        } catch {
            logWarning("can't \(what): \(error)")
        }
    }
}
