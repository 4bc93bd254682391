/// One `-t`/`-u`/`-T`/`-U` value that lists ports: `[ADDR][%IFACE]/` then comma-separated
/// `FIRST[-LAST][:[TOADDR/]TOFIRST[-TOLAST]]` ranges and `~FIRST[-LAST]` exclusions. Addresses may be
/// bracketed (`[::1]/80`, `80:[fd00::5]/8080`); an unbracketed text before the first '/' that reads as an
/// address is the listening address, as in older pasta, so an IPv6 target without a listening address
/// needs its brackets.
public struct PortSpec: Equatable, CustomStringConvertible {
    /// Ports `ports` forwarded to `targetFirst`, `targetFirst + 1`, ... at `targetAddress` (nil: the
    /// guest's own address).
    public struct Range: Equatable {
        public var ports: ClosedRange<UInt16>
        public var targetFirst: UInt16
        public var targetAddress: IPAddress? = nil
    }

    public var bindAddress: IPAddress?
    public var bindInterface: String?
    public var ranges: [Range] = []
    public var exclusions: [ClosedRange<UInt16>] = []
    /// `auto` among the items (`8000-8010,auto`): the listed ports are forwarded while something is bound
    /// to them on the other side, as auto mode does for every port.
    public var automatic = false

    /// Exclusions alone mean "every non-ephemeral port but these".
    public var forwardsAllNonEphemeral: Bool { ranges.isEmpty }

    public var text: String

    public var description: String { text }

    public init(parsing text: String) throws {
        self.text = text
        var list = Substring(text)
        if let prefixEnd = PortSpec.prefixEnd(of: text) {
            try parsePrefix(text[..<prefixEnd])
            list = text[text.index(after: prefixEnd)...]
        }
        guard !list.isEmpty else { throw PortSpecError(text, "no ports given") }
        for item in list.split(separator: ",", omittingEmptySubsequences: false) {
            if item.first == "~" {
                exclusions.append(try PortSpec.parseRange(item.dropFirst(), in: text))
                continue
            }
            if item == "auto" {
                guard !automatic else { throw PortSpecError(text, "'auto' is listed twice") }
                automatic = true
                continue
            }
            guard let colon = item.firstIndex(of: ":") else {
                let ports = try PortSpec.parseRange(item, in: text)
                ranges.append(Range(ports: ports, targetFirst: ports.lowerBound))
                continue
            }
            let ports = try PortSpec.parseRange(item[..<colon], in: text)
            var target = item[item.index(after: colon)...]
            var targetAddress: IPAddress?
            if let slash = target.lastIndex(of: "/") {
                targetAddress = try PortSpec.parseTargetAddress(target[..<slash], in: text)
                target = target[target.index(after: slash)...]
            } else if target.contains(":") {
                throw PortSpecError(text, "too many ':' in '\(item)'")
            }
            let targetPorts = try PortSpec.parseRange(target, in: text)
            if targetPorts.count != 1 && targetPorts.count != ports.count {
                throw PortSpecError(text, "target range \(target) differs in length from \(item[..<colon])")
            }
            if Int(targetPorts.lowerBound) + ports.count - 1 > Int(UInt16.max) {
                throw PortSpecError(text, "target ports of '\(item)' exceed 65535")
            }
            ranges.append(Range(ports: ports, targetFirst: targetPorts.lowerBound, targetAddress: targetAddress))
        }
        if automatic, ranges.contains(where: { $0.ports.lowerBound != $0.targetFirst || $0.targetAddress != nil }) {
            throw PortSpecError(text, "'auto' forwards each port to the same port: no ':' targets with it")
        }
        try checkOverlaps()
    }

