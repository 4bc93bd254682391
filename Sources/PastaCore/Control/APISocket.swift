/// A socket server the event loop runs beside the datapath: slirp4netns mode's API (`-a PATH`), which the
/// SlirpDropIn module provides, so the datapath knows no JSON. When the options name an API socket, the
/// datapath makes one through `APISocket.factory`; the server registers its listener and clients in the
/// poll with `.apiListener` and `.apiClient` references, whose events the loop hands back to it.
public protocol APISocketServer: AnyObject {
    func accept(now: Int)
    func clientEvent(_ reference: EventReference, events: UInt32, now: Int)
    /// Every 100 ms.
    func tick(now: Int)
    /// At exit: its clients are closed and its socket file goes.
    func remove()
}

/// What an API server edits: the HOST forwarding table, through whatever holds it.
public protocol HostForwardingTable: AnyObject {
    var hostRules: [ForwardingRule] { get }
    /// Puts `rules` in force as the HOST table, or throws why not (and changes nothing).
    func setHostRules(_ rules: [ForwardingRule]) throws
}

extension LiveForwarding: HostForwardingTable {
    public var hostRules: [ForwardingRule] { tables.first { $0.pif == .host }?.rules ?? [] }

    public func setHostRules(_ rules: [ForwardingRule]) throws {
        try replace(with: [ForwardingTable(.host, rules: rules)])
    }
}

public enum APISocket {
    /// Where and on what a server works: its socket's path, the loop's poll, the table it edits, and the
    /// guest's addresses (the default targets of its forwards).
    public struct Context {
        public let path: String
        public let poll: EventPoll
        public let forwarding: HostForwardingTable
        public let guest4: IPv4Address
        public let guest6: IPv6Address?
    }

    /// Set by the program that takes `-a` (the slirp4netns drop-in) before it starts the datapath.
    nonisolated(unsafe) public static var factory: ((Context) throws -> APISocketServer)?

    static func make(path: String, poll: EventPoll, forwarding: HostForwardingTable, guest4: IPv4Address,
                     guest6: IPv6Address?) throws -> APISocketServer {
        guard let factory else { throw OptionError("this program serves no API socket") }
        return try factory(Context(path: path, poll: poll, forwarding: forwarding, guest4: guest4, guest6: guest6))
    }
}
