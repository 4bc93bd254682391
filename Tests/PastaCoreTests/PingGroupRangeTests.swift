import XCTest
@testable import PastaCore

/// The group range a namespace we create for a command gets for ping sockets, from our gid_map.
final class PingGroupRangeTests: XCTestCase {
    private func range(_ map: String) -> ClosedRange<Int>? { NamespaceNetworkSetup.pingGroupRange(gidMap: map) }

    func testARootlessMapOfOneGroupAllowsJustIt() {
        XCTAssertEqual(range("         0       1000          1\n"), 0...0)
    }

    func testSubordinateGroupsWidenTheRange() {
        XCTAssertEqual(range("0 1000 1\n1 100000 65536\n"), 0...65536)
        XCTAssertEqual(range("1000 1000 1\n0 100000 1000\n"), 0...1000, "lines in any order")
    }

    func testTheInitialNamespaceIsCappedAtTheLargestGroupPingTakes() {
        XCTAssertEqual(range("         0          0 4294967295\n"), 0...2_147_483_647)
    }

    func testEmptyOrMalformedMapsGiveNothing() {
        for map in ["", "\n", "0 1000\n", "0 1000 1 7\n", "x 1000 1\n", "0 -1 1\n", "0 1000 4294967296\n",
                    "-5 0 1\n", "0 0 0\n", "3000000000 0 5\n"] {
            XCTAssertNil(range(map), "accepted \(map.debugDescription)")
        }
    }

    func testRandomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789 \n-x".utf8)
        for _ in 0..<5000 {
            let bytes = (0..<Int.random(in: 0..<40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            if let found = range(String(decoding: bytes, as: UTF8.self)) {
                XCTAssertTrue(found.lowerBound >= 0 && found.upperBound <= 2_147_483_647)
            }
        }
    }
}
