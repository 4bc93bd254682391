import XCTest
@testable import kata_passt_endpoint

/// The parsers of what kata-passt-endpoint reads from others: PID files, /proc/PID/stat and cmdline,
/// its command line and passt's options. Each gets the malformed input a crash, a stranger or a typo
/// could leave.
final class UntrustedInputTests: XCTestCase {
    private func pid(_ text: String) -> Int32? {
        try? PidFileContents.parse(Array(text.utf8)).get()
    }

    func testPidFileAcceptsWhatPasstWrites() {
        XCTAssertEqual(pid("1234\n"), 1234)
        XCTAssertEqual(pid("1"), 1)
        XCTAssertEqual(pid("4194304\r\n "), 4_194_304)
    }

    func testPidFileRefusesEverythingElse() {
        for text in ["", "\n", "   ", "abc", "-1", "0", "00", "0042", " 42", "+42", "42abc", "12 34", "1234\n5678",
                     "4194305", "9999999", "99999999999999999999", "١٢٣", "42\u{0}", "\u{0}42", "0x2a"] {
            XCTAssertNil(pid(text), "PID file '\(text.debugDescription)' was accepted")
        }
        XCTAssertNil(try? PidFileContents.parse([0xff, 0xfe, 0x31]).get())
    }

    func testStatStateFollowsTheLastParenthesis() {
        XCTAssertEqual(ProcFiles.state(fromStat: Array("42 (passt) S 1 42 42 0".utf8)), "S")
        XCTAssertEqual(ProcFiles.state(fromStat: Array("42 (x) Z (y) S 1 42".utf8)), "S")
        XCTAssertEqual(ProcFiles.state(fromStat: Array("42 (a b) Z 1".utf8)), "Z")
    }

    func testStatStateOfTruncatedOrGarbledLinesIsUnknown() {
        for text in ["", "42", "42 (passt", "42 (passt)", "42 (passt) ", "42 (passt)S", "42 (passt) 1 2", ")"] {
            XCTAssertNil(ProcFiles.state(fromStat: Array(text.utf8)), "stat '\(text)' gave a state")
        }
        XCTAssertNil(ProcFiles.state(fromStat: [0x29, 0x20, 0xff]))
    }

    func testCmdlineArguments() {
        XCTAssertEqual(ProcFiles.arguments(fromCmdline: Array("passt\0-P\0/tmp/a.pid\0".utf8)), ["passt", "-P", "/tmp/a.pid"])
        XCTAssertEqual(ProcFiles.arguments(fromCmdline: []), [])
        XCTAssertEqual(ProcFiles.arguments(fromCmdline: [0]), [""])
        XCTAssertEqual(ProcFiles.arguments(fromCmdline: Array("no terminator".utf8)), ["no terminator"])
        XCTAssertEqual(ProcFiles.arguments(fromCmdline: [0x61, 0xff, 0]), ["a\u{FFFD}"])
    }

    func testCommandLineMustNameTheEndpointsFiles() {
        let ours = ["passt", "-P", "/tmp/kata-passt-3.pid", "-s", "/tmp/kata-passt-3.socket"]
        XCTAssertTrue(PasstIdentity.sets(ours, short: "P", long: ["pid"], to: "/tmp/kata-passt-3.pid"))
        XCTAssertTrue(PasstIdentity.sets(["passt", "--pid=/x"], short: "P", long: ["pid"], to: "/x"))
        XCTAssertTrue(PasstIdentity.sets(["passt", "-P/x"], short: "P", long: ["pid"], to: "/x"))
        XCTAssertFalse(PasstIdentity.sets(ours, short: "P", long: ["pid"], to: "/tmp/kata-passt-30.pid"))
        XCTAssertFalse(PasstIdentity.sets(["passt", "-P"], short: "P", long: ["pid"], to: "/x"))
        XCTAssertFalse(PasstIdentity.sets(["passt", "/x", "-P"], short: "P", long: ["pid"], to: "/x"))
    }

