import XCTest
@testable import PastaCore

final class CommandLineParserTests: XCTestCase {
    private let parser = CommandLineParser(program: "pasta", definitions: OptionTable.all)

    private func values(_ arguments: [String]) throws -> [String] {
        try parser.parse(arguments).options.map { "\($0.definition.long)=\($0.value ?? "")" }
    }

    func testLongOptionValueForms() throws {
        XCTAssertEqual(try values(["--pcap=/tmp/a", "--pid", "/tmp/b"]), ["pcap=/tmp/a", "pid=/tmp/b"])
        XCTAssertEqual(try values(["--pcap="]), ["pcap="])
    }

    func testShortOptionValueForms() throws {
        XCTAssertEqual(try values(["-t80", "-t", "90"]), ["tcp-ports=80", "tcp-ports=90"])
    }

    func testGroupedShortFlagsWithTrailingValue() throws {
        XCTAssertEqual(try values(["-fqt", "22"]), ["foreground=", "quiet=", "tcp-ports=22"])
        XCTAssertEqual(try values(["-fqt22"]), ["foreground=", "quiet=", "tcp-ports=22"])
    }

    func testDoubleDashEndsOptions() throws {
        let result = try parser.parse(["-f", "--", "-q", "x"])
        XCTAssertEqual(result.options.count, 1)
        XCTAssertEqual(result.positionals, ["-q", "x"])
        XCTAssertTrue(result.sawDoubleDash)
    }

    func testFirstNonOptionEndsOptions() throws {
        let result = try parser.parse(["-f", "ip", "-j", "addr"])
        XCTAssertEqual(result.options.count, 1)
        XCTAssertEqual(result.positionals, ["ip", "-j", "addr"])
        XCTAssertFalse(result.sawDoubleDash)
    }

    func testUniqueAbbreviationsAreAccepted() throws {
        XCTAssertEqual(try values(["--config"]), ["config-net="])
        XCTAssertEqual(try values(["--foreg"]), ["foreground="])
    }

    func testErrorsUseGetoptWording() {
        func message(_ args: [String]) -> String {
            do {
                _ = try parser.parse(args)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message(["--foo"]), "unrecognized option '--foo'")
        XCTAssertEqual(message(["--foo=1"]), "unrecognized option '--foo'")
        XCTAssertEqual(message(["-z"]), "invalid option -- 'z'")
        XCTAssertEqual(message(["--pcap"]), "option '--pcap' requires an argument")
        XCTAssertEqual(message(["-p"]), "option requires an argument -- 'p'")
        XCTAssertEqual(message(["--debug=yes"]), "option '--debug' doesn't allow an argument")
        XCTAssertTrue(message(["--no"]).hasPrefix("option '--no' is ambiguous"))
    }
}
