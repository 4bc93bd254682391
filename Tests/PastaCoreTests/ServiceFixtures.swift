@testable import PastaCore

/// Service settings as the lab's pasta would have them, from a command line.
enum ServiceFixtures {
    static let labArguments = ["-a", "198.51.100.2", "-n", "24", "-g", "198.51.100.1", "-a", "2001:db8:1::2",
                               "-g", "2001:db8:1::1", "-M", "02:00:00:00:00:02", "-D", "198.51.100.53",
                               "-D", "2001:db8:1::53", "-S", "lab.example", "--dhcp-dns", "--dhcp-search", "-m", "1500"]

    static func settings(_ extra: [String] = [], replacing: [String]? = nil) throws -> ServiceSettings {
        let options = try Options.parse((replacing ?? labArguments) + extra, mode: .pasta)
        return ServiceSettings(RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: "")))
    }
}
