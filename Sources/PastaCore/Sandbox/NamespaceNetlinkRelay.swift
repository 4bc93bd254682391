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
        var pair: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue | SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            logWarning("sandbox: no netlink relay (socketpair): the namespace's addresses won't follow the host's")
            return nil
        }
        let child = CLinux_fork()
        if child < 0 {
            Glibc.close(pair[0]); Glibc.close(pair[1])
            logWarning("sandbox: no netlink relay (fork): the namespace's addresses won't follow the host's")
            return nil
        }
        if child == 0 {
            Glibc.close(pair[0])
            serve(channel: pair[1], netlink: netlink, interfaceIndex: interfaceIndex)
        }
        Glibc.close(pair[1])
        let channel = Descriptor(pair[0])
        // A relay that died leaves the channel closed (read returns 0); one that hangs must not stop us.
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(channel.raw, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return channel
    }

    /// In the relay: nothing inherited but the two sockets, no signals from the terminal or a process
    /// group (it ends when our side of the channel closes), CAP_NET_ADMIN only, then serve.
    private static func serve(channel: Int32, netlink: Int32, interfaceIndex: Int32) -> Never {
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { Glibc.signal(signal, SIG_IGN) }
        let null = open("/dev/null", O_RDWR)
        if null >= 0 { dup2(null, 0); dup2(null, 1); dup2(null, 2) }
        ProcessSetup.closeInheritedDescriptors(keeping: [channel, netlink])
        guard CLinux_drop_capabilities(UInt64(1) << UInt64(CLinux_CAP_NET_ADMIN)) == 0 else { _exit(1) }
        _ = CLinux_set_dumpable(0)
        _ = CLinux_set_no_new_privileges()
        guard CLinux_install_syscall_filter(CLinux_SYSCALLS_NETLINK_RELAY) == 0 || errno == ENOSYS else { _exit(1) }
        CLinux_netlink_relay_serve(channel, netlink, interfaceIndex)
        _exit(0)
    }
}
