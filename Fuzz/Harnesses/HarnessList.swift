/// Every harness, in the order scripts/fuzz.sh runs them, and the parsers still waiting for one.
enum HarnessList {
    static let all: [Harness] = [
        FramePathHarness.harness,
        TapFramesHarness.harness,
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
        PestoHarness.harness,
        SlirpAPIHarness.harness,
        VhostUserMessageHarness.harness,
        VirtqueueHarness.harness,
    ]

    /// Decoders that don't exist yet. When one lands, add a harness for it (its input: the bytes a client
    /// sends to that API, as read from its socket) and move it from here to `all`.
    static let pending: [PendingHarness] = []

    static func named(_ name: String) -> Harness? { all.first { $0.name == name } }
}
