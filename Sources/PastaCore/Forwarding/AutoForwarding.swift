import CLinux
import Glibc

/// Auto mode, pasta's default for `-t`, `-u`, `-T` and `-U`: every second, each port bound on one side gets
/// a forwarding socket on the other, and loses it once nothing binds it any more. Ports our own forwarding
/// sockets hold are never forwarded back, and `~` exclusions are respected. The /proc files are opened once,
/// at start, in the namespace they describe.
public final class AutoForwarding {
    private final class Direction {
        let listeners: Listeners
        /// Where our sockets are opened; the files describe the other side.
        let side: ForwardingSide
        let files: [Descriptor]
        let state: UInt8
        let excluded: [ClosedRange<UInt16>]
        let addresses: [IPAddress]
        /// Ports that could not be bound: not retried until they are released and bound again.
        var failed: Set<UInt16> = []

        init(listeners: Listeners, side: ForwardingSide, files: [Descriptor], state: UInt8,
             excluded: [ClosedRange<UInt16>], addresses: [IPAddress]) {
            self.listeners = listeners
            self.side = side
            self.files = files
            self.state = state
            self.excluded = excluded
            self.addresses = addresses
        }
    }

    private var directions: [Direction] = []
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    public var isActive: Bool { !directions.isEmpty }

    public init(configuration: RuntimeConfiguration, tcp: Listeners, udp: Listeners, namespace: NetworkNamespace) throws {
        let options = configuration.options
        var wanted: [(Listeners, ForwardingSide, PortForwarding)] = []
        if !options.noTCP {
            wanted.append((tcp, .host, options.forwarding(options.tcpPorts)))
            wanted.append((tcp, .namespace, options.forwarding(options.tcpNamespacePorts)))
        }
        if !options.noUDP {
            wanted.append((udp, .host, ConfiguredForwarding.udpForwarding(options, side: .host)))
            wanted.append((udp, .namespace, ConfiguredForwarding.udpForwarding(options, side: .namespace)))
        }
        for (listeners, side, forwarding) in wanted {
            guard case .auto(let excluded) = forwarding else { continue }
            let names = listeners.transport == .tcp ? ["tcp", "tcp6"] : ["udp", "udp6"]
            let open = { names.compactMap { Self.openProcFile($0) } }
            // Our sockets on `side` follow what is bound on the other one.
            let files = side == .host ? (namespace.inside(open) ?? []) : open()
            guard !files.isEmpty else {
                throw OptionError("can't read bound \(names[0].uppercased()) ports \(side == .host ? "in the namespace" : "on the host") for auto mode")
            }
            directions.append(Direction(
                listeners: listeners, side: side, files: files,
                state: listeners.transport == .tcp ? BoundPorts.tcpListening : BoundPorts.udpBound,
                excluded: excluded, addresses: ConfiguredForwarding.defaultAddresses(configuration, side: side)))
        }
    }

    /// /proc/thread-self, not /proc/self: the calling thread may be visiting the namespace.
    private static func openProcFile(_ name: String) -> Descriptor? {
        let fd = CLinux_open("/proc/thread-self/net/\(name)", O_RDONLY | CLinux_O_CLOEXEC, 0)
        return fd >= 0 ? Descriptor(fd) : nil
    }

    /// Called once a second.
    public func scan() {
        for direction in directions { scan(direction) }
    }

    private func scan(_ direction: Direction) {
        var bound = Set<UInt16>()
        for file in direction.files { read(file, state: direction.state, into: &bound) }
        var ours = Set<UInt16>()
        var current: [UInt16: [Listener]] = [:]
        direction.listeners.forEach { listener in
            if listener.side != direction.side {
                ours.insert(listener.port)
            } else if listener.automatic {
                current[listener.port, default: []].append(listener)
            }
        }
        let wanted = bound.filter { port in !ours.contains(port) && !direction.excluded.contains { $0.contains(port) } }
        for (port, listeners) in current where !wanted.contains(port) {
            listeners.forEach { direction.listeners.close($0) }
            logDebug("auto: \(describe(direction)) port \(port) released")
        }
        direction.failed.formIntersection(wanted)
        for port in wanted where current[port] == nil && !direction.failed.contains(port) {
            var opened = 0
            for address in direction.addresses {
                do {
                    try direction.listeners.open(side: direction.side, address: address, port: port, targetPort: port,
                                                 automatic: true)
                    opened += 1
                } catch {
                    logDebug("auto: \(describe(direction)) port \(port) (\(address)): \(error)")
                }
            }
            if opened == 0 { direction.failed.insert(port) } else { logDebug("auto: \(describe(direction)) port \(port) forwarded") }
        }
    }

    private func describe(_ direction: Direction) -> String {
        let name = direction.listeners.transport == .tcp ? "TCP" : "UDP"
        return direction.side == .host ? "\(name) host" : "\(name) namespace"
    }

    /// Reads a whole /proc file from its start (seq files regenerate their text when read from offset 0).
    private func read(_ file: Descriptor, state: UInt8, into ports: inout Set<UInt16>) {
        var length = 0
        guard lseek(file.raw, 0, SEEK_SET) == 0 else { return }
        while true {
            if length == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(file.raw, $0.baseAddress! + length, $0.count - length) }
            if n <= 0 { break }
            length += n
        }
        buffer.withUnsafeBytes { BoundPorts.parse(UnsafeRawBufferPointer(rebasing: $0[0..<length]), state: state, into: &ports) }
    }
}