    /// Where the `ADDR%IFACE/` prefix ends (its '/'), or nil without one. The first '/' ends it unless the
    /// text before it has a ':' and is no address: then that '/' belongs to a target (`80:192.0.2.1/8080`).
    static func prefixEnd(of text: String) -> String.Index? {
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else { return text.firstIndex(of: "/") }
            return text[close...].firstIndex(of: "/")
        }
        guard let slash = text.firstIndex(of: "/") else { return nil }
        let candidate = text[..<slash]
        guard candidate.contains(":") else { return slash }
        let addressPart = candidate.firstIndex(of: "%").map { candidate[..<$0] } ?? candidate
        return IPAddress(String(addressPart)) != nil ? slash : nil
    }

    private mutating func parsePrefix(_ prefix: Substring) throws {
        var addressText = prefix
        if let percent = prefix.lastIndex(of: "%"), !prefix[percent...].contains("]") {
            let name = prefix[prefix.index(after: percent)...]
            guard !name.isEmpty, name.utf8.count < 16, !name.contains("/"), name != ".", name != ".." else {
                throw PortSpecError(text, "invalid interface name '\(name)'")
            }
            bindInterface = String(name)
            addressText = prefix[..<percent]
        }
        if !addressText.isEmpty {
            guard let address = PortSpec.address(addressText) else {
                throw PortSpecError(text, "invalid address '\(addressText)'")
            }
            bindAddress = address
        } else if bindInterface == nil {
            throw PortSpecError(text, "empty address before '/'")
        }
    }

    /// An address, optionally in brackets.
    static func address(_ text: Substring) -> IPAddress? {
        if text.first == "[" {
            guard text.count > 2, text.last == "]" else { return nil }
            return IPAddress(String(text.dropFirst().dropLast()))
        }
        return IPAddress(String(text))
    }

    /// A target must be somewhere a connection can go: neither unspecified nor multicast.
    static func parseTargetAddress(_ text: Substring, in spec: String) throws -> IPAddress {
        guard let address = address(text) else { throw PortSpecError(spec, "invalid target address '\(text)'") }
        let usable: Bool
        switch address {
        case .v4(let a): usable = !a.isUnspecified && !a.isMulticast && !a.isBroadcast
        case .v6(let a): usable = !a.isUnspecified && !a.isMulticast
        }
        guard usable else { throw PortSpecError(spec, "target address \(address) is not a unicast address") }
        return address
    }

    private func checkOverlaps() throws {
        let sorted = ranges.map(\.ports).sorted { $0.lowerBound < $1.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.overlaps(b) {
            throw PortSpecError(text, "port \(b.lowerBound) is listed twice")
        }
    }

    static func parseRange(_ text: Substring, in spec: String) throws -> ClosedRange<UInt16> {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count <= 2 else { throw PortSpecError(spec, "invalid range '\(text)'") }
        let first = try parsePort(bounds[0], in: spec)
        let last = bounds.count == 2 ? try parsePort(bounds[1], in: spec) : first
        guard first <= last else { throw PortSpecError(spec, "range \(text) is reversed") }
        return first...last
    }

    static func parsePort(_ text: Substring, in spec: String) throws -> UInt16 {
        guard !text.isEmpty, text.utf8.count <= 5, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let value = UInt16(text), value > 0
        else { throw PortSpecError(spec, "invalid port '\(text)'") }
        return value
    }

    /// An address as specs write it: IPv6 in brackets, so its colons can't be read as port separators.
    public static func bracketed(_ address: IPAddress) -> String {
        if case .v6 = address { return "[\(address)]" }
        return address.description
    }

    /// The port `port` is forwarded to, or nil when this spec does not forward it.
    /// `ephemeralStart` bounds "all non-ephemeral ports" for exclusion-only specs.
    public func target(of port: UInt16, ephemeralStart: UInt16 = 32768) -> UInt16? {
        if exclusions.contains(where: { $0.contains(port) }) { return nil }
        if forwardsAllNonEphemeral { return port > 0 && port < ephemeralStart ? port : nil }
        for range in ranges where range.ports.contains(port) {
            return range.targetFirst &+ (port - range.ports.lowerBound)
        }
        return nil
    }
}

public struct PortSpecError: Error, CustomStringConvertible {
    public let spec: String
    public let reason: String

    init(_ spec: String, _ reason: String) {
        self.spec = spec
        self.reason = reason
    }

    public var description: String { "invalid port specification '\(spec)': \(reason)" }
}

/// Everything forwarded in one direction by one protocol: the result of all `-t` (or `-u`, `-T`, `-U`) options.
public enum PortForwarding: Equatable, CustomStringConvertible {
    case none
    /// Follow what is bound on the other side (pasta only), except the excluded ports (`auto,~22` or a
    /// later exclusion-only spec).
    case auto(excluding: [ClosedRange<UInt16>])
    /// Every non-ephemeral port, to the guest's address or to `targetAddress` (`all:ADDR`).
    case all(targetAddress: IPAddress?)
    case specs([PortSpec])

    public static let automatic = PortForwarding.auto(excluding: [])

    /// Folds one more option value into what earlier options of the same kind gave (nil: none yet).
    public static func folding(_ current: PortForwarding?, _ text: String, option: String, isPasta: Bool) throws
        -> PortForwarding
    {
        let keyword: PortForwarding?
        switch text {
        case "none": keyword = PortForwarding.none
        case _ where text == "auto" || text.hasPrefix("auto,"):
            guard isPasta else { throw PortSpecError(text, "'auto' is only valid for pasta") }
            // `auto,~22` is auto mode with exclusions; `auto,8000-8010` limits it to those ports (a spec).
            let spec = try PortSpec(parsing: text)
            let whole = spec.ranges.isEmpty && spec.bindAddress == nil && spec.bindInterface == nil
            keyword = whole ? .auto(excluding: spec.exclusions) : nil
        case "all": keyword = .all(targetAddress: nil)
        case _ where text.hasPrefix("all:"):
            keyword = .all(targetAddress: try PortSpec.parseTargetAddress(text.dropFirst(4), in: text))
        default: keyword = nil
        }
        if keyword == nil, !isPasta, (try? PortSpec(parsing: text))?.automatic == true {
            throw PortSpecError(text, "'auto' is only valid for pasta")
        }
        switch (current, keyword) {
        case (nil, let k?): return k
        case (nil, nil): return .specs([try PortSpec(parsing: text)])
        case (.specs(let list)?, nil): return .specs(list + [try PortSpec(parsing: text)])
        case (.auto(let earlier)?, .auto(let more)?): return .auto(excluding: earlier + more)
        case (.auto(let earlier)?, nil):
            let spec = try PortSpec(parsing: text)
            if spec.ranges.isEmpty, spec.bindAddress == nil, spec.bindInterface == nil {
                return .auto(excluding: earlier + spec.exclusions)
            }
        case (let c?, let k?) where c == k: return c
        default: break
        }
        throw PortSpecError(text, "can't be combined with the earlier \(option) \(current!)")
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .auto(let excluded):
            return (["auto"] + excluded.map { "~" + ($0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)") })
                .joined(separator: ",")
        case .all(let target?): return "all:\(PortSpec.bracketed(target))"
        case .all(nil): return "all"
        case .specs(let list): return list.map(\.text).joined(separator: " ")
        }
    }
}
