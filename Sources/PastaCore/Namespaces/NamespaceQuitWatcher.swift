import CLinux
import Glibc

/// Notices when the target namespace's file goes away. procfs, sysfs and devpts don't report
/// deletions through inotify, so there a 1 s timer re-opens the entry relative to a held directory;
/// elsewhere (tmpfs bind mounts in /run/netns) inotify IN_DELETE on the directory tells at once.
public final class NamespaceQuitWatcher {
    public enum Mechanism { case inotify, timer }

    public let mechanism: Mechanism
    public let descriptor: Descriptor
    private let directory: Descriptor
    private let entry: String
    private var timer: TimerDescriptor?

    public init(path: String) throws {
        let slash = path.lastIndex(of: "/")
        let directoryPath = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        entry = slash.map { String(path[path.index(after: $0)...]) } ?? path
        do {
            directory = try Descriptor.open(directoryPath, CLinux_O_PATH | CLinux_O_DIRECTORY)
        } catch let error as SystemError {
            throw OptionError("can't watch \(directoryPath) for namespace deletion: \(String(cString: strerror(error.code)))")
        }
        let filesystem = CLinux_fstatfs_type(directory.raw)
        let pseudo = [CLinux_PROC_SUPER_MAGIC, CLinux_SYSFS_MAGIC, CLinux_DEVPTS_SUPER_MAGIC].contains(filesystem)
        if !pseudo, let watch = NamespaceQuitWatcher.inotifyWatch(directoryPath) {
            mechanism = .inotify
            descriptor = watch
        } else {
            mechanism = .timer
            let timer = try TimerDescriptor(intervalMilliseconds: 1000)
            self.timer = timer
            descriptor = timer.descriptor
        }
        logDebug("watching \(path) for deletion with \(mechanism == .inotify ? "inotify" : "a 1 s timer")")
    }

    private static func inotifyWatch(_ directory: String) -> Descriptor? {
        let fd = CLinux_inotify_init()
        guard fd >= 0 else { return nil }
        let descriptor = Descriptor(fd)
        guard CLinux_inotify_watch_delete(fd, directory) >= 0 else { return nil }
        return descriptor
    }

    /// True while the namespace entry can still be found (EACCES counts as present).
    public func entryExists() -> Bool {
        let fd = CLinux_openat(directory.raw, entry, CLinux_O_PATH | CLinux_O_CLOEXEC)
        if fd >= 0 {
            Glibc.close(fd)
            return true
        }
        return errno == EACCES
    }

    /// Handles readiness of `descriptor`; returns true when it is time to quit.
    public func namespaceGone() -> Bool {
        switch mechanism {
        case .timer:
            timer?.acknowledge()
            return !entryExists()
        case .inotify:
            var buffer = [UInt8](repeating: 0, count: 4096)
            var deleted = false
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(descriptor.raw, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                deleted = deleted || NamespaceQuitWatcher.events(in: buffer[0..<n], name: entry)
            }
            return deleted || !entryExists()
        }
    }

    /// Scans inotify events (struct inotify_event: wd, mask, cookie, len, name) for a deletion of `name`.
    static func events(in bytes: ArraySlice<UInt8>, name: String) -> Bool {
        InotifyEvent.parse(bytes).contains { event in
            event.mask & (CLinux_IN_DELETE | CLinux_IN_DELETE_SELF | CLinux_IN_IGNORED) != 0
                && (event.name == name || event.mask & CLinux_IN_DELETE == 0)
        }
    }
}
