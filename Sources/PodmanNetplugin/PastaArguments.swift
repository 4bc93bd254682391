import PastaCore

/// The pasta command line for one container, in the order Podman builds it for `--network pasta`
/// (containers/common libnetwork/pasta): `--config-net`, the user's options, one `-t`/`-u` per mapping,
/// then Podman's defaults where the user gave none, the target and the PID file.
public struct PastaArguments {
    /// Podman's addresses: DNS queries to the first goes to the host's resolver, the second reaches the host.
    public static let dnsForwardAddress = "169.254.1.1"
    public static let hostAddress = "169.254.1.2"
    public static let maxOptionsBytes = 4096
    public static let maxOptions = 128

    public let arguments: [String]
    /// The whole command line, validated by pasta's own parser.
    public let options: Options

    /// The IPv4 address the container's resolv.conf should name (pasta's DNS forwarder), if any.
    public var dnsForward4: IPv4Address? { options.dnsForward4 }
    /// The address `host.containers.internal` should resolve to, if any.
    public var hostAddress: IPAddress? { options.mapGuestAddress }

    public init(mappings: [PortMapping], userOptions: [String], networkNamespace: String, pidFile: String) throws {
        let user: Options
        do {
            user = try Options.parse(userOptions, mode: .pasta)
        } catch let error as OptionError {
            throw HookError("io.containers.pasta.options: \(error)")
        }
        func refuse(_ why: String) -> HookError { HookError("io.containers.pasta.options: \(why)") }
        if user.showHelp || user.showVersion { throw refuse("-h/--help and --version don't start pasta") }
        if user.foreground { throw refuse("-f/--foreground would keep the container from starting") }
        if user.pidFile != nil { throw refuse("-P/--pid is the hook's own (its run directory)") }
        if user.networkNamespace != nil || user.userNamespace != nil || user.target != .spawn([]) {
            throw refuse("the target is the container: no --netns, --userns, PID or command")
        }
        var arguments = ["--config-net"] + userOptions
        for mapping in mappings { arguments += [mapping.pastaOption, mapping.pastaSpec] }
        if user.dnsForward4 == nil && user.dnsForward6 == nil {
            arguments += ["--dns-forward", PastaArguments.dnsForwardAddress]
        }
        if user.tcpPorts == nil && !mappings.contains(where: { $0.transport == .tcp }) { arguments += ["-t", "none"] }
        if user.udpPorts == nil && !mappings.contains(where: { $0.transport == .udp }) { arguments += ["-u", "none"] }
        if user.tcpNamespacePorts == nil { arguments += ["-T", "none"] }
        if user.udpNamespacePorts == nil { arguments += ["-U", "none"] }
        arguments.append("--no-map-gw")
        if !user.debug && !user.trace { arguments.append("--quiet") }
        arguments += ["--netns", networkNamespace]
        if user.mapGuestAddress == nil { arguments += ["--map-guest-addr", PastaArguments.hostAddress] }
        arguments += ["--pid", pidFile]
        do {
            options = try Options.parse(arguments, mode: .pasta)
        } catch let error as OptionError {
            throw HookError("pasta options (mappings and io.containers.pasta.options together): \(error)")
        }
        self.arguments = arguments
    }

    /// Splits the `io.containers.pasta.options` annotation into arguments at spaces, tabs and newlines
    /// (no quoting: Podman's own `pasta:` options are split at commas the same way).
    public static func splitOptions(_ text: String) throws -> [String] {
        guard text.utf8.count <= maxOptionsBytes else {
            throw HookError("io.containers.pasta.options: longer than \(maxOptionsBytes) bytes")
        }
        if let bad = text.unicodeScalars.first(where: { $0.value < 0x20 && $0 != "\t" && $0 != "\n" && $0 != "\r" || $0.value == 0x7F }) {
            throw HookError("io.containers.pasta.options: control character \\x\(String(bad.value, radix: 16)) in '\(HookError.printable(text))'")
        }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).map(String.init)
        guard words.count <= maxOptions else { throw HookError("io.containers.pasta.options: more than \(maxOptions) arguments") }
        return words
    }
}
