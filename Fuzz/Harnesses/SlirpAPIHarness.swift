import AdapterSupport
@testable import PastaCore
@testable import SlirpDropIn

/// The slirp4netns API socket: one JSON request per connection, answered by SlirpHostForwards over a HOST
/// table without sockets. Input: the request's bytes. Every reply must be `{"return": ...}` or
/// `{"error": {"desc": ...}}` and serialize to JSON our own parser reads back; an error changes nothing.
enum SlirpAPIHarness {
    static let harness = Harness(
        name: "slirp4netns-api", summary: "slirp4netns API requests (the adapters' JSON parser, SlirpHostForwards)",
        maximumLength: 8192, run: run, seeds: seeds)

    /// Refuses rules on port 9999, as a failed bind would.
    private final class Table: HostForwardingTable {
        var hostRules: [ForwardingRule] = []

        func setHostRules(_ rules: [ForwardingRule]) throws {
            if rules.contains(where: { $0.ports.contains(9999) }) {
                throw ForwardingTableError("can't bind port 9999: Address already in use")
            }
            hostRules = rules
        }
    }

    private static let table = Table()
    /// Shared across inputs, so ids and earlier entries are part of what a request meets; bounded below.
    private static var forwards = SlirpHostForwards(table: table, guest4: IPv4Address(10, 0, 2, 100),
                                                    guest6: IPv6Address("fd00::100"))

    static func run(_ data: UnsafeRawBufferPointer) {
        if table.hostRules.count > 64 {
            table.hostRules = []
            forwards = SlirpHostForwards(table: table, guest4: IPv4Address(10, 0, 2, 100), guest6: IPv6Address("fd00::100"))
        }
        let before = table.hostRules
        let reply = forwards.reply(to: Array(data))
        let isReturn = reply["return"] != nil, isError = reply["error"]?["desc"] != nil
        guard isReturn != isError else { fatalError("slirp4netns-api: reply \(reply.serialized)") }
        if isError, table.hostRules != before { fatalError("slirp4netns-api: an error changed the table") }
        guard (try? JSONValue(parsing: Array(reply.serialized.utf8), limits: SlirpHostForwards.limits)) == reply else {
            fatalError("slirp4netns-api: reply doesn't read back: \(reply.serialized)")
        }
    }

    static func seeds() -> [[UInt8]] {
        [#"{"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_addr":"","guest_port":80}}"#,
         #"{"execute":"add_hostfwd","arguments":{"proto":"udp","host_addr":"::","host_port":5353,"guest_addr":"fd00::5","guest_port":53}}"#,
         #"{"execute":"list_hostfwd"}"#,
         #"{"execute":"remove_hostfwd","arguments":{"id":1}}"#,
         #"{"a": [1, -2.5e1, "x\u00e9\n", true, null, {}]}"#].map { Array($0.utf8) }
    }
}
