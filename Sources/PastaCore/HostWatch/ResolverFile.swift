import CLinux
import Glibc

/// The resolver file (/etc/resolv.conf), readable after the sandbox has emptied our root: its directory,
/// and where it is a symbolic link the target's directory, are held open (O_PATH) from the start, and the
/// file is opened relative to them. Resolvers replace the file by rename, so its directories are what
/// inotify watches.
final class ResolverFile {
    /// A held directory and the entry in it that is, or leads to, the file.
    struct Place {
        let directory: Descriptor
        let path: String
        let entry: String
    }

    let places: [Place]

    init(path: String = "/etc/resolv.conf") {
        var places: [Place] = []
        if let place = Self.place(of: path) { places.append(place) }
        // An absolute link (systemd-resolved's, NetworkManager's) can't be followed from an empty root:
        // each link's target's directory is held too. A link may point where nothing is yet (resolved not
        // started at boot): its directory is what counts.
        var current = path
        for _ in 0..<8 {
            guard let target = Self.linkTarget(current) else { break }
            current = target
            guard let place = Self.place(of: target) else {
                logWarning("\(path) leads to \(target), whose directory isn't there: resolver changes won't be followed")
                break
            }
            places.append(place)
        }
        self.places = places
    }

    /// Where the symbolic link `path` points, as an absolute path; nil if it is no link.
    private static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink(path, &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if target.hasPrefix("/") { return target }
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        return directory + "/" + target
    }

    private static func place(of path: String) -> Place? {
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        let entry = String(path[path.index(after: slash)...])
        guard !entry.isEmpty,
              let fd = try? Descriptor.open(directory, CLinux_O_PATH | CLinux_O_DIRECTORY | CLinux_O_CLOEXEC)
        else { return nil }
        return Place(directory: fd, path: directory, entry: entry)
    }

    /// The file as it is now; nil when no held place leads to it.
    func read() -> ResolvConf? {
        for place in places {
            let fd = CLinux_openat(place.directory.raw, place.entry, O_RDONLY | CLinux_O_CLOEXEC)
            guard fd >= 0 else { continue }
            guard let bytes = try? Descriptor(fd).readToEnd(limit: 64 << 10) else { continue }
            return ResolvConf(text: String(decoding: bytes, as: UTF8.self))
        }
        return nil
    }

    /// Adds a watch on each held directory to an inotify descriptor; false if none could be watched.
    func watch(with inotify: Int32) -> Bool {
        places.reduce(false) { watched, place in CLinux_inotify_watch_entries(inotify, place.path) >= 0 || watched }
    }

    /// Whether inotify's events name one of the entries that lead to the file.
    func isMentioned(in events: [InotifyEvent]) -> Bool {
        // IN_Q_OVERFLOW: events were lost, and ours may have been among them.
        events.contains { event in
            event.mask & CLinux_IN_Q_OVERFLOW != 0 || places.contains { $0.entry == event.name }
        }
    }
}
