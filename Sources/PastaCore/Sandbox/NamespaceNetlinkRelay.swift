import CLinux
import Glibc

/// `--config-net` changes the namespace's addresses and routes after start (the host's changed), when we
/// hold no capability: rtnetlink checks CAP_NET_ADMIN of whoever sends a request, not only of whoever
/// opened the socket. A small process forked before the sandbox holds that one capability and the
/// rtnetlink socket made inside the namespace, and passes on address and route requests from a socket to
/// us (only for the tap, the main table and unicast routes, with the attributes we send: it refuses
/// anything else itself), and the replies back. It can't open another
/// socket or reach another namespace: its own short syscall list. It leaves when we do.
enum NamespaceNetlinkRelay {
    /// Forks the relay over `netlink`, for the tap `interfaceIndex`; the socket to it, or nil (and a
    /// warning) when it can't be had.
    static func start(netlink: Int32, interfaceIndex: Int32) -> Descriptor? {
        guard let channel = HelperProcess.start(
            "netlink relay", socketType: Int32(SOCK_SEQPACKET.rawValue),
            without: "the namespace's addresses won't follow the host's",
            child: { serve(channel: $0, netlink: netlink, interfaceIndex: interfaceIndex) })
        else { return nil }
        // A relay that died leaves the channel closed (read returns 0); one that hangs must not stop us.
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(channel.raw, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return channel
    }

    /// In the relay: the two sockets, CAP_NET_ADMIN only, then serve.
    private static func serve(channel: Int32, netlink: Int32, interfaceIndex: Int32) -> Never {
        HelperProcess.detach(keeping: [channel, netlink])
        guard CLinux_drop_capabilities(UInt64(1) << UInt64(CLinux_CAP_NET_ADMIN)) == 0 else { _exit(1) }
        _ = CLinux_set_dumpable(0)
        _ = CLinux_set_no_new_privileges()
        guard CLinux_install_syscall_filter(CLinux_SYSCALLS_NETLINK_RELAY) == 0 || errno == ENOSYS else { _exit(1) }
        CLinux_netlink_relay_serve(channel, netlink, interfaceIndex)
        _exit(0)
    }
}
