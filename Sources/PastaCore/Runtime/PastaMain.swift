import Glibc

/// The whole start-up sequence: parse, discover, connect the namespace, announce readiness, serve.
public enum PastaMain {
    /// Runs pasta (or passt) for `arguments` (argv, including argv[0]) and returns the exit status.
    public static func run(_ arguments: [String]) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        let mode = ProgramMode(invokedAs: arguments.first ?? "pasta")
        let options: Options
        do {
            options = try Options.parse(Array(arguments.dropFirst()), mode: mode)
        } catch {
            printError(mode, "\(error)")
            printError(mode, "Try '\(mode.rawValue) --help' for more information.", prefix: false)
            return 1
        }
        if options.showHelp {
            print(Usage.helpText(mode))
            return 0
        }
        if options.showVersion {
            print(Usage.versionText(mode))
            return 0
        }
        return serve(options, profile: mode == .passt ? .passt : .pasta)
    }

    /// Runs a parsed, validated configuration until it is told to stop; `profile` names the system calls
    /// the sandboxed loop may make.
    public static func serve(_ options: Options, profile: SyscallFilter.Profile) -> Int32 {
        let mode = options.mode
        // Sandbox stage 1, before opening anything of our own: closing later could close our own files.
        let keep = [options.socketFD, options.readyDescriptor, options.exitDescriptor].compactMap { $0 }
        Sandbox.initial(keeping: Set(keep))
        do {
            try Logger.shared.configure(options: options)
        } catch {
            printError(mode, "can't open log file \(options.logFile ?? ""): \(error)")
            return 1
        }
        // Whatever way this returns, lines that waited for the log file's first line are written.
        defer { Logger.shared.startFile() }

        if mode == .passt { return runPasst(options) }

        var pidFile: PidFile?
        var command: SpawnedCommand?
        var datapath: Datapath?
        do {
            let identity = try SandboxIdentity.target(runAs: options.runAs)
            pidFile = try options.pidFile.map { try PidFile(path: $0) }
            let session = try PastaSession.start(options: options, spawn: { command = $0 })
            datapath = session.datapath
            if !options.quiet {
                session.configuration.summary.split(separator: "\n").forEach { logInfo(String($0)) }
            }
            if let command {
                Logger.shared.startFile()
                pidFile?.write(pid: getpid())
                command.start()
            } else if options.foreground {
                Logger.shared.startFile()
                pidFile?.write(pid: getpid())
            } else {
                // Our parent returns once the sandbox is in place.
                ProcessSetup.daemonize(pidFile: pidFile, untilReady: true)
            }
            // Sandbox stages 2 and 3 in the process that serves: the namespace's resident thread is ours.
            try Sandbox.isolate(Sandbox.Plan(
                identity: identity, namespace: session.namespace,
                socketFiles: [options.controlSocketPath, options.apiSocketPath].compactMap { $0 },
                namespaceReconfiguration: session.namespaceReconfiguration))
            try Sandbox.confine(profile)
            ProcessSetup.daemonReady()
            if let ready = options.readyDescriptor {
                // slirp4netns's readiness: "1" on the descriptor, then it is closed.
                _ = Glibc.write(ready, "1", 1)
                Glibc.close(ready)
            }
            let status = try session.loop.run()
            datapath?.removeSockets()
            Sandbox.finish()
            return status
        } catch {
            Logger.shared.startFile()
            logError("\(error)")
            command?.terminate()
            datapath?.removeSockets()
            Sandbox.finish()
            pidFile?.discard()
            return 1
        }
    }

    /// passt: listens (or takes `--fd`), is ready as soon as the socket is, and serves one VM at a time.
    static func runPasst(_ options: Options) -> Int32 {
        if options.printCapabilities {
            // vhost-user's backend program conventions: what we are, as JSON, then exit.
            var text = "{\n  \"type\": \"net\"\n}\n"
            text.withUTF8 { _ = Glibc.write(1, $0.baseAddress, $0.count) }
            return 0
        }
        var pidFile: PidFile?
        var socket: PasstSocket?
        var datapath: Datapath?
        do {
            let identity = try SandboxIdentity.target(runAs: options.runAs)
            pidFile = try options.pidFile.map { try PidFile(path: $0) }
            let session = try PasstSession.start(options: options)
            socket = session.socket
            datapath = session.datapath
            if !options.quiet {
                (session.configuration.summary.split(separator: "\n").map(String.init) + session.connectionHelp)
                    .forEach { logInfo($0) }
            }
            // Sandbox stage 2 before daemonising: the fork enters the new PID namespace.
            try Sandbox.isolate(Sandbox.Plan(
                identity: identity,
                socketFiles: [session.socket?.path, options.controlSocketPath].compactMap { $0 },
                newPIDNamespace: !options.foreground, daemonizesLater: !options.foreground))
            // Ready once the socket listens: a VM manager starts qemu after we return (Kata, libvirt).
            if options.foreground {
                Logger.shared.startFile()
                pidFile?.write(pid: getpid())
            } else {
                ProcessSetup.daemonize(pidFile: pidFile)
            }
            try Sandbox.confine(.passt)
            let status = try session.loop.run()
            socket?.remove()
            datapath?.removeSockets()
            Sandbox.finish()
            return status
        } catch {
            Logger.shared.startFile()
            logError("\(error)")
            socket?.remove()
            datapath?.removeSockets()
            Sandbox.finish()
            pidFile?.discard()
            return 1
        }
    }

    static func printError(_ mode: ProgramMode, _ message: String, prefix: Bool = true) {
        var line = (prefix ? "\(mode.rawValue): " : "") + message + "\n"
        line.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// Everything set up before readiness: the target namespace connected and the loop ready to run.
struct PastaSession {
    let configuration: RuntimeConfiguration
    let loop: EventLoop
    /// Its sockets (`-c`, `-a`) are removed at exit.
    let datapath: Datapath
    let namespace: NetworkNamespace
    /// `--config-net` while following the host: what changes the namespace's addresses and routes.
    let namespaceReconfiguration: NamespaceReconfiguration?

    static func start(options: Options, spawn: (SpawnedCommand) -> Void) throws -> PastaSession {
        let pcap = try options.pcapFile.map { try PcapWriter(path: $0) }
        // Watching starts before the first look, so no change falls between the two.
        let watch = HostChangeWatch.unlessPinned(options)
        let host = try HostNetwork.discover(using: try watch?.query ?? RouteNetlinkSocket(), options: options)
        let configuration = RuntimeConfiguration(options: options, host: host,
                                                 resolvConf: watch?.resolverFile.read() ?? .load())
        if configuration.localMode && !options.spliceOnly { logWarning("no usable host interface: running in local mode") }

        let target = try TargetNamespaces.resolve(options, spawned: spawn)
        let namespacePath = target.networkNamespacePath
        let watchPath = options.noNetnsQuit ? nil : target.watchPath

        let namespace = try NetworkNamespace(path: namespacePath)
        let (tap, reconfiguration) = try namespace.run { () throws -> (TapDevice?, NamespaceReconfiguration?) in
            // --splice-only: no tap at all; the namespace's loopback is all the forwarding needs.
            if options.spliceOnly {
                try NamespaceNetworkSetup.apply(configuration, tap: nil)
                return (nil, nil)
            }
            let name = configuration.namespaceInterfaceName
            // TUNSETIFF on a name taken by another kind of device fails with a bare EINVAL: say what it means.
            if try RouteNetlinkSocket().link(named: name) != nil {
                throw OptionError("interface \(name) already exists in namespace \(namespacePath); pick another name with -I")
            }
            let tap = try TapDevice.create(name: name, offload: !options.noOffload, mtu: configuration.mtu)
            let reconfiguration = try NamespaceNetworkSetup.apply(configuration, tap: tap)
            // A namespace of ours, for a command: its ping should work as the user's own does.
            if target.command != nil { NamespaceNetworkSetup.allowPingSockets() }
            return (tap, reconfiguration)
        }
        let watcher = try watchPath.map { try NamespaceQuitWatcher(path: $0) }
        let poll = try EventPoll()
        let datapath = try Datapath(configuration: configuration, namespace: namespace, poll: poll, pcap: pcap)
        do {
            let follower = watch.map { watch in
                HostFollower(watch: watch, configuration: configuration) { next, change, now in
                    // The datapath first: connections from addresses about to go are reset while the
                    // namespace still has them.
                    datapath.follow(next, change, now: now)
                    reconfiguration?.apply(change)
                }
            }
            let loop = try EventLoop(poll: poll, datapath: datapath, connection: tap.map { .tap($0) } ?? .none,
                                     quitWatcher: watcher, command: target.command,
                                     exitDescriptor: options.exitDescriptor, statsInterval: options.statsInterval,
                                     hostFollower: follower)
            return PastaSession(configuration: configuration, loop: loop, datapath: datapath, namespace: namespace,
                                namespaceReconfiguration: follower == nil ? nil : reconfiguration)
        } catch {
            datapath.removeSockets()
            throw error
        }
    }
}
