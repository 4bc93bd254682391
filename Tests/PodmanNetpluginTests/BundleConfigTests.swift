import XCTest
@testable import PodmanNetplugin

final class BundleConfigTests: XCTestCase {
    func testRootAndBindMounts() throws {
        let config = try BundleConfig(parsing: Array(Fixtures.config.utf8), bundle: "/b")
        XCTAssertEqual(config.rootPath, "/tmp/podman/store/vfs/dir/6ce2dce7")
        XCTAssertEqual(config.bindMounts, ["/etc/hosts": "/tmp/podman/run/userdata/hosts",
                                           "/etc/hostname": "/tmp/podman/run/userdata/hostname"])
    }

    func testRelativeRootAndDestinationSpelling() throws {
        let text = #"{"root":{"path":"rootfs"},"mounts":[{"destination":"/etc//resolv.conf/","source":"/r","options":["rbind"]}]}"#
        let config = try BundleConfig(parsing: Array(text.utf8), bundle: "/bundle")
        XCTAssertEqual(config.rootPath, "/bundle/rootfs")
        XCTAssertEqual(config.bindMounts["/etc/resolv.conf"], "/r")
    }

    func testBadConfigs() {
        let table: [(String, String)] = [
            ("{}", "no root.path"),
            (#"{"root":{"path":""}}"#, "no root.path"),
            (#"{"root":"/r"}"#, "no root.path"),
            (#"{"root":{"path":"/r"},"mounts":{}}"#, "\"mounts\" is not an array"),
            (#"{"root":{"path":"/r"},"mounts":[}"#, "invalid config.json: unexpected character"),
        ]
        for (text, expected) in table {
            XCTAssertThrowsError(try BundleConfig(parsing: Array(text.utf8), bundle: "/b")) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(text): got '\(error)'")
            }
        }
    }

    func testTruncationsAndMutationsNeverTrap() {
        let valid = Array(Fixtures.config.utf8)
        for length in 0..<valid.count {
            XCTAssertThrowsError(try BundleConfig(parsing: Array(valid[0..<length]), bundle: "/b"))
        }
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<10_000 {
            do {
                _ = try BundleConfig(parsing: Mutations.mutate(valid, using: &rng), bundle: "/b")
            } catch {
                XCTAssertTrue(error is HookError, "\(error)")
            }
        }
    }
}
