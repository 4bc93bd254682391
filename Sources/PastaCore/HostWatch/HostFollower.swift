/// Keeps the configuration in step with the host's network: on a notification (debounced), reads the
/// host's links, addresses, routes and resolver file again, works out the configuration that follows
/// (options still win), and hands what changed to `apply`, one log line per change.
final class HostFollower {
    let watch: HostChangeWatch
    private(set) var configuration: RuntimeConfiguration
    private var debounce = ChangeDebounce()
    private let apply: (RuntimeConfiguration, ConfigurationChange, Int) -> Void
    /// A read that failed is tried again; it is said once, not at every try.
    private var failing = false
    /// Told after each change is applied (the loop restarts its Router Advertisements for IPv6 ones).
    var changed: ((ConfigurationChange) -> Void)?

    /// `apply(next, change, now)` makes the change.
    init(watch: HostChangeWatch, configuration: RuntimeConfiguration,
         apply: @escaping (RuntimeConfiguration, ConfigurationChange, Int) -> Void) {
        self.watch = watch
        self.configuration = configuration
        self.apply = apply
    }

    func routeEvent(now: Int) {
        if watch.drainRouteEvents() { debounce.changed(now: now) }
    }

    func resolverEvent(now: Int) {
        if watch.drainResolverEvents() { debounce.changed(now: now) }
    }

    /// From the loop's 100 ms housekeeping.
    func tick(now: Int) {
        if debounce.due(now: now) { refresh(now: now) }
    }

    func refresh(now: Int) {
        let host: HostNetwork
        do {
            host = try HostNetwork.discover(using: watch.query, options: configuration.options)
        } catch {
            // The `-i` interface gone for a moment, a dump cut short: the state after it is read again.
            if !failing { logWarning("host changed, but its network can't be read (trying again): \(error)") }
            failing = true
            debounce.changed(now: now)
            return
        }
        if failing { logInfo("the host's network can be read again") }
        failing = false
        var resolvConf = ResolvConf(text: "")
        if let current = watch.resolverFile.read() {
            resolvConf = current
        } else {
            resolvConf.nameservers = configuration.dnsServers
            resolvConf.searchDomains = configuration.searchDomains
        }
        let next = configuration.following(host: host, resolvConf: resolvConf)
        let change = ConfigurationChange(from: configuration, to: next)
        guard !change.isEmpty else { return }
        change.descriptions.forEach { logInfo("host changed: \($0)") }
        configuration = next
        apply(next, change, now)
        changed?(change)
    }
}
