import Glibc
import PastaCore

/// Where the hook keeps a PID record per container: `/run/podman-netplugin` for root, and for a rootless
/// Podman `$XDG_RUNTIME_DIR/podman-netplugin` (or `/run/user/UID/podman-netplugin`, UID being the user's
/// ID outside Podman's user namespace, in which the hook runs as root).
public struct RunDirectory {
    public let path: String

    public init(path: String) { self.path = path }

    public static func defaultPath(environment: [String: String], uidMap: String?, uid: uid_t = getuid()) -> String {
        let outside = uidMap.flatMap { outsideUID(of: uid, in: $0) } ?? uid
        if outside == 0 { return "/run/podman-netplugin" }
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") { return runtime + "/podman-netplugin" }
        return "/run/user/\(outside)/podman-netplugin"
    }

    /// `uid` seen from the initial user namespace, through /proc/self/uid_map lines `INSIDE OUTSIDE COUNT`.
    static func outsideUID(of uid: uid_t, in map: String) -> uid_t? {
        for line in map.split(separator: "\n") {
            let fields = line.split(separator: " ").compactMap { UInt64($0) }
            guard fields.count == 3 else { continue }
            if UInt64(uid) >= fields[0] && UInt64(uid) - fields[0] < fields[2] {
                return uid_t(truncatingIfNeeded: fields[1] + UInt64(uid) - fields[0])
            }
        }
        return nil
    }

    public func recordPath(id: String) -> String { "\(path)/\(id).pid" }
    /// Where pasta's own `--pid` file goes while it starts.
    public func pastaPIDPath(id: String) -> String { "\(path)/\(id).pasta-pid" }

    /// Creates the directory (and missing parents) for the current user only.
    public func create() throws {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw HookError("can't create the run directory \(prefix): \(errnoText())")
            }
        }
    }

    public func readRecord(id: String) throws -> PastaRecord? {
        let fd = open(recordPath(id: id), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 && errno == ENOENT { return nil }
        guard fd >= 0 else { throw HookError("can't open \(recordPath(id: id)): \(errnoText())") }
        defer { close(fd) }
        let bytes = try ContainerFiles.readAll(fd, what: recordPath(id: id))
        return try PastaRecord(parsing: String(decoding: bytes.prefix(256), as: UTF8.self))
    }

    /// Writes the record whole or not at all (a temporary file renamed over it).
    public func writeRecord(_ record: PastaRecord, id: String) throws {
        let temporary = recordPath(id: id) + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HookError("can't write \(temporary): \(errnoText())") }
        do {
            try ContainerFiles.writeAll(fd, Array(record.text.utf8), what: temporary)
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, recordPath(id: id)) == 0 else {
            let code = errno
            unlink(temporary)
            throw HookError("can't write \(recordPath(id: id)): \(errnoText(code))")
        }
    }

    /// The containers with a record here (none if the directory can't be read).
    public func recordIDs() -> [String] {
        guard let directory = opendir(path) else { return [] }
        defer { closedir(directory) }
        var ids: [String] = []
        while let entry = readdir(directory) {
            let name = entry.pointee.name
            if name.hasSuffix(".pid") && name.count > 4 { ids.append(String(name.dropLast(4))) }
        }
        return ids
    }

    public func removeRecord(id: String) {
        unlink(recordPath(id: id))
    }
}
