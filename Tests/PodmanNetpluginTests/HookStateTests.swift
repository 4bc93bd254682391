import XCTest
@testable import PodmanNetplugin

final class HookStateTests: XCTestCase {
    func testPodmanStateParses() throws {
        let state = try HookState(parsing: Array(Fixtures.state.utf8))
        XCTAssertEqual(state.id, Fixtures.containerID)
        XCTAssertEqual(state.shortID, "a243ad8d09ed")
        XCTAssertEqual(state.status, "creating")
        XCTAssertEqual(state.pid, 24555)
        XCTAssertEqual(state.bundle, "/tmp/podman/store/vfs-containers/\(Fixtures.containerID)/userdata")
        XCTAssertEqual(state.annotations["io.containers.pasta.options"], "--mtu 1500 -D 192.0.2.53")
        XCTAssertEqual(state.annotations.count, 5)
    }

    func testPoststopStateWithoutProcess() throws {
        let zero = try HookState(parsing: Array(#"{"ociVersion":"1.0.2","id":"c1","status":"stopped","pid":0,"bundle":"/b"}"#.utf8))
        XCTAssertNil(zero.pid)
        XCTAssertEqual(zero.annotations, [:])
        let absent = try HookState(parsing: Array(#"{"ociVersion":"1.0.2","id":"c1","status":"stopped","bundle":"/b","annotations":null}"#.utf8))
        XCTAssertNil(absent.pid)
    }

    func testEscapesAndUnicodeInAnnotations() throws {
        let text = #"{"ociVersion":"1","id":"c","status":"creating","pid":1,"bundle":"/b","annotations":{"k\u00e9y":"a\tb\"c\\\/\ud83d\ude00"}}"#
        let state = try HookState(parsing: Array(text.utf8))
        XCTAssertEqual(state.annotations["kéy"], "a\tb\"c\\/😀")
    }

    func testEveryTruncationIsRejected() {
        let bytes = Array(Fixtures.state.utf8)
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try HookState(parsing: Array(bytes[0..<length])), "prefix of \(length) bytes") { error in
                XCTAssertTrue(error is HookError)
            }
        }
    }

    func testTenThousandMutationsNeverTrap() {
        var rng = SeededGenerator(seed: 14)
        let valid = Array(Fixtures.state.utf8)
        var accepted = 0
        for _ in 0..<10_000 {
            let input = Mutations.mutate(valid, using: &rng)
            do {
                let state = try HookState(parsing: input)
                accepted += 1
                XCTAssertFalse(state.id.isEmpty)
                XCTAssertTrue(state.bundle.hasPrefix("/"))
            } catch {
                XCTAssertTrue(error is HookError, "\(error)")
            }
        }
        XCTAssertGreaterThan(accepted, 0, "some mutations (inside strings) keep the document valid")
    }

    func testDeepNestingIsRejectedWithoutRecursingFurther() {
        let deep = #"{"ociVersion":"1","id":"c","status":"s","bundle":"/b","x":"# + String(repeating: "[", count: 200_000)
        XCTAssertThrowsError(try HookState(parsing: Array(deep.utf8))) { error in
            XCTAssertTrue("\(error)".contains("nesting deeper than 16"), "\(error)")
        }
    }

    /// Each bad document with the message it gets.
    func testBadDocuments() {
        let base = #""ociVersion":"1","status":"creating","bundle":"/b""#
        let table: [(String, String)] = [
            ("", "unexpected end of document at byte 0"),
            ("[]", "not a JSON object"),
            ("null", "not a JSON object"),
            ("{\(base)}", "no \"id\""),
            ("{\(base),\"id\":7}", "\"id\" is not a string"),
            ("{\(base),\"id\":\"\"}", "container id '' is not 1 to 128"),
            ("{\(base),\"id\":\"../etc\"}", "container id '../etc' is not"),
            ("{\(base),\"id\":\"a/b\"}", "container id 'a/b' is not"),
            ("{\(base),\"id\":\"\(String(repeating: "a", count: 129))\"}", "is not 1 to 128"),
            (#"{"ociVersion":"1","id":"c","status":"s","bundle":"relative"}"#, "bundle 'relative' is not an absolute path"),
            (#"{"ociVersion":"1","id":"c","status":"s","bundle":"/a\u0000b"}"#, "bundle '/a\\x0b' is not an absolute path"),
            ("{\(base),\"id\":\"c\",\"pid\":-1}", "\"pid\" is not a process ID"),
            ("{\(base),\"id\":\"c\",\"pid\":4294967296}", "\"pid\" is not a process ID"),
            ("{\(base),\"id\":\"c\",\"pid\":1.5}", "\"pid\" is not a process ID"),
            ("{\(base),\"id\":\"c\",\"pid\":\"12\"}", "\"pid\" is not a process ID"),
            ("{\(base),\"id\":\"c\",\"annotations\":[]}", "\"annotations\" is not an object"),
            ("{\(base),\"id\":\"c\",\"annotations\":{\"a\":1}}", "annotation 'a' is not a string"),
            ("{\(base),\"id\":\"c\",\"id\":\"d\"}", "duplicate member 'id'"),
            ("{\(base),\"id\":\"c\"} x", "unexpected data after the document"),
            ("{\(base),\"id\":\"c\",}", "expected a member name"),
            ("{\(base),\"id\":\"c\"", "unterminated object"),
            ("{\(base),\"id\":\"c\u{01}\"}", "control character in string"),
            ("{\(base),\"id\":\"\\x\"}", "invalid escape"),
            ("{\(base),\"id\":\"\\ud800\"}", "unpaired surrogate"),
            ("{\(base),\"id\":\"c\",\"pid\":01}", "expected ',' or '}'"),
            ("{\(base),\"id\":\"c\",\"pid\":-}", "invalid number"),
            ("{\(base),\"id\":\"c\",\"x\":tru}", "invalid literal"),
            ("{'id':'c'}", "expected a member name"),
        ]
        for (document, expected) in table {
            XCTAssertThrowsError(try HookState(parsing: Array(document.utf8)), document) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(document): got '\(error)', expected '\(expected)'")
            }
        }
        XCTAssertGreaterThanOrEqual(table.count, 20)
    }

    func testInvalidUTF8AndOversizedDocuments() {
        var bytes = Array(#"{"ociVersion":"1","id":"c","status":"s","bundle":"/b","x":"#.utf8) + [0x22, 0xC3, 0x28, 0x22, 0x7D]
        XCTAssertThrowsError(try HookState(parsing: bytes)) { XCTAssertTrue("\($0)".contains("invalid UTF-8")) }
        bytes = [UInt8](repeating: 0x20, count: (1 << 20) + 1)
        XCTAssertThrowsError(try HookState(parsing: bytes)) { XCTAssertTrue("\($0)".contains("exceeds the limit")) }
    }
}
