import XCTest
@testable import PastaCore

final class SlotTableTests: XCTestCase {
    private final class Item {
        let index: Int
        let generation: UInt32
        init(_ index: Int, _ generation: UInt32) {
            self.index = index
            self.generation = generation
        }
    }

    func testFreedSlotsAreReusedWithANewGeneration() {
        let table = SlotTable<Item>(capacity: 2)
        let first = table.insert { Item($0, $1) }!
        let second = table.insert { Item($0, $1) }!
        XCTAssertEqual([first.index, second.index], [0, 1])
        XCTAssertNil(table.insert { Item($0, $1) }, "full at capacity")
        table.remove(at: 0)
        table.remove(at: 0)  // twice: no effect
        XCTAssertEqual(table.count, 1)
        let third = table.insert { Item($0, $1) }!
        XCTAssertEqual(third.index, 0)
        XCTAssertNotEqual(third.generation, first.generation)
        XCTAssertTrue(table[0] === third)
        XCTAssertNil(table[7])
        var seen = 0
        table.forEach { _ in seen += 1 }
        XCTAssertEqual(seen, 2)
    }

    func testGuestAddressesFollowWhatTheGuestSends() throws {
        let options = try Options.parse(["-a", "198.51.100.2", "-g", "198.51.100.1", "-a", "2001:db8:1::2"], mode: .pasta)
        let configuration = RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: ""))
        let guest = GuestAddresses(configuration)
        XCTAssertEqual(guest.address(like: .v4(.loopback)), IPAddress("198.51.100.2"))
        guest.observe(IPv4Address("198.51.100.7")!)
        guest.observe(IPv4Address.any)
        XCTAssertEqual(guest.address(like: .v4(.loopback)), IPAddress("198.51.100.7"))
        guest.observe(IPv6Address("fe80::1")!)
        XCTAssertEqual(guest.address(like: .v6(.loopback)), IPAddress("2001:db8:1::2"))
        guest.observe(IPv6Address("2001:db8:1::9")!)
        XCTAssertEqual(guest.address(like: .v6(.loopback)), IPAddress("2001:db8:1::9"))
    }
}
