import XCTest
@testable import PastaCore
@testable import Pesto

final class PestoInvocationTests: XCTestCase {
    private let rule80 = ForwardingRule(.tcp, ports: 18080...18080, targetFirst: 80)

    func testShowOnly() throws {
        let invocation = try PestoInvocation.parse(["/tmp/s"])
        XCTAssertEqual(invocation.path, "/tmp/s")
        XCTAssertEqual(invocation.edits, [])
    }

    func testPodmanCalls() throws {
        let add = try PestoInvocation.parse(["--add", "-t", "0.0.0.0/18080:10.88.0.5/80", "-t", "[::]/18080:[fd00::5]/80", "/run/s"])
        let v4 = ForwardingRule(.tcp, address: IPAddress("0.0.0.0"), ports: 18080...18080, targetFirst: 80,
                                targetAddress: IPAddress("10.88.0.5"))
        let v6 = ForwardingRule(.tcp, address: IPAddress("::"), ports: 18080...18080, targetFirst: 80,
                                targetAddress: IPAddress("fd00::5"))
        XCTAssertEqual(add.edits, [.add(.host, [v4]), .add(.host, [v6])])
        let tables = try add.edited([ForwardingTable(.host), ForwardingTable(.splice)])
        XCTAssertEqual(tables[0].rules, [v4, v6])
        XCTAssertEqual(try add.edited(tables), tables)  // adding again changes nothing
        let delete = try PestoInvocation.parse(["--delete", "-t", "0.0.0.0/18080:10.88.0.5/80", "-t", "[::]/18080:[fd00::5]/80", "/run/s"])
        XCTAssertEqual(try delete.edited(tables)[0].rules, [])
        XCTAssertThrowsError(try delete.edited([ForwardingTable(.host)]))  // not there
    }

    func testReplaceAddDeleteClearInOrder() throws {
        let existing = [ForwardingTable(.host, rules: [ForwardingRule(.tcp, ports: 22...22)]),
                        ForwardingTable(.splice, rules: [ForwardingRule(.udp, ports: 53...53)])]
        // The first -t replaces HOST, the second adds to it; SPLICE is untouched.
        let replace = try PestoInvocation.parse(["-t", "18080:80", "-u", "5353", "/s"])
        XCTAssertEqual(try replace.edited(existing),
                       [ForwardingTable(.host, rules: [rule80, ForwardingRule(.udp, ports: 5353...5353)]), existing[1]])
        let mixed = try PestoInvocation.parse(["-A", "-t", "18080:80", "-D", "-t", "22", "-C", "splice", "/s"])
        XCTAssertEqual(try mixed.edited(existing), [ForwardingTable(.host, rules: [rule80]), ForwardingTable(.splice)])
        // Options after PATH, as getopt_long allows.
        XCTAssertEqual(try PestoInvocation.parse(["/s", "-A", "-T", "8080"]).edits,
                       [.add(.splice, [ForwardingRule(.tcp, ports: 8080...8080)])])
        let none = try PestoInvocation.parse(["-t", "none", "/s"])
        XCTAssertEqual(try none.edited(existing), [ForwardingTable(.host), existing[1]])
    }

    func testRefusals() throws {
        XCTAssertThrowsError(try PestoInvocation.parse([]))
        XCTAssertThrowsError(try PestoInvocation.parse(["a", "b"]))
        XCTAssertThrowsError(try PestoInvocation.parse(["-C", "tap", "/s"]))
        XCTAssertThrowsError(try PestoInvocation.parse(["-t", "80-70", "/s"]))
        XCTAssertThrowsError(try PestoInvocation.parse(["-x", "/s"]))
        XCTAssertThrowsError(try PestoInvocation.parse(["-t"]))
        let overlap = try PestoInvocation.parse(["-A", "-t", "18080-18090", "/s"])
        XCTAssertThrowsError(try overlap.edited([ForwardingTable(.host, rules: [rule80])]))
        let splice = try PestoInvocation.parse(["-A", "-T", "80", "/s"])
        XCTAssertThrowsError(try splice.edited([ForwardingTable(.host)]))  // passt has no SPLICE table
        XCTAssertTrue(try PestoInvocation.parse(["--help"]).help)
    }
}
