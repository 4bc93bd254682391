/// The configuration a running pasta or passt moves to when the host's network changes: what the host has
/// now, except what options fixed (they are read again, as at start) and what can't change under a
/// running guest (our MAC address, the MTU, the interface's name).
extension RuntimeConfiguration {
    public func following(host: HostNetwork, resolvConf: ResolvConf) -> RuntimeConfiguration {
        var next = RuntimeConfiguration(options: options, host: host, resolvConf: resolvConf)
        next.ourMAC = ourMAC
        next.mtu = mtu
        next.namespaceInterfaceName = namespaceInterfaceName
        // A host between networks (a lease expired, a cable out, a VPN reconnecting) has no usable
        // interface for a moment: a family keeps what it has until an interface serves it again, rather
        // than falling back to local mode or losing its gateway (`-a` without `-g`). So does a local-mode
        // family until the host has that family too.
        if ipv4 != nil && next.ipv4?.templateName == nil { next.ipv4 = ipv4 }
        if ipv6 != nil && next.ipv6?.templateName == nil { next.ipv6 = ipv6 }
        next.localMode = localMode && next.ipv4?.templateName == nil && next.ipv6?.templateName == nil
        // The address handed out stays the one the guest has while the host still has it (the kernel
        // lists a newer address first).
        next.ipv4 = Self.keepingAddress(of: ipv4, in: next.ipv4)
        next.ipv6 = Self.keepingAddress(of: ipv6, in: next.ipv6)
        // A resolver file caught while rewritten, or gone for a moment, names no server: keep ours.
        if next.dnsServers.isEmpty && options.dnsServers.isEmpty && !options.dnsDisabled {
            next.dnsServers = dnsServers
        }
        return next
    }

    private static func keepingAddress<A: FamilyAddress>(of old: FamilyConfiguration<A>?, in new: FamilyConfiguration<A>?)
        -> FamilyConfiguration<A>?
    {
        guard let old, var new, old.address != new.address,
              let same = new.addresses.first(where: { $0.address == old.address.ip }) else { return new }
        new.address = old.address
        new.prefixLength = same.prefixLength
        return new
    }
}
