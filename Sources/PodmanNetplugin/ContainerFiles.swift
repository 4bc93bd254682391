import Glibc
import PastaCore

/// Name resolution inside the container for pasta's addresses, as Podman sets it up for `--network pasta`:
/// `host.containers.internal` in /etc/hosts and pasta's DNS forwarder in /etc/resolv.conf.
public enum ContainerFiles {
    public static let hostName = "host.containers.internal"
    static let maxFileBytes = 1 << 20

    /// The hosts file with `host.containers.internal` naming `address`, or nil when it needs no change.
    /// Podman 4 points the name at the host's own address, which pasta copies into the container, so there
    /// it names the container itself: an entry whose address `isLocal` (an address of the host) is
    /// pointed at `address` instead. An entry for another address (`--add-host`) is the user's and stays.
    public static func hostsWithHostEntry(_ text: String, address: IPAddress, isLocal: (IPAddress) -> Bool) -> String? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        var named = false
        var changed = false
        for (index, line) in lines.enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.dropFirst().contains(where: { $0.lowercased() == hostName }) else { continue }
            named = true
            guard let current = IPAddress(String(fields[0])), current != address, isLocal(current) else { continue }
            lines[index] = "\(address)\t" + fields.dropFirst().joined(separator: " ")
            changed = true
        }
        if !named {
            lines.append("\(address)\t\(hostName)")
            changed = true
        }
        return changed ? lines.joined(separator: "\n") + "\n" : nil
    }

    /// Is `address` one of this host's own? Binding a socket to it succeeds only then.
    public static func isHostAddress(_ address: IPAddress) -> Bool {
        switch address {
        case .v4(let a):
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_addr.s_addr = a.value.bigEndian
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        case .v6(let a):
            let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &socketAddress.sin6_addr) { $0.copyBytes(from: a.bytes) }
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0 }
            }
        }
    }

    /// resolv.conf naming only `server`: `nameserver` lines go, `search`, `options` and comments stay.
    public static func resolvConfNaming(_ server: IPv4Address, replacing text: String) -> String {
        var kept: [Substring] = []
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            let keyword = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            if keyword != "nameserver" { kept.append(line) }
        }
        return (["nameserver \(server)"] + kept).joined(separator: "\n") + "\n"
    }

    /// Makes `host.containers.internal` in the hosts file Podman bind-mounts at /etc/hosts name `address`.
    /// The file is rewritten in place, not replaced: the bind mount holds its inode. Without such a
    /// mount (`--no-hosts`), the image's own file is left alone, as that option asks.
    public static func pointHostEntry(config: BundleConfig, address: IPAddress) throws {
        guard let source = config.bindMounts["/etc/hosts"] else { return }
        let fd = open(source, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw HookError("can't open the container's hosts file \(source): \(errnoText())") }
        defer { close(fd) }
        let current = String(decoding: try readAll(fd, what: source), as: UTF8.self)
        guard let text = hostsWithHostEntry(current, address: address, isLocal: isHostAddress) else { return }
        guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
            throw HookError("can't rewrite \(source): \(errnoText())")
        }
        try writeAll(fd, Array(text.utf8), what: source)
    }

    /// Points the container's resolv.conf at pasta's DNS forwarder when Podman mounts none there (it never
    /// does with `--network none`). The file is written in the container's own root file system, and no
    /// symbolic link in it is followed: an image's `/etc/resolv.conf -> /run/...` link is replaced by a file.
    public static func pointResolverAtForwarder(config: BundleConfig, server: IPv4Address) throws {
        if config.bindMounts["/etc/resolv.conf"] != nil { return }
        let root = open(config.rootPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard root >= 0 else { throw HookError("can't open the container's root \(config.rootPath): \(errnoText())") }
        defer { close(root) }
        if mkdirat(root, "etc", 0o755) != 0 && errno != EEXIST {
            throw HookError("can't create /etc in the container: \(errnoText())")
        }
        let etc = openat(root, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard etc >= 0 else { throw HookError("can't open /etc in the container: \(errnoText())") }
        defer { close(etc) }
        var current: [UInt8] = []
        let existing = openat(etc, "resolv.conf", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if existing >= 0 {
            defer { close(existing) }
            var info = stat()
            if fstat(existing, &info) == 0, info.st_mode & S_IFMT == S_IFREG {
                current = try readAll(existing, what: "/etc/resolv.conf")
            }
        } else if errno == ELOOP {
            guard unlinkat(etc, "resolv.conf", 0) == 0 else {
                throw HookError("can't replace the link /etc/resolv.conf in the container: \(errnoText())")
            }
        }
        let text = resolvConfNaming(server, replacing: String(decoding: current, as: UTF8.self))
        let fd = openat(etc, "resolv.conf", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HookError("can't write /etc/resolv.conf in the container: \(errnoText())") }
        defer { close(fd) }
        try writeAll(fd, Array(text.utf8), what: "/etc/resolv.conf")
    }

    static func readAll(_ fd: Int32, what: String, limit: Int = maxFileBytes) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw HookError("can't read \(what): \(errnoText())") }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
            guard bytes.count <= limit else { throw HookError("\(what) is larger than \(limit) bytes") }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw HookError("can't write \(what): \(errnoText())") }
            offset += n
        }
    }
}

func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
