/// Every harness, in the order scripts/fuzz.sh runs them, and the parsers still waiting for one.
enum HarnessList {
    static let all: [Harness] = [
        FramePathHarness.harness,
        DHCPHarness.harness,
        NDPHarness.harness,
        DHCPv6Harness.harness,
        ArpHarness.harness,
        StreamFramingHarness.harness,
        NetlinkHarness.harness,
        PortSpecHarness.harness,
        CommandLineHarness.harness,
        ProcNetHarness.harness,
        ResolvConfHarness.harness,
        OCIStateHarness.harness,
    ]

    /// Decoders that don't exist yet. When one lands, add a harness for it (its input: the bytes a client
    /// sends to that API, as read from its socket) and move it from here to `all`.
    static let pending: [PendingHarness] = [
        PendingHarness(name: "pesto", reason: "no pesto (passt's dynamic configuration client) protocol decoder yet"),
        PendingHarness(name: "slirp4netns-api", reason: "no slirp4netns API socket decoder yet"),
    ]

    static func named(_ name: String) -> Harness? { all.first { $0.name == name } }
}
