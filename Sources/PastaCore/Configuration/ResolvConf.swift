/// Name servers and search domains from resolv.conf(5) text.
public struct ResolvConf: Equatable {
    public var nameservers: [IPAddress] = []
    public var searchDomains: [String] = []

    /// Parses resolv.conf text; unknown or malformed lines are skipped, as the resolver does.
    public init(text: String) {
        for rawLine in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let fields = rawLine.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let keyword = fields.first, !keyword.hasPrefix("#"), !keyword.hasPrefix(";") else { continue }
            switch keyword {
            case "nameserver":
                guard fields.count >= 2 else { continue }
                // A scoped IPv6 server (fe80::1%eth0) has no meaning inside the namespace: drop the scope.
                let text = fields[1].split(separator: "%", maxSplits: 1).first.map(String.init) ?? ""
                if let address = IPAddress(text), !nameservers.contains(address) { nameservers.append(address) }
            case "search":
                searchDomains = fields.dropFirst().map(String.init).filter(Options.isValidDomain)
            case "domain":
                if fields.count >= 2, Options.isValidDomain(String(fields[1])) { searchDomains = [String(fields[1])] }
            default:
                continue
            }
        }
    }

    public static func load(path: String = "/etc/resolv.conf") -> ResolvConf {
        guard let bytes = try? readSmallFile(path, limit: 64 << 10) else { return ResolvConf(text: "") }
        return ResolvConf(text: String(decoding: bytes, as: UTF8.self))
    }
}
