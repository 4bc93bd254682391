@testable import PastaCore

/// Port specifications of `-t/-u/-T/-U` (`22`, `8080:80`, `ADDR%IFACE/1000-2000:3000`, `~22`, `auto,~22`,
/// `all`, `none`). Input: a control byte (bit 0: pasta rather than passt), then the values of repeated
/// options separated by NUL bytes, folded one after the other as the option parser does; each spec's
/// targets are then asked for a few ports and its text rebuilt.
enum PortSpecHarness {
    static let harness = Harness(
        name: "port-spec", summary: "port specifications of -t/-u/-T/-U, folded as repeated options",
        run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let isPasta = input.byte() & 1 != 0
        var forwarding: PortForwarding?
        for value in input.rest().split(separator: 0, omittingEmptySubsequences: false) {
            let text = String(decoding: value, as: UTF8.self)
            do {
                forwarding = try PortForwarding.folding(forwarding, text, option: "-t", isPasta: isPasta)
            } catch {
                _ = "\(error)"
                break
            }
        }
        guard let forwarding else { return }
        _ = forwarding.description
        if case .specs(let specs) = forwarding {
            for spec in specs {
                for port: UInt16 in [0, 1, 22, 1023, 32767, 32768, 65535] { _ = spec.target(of: port) }
                _ = spec.forwardsAllNonEphemeral
            }
        }
    }

    static func seeds() -> [[UInt8]] {
        let values = [["22"], ["8080:80", "5353"], ["1000-2000:3000-4000,~1500"], ["198.51.100.2%eth0/443"],
                      ["[2001:db8::1]/80"], ["~30000-40000"], ["auto,~22", "~80"], ["all"], ["none"], ["auto"]]
        return values.enumerated().map { index, list in
            [UInt8(index & 1)] + Array(list.joined(separator: "\0").utf8)
        }
    }
}
