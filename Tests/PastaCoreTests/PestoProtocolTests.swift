import XCTest
@testable import PastaCore

final class PestoProtocolTests: XCTestCase {
    private let podman = [
        ForwardingRule(.tcp, address: IPAddress("0.0.0.0"), ports: 18080...18080, targetFirst: 80,
                       targetAddress: IPAddress("10.88.0.5")),
        ForwardingRule(.tcp, address: IPAddress("::"), ports: 18080...18080, targetFirst: 80,
                       targetAddress: IPAddress("fd00::5")),
        ForwardingRule(.udp, interface: "eth0", ports: 53...54, weak: true),
    ]

    private func read(_ bytes: [UInt8]) -> PestoUpdateReader.State {
        var reader = PestoUpdateReader()
        _ = bytes.withUnsafeBytes { reader.feed($0) }
        return reader.finish()
    }

    func testHelloBytes() {
        XCTAssertEqual(PestoProtocol.hello, Array("basil:s".utf8) + [0, 0, 0, 0, 2, 0, 0, 0, 128, 0, 0, 0, 16])
    }

    func testRuleLayout() {
        var bytes: [UInt8] = []
        PestoProtocol.encode(podman[0], into: &bytes)
        XCTAssertEqual(bytes.count, 56)
        XCTAssertEqual(Array(bytes[0..<16]), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0])
        XCTAssertEqual(Array(bytes[16..<32]), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 10, 88, 0, 5])
        XCTAssertEqual(Array(bytes[32..<48]), [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(Array(bytes[48..<56]), [0x46, 0xA0, 0x46, 0xA0, 0, 80, 6, 0])
        bytes = []
        PestoProtocol.encode(ForwardingRule(.udp, interface: "lo", ports: 1...65535, scan: true), into: &bytes)
        XCTAssertEqual(Array(bytes[0..<16]), [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(Array(bytes[32..<35]), [UInt8(ascii: "l"), UInt8(ascii: "o"), 0])
        XCTAssertEqual(Array(bytes[48..<56]), [0, 1, 0xFF, 0xFF, 0, 1, 17, 1 | 4])
    }

    func testDumpRoundTrip() throws {
        let tables = [ForwardingTable(.host, rules: podman), ForwardingTable(.splice)]
        let caps: ForwardingCapabilities = [.ipv4, .tcp, .scan]
        let bytes = PestoProtocol.hello + PestoProtocol.dump(tables, capabilities: caps)
        XCTAssertEqual(bytes.count, 20 + (1 + 136 + 3 * 56) + (1 + 136) + 1)
        XCTAssertEqual(bytes[20], 1)
        XCTAssertEqual(Array(bytes[21..<25]), Array("HOST".utf8))
        XCTAssertEqual(Array(bytes[149..<157]), [0, 0, 0, 1 | 4 | 16, 0, 0, 0, 3])
        let greeting = try XCTUnwrap(PestoServerGreeting.parse(bytes + [9, 9]))
        XCTAssertEqual(greeting.size, bytes.count)
        XCTAssertEqual(greeting.tables.map(\.table), tables)
        XCTAssertEqual(greeting.tables.map(\.name), ["HOST", "SPLICE"])
        XCTAssertEqual(greeting.tables.first?.capabilities, caps)
        for cut in 0..<bytes.count { XCTAssertNil(try PestoServerGreeting.parse(Array(bytes[0..<cut])), "cut at \(cut)") }
        var other = bytes
        other[4] = UInt8(ascii: "x")
        XCTAssertThrowsError(try PestoServerGreeting.parse(other))
        other = bytes
        other[11] = 3  // version 3
        XCTAssertThrowsError(try PestoServerGreeting.parse(other))
        other = bytes
        other[15] = 64  // another name size
        XCTAssertThrowsError(try PestoServerGreeting.parse(other))
    }

    func testUpdateRoundTripInAnyPieces() {
        let tables = [ForwardingTable(.host, rules: podman), ForwardingTable(.splice, rules: [ForwardingRule(.tcp, ports: 5...5)])]
        let bytes = PestoProtocol.update(tables)
        XCTAssertEqual(read(bytes), .complete(tables))
        var reader = PestoUpdateReader()
        for byte in bytes { _ = [byte].withUnsafeBytes { reader.feed($0) } }
        XCTAssertEqual(reader.state, .complete(tables))
        XCTAssertEqual(read(PestoProtocol.update([])), .complete([]))
        XCTAssertEqual(read([]), .complete([]))  // a client that only looked
    }

    func testEveryTruncationIsRejected() {
        let bytes = PestoProtocol.update([ForwardingTable(.host, rules: podman)])
        for cut in 1..<bytes.count {
            guard case .malformed = read(Array(bytes[0..<cut])) else { return XCTFail("cut at \(cut) accepted") }
        }
    }

    func testMalformedUpdatesAreRejected() {
        let valid = PestoProtocol.update([ForwardingTable(.host, rules: [podman[0]])])
        var cases: [String: [UInt8]] = [:]
        cases["count 256"] = [1, 0, 0, 1, 0] + [UInt8](repeating: 0, count: 256 * 56) + [0]
        cases["count 2^32-1"] = [1, 0xFF, 0xFF, 0xFF, 0xFF, 0]
        cases["pif 9"] = [9, 0, 0, 0, 0, 0]
        cases["pif 4"] = [4, 0, 0, 0, 0, 0]
        cases["pif twice"] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
        var noNul = valid
        for i in 37..<53 { noNul[i] = UInt8(ascii: "a") }
        cases["ifname without NUL"] = noNul
        var badName = valid
        badName[37] = UInt8(ascii: "/")
        cases["ifname with /"] = badName
        var proto = valid
        proto[5 + 54] = 1
        cases["proto 1"] = proto
        var flags = valid
        flags[5 + 55] = 8
        cases["flag 8"] = flags
        var dual = valid
        dual[5 + 55] = 1  // dual-stack with 0.0.0.0 (mapped) as address
        cases["dual-stack with an address"] = dual
        var reversed = valid
        reversed[5 + 48] = 0xFF
        cases["first > last"] = reversed
        cases["trailing bytes"] = valid + [0]
        cases["no terminator"] = Array(valid.dropLast())
        for (name, bytes) in cases {
            guard case .malformed(let reason) = read(bytes) else { XCTFail("\(name) accepted"); continue }
            XCTAssertFalse(reason.isEmpty)
        }
    }

    func testRandomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let count = Int.random(in: 0...400, using: &generator)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if !bytes.isEmpty { bytes[0] = [0, 1, 2, 3][Int.random(in: 0...3, using: &generator)] }
            _ = read(bytes)
            _ = try? PestoServerGreeting.parse(PestoProtocol.hello + bytes)
        }
    }
}
