@testable import PastaCore
@testable import PodmanNetplugin

/// What the OCI hook reads from the runtime and the container: the state on standard input (bounded JSON),
/// its port and option annotations and the pasta command line made from them, the bundle's config.json,
/// the hook's own PID records, and the container's /etc/hosts and resolv.conf. Input: a control byte whose
/// value modulo 7 says which of those the rest is (see `Document`).
enum OCIStateHarness {
    static let harness = Harness(
        name: "oci-state", summary: "OCI hook: state JSON, annotations, config.json, PID record, hosts, resolv.conf",
        run: run, seeds: seeds)

    enum Document: UInt8, CaseIterable {
        case state = 0, portsAnnotation, optionsAnnotation, bundleConfig, pidRecord, hosts, resolvConf
    }

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let document = Document(rawValue: input.byte() % UInt8(Document.allCases.count))!
        switch document {
        case .state:
            guard let state = attempt({ try HookState(parsing: input.rest()) }) else { return }
            _ = state.shortID
            guard Hook.wantsPasta(state) else { return }
            commandLine(ports: state.annotations[Hook.portsAnnotation] ?? "",
                        options: state.annotations[Hook.optionsAnnotation] ?? "")
        case .portsAnnotation:
            commandLine(ports: input.restAsText(), options: "")
        case .optionsAnnotation:
            commandLine(ports: "8080:80", options: input.restAsText())
        case .bundleConfig:
            _ = attempt { try BundleConfig(parsing: input.rest(), bundle: "/run/containers/bundle") }
        case .pidRecord:
            _ = attempt { try PastaRecord(parsing: input.restAsText()) }?.text
        case .hosts:
            let text = input.restAsText()
            for address in [IPAddress("169.254.1.2")!, IPAddress("fd00::2")!] {
                _ = ContainerFiles.hostsWithHostEntry(text, address: address) { $0 == IPAddress("198.51.100.2")! }
            }
        case .resolvConf:
            _ = ContainerFiles.resolvConfNaming(IPv4Address(169, 254, 1, 1), replacing: input.restAsText())
        }
    }

    /// The annotations as the hook turns them into pasta's command line, which pasta's parser validates.
    static func commandLine(ports: String, options: String) {
        guard let mappings = attempt({ try PortMapping.parseList(ports) }),
              let userOptions = attempt({ try PastaArguments.splitOptions(options) })
        else { return }
        for mapping in mappings { _ = (mapping.pastaOption, mapping.pastaSpec) }
        _ = attempt {
            try PastaArguments(mappings: mappings, userOptions: userOptions, networkNamespace: "/proc/1234/ns/net",
                               pidFile: "/run/pasta-hook/0123456789ab.pasta.pid")
        }?.arguments
    }

    /// The result, or nil once the error's message was built as the hook would print it.
    static func attempt<T>(_ body: () throws -> T) -> T? {
        do {
            return try body()
        } catch {
            _ = "\(error)"
            return nil
        }
    }

    static func seeds() -> [[UInt8]] {
        let state = """
            {"ociVersion":"1.0.2","id":"0123456789abcdef","status":"created","pid":4242,"bundle":"/run/b",\
            "annotations":{"io.containers.pasta.ports":"8080:80 5353:53/udp [::1]:9000-9001:90-91/tcp",\
            "io.containers.pasta.options":"--debug -4 --map-guest-addr 169.254.1.2","other":"x\\u00e9\\n"}}
            """
        let config = """
            {"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":false},"mounts":[{"destination":"/etc/hosts",\
            "type":"bind","source":"/run/c/hosts","options":["rbind","ro"]},{"destination":"/proc","type":"proc",\
            "source":"proc"}],"process":{"args":["sh"],"env":["A=1"],"user":{"uid":0,"gid":0}},"n":[1.5e3,-2,true,null]}
            """
        let documents: [(Document, String)] = [
            (.state, state),
            (.state, #"{"ociVersion":"1.0.2","id":"c1","status":"stopped","bundle":"/b","annotations":null}"#),
            (.portsAnnotation, "8080:80;127.0.0.1:5353:53/udp\t2000-2010:3000-3010"),
            (.optionsAnnotation, "-T auto --dns-forward 169.254.1.1 --no-map-gw"),
            (.bundleConfig, config),
            (.pidRecord, "1234 5678 4242 91011\n"),
            (.hosts, "127.0.0.1 localhost\n198.51.100.2\thost.containers.internal myhost # podman\n"),
            (.resolvConf, "search lab.example\nnameserver 198.51.100.53\noptions edns0\n"),
        ]
        return documents.map { [$0.0.rawValue] + Array($0.1.utf8) }
    }
}
