import CLinux
import Glibc

/// Host-side listening sockets for `-t` specs: each accepted connection becomes a connection to the guest
/// on the spec's target port.
public final class TCPListeners {
    public struct Listener {
        public let socket: Descriptor
        public let port: UInt16
        public let targetPort: UInt16
    }

    private var listeners: [Listener] = []
    static let ephemeralStart: UInt16 = 32768

    public init(configuration: RuntimeConfiguration, poll: EventPoll) throws {
        let options = configuration.options
        guard !options.noTCP else { return }
        // (bind address, [(host port, guest port)]) per spec.
        let groups: [(IPAddress?, [(UInt16, UInt16)])]
        switch options.forwarding(options.tcpPorts) {
        case .specs(let list): groups = list.map { ($0.bindAddress, Self.ports(of: $0)) }
        case .all: groups = [(nil, (1..<Self.ephemeralStart).map { ($0, $0) })]  // every non-ephemeral port
        case .none, .auto: return  // auto: forwarding that follows bound ports is not implemented yet
        }
        // Without a bind address, listen wherever the guest has an address family configured.
        var wildcards: [IPAddress] = []
        if configuration.ipv4 != nil { wildcards.append(.v4(.any)) }
        if configuration.ipv6 != nil { wildcards.append(.v6(.any)) }
        for (bindAddress, pairs) in groups {
            let addresses = bindAddress.map { [$0] } ?? wildcards
            for (port, target) in pairs {
                for address in addresses {
                    let fd = CLinux_listen_ip(address.family, address.networkBytes, port, 1024)
                    guard fd >= 0 else {
                        throw OptionError("can't listen on TCP port \(port) (\(address)): \(String(cString: strerror(errno)))")
                    }
                    let listener = Listener(socket: Descriptor(fd), port: port, targetPort: target)
                    try poll.add(fd, EventReference(.tcpListener, index: UInt32(listeners.count)))
                    listeners.append(listener)
                }
            }
        }
        if !listeners.isEmpty { logDebug("TCP: \(listeners.count) listening sockets") }
    }

    public subscript(index: Int) -> Listener? { index < listeners.count ? listeners[index] : nil }
    public var count: Int { listeners.count }

    /// Every (host port, guest port) pair a spec forwards.
    static func ports(of spec: PortSpec) -> [(UInt16, UInt16)] {
        let candidates: [ClosedRange<UInt16>] = spec.forwardsAllNonEphemeral ? [1...65535] : spec.ranges.map(\.ports)
        var result: [(UInt16, UInt16)] = []
        for range in candidates {
            for port in range {
                if let target = spec.target(of: port) { result.append((port, target)) }
            }
        }
        return result
    }
}
