@testable import PastaCore

/// The pasta/passt command line: getopt_long parsing, every option's validation and their combinations,
/// then the runtime configuration, its summary and the service settings derived from what was accepted.
/// Input: a control byte (bit 0: passt rather than pasta), then the arguments separated by NUL bytes.
enum CommandLineHarness {
    static let harness = Harness(
        name: "command-line", summary: "pasta/passt arguments through Options.parse and the derived configuration",
        run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let mode: ProgramMode = input.byte() & 1 != 0 ? .passt : .pasta
        let rest = input.rest()
        let arguments = rest.isEmpty ? [] : rest.split(separator: 0, omittingEmptySubsequences: false)
            .map { String(decoding: $0, as: UTF8.self) }
        let options: Options
        do {
            options = try Options.parse(arguments, mode: mode)
        } catch {
            _ = "\(error)"
            return
        }
        let configuration = RuntimeConfiguration(options: options, host: HostNetwork(),
                                                 resolvConf: ResolvConf(text: "nameserver 198.51.100.53\nsearch lab.example\n"))
        _ = configuration.summary
        _ = ServiceSettings(configuration)
        _ = AddressTranslation(configuration)
        for forwarding in [options.tcpPorts, options.udpPorts, options.tcpNamespacePorts, options.udpNamespacePorts] {
            _ = options.forwarding(forwarding).description
        }
    }

    static func seeds() -> [[UInt8]] {
        let lines: [(UInt8, [String])] = [
            (0, ServiceVariants.lab),
            (0, ["--config-net", "-t", "8080:80", "-u", "5353", "-T", "auto", "-U", "none", "--netns", "/run/netns/c1"]),
            (0, ["-4", "--no-map-gw", "--map-guest-addr", "169.254.1.2", "--dns-forward", "169.254.1.1", "--", "sh", "-c", "true"]),
            (0, ["-dqf", "-m", "65520", "--outbound-if4=eth0", "-o", "198.51.100.2", "--ns-mac-addr", "02:00:00:00:00:09", "1234"]),
            (1, ["-s", "/tmp/passt.socket", "-1", "-P", "/tmp/passt.pid", "-t", "2222:22,~2223", "--no-dhcpv6"]),
            (1, ["-F", "3", "--search", "a.example b.example", "--dns", "none", "--mac-addr", "52:54:00:00:00:01"]),
            (0, ["--dns-forward", "192.0.2.250", "--dns-host", "203.0.113.54", "-H", "ctr", "--fqdn", "ctr.lab.example",
                 "--freebind", "--stats", "5", "-a", "198.51.100.9/25", "-t", "8000-8010,auto", "--netns", "c1"]),
            (0, ["--splice-only", "--config-net", "-t", "127.0.0.1/8080", "-T", "9090", "-u", "auto", "c1"]),
            (0, ["--help"]),
        ]
        return lines.map { [$0.0] + Array($0.1.joined(separator: "\0").utf8) }
    }
}
