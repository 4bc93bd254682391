import XCTest
import PastaCore
@testable import PodmanNetplugin

final class ContainerFilesTests: XCTestCase {
    let host = IPAddress("169.254.1.2")!

    func testHostEntryAddedWhenMissing() {
        let plain = "127.0.0.1\tlocalhost\n::1\tlocalhost\n"
        XCTAssertEqual(ContainerFiles.hostsWithHostEntry(plain, address: host, isLocal: { _ in false }),
                       plain + "169.254.1.2\thost.containers.internal\n")
        XCTAssertEqual(ContainerFiles.hostsWithHostEntry("127.0.0.1 localhost", address: host, isLocal: { _ in false }),
                       "127.0.0.1 localhost\n169.254.1.2\thost.containers.internal\n")
        XCTAssertNotNil(ContainerFiles.hostsWithHostEntry("# 10.0.0.1 host.containers.internal\n", address: host, isLocal: { _ in false }),
                        "a comment names nothing")
        XCTAssertNotNil(ContainerFiles.hostsWithHostEntry("host.containers.internal 10.0.0.1\n", address: host, isLocal: { _ in false }),
                        "a name in the address column names nothing")
    }

    /// Podman 4 writes the host's own address, which the container has too: it is pointed at ours.
    func testPodmansEntryForTheHostAddressIsRepointed() {
        let podmans = "127.0.0.1\tlocalhost\n198.51.100.2\thost.containers.internal\n127.0.0.1\tabc web\n"
        let local: (IPAddress) -> Bool = { $0 == IPAddress("198.51.100.2") }
        XCTAssertEqual(ContainerFiles.hostsWithHostEntry(podmans, address: host, isLocal: local),
                       "127.0.0.1\tlocalhost\n169.254.1.2\thost.containers.internal\n127.0.0.1\tabc web\n")
        XCTAssertNil(ContainerFiles.hostsWithHostEntry("169.254.1.2 HOST.containers.internal\n", address: host, isLocal: local),
                     "already ours")
        XCTAssertNil(ContainerFiles.hostsWithHostEntry("192.0.2.9 host.containers.internal\n", address: host, isLocal: local),
                     "--add-host of another address stays")
    }

    func testHostAddressesAreThoseWeCanBind() {
        XCTAssertTrue(ContainerFiles.isHostAddress(IPAddress("127.0.0.1")!))
        XCTAssertFalse(ContainerFiles.isHostAddress(IPAddress("192.0.2.254")!))
        XCTAssertFalse(ContainerFiles.isHostAddress(IPAddress("2001:db8::fe")!))
    }

    func testResolvConfKeepsSearchAndOptions() {
        let text = "# image\nnameserver 8.8.8.8\nsearch lab.example\noptions ndots:2\nnameserver\t1.1.1.1\n"
        XCTAssertEqual(ContainerFiles.resolvConfNaming(IPv4Address("169.254.1.1")!, replacing: text),
                       "nameserver 169.254.1.1\n# image\nsearch lab.example\noptions ndots:2\n")
        XCTAssertEqual(ContainerFiles.resolvConfNaming(IPv4Address("169.254.1.1")!, replacing: ""), "nameserver 169.254.1.1\n")
    }

    func testFilesInARootFileSystem() throws {
        let root = try temporaryDirectory()
        defer { _ = try? FileManagerless.removeTree(root) }
        let hosts = root + "/hosts"
        try write(hosts, "127.0.0.1 localhost\n127.0.0.1 host.containers.internal")  // no final newline
        mkdir(root + "/rootfs", 0o755)
        mkdir(root + "/rootfs/etc", 0o755)
        symlink("/etc/passwd", root + "/rootfs/etc/resolv.conf")  // must be replaced, never followed
        let config = BundleConfig(rootPath: root + "/rootfs", bindMounts: ["/etc/hosts": hosts])
        var before = stat()
        XCTAssertEqual(stat(hosts, &before), 0)
        try ContainerFiles.pointHostEntry(config: config, address: host)
        try ContainerFiles.pointHostEntry(config: config, address: host)
        XCTAssertEqual(try read(hosts), "127.0.0.1 localhost\n169.254.1.2\thost.containers.internal\n")
        var after = stat()
        XCTAssertEqual(stat(hosts, &after), 0)
        XCTAssertEqual(after.st_ino, before.st_ino, "rewritten in place: a bind mount holds the inode")
        try ContainerFiles.pointResolverAtForwarder(config: config, server: IPv4Address("169.254.1.1")!)
        XCTAssertEqual(try read(root + "/rootfs/etc/resolv.conf"), "nameserver 169.254.1.1\n")
        var info = stat()
        XCTAssertEqual(lstat(root + "/rootfs/etc/resolv.conf", &info), 0)
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFREG)

        // Podman's own resolv.conf mount is left alone.
        let mounted = BundleConfig(rootPath: root + "/none", bindMounts: ["/etc/resolv.conf": "/x"])
        XCTAssertNoThrow(try ContainerFiles.pointResolverAtForwarder(config: mounted, server: IPv4Address("169.254.1.1")!))
        // A root file system that isn't there is an error with the path.
        XCTAssertThrowsError(try ContainerFiles.pointResolverAtForwarder(
            config: BundleConfig(rootPath: root + "/none", bindMounts: [:]), server: IPv4Address("169.254.1.1")!)) {
            XCTAssertTrue("\($0)".contains("can't open the container's root \(root)/none"))
        }
    }
}
