import PastaCore

/// One published port in Podman's `-p` syntax, `[HOSTIP:]HOSTPORT[-END]:CTRPORT[-END][/tcp|/udp]` (IPv6
/// host addresses in brackets), as carried by the `io.containers.pasta.ports` annotation.
public struct PortMapping: Equatable {
    public enum TransportProtocol: String { case tcp, udp }

    public var hostAddress: IPAddress?
    public var hostPorts: ClosedRange<UInt16>
    public var containerPorts: ClosedRange<UInt16>
    public var transport: TransportProtocol

    /// The same mapping as a pasta `-t`/`-u` value: `[ADDR/]HP[-HP2]:CP[-CP2]`.
    public var pastaSpec: String {
        func range(_ r: ClosedRange<UInt16>) -> String { r.count == 1 ? "\(r.lowerBound)" : "\(r.lowerBound)-\(r.upperBound)" }
        let prefix = hostAddress.map { "\($0)/" } ?? ""
        return "\(prefix)\(range(hostPorts)):\(range(containerPorts))"
    }

    /// The pasta option that carries this mapping.
    public var pastaOption: String { transport == .tcp ? "-t" : "-u" }

    public init(hostAddress: IPAddress?, hostPorts: ClosedRange<UInt16>, containerPorts: ClosedRange<UInt16>,
                transport: TransportProtocol) {
        self.hostAddress = hostAddress
        self.hostPorts = hostPorts
        self.containerPorts = containerPorts
        self.transport = transport
    }

    /// Parses one mapping; errors quote it.
    public init(parsing item: String) throws {
        func fail(_ why: String) -> HookError {
            HookError("invalid port mapping '\(HookError.printable(item))': \(why)")
        }
        guard !item.isEmpty, item.utf8.count <= 128 else { throw fail("expected 1 to 128 characters") }
        guard item.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F }) else {
            throw fail("only printable ASCII characters are allowed")
        }
        guard !item.contains(",") else {
            throw fail("',' doesn't separate mappings (Podman splits --annotation values at commas): use spaces or ';'")
        }
        var body = Substring(item)
        transport = .tcp
        if let slash = body.lastIndex(of: "/") {
            let name = body[body.index(after: slash)...]
            switch name {
            case "tcp": transport = .tcp
            case "udp": transport = .udp
            case "sctp": throw fail("SCTP is not supported (tcp or udp)")
            default: throw fail("unknown protocol '\(name)' (tcp or udp)")
            }
            body = body[..<slash]
        }
        var addressText: Substring?
        if body.first == "[" {
            guard let close = body.firstIndex(of: "]") else { throw fail("no ']' after the IPv6 address") }
            addressText = body[body.index(after: body.startIndex)..<close]
            let rest = body[body.index(after: close)...]
            guard rest.first == ":" else { throw fail("expected ':' after ']'") }
            body = rest.dropFirst()
            guard let text = addressText, case .v6? = IPAddress(String(text)) else {
                throw fail("'\(addressText ?? "")' is not an IPv6 address")
            }
        }
        let parts = body.split(separator: ":", omittingEmptySubsequences: false)
        let hostText: Substring, containerText: Substring
        switch parts.count {
        case 1:
            throw fail("a host port is needed (HOSTPORT:CTRPORT): pasta can't pick a random one")
        case 2:
            (hostText, containerText) = (parts[0], parts[1])
        case 3 where addressText == nil:
            addressText = parts[0]
            (hostText, containerText) = (parts[1], parts[2])
            guard let text = addressText, !text.isEmpty else { throw fail("empty host address") }
            guard case .v4? = IPAddress(String(text)) else {
                throw fail("'\(text)' is not an IPv4 address (IPv6 addresses go in brackets)")
            }
        default:
            throw fail(addressText == nil ? "too many ':' (IPv6 host addresses go in brackets: [::1]:8080:80)"
                                           : "too many ':' after the address")
        }
        guard !hostText.isEmpty else { throw fail("a host port is needed: pasta can't pick a random one") }
        hostAddress = addressText.flatMap { IPAddress(String($0)) }
        hostPorts = try PortMapping.range(hostText, fail)
        containerPorts = try PortMapping.range(containerText, fail)
        guard hostPorts.count == containerPorts.count else {
            throw fail("the host range has \(hostPorts.count) ports, the container range \(containerPorts.count)")
        }
    }

    static func range(_ text: Substring, _ fail: (String) -> HookError) throws -> ClosedRange<UInt16> {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count <= 2 else { throw fail("invalid port range '\(text)'") }
        let first = try port(bounds[0], fail)
        let last = bounds.count == 2 ? try port(bounds[1], fail) : first
        guard first <= last else { throw fail("port range '\(text)' is reversed") }
        return first...last
    }

    static func port(_ text: Substring, _ fail: (String) -> HookError) throws -> UInt16 {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = UInt16(text), value > 0
        else { throw fail("'\(text)' is not a port number (1 to 65535)") }
        return value
    }

    /// Could both mappings want the same host socket? Same protocol, overlapping ports, and addresses
    /// that meet: equal, or one of them any address of a family the other uses.
    func conflicts(with other: PortMapping) -> Bool {
        guard transport == other.transport, hostPorts.overlaps(other.hostPorts) else { return false }
        switch (hostAddress, other.hostAddress) {
        case (nil, _), (_, nil): return true
        case (.v4(let a)?, .v4(let b)?): return a == b || a.isUnspecified || b.isUnspecified
        case (.v6(let a)?, .v6(let b)?): return a == b || a.isUnspecified || b.isUnspecified
        default: return false
        }
    }
}

extension PortMapping {
    /// Bounds for the annotation: more would only be a mistake or an attack.
    public static let maxAnnotationBytes = 4096
    public static let maxMappings = 64

    /// Parses the `io.containers.pasta.ports` annotation: mappings separated by spaces, tabs, newlines or
    /// ';' (Podman splits `--annotation` values on commas, so a comma can't separate them).
    public static func parseList(_ text: String) throws -> [PortMapping] {
        guard text.utf8.count <= maxAnnotationBytes else {
            throw HookError("io.containers.pasta.ports: longer than \(maxAnnotationBytes) bytes")
        }
        let items = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == ";" })
        guard items.count <= maxMappings else {
            throw HookError("io.containers.pasta.ports: more than \(maxMappings) mappings")
        }
        var mappings: [PortMapping] = []
        for item in items {
            let mapping: PortMapping
            do {
                mapping = try PortMapping(parsing: String(item))
            } catch let error as HookError {
                throw HookError("io.containers.pasta.ports: \(error)")
            }
            if let earlier = mappings.first(where: { $0.conflicts(with: mapping) }) {
                let port = max(earlier.hostPorts.lowerBound, mapping.hostPorts.lowerBound)
                throw HookError("io.containers.pasta.ports: host port \(port)/\(mapping.transport.rawValue) is mapped twice ('\(HookError.printable(String(item)))')")
            }
            mappings.append(mapping)
        }
        return mappings
    }
}
