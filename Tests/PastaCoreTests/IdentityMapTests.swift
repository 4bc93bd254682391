import XCTest
@testable import PastaCore

final class IdentityMapTests: XCTestCase {
    func testRangesOfTheMapsUsersMeet() throws {
        // The host's own namespace, `unshare -r` as an ordinary user, and rootless Podman's.
        let host = try XCTUnwrap(IdentityMap.insideRanges("         0          0 4294967295\n"))
        XCTAssertEqual(host.map { [$0.first, $0.count] }, [[0, 4_294_967_295]])
        let single = try XCTUnwrap(IdentityMap.insideRanges("         0       1000          1\n"))
        XCTAssertEqual(single.map { [$0.first, $0.count] }, [[0, 1]])
        let podman = try XCTUnwrap(IdentityMap.insideRanges("0 1000 1\n1 100000 65536\n"))
        XCTAssertEqual(podman.map { [$0.first, $0.count] }, [[0, 1], [1, 65536]])
        XCTAssertEqual(IdentityMap.insideRanges("")?.count, 0, "an empty map (nothing written yet) has no IDs")
    }

    func testMalformedMapsAreRejected() {
        for text in ["0 0", "0 0 0\n", "a 0 1", "0 0 1 2", "4294967295 0 2", "-1 0 1", "0 0 4294967296",
                     String(repeating: "0 0 1\n", count: 341), "0\u{0} 0 1", "1 2 3\n\n4 5"] {
            XCTAssertNil(IdentityMap.insideRanges(text), text)
        }
    }

    func testRandomBytesNeverTrap() {
        var random = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let length = Int.random(in: 0...64, using: &random)
            let bytes = (0..<length).map { _ in ["0", "1", "9", " ", "\n", "\t", "-", "x"].randomElement(using: &random)! }
            _ = IdentityMap.insideRanges(bytes.joined())
        }
    }
}