    func testIndexBounds() {
        XCTAssertEqual(try? Invocation.parseIndex("0"), 0)
        XCTAssertEqual(try? Invocation.parseIndex("65535"), 65535)
        for text in ["", "-1", "+1", "65536", "99999999999999999999", "1e3", "0x10", " 1", "١"] {
            XCTAssertNil(try? Invocation.parseIndex(text), "--index '\(text)' was accepted")
        }
    }

    func testCommandLines() throws {
        let attach = try XCTUnwrap(try Invocation.parse(["attach", "--index=4", "--dir", "/run", "--replace", "--", "-t", "80"]))
        XCTAssertEqual(attach.index, 4)
        XCTAssertEqual(attach.directory, "/run")
        XCTAssertTrue(attach.replace)
        XCTAssertEqual(attach.passtOptions, ["-t", "80"])
        XCTAssertNil(try Invocation.parse(["--help"]))
        for arguments in [[], ["attach"], ["attach", "--index"], ["detach", "--index", "1", "--mac", "52:54:00:00:00:01"],
                          ["status", "--index", "1", "--", "-q"], ["attach", "--index", "1", "--dir", ""],
                          ["attach", "--index", "1", "--timeout", "601"], ["attach", "--index", "1", "--replace=yes"]] {
            XCTAssertThrowsError(try Invocation.parse(arguments), "\(arguments) was accepted")
        }
    }

    func testMACAddresses() {
        XCTAssertEqual(MACAddress("52:54:00:AB:cd:01")?.text, "52:54:00:ab:cd:01")
        XCTAssertEqual(MACAddress(defaultFor: 0x1234).text, "52:54:00:4b:12:34")
        for text in ["", "52:54:00:12:34", "52:54:00:12:34:56:78", "01:00:5e:00:00:01", "00:00:00:00:00:00",
                     "+2:54:00:12:34:56", "5:54:00:12:34:56", "052:54:00:12:34:5", "zz:54:00:12:34:56", "52-54-00-12-34-56"] {
            XCTAssertNil(MACAddress(text), "MAC '\(text)' was accepted")
        }
    }

    func testPasstOptionsThatWouldUndoAttach() {
        for options in [["-f"], ["-qf"], ["-1"], ["-P", "x"], ["-Px"], ["-s", "x"], ["--socket=x"], ["--socket-path", "x"],
                        ["--fd", "3"], ["-F3"], ["--fore"], ["--one"], ["--pid=x"], ["-q", "-f"]] {
            XCTAssertNotNil(PasstOptionConflicts.find(in: options), "\(options) was not refused")
        }
        for options in [["-t", "1"], ["-t1"], ["-qt", "-1"], ["-m", "1500"], ["--mtu", "1500"], ["-l", "/x/f.log"],
                        ["--pcap", "/x"], ["-t", "80", "--", "-f"], []] {
            XCTAssertNil(PasstOptionConflicts.find(in: options), "\(options) was refused")
        }
    }

    func testJSONEscapesControlCharacters() {
        XCTAssertEqual(JSON.string("a\"b\\c\n\u{1}\u{7f}é").serialized, #""a\"b\\c\n\u0001\u007fé""#)
        XCTAssertEqual(JSON.object([("k", .array([.int(-1), .bool(true), .null]))]).serialized, #"{"k":[-1,true,null]}"#)
    }

    func testQemuArgumentsDoubleCommas() throws {
        let paths = try EndpointPaths(index: 2, directory: "/")
        XCTAssertEqual(paths.socket, "/kata-passt-2.socket")
        XCTAssertEqual(paths.qemuArguments(mac: MACAddress(defaultFor: 2))[1],
                       "stream,id=kata-passt-2,server=off,addr.type=unix,addr.path=/kata-passt-2.socket")
        XCTAssertEqual("/a,b/c".doubling(","), "/a,,b/c")
    }
}
