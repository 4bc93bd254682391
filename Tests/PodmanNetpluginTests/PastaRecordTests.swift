import XCTest
import Glibc
@testable import PodmanNetplugin

final class PastaRecordTests: XCTestCase {
    func testRecordRoundTrip() throws {
        let record = PastaRecord(pasta: ProcessIdentity(pid: 10, startTime: 20), target: ProcessIdentity(pid: 30, startTime: 40))
        XCTAssertEqual(record.text, "10 20 30 40\n")
        XCTAssertEqual(try PastaRecord(parsing: record.text), record)
    }

    func testBadRecords() {
        for text in ["", "1 2 3", "1 2 3 4 5", "0 2 3 4", "-1 2 3 4", "a b c d", "1 2 3 99999999999999999999",
                     String(repeating: "1 ", count: 100)] {
            XCTAssertThrowsError(try PastaRecord(parsing: text), text)
        }
    }

    func testStatWithAwkwardCommandName() {
        let stat = "77 (a) b) (c) S 1 77 77 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 100"
        XCTAssertEqual(ProcessIdentity.parseStat(stat)?.state, "S")
        XCTAssertEqual(ProcessIdentity.parseStat(stat)?.startTime, 123456)
        XCTAssertNil(ProcessIdentity.parseStat("77 (x) S 1"))
    }

    func testOwnProcessIsRunningButNotAPasta() throws {
        let me = try XCTUnwrap(ProcessIdentity.current(getpid()))
        XCTAssertTrue(me.isRunning)
        XCTAssertFalse(ProcessIdentity(pid: me.pid, startTime: me.startTime + 1).isRunning, "a reused PID is another process")
        XCTAssertFalse(PastaRecord(pasta: me, target: me).pastaIsOurs, "our command line names no --netns")
    }

    func testRunDirectoryDefaults() {
        XCTAssertEqual(RunDirectory.defaultPath(environment: [:], uidMap: "         0          0 4294967295\n", uid: 0),
                       "/run/podman-netplugin")
        // Rootless Podman: root inside its user namespace is the user outside.
        XCTAssertEqual(RunDirectory.defaultPath(environment: [:], uidMap: "0 1000 1\n1 100000 65536\n", uid: 0),
                       "/run/user/1000/podman-netplugin")
        XCTAssertEqual(RunDirectory.defaultPath(environment: ["XDG_RUNTIME_DIR": "/run/user/1000"], uidMap: "0 1000 1\n", uid: 0),
                       "/run/user/1000/podman-netplugin")
        XCTAssertEqual(RunDirectory.defaultPath(environment: [:], uidMap: nil, uid: 1001), "/run/user/1001/podman-netplugin")
    }

    func testRecordFiles() throws {
        let root = try temporaryDirectory()
        defer { _ = try? FileManagerless.removeTree(root) }
        let directory = RunDirectory(path: root + "/a/b")
        try directory.create()
        XCTAssertNil(try directory.readRecord(id: "c1"))
        let record = PastaRecord(pasta: ProcessIdentity(pid: 1, startTime: 2), target: ProcessIdentity(pid: 3, startTime: 4))
        try directory.writeRecord(record, id: "c1")
        XCTAssertEqual(try directory.readRecord(id: "c1"), record)
        directory.removeRecord(id: "c1")
        XCTAssertNil(try directory.readRecord(id: "c1"))
    }
}
