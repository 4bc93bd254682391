import CLinux
import Glibc

/// Removes our socket files at exit. Once sandboxed we see no filesystem and, as `nobody`, may not
/// write to the directories anyway: a small process forked before the sandbox, holding only those
/// directories, a socket to us and the capabilities to unlink there, does it when we ask at exit. When
/// we are killed instead, it just exits, and the files stay as they would have (a stale passt socket is
/// taken over by the next passt). It is confined as well: its own short syscall list.
final class SocketJanitor {
    private let channel: Descriptor

    private init(channel: Descriptor) { self.channel = channel }

    /// Forks the janitor for `paths`; nil (and a warning) when it can't be had.
    static func start(removing paths: [String]) -> SocketJanitor? {
        var directories: [Int32] = []
        var names: [UnsafeMutablePointer<CChar>?] = []
        var inodes: [UInt64] = []
        defer { names.forEach { free($0) } }
        for path in paths {
            let slash = path.lastIndex(of: "/")
            let parent = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
            let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
            var status = stat()
            let fd = CLinux_open(parent, CLinux_O_PATH | CLinux_O_DIRECTORY | CLinux_O_CLOEXEC, 0)
            guard fd >= 0 else { continue }
            guard fstatat(fd, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
                Glibc.close(fd)
                continue
            }
            directories.append(fd)
            names.append(strdup(name))
            inodes.append(UInt64(status.st_ino))
        }
        defer { directories.forEach { Glibc.close($0) } }
        guard !directories.isEmpty else { return nil }
        let channel = HelperProcess.start(
            "socket janitor", socketType: Int32(SOCK_STREAM.rawValue), without: "socket files will stay at exit",
            child: { serve(channel: $0, directories: directories, names: names, inodes: inodes) })
        return channel.map(SocketJanitor.init)
    }

    /// In the janitor: the directories and its socket, only the capabilities that let it unlink in
    /// others' directories, then wait.
    private static func serve(channel: Int32, directories: [Int32], names: [UnsafeMutablePointer<CChar>?],
                              inodes: [UInt64]) -> Never {
        HelperProcess.detach(keeping: Set(directories + [channel]))
        let keep = UInt64(1) << UInt64(CLinux_CAP_DAC_OVERRIDE) | UInt64(1) << UInt64(CLinux_CAP_FOWNER)
        _ = CLinux_drop_capabilities(keep)
        _ = CLinux_set_dumpable(0)
        _ = CLinux_set_no_new_privileges()
        _ = CLinux_install_syscall_filter(CLinux_SYSCALLS_SOCKET_JANITOR)
        let namePointers = names.map { UnsafePointer($0) }
        directories.withUnsafeBufferPointer { dirs in
            namePointers.withUnsafeBufferPointer { namesBuffer in
                inodes.withUnsafeBufferPointer { inodesBuffer in
                    CLinux_socket_janitor_serve(channel, Int32(dirs.count), dirs.baseAddress,
                                                namesBuffer.baseAddress, inodesBuffer.baseAddress)
                }
            }
        }
        _exit(0)
    }

    /// Asks the janitor to remove the files now and waits until it has.
    func finish() {
        var byte: UInt8 = 1
        _ = Glibc.write(channel.raw, &byte, 1)
        while Glibc.read(channel.raw, &byte, 1) < 0 && errno == EINTR {}
        channel.close()
    }
}
