/// passt's start-up: the host's network as for pasta, then the UNIX socket a VM connects to (or the
/// connected socket `--fd` handed over) in place of a namespace and its tap.
struct PasstSession {
    let configuration: RuntimeConfiguration
    let loop: EventLoop
    /// Nil with `--fd`.
    let socket: PasstSocket?
    /// Its sockets (`-c`) are removed at exit.
    let datapath: Datapath

    static func start(options: Options) throws -> PasstSession {
        let pcap = try options.pcapFile.map { try PcapWriter(path: $0) }
        let watch = HostChangeWatch.unlessPinned(options)
        let host = try HostNetwork.discover(using: try watch?.query ?? RouteNetlinkSocket(), options: options)
        let configuration = RuntimeConfiguration(options: options, host: host,
                                                 resolvConf: watch?.resolverFile.read() ?? .load())
        if configuration.localMode { logWarning("no usable host interface: running in local mode") }
        let poll = try EventPoll()
        let datapath = try Datapath(configuration: configuration, namespace: nil, poll: poll, pcap: pcap)
        var socket: PasstSocket?
        do {
            let connection: GuestConnection
            let speaks: PasstProtocol = options.vhostUser ? .vhostUser(mtu: configuration.mtu) : .stream
            if let fd = options.socketFD {
                connection = .connected(try speaks.backend(for: Descriptor(fd)))
            } else {
                let listening = try PasstSocket.open(path: options.socketPath)
                socket = listening
                connection = .socket(listening, oneOff: options.oneOff, protocol: speaks)
            }
            // A VM learns what changed from the services: IPv6 from Router Advertisements sent at once (the
            // loop restarts them), IPv4 when its DHCP client next asks (there is no way to make it ask).
            let follower = watch.map { watch in
                HostFollower(watch: watch, configuration: configuration) { next, change, now in
                    datapath.follow(next, change, now: now)
                }
            }
            let loop = try EventLoop(poll: poll, datapath: datapath, connection: connection, quitWatcher: nil, command: nil,
                                     statsInterval: options.statsInterval, hostFollower: follower)
            return PasstSession(configuration: configuration, loop: loop, socket: socket, datapath: datapath)
        } catch {
            socket?.remove()
            datapath.removeSockets()
            throw error
        }
    }

    /// What a user needs to connect a VM: the socket, and qemu's arguments (qemu 7.2 and later).
    var connectionHelp: [String] {
        guard let socket else { return ["serving the connected socket passed with --fd"] }
        if configuration.options.vhostUser {
            return [
                "UNIX domain socket bound at \(socket.path)",
                "You can now start qemu with (vhost-user; guest memory shared, the same size as -m):",
                "    qemu-system-x86_64 ... -m 512M -object memory-backend-memfd,id=mem,size=512M,share=on -numa node,memdev=mem "
                    + "-chardev socket,id=c,path=\(socket.path) -netdev vhost-user,id=n,chardev=c -device virtio-net-pci,netdev=n",
            ]
        }
        return [
            "UNIX domain socket bound at \(socket.path)",
            "You can now start qemu (7.2 or later) with:",
            "    qemu-system-x86_64 ... -device virtio-net-pci,netdev=s -netdev stream,id=s,server=off,addr.type=unix,addr.path=\(socket.path)",
        ]
    }
}
