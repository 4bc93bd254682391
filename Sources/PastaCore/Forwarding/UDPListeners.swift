import CLinux
import Glibc

/// Host-side bound sockets for `-u` specs (by default the ports `-t` forwards, as the man page says).
public final class UDPListeners {
    public struct Listener {
        public let socket: Descriptor
        public let port: UInt16
        public let targetPort: UInt16
    }

    private var listeners: [Listener] = []

    public init(configuration: RuntimeConfiguration, poll: EventPoll) throws {
        let options = configuration.options
        guard !options.noUDP else { return }
        var forwarding = options.forwarding(options.udpPorts)
        if options.udpPorts == nil, case .specs? = options.tcpPorts { forwarding = options.tcpPorts! }
        let groups: [(IPAddress?, [(UInt16, UInt16)])]
        switch forwarding {
        case .specs(let list): groups = list.map { ($0.bindAddress, TCPListeners.ports(of: $0)) }
        case .all: groups = [(nil, (1..<TCPListeners.ephemeralStart).map { ($0, $0) })]
        case .none, .auto: return
        }
        var wildcards: [IPAddress] = []
        if configuration.ipv4 != nil { wildcards.append(.v4(.any)) }
        if configuration.ipv6 != nil { wildcards.append(.v6(.any)) }
        for (bindAddress, pairs) in groups {
            for (port, target) in pairs {
                for address in bindAddress.map({ [$0] }) ?? wildcards {
                    let fd = CLinux_udp_bound(address.family, address.networkBytes, port)
                    guard fd >= 0 else {
                        throw OptionError("can't bind UDP port \(port) (\(address)): \(String(cString: strerror(errno)))")
                    }
                    CLinux_set_buffer_sizes(fd, UDPFlows.socketBuffer)
                    try poll.add(fd, EventReference(.udpListener, index: UInt32(listeners.count)))
                    listeners.append(Listener(socket: Descriptor(fd), port: port, targetPort: target))
                }
            }
        }
    }

    public subscript(index: Int) -> Listener? { index < listeners.count ? listeners[index] : nil }
}
