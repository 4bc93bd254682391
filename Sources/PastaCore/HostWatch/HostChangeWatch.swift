import CLinux
import Glibc

/// Tells when the host's network may have changed: rtnetlink's link, address and route notifications,
/// and inotify on the resolver file's directories. Both descriptors, the socket that dumps the host's
/// configuration again and the directories are opened at start, before the sandbox; afterwards they
/// only need read, recv, send and openat relative to a held directory. The notifications themselves
/// are never parsed: any of them means "look again", and what the host has is read by dumping it.
final class HostChangeWatch {
    let routeEvents: Descriptor
    let resolverEvents: Descriptor?
    let resolverFile: ResolverFile
    /// Dumps links, addresses and routes when something changed.
    let query: RouteNetlinkSocket
    private var buffer = [UInt8](repeating: 0, count: 16 << 10)

    init() throws {
        let fd = CLinux_netlink_route_listener()
        guard fd >= 0 else { throw SystemError("netlink route notifications") }
        routeEvents = Descriptor(fd)
        query = try RouteNetlinkSocket()
        resolverFile = ResolverFile()
        let inotify = CLinux_inotify_init()
        if inotify >= 0, resolverFile.watch(with: inotify) {
            resolverEvents = Descriptor(inotify)
        } else {
            if inotify >= 0 { Glibc.close(inotify) }
            resolverEvents = nil
            logWarning("can't watch the resolver file's directory: resolver changes won't be followed")
        }
    }

    /// A watch, unless `--no-follow-host` keeps the start-time configuration; nil (with a warning) where
    /// the notifications can't be had.
    static func unlessPinned(_ options: Options) -> HostChangeWatch? {
        guard !options.noFollowHost else { return nil }
        do {
            return try HostChangeWatch()
        } catch {
            logWarning("can't watch the host's network (\(error)): its configuration at start stays")
            return nil
        }
    }

    /// Reads every pending notification; true if there was any (an overrun socket counts: what it lost
    /// was a change too).
    func drainRouteEvents() -> Bool {
        var any = false
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(routeEvents.raw, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { any = true; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == ENOBUFS { any = true; continue }
            return any
        }
    }

    /// Reads every pending inotify event; true if one concerns the resolver file.
    func drainResolverEvents() -> Bool {
        guard let resolverEvents else { return false }
        var mentioned = false
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(resolverEvents.raw, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return mentioned }
            if resolverFile.isMentioned(in: InotifyEvent.parse(buffer[0..<n])) { mentioned = true }
        }
    }
}
