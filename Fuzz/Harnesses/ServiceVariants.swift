@testable import PastaCore

/// The configurations the services are fuzzed under, from command lines as users give them: the lab's
/// (everything handed out), a bare one, one with long lists and no MTU, and one with every service off.
enum ServiceVariants {
    static let guestAddress4 = IPv4Address(198, 51, 100, 2)
    static let gateway4 = IPv4Address(198, 51, 100, 1)
    static let guestAddress6 = IPv6Address("2001:db8:1::2")!
    static let guestLinkLocal = IPv6Address("fe80::5054:ff:fe12:3456")!
    static let ourMAC = MACAddress("02:00:00:00:00:02")!

    static let lab = ["-a", "198.51.100.2", "-n", "24", "-g", "198.51.100.1", "-a", "2001:db8:1::2",
                      "-g", "2001:db8:1::1", "-M", "02:00:00:00:00:02", "-D", "198.51.100.53",
                      "-D", "2001:db8:1::53", "-S", "lab.example", "--dhcp-dns", "--dhcp-search", "-m", "1500"]

    static let all: [ServiceSettings] = [
        settings(lab, mode: .pasta),
        settings(["-a", "198.51.100.2", "-g", "198.51.100.1", "-a", "2001:db8:1::2", "-g", "2001:db8:1::1",
                  "-M", "02:00:00:00:00:02", "-H", "vm", "--fqdn", "vm.lab.example"], mode: .passt),
        settings(["-a", "10.0.0.2", "-n", "8", "-g", "10.0.0.1", "-a", "fe80::2", "-g", "fe80::1", "-M", "02:00:00:00:00:02",
                  "-m", "0", "--dhcp-dns", "--dhcp-search", "-H", String(repeating: "h", count: 63),
                  "--fqdn", (1...4).map { _ in String(repeating: "f", count: 62) }.joined(separator: "."),
                  "-S", (1...40).map { "domain\($0).a-rather-long-search-domain.example" }.joined(separator: " ")]
                 + (1...20).flatMap { ["-D", "192.0.2.\($0)", "-D", "2001:db8:53::\($0)"] }, mode: .pasta),
        settings(lab + ["--no-dhcp", "--no-ndp", "--no-ra", "--no-dhcpv6"], mode: .pasta),
    ]

    /// The variant a control byte names (its low two bits).
    static func pick(_ control: UInt8) -> ServiceSettings { all[Int(control & 3)] }

    private static func settings(_ arguments: [String], mode: ProgramMode) -> ServiceSettings {
        do {
            let options = try Options.parse(arguments, mode: mode)
            return ServiceSettings(RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: "")))
        } catch {
            fatalError("service variant \(arguments): \(error)")
        }
    }
}

/// Runs one service on a frame with the reply buffer the datapath uses, and checks any reply.
enum ServiceRun {
    static let replyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 16)

    static func run(_ harness: String, _ frame: [UInt8],
                    _ service: (UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> ServiceOutcome) {
        let outcome = frame.withUnsafeBytes { service($0, replyBuffer) }
        guard let length = outcome.replyLength else { return }
        guard length > 0, length <= replyBuffer.count else { fatalError("\(harness): reply length \(length)") }
        SentFrameCheck.require(UnsafeRawBufferPointer(rebasing: replyBuffer[0..<length]), from: harness)
    }
}
