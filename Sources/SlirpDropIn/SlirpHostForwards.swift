import AdapterSupport
import PastaCore

/// slirp4netns's API requests (`add_hostfwd`, `list_hostfwd`, `remove_hostfwd`), one JSON document each,
/// answered with `{"return": ...}` or `{"error": {"desc": ...}}`. Forwards are HOST rules with an id;
/// beyond slirp4netns, host and guest addresses may be IPv6.
final class SlirpHostForwards {
    /// A request is at most 4096 bytes (SlirpAPIServer); these bound what a test or fuzzer hands over.
    static let limits = JSONValue.Limits(maxBytes: 65536, maxDepth: 16, maxStringBytes: 4096)

    private struct Entry {
        let id: Int64
        let rule: ForwardingRule
    }

    private let table: HostForwardingTable
    private let guest4: IPv4Address
    private let guest6: IPv6Address?
    private var entries: [Entry] = []
    private var nextID: Int64 = 1

    init(table: HostForwardingTable, guest4: IPv4Address, guest6: IPv6Address?) {
        self.table = table
        self.guest4 = guest4
        self.guest6 = guest6
    }

    /// The reply to one request's bytes.
    func reply(to request: [UInt8]) -> JSONValue {
        do {
            let document: JSONValue
            do {
                document = try JSONValue(parsing: request, limits: Self.limits)
            } catch {
                throw RequestError("cannot parse JSON: \(error)")
            }
            return .object([("return", try handle(document))])
        } catch {
            return .object([("error", .object([("desc", .string("bad request: \(error)"))]))])
        }
    }

    private struct RequestError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    private func handle(_ document: JSONValue) throws -> JSONValue {
        guard case .object = document else { throw RequestError("the request is not a JSON object") }
        guard case .string(let execute)? = document["execute"] else { throw RequestError("no \"execute\" string") }
        let arguments = document["arguments"] ?? .object([])
        guard case .object = arguments else { throw RequestError("\"arguments\" is not an object") }
        switch execute {
        case "add_hostfwd": return try add(arguments)
        case "list_hostfwd": return list()
        case "remove_hostfwd": return try remove(arguments)
        default: throw RequestError("unknown execute \"\(execute)\"")
        }
    }

    private func add(_ arguments: JSONValue) throws -> JSONValue {
        let transport: ForwardingRule.TransportProtocol
        switch arguments["proto"] {
        case .string("tcp")?: transport = .tcp
        case .string("udp")?: transport = .udp
        case .string(let other)?: throw RequestError("add_hostfwd: unsupported proto \"\(other)\" (tcp or udp)")
        default: throw RequestError("add_hostfwd: \"proto\" must be \"tcp\" or \"udp\"")
        }
        let hostAddress = try address(arguments, "host_addr", default: .v4(.any))
        guard !hostAddress.isMulticast else { throw RequestError("add_hostfwd: host_addr is a multicast address") }
        let hostPort = try port(arguments, "host_port")
        let guestPort = try port(arguments, "guest_port")
        let defaultGuest: IPAddress?
        switch hostAddress {
        case .v4: defaultGuest = .v4(guest4)
        case .v6: defaultGuest = guest6.map(IPAddress.v6)
        }
        guard let guest = try address(arguments, "guest_addr", default: defaultGuest) else {
            throw RequestError("add_hostfwd: an IPv6 host_addr needs IPv6 in the namespace (--enable-ipv6)")
        }
        switch (guest, hostAddress) {
        case (.v4, .v4), (.v6, .v6): break
        default:
            throw RequestError("add_hostfwd: host_addr and guest_addr are of different families")
        }
        guard !guest.isUnspecified, !guest.isMulticast else { throw RequestError("add_hostfwd: guest_addr is not a unicast address") }
        let rule = ForwardingRule(transport, address: hostAddress, ports: hostPort...hostPort, targetFirst: guestPort,
                                  targetAddress: guest == defaultGuest ? nil : guest)
        var rules = table.hostRules
        if let other = rules.first(where: { $0.overlaps(rule) }) {
            throw RequestError("add_hostfwd: \(transport == .tcp ? "TCP" : "UDP") host port \(hostPort) is forwarded already (\(other))")
        }
        rules.append(rule)
        do {
            try table.setHostRules(rules)
        } catch {
            throw RequestError("add_hostfwd: \(error)")
        }
        let id = nextID
        nextID += 1
        entries.append(Entry(id: id, rule: rule))
        return .object([("id", .integer(id))])
    }

    private func list() -> JSONValue {
        let rules = table.hostRules
        // Rules someone else removed meanwhile (a pesto client) are no longer listed.
        entries.removeAll { !rules.contains($0.rule) }
        return .object([("entries", .array(entries.map { entry in
            let rule = entry.rule
            let host = rule.address ?? .v4(.any)
            let ownGuest: IPAddress
            if case .v4 = host { ownGuest = .v4(guest4) } else { ownGuest = guest6.map(IPAddress.v6) ?? .v6(.any) }
            let guest = rule.targetAddress ?? ownGuest
            return .object([
                ("id", .integer(entry.id)), ("proto", .string(rule.transport == .tcp ? "tcp" : "udp")),
                ("host_addr", .string(host.description)), ("host_port", .integer(Int64(rule.ports.lowerBound))),
                ("guest_addr", .string(guest.description)), ("guest_port", .integer(Int64(rule.targetFirst))),
            ])
        }))])
    }

    private func remove(_ arguments: JSONValue) throws -> JSONValue {
        guard case .integer(let id)? = arguments["id"] else { throw RequestError("remove_hostfwd: \"id\" must be an integer") }
        guard let index = entries.firstIndex(where: { $0.id == id }) else {
            throw RequestError("remove_hostfwd: no forward with id \(id)")
        }
        let rule = entries[index].rule
        do {
            try table.setHostRules(table.hostRules.filter { $0 != rule })
        } catch {
            throw RequestError("remove_hostfwd: \(error)")
        }
        entries.remove(at: index)
        return .object([])
    }

    private func address(_ arguments: JSONValue, _ key: String, default fallback: IPAddress?) throws -> IPAddress? {
        switch arguments[key] {
        case nil, .string("")?: return fallback
        case .string(let text)?:
            guard let address = IPAddress(text) else { throw RequestError("\(key) \"\(text)\" is not an IP address") }
            return address
        default: throw RequestError("\(key) must be a string")
        }
    }

    private func address(_ arguments: JSONValue, _ key: String, default fallback: IPAddress) throws -> IPAddress {
        try address(arguments, key, default: Optional(fallback))!
    }

    private func port(_ arguments: JSONValue, _ key: String) throws -> UInt16 {
        guard case .integer(let value)? = arguments[key], value >= 1, value <= 65535 else {
            throw RequestError("\(key) must be an integer from 1 to 65535")
        }
        return UInt16(value)
    }
}
