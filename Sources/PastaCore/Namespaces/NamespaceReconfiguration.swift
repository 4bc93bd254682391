import Glibc

/// `--config-net`, after start: the tap's addresses and routes changed as the host's did. The rtnetlink
/// socket was made inside the namespace at start, and stays there, so no thread needs to join it again;
/// once we are sandboxed, requests go through the relay that holds it (NamespaceNetlinkRelay).
public final class NamespaceReconfiguration {
    private var netlink: RouteNetlinkSocket
    private let interfaceIndex: Int32
    private let interfaceName: String

    init(netlink: RouteNetlinkSocket, interfaceIndex: Int32, interfaceName: String) {
        self.netlink = netlink
        self.interfaceIndex = interfaceIndex
        self.interfaceName = interfaceName
    }

    /// Before the sandbox takes our capabilities: from now on a relay that keeps CAP_NET_ADMIN sends our
    /// requests. Without one, changes are logged as failures, and the rest of following goes on.
    func relayThroughHelper() {
        guard let channel = NamespaceNetlinkRelay.start(netlink: netlink.descriptor.raw) else { return }
        netlink = RouteNetlinkSocket(relay: channel)
    }

    /// Old routes go first (their gateways may leave with the addresses), then old addresses; new
    /// addresses come before the routes that need them. A failure is logged and the rest still applied.
    func apply(_ change: ConfigurationChange) {
        for route in change.routesRemoved {
            do {
                try netlink.deleteRoute(route, interfaceIndex: interfaceIndex)
            } catch let error as SystemError where error.code == ESRCH {
                continue  // gone with the address it depended on
            } catch {
                logWarning("can't remove route \(route.text) from \(interfaceName): \(error)")
            }
        }
        for entry in change.addressesRemoved {
            do {
                try netlink.deleteAddress(entry.address, prefixLength: entry.prefixLength, interfaceIndex: interfaceIndex)
            } catch let error as SystemError where error.code == EADDRNOTAVAIL {
                continue  // removed in the namespace already
            } catch {
                logWarning("can't remove address \(entry.address)/\(entry.prefixLength) from \(interfaceName): \(error)")
            }
        }
        for entry in change.addressesAdded {
            do {
                try netlink.addAddress(entry.address, prefixLength: entry.prefixLength, interfaceIndex: interfaceIndex)
            } catch let error as SystemError where error.code == EEXIST {
                continue
            } catch {
                logWarning("can't add address \(entry.address)/\(entry.prefixLength) to \(interfaceName): \(error)")
            }
        }
        let addressesChanged = !change.addressesRemoved.isEmpty || !change.addressesAdded.isEmpty
        do {
            try NamespaceNetworkSetup.addRoutes(addressesChanged ? change.routes : change.routesAdded, netlink: netlink, interfaceIndex: interfaceIndex,
                                                tapName: interfaceName)
        } catch {
            logWarning("\(error)")
        }
    }
}
