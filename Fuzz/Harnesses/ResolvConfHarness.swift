@testable import PastaCore

/// The host's /etc/resolv.conf: name servers and search domains, then what the services hand out from
/// them (DHCP option 119's compressed list, the DNSSL and RDNSS of a Router Advertisement). Input: the
/// file's text.
enum ResolvConfHarness {
    static let harness = Harness(
        name: "resolv-conf", summary: "resolv.conf into the DNS servers and search lists the services hand out",
        run: run, seeds: seeds)

    static let options: Options = {
        do {
            return try Options.parse(["-a", "198.51.100.2", "-g", "198.51.100.1", "-a", "2001:db8:1::2", "-g", "2001:db8:1::1"],
                                     mode: .passt)
        } catch {
            fatalError("resolv-conf: \(error)")
        }
    }()

    static func run(_ data: UnsafeRawBufferPointer) {
        let resolvConf = ResolvConf(text: String(decoding: data, as: UTF8.self))
        let configuration = RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: resolvConf)
        let settings = ServiceSettings(configuration)
        _ = configuration.summary
        if let length = NDPResponder.unsolicitedAdvertisement(settings: settings, into: ServiceRun.replyBuffer) {
            SentFrameCheck.require(UnsafeRawBufferPointer(rebasing: ServiceRun.replyBuffer[0..<length]), from: harness.name)
        }
        ServiceRun.run(harness.name, DHCPHarness.discoverFrame) { DHCPServer.reply(to: $0, settings: settings, into: $1) }
    }

    static func seeds() -> [[UInt8]] {
        [Array("nameserver 198.51.100.53\nnameserver 2001:db8:1::53\nsearch lab.example example.org\n".utf8),
         Array("# comment\ndomain corp.example\nnameserver fe80::1%eth0\noptions ndots:2\n".utf8),
         Array("search a.example b.example c.example d.example e.example f.example\r\nnameserver 127.0.0.53\n".utf8)]
    }
}
