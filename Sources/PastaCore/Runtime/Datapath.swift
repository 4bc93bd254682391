/// Everything that moves traffic, built from the configuration: the guest port, the flows, the
/// forwarding sockets and the local services. pasta has a target namespace (splice, `-T`/`-U`, auto
/// mode); passt has none, and its local traffic goes through the guest port like any other.
final class Datapath {
    let port: GuestPort
    /// What ARP, DHCP, NDP and DHCPv6 answer; replaced when the host's network changes.
    private(set) var services: LocalServices
    /// The guest's addresses as its packets show them (shared with the flows).
    let guestAddresses: GuestAddresses
    let tcp: TCPFlows
    let udp: UDPFlows
    let icmp: ICMPFlows
    let icmpErrors: ICMPErrorRelay
    let tcpEnabled: Bool
    let udpEnabled: Bool
    let icmpEnabled: Bool
    let tcpInbound: TCPInbound
    let udpInbound: UDPInbound
    let udpSplice: UDPSplice
    let forwarding: LiveForwarding
    /// `-c`: where pesto clients change `forwarding`.
    let control: ControlServer?
    /// slirp4netns mode's `-a PATH`: its API edits `forwarding` too.
    let slirpAPI: APISocketServer?

    init(configuration: RuntimeConfiguration, namespace: NetworkNamespace?, poll: EventPoll, pcap: PcapWriter?) throws {
        let options = configuration.options
        port = GuestPort(poll: poll, pcap: pcap)
        services = LocalServices(ServiceSettings(configuration))
        let guestAddresses = GuestAddresses(configuration)
        self.guestAddresses = guestAddresses
        tcp = try TCPFlows(configuration: configuration, guestAddresses: guestAddresses, poll: poll, port: port)
        // Errors host sockets learn about the guest's datagrams and echo requests reach it as ICMP errors.
        let errors = ICMPErrorRelay(configuration: configuration, port: port)
        icmpErrors = errors
        udp = try UDPFlows(configuration: configuration, guestAddresses: guestAddresses, poll: poll, port: port, errors: errors)
        icmp = ICMPFlows(configuration: configuration, poll: poll, port: port, errors: errors)
        tcpEnabled = !options.noTCP
        udpEnabled = !options.noUDP
        icmpEnabled = !options.noICMP
        let tcpListeners = Listeners(.tcp, poll: poll, namespace: namespace, freebind: options.freebind)
        let udpListeners = Listeners(.udp, poll: poll, namespace: namespace, freebind: options.freebind)
        // What is bound already in auto mode is forwarded by the time we report ready.
        let forwarding = try LiveForwarding(configuration: configuration, tcp: tcpListeners, udp: udpListeners,
                                            namespace: namespace, guestAddresses: guestAddresses)
        self.forwarding = forwarding
        let spliceTargets = SpliceTargets(configuration, guest: guestAddresses)
        tcpInbound = TCPInbound(listeners: tcpListeners, flows: tcp, splice: TCPSplice(namespace: namespace),
                                targets: spliceTargets)
        udpSplice = UDPSplice(targets: spliceTargets, poll: poll, namespace: namespace)
        udpInbound = UDPInbound(listeners: udpListeners, flows: udp, splice: udpSplice, port: port, poll: poll)
        control = try options.controlSocketPath.map { try ControlServer(path: $0, poll: poll, forwarding: forwarding) }
        do {
            slirpAPI = try options.apiSocketPath.map { path in
                try APISocket.make(path: path, poll: poll, forwarding: forwarding,
                                   guest4: configuration.ipv4?.address ?? .any, guest6: configuration.ipv6?.address)
            }
        } catch {
            control?.remove()
            throw error
        }
    }

    /// The host's network changed (HostFollower): connections and datagrams from now on are translated
    /// as the new configuration says, and the services answer with it. Flows already open keep their
    /// sockets, but for TCP connections from an address `--config-net` takes away (reset now, while the
    /// namespace still has the address to receive the guest's reset) and datagrams to the `--dns-forward`
    /// address (their resolver changed). Runs before the namespace is changed.
    func follow(_ configuration: RuntimeConfiguration, _ change: ConfigurationChange, now: Int) {
        let options = configuration.options
        let translation = AddressTranslation(configuration)
        tcp.follow(translation)
        udp.translation = translation
        icmp.translation = translation
        icmpErrors.translation = translation
        services = LocalServices(ServiceSettings(configuration))
        if change.addressingChanged { forwarding.follow(configuration) }
        if change.resolversChanged {
            if let forward = options.dnsForward4 { udp.closeFlows(to: .v4(forward), port: 53, now: now) }
            if let forward = options.dnsForward6 { udp.closeFlows(to: .v6(forward), port: 53, now: now) }
        }
        guard options.configureNetwork else { return }
        // We move the namespace's addresses ourselves: inbound traffic goes to the new ones at once. (A
        // guest that configures itself keeps its address until it renews: what its packets show stays.)
        if change.addressingChanged { guestAddresses.reset(to: configuration) }
        let kept = Set(change.addressesAdded.map(\.address))
        for gone in Set(change.addressesRemoved.map(\.address)) where !kept.contains(gone) {
            tcp.engine.resetConnections(from: gone)
        }
    }

    /// At exit: the control and API socket files go.
    func removeSockets() {
        control?.remove()
        slirpAPI?.remove()
    }

    /// The guest's backend drained: whatever waited for it goes on.
    func resume() {
        tcp.resume()
        udp.resume()
        udpInbound.resume()
    }

    /// Every 100 ms.
    func tick(now: Int) {
        tcp.tick(now: now)
        control?.tick(now: now)
        slirpAPI?.tick(now: now)
    }

    /// Once a second.
    func tickSecond(now: Int) {
        forwarding.scan()
        udp.tick(now: now)
        udpSplice.tick(now: now)
        icmp.tick(now: now)
    }

    /// The end of a batch of guest frames: queued guest data and datagrams leave, ACKs are sent.
    func finishBatch() {
        tcp.finishBatch()
        udp.flushDatagrams()
    }
}
