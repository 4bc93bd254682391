import CLinux

/// Text for `--help` and `--version`.
public enum Usage {
    /// The package's version.
    public static let version = "0.3.0"
    /// The commit it was built from (scripts/stamp-commit.sh), or "unknown commit".
    public static let commit = String(cString: CLinux_build_commit())
    /// "pasta-swift 0.3.0 (abc1234)", first in every program's `--version`.
    public static let build = "pasta-swift \(version) (\(commit))"

    static func versionText(_ mode: ProgramMode) -> String {
        "\(build)\n\(mode.rawValue): user-mode networking for network namespaces and virtual machines"
    }

    static func helpText(_ mode: ProgramMode) -> String {
        let synopsis = mode == .pasta
            ? "Usage: pasta [OPTION]... [COMMAND [ARG]...]\n       pasta [OPTION]... PID\n       pasta [OPTION]... --netns [PATH|NAME]"
            : "Usage: passt [OPTION]..."
        var text = synopsis + "\n\n" + """
              -d, --debug               Be verbose
                  --trace               Be extra verbose, implies --debug
              -q, --quiet               Don't print informational messages
              -f, --foreground          Don't run in background
              -e, --stderr              Log to stderr too
              -l, --log-file PATH       Log (only) to given file
                  --log-size BYTES      Maximum size of log file (default 1 MiB)
                  --runas UID|UID:GID   Run as given UID, GID, which can be numeric or names
              -h, --help                Display this help message and exit
                  --version             Show version and exit
              -p, --pcap FILE           Log tap-facing traffic to pcap file
              -P, --pid FILE            Write own PID to the given file
              -m, --mtu MTU             Assign MTU via DHCP/NDP (default 65520, 0: don't assign)
              -a, --address ADDR[/LEN]  Assign IPv4 or IPv6 address ADDR (with its prefix length)
              -n, --netmask MASK        Assign IPv4 MASK, dot-decimal or bits
              -M, --mac-addr ADDR       Use source MAC address ADDR
              -g, --gateway ADDR        Pass IPv4 or IPv6 address as gateway
              -i, --interface NAME      Interface for addresses and routes
              -o, --outbound ADDR       Bind to address as outbound source
                  --outbound-if4 NAME   Bind to outbound interface for IPv4
                  --outbound-if6 NAME   Bind to outbound interface for IPv6
              -D, --dns ADDR            Use IPv4 or IPv6 address as DNS (none: disable)
                  --dns-forward ADDR    Forward DNS queries sent to ADDR
                  --dns-host ADDR       Host resolver for --dns-forward (default: first in resolv.conf)
              -H, --hostname NAME       Hostname handed out by DHCP (option 12)
                  --fqdn NAME           FQDN handed out by DHCP (option 81) and DHCPv6 (option 39)
                  --freebind            Bind forwarding sockets to addresses not configured (yet)
                  --stats DELAY         Log event statistics every DELAY seconds
                  --no-follow-host      Keep the host's addresses, routes and resolvers as at start
              -S, --search LIST         Space-separated list, search domains (none: disable)
                  --no-dhcp-dns, --dhcp-dns, --no-dhcp-search, --dhcp-search
                  --no-tcp, --no-udp, --no-icmp, --no-dhcp, --no-ndp, --no-dhcpv6, --no-ra
                  --no-map-gw           Don't map gateway address to host
                  --map-guest-addr ADDR  Map ADDR, as seen by the guest, to the host
                  --map-host-loopback ADDR  Map ADDR to the host's loopback
              -4, --ipv4-only           Enable IPv4 operation only
              -6, --ipv6-only           Enable IPv6 operation only
              -c, --conf-path PATH      Control socket where pesto reads and sets forwarding rules
            """
        if mode == .passt {
            text += "\n" + """
                  -s, --socket, --socket-path PATH
                                            UNIX domain socket path
                  -F, --fd FD               Use FD as pre-opened connected socket
                  -1, --one-off             Quit after handling one single client
                      --vhost-user          Speak vhost-user on the socket: the guest's virtio-net rings
                                            in memory qemu shares (libvirt's <backend type='passt'/>,
                                            qemu -netdev vhost-user or -netdev passt,vhost-user=on)
                      --print-capabilities  Print the vhost-user backend's capabilities (JSON) and exit
                  -t, --tcp-ports SPEC      TCP port forwarding to guest (none, all, or a port list)
                  -u, --udp-ports SPEC      UDP port forwarding to guest
                """
        } else {
            text += "\n" + """
                  -I, --ns-ifname NAME      Namespace interface name
                  -t, --tcp-ports SPEC      TCP port forwarding to namespace (none, auto, all, or a list:
                                            [ADDR[%IFACE]/]PORT[-PORT][:PORT[-PORT]][,~PORT[-PORT]]...,
                                            and PORT[-PORT],...,auto: those ports when bound)
                  -u, --udp-ports SPEC      UDP port forwarding to namespace
                  -T, --tcp-ns SPEC         TCP port forwarding to init namespace
                  -U, --udp-ns SPEC         UDP port forwarding to init namespace
                      --userns NSPATH       Target user namespace to join
                      --netns PATH|NAME     Target network namespace to join
                      --netns-only          Don't join existing user namespace
                      --no-netns-quit       Don't quit if filesystem-bound target namespace is gone
                      --config-net          Configure tap interface in namespace
                      --no-copy-routes      Don't copy all routes to namespace (deprecated)
                      --no-copy-addrs       Don't copy all addresses to namespace (deprecated)
                      --ns-mac-addr ADDR    Set MAC address on tap interface
                      --no-splice           Don't bypass the tap for local connections
                      --host-lo-to-ns-lo    Forward host loopback connections to namespace loopback
                      --splice-only         No tap device: forward between loopbacks only
                      --no-offload          A tap without virtio-net offloads: frames of at most the MTU
                """
        }
        return text
    }
}
