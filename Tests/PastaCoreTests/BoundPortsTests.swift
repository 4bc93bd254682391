import XCTest
@testable import PastaCore

final class BoundPortsTests: XCTestCase {
    private let tcp = """
          sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
           0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
           1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0
           2: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1

        """
    private let tcp6 = """
          sl  local_address                         remote_address                        st tx_queue rx_queue
           0: 00000000000000000000000001000000:1451 00000000000000000000000000000000:0000 0A 00000000:00000000
           1: 00000000000000000000000001000000:C000 00000000000000000000000001000000:1451 06 00000000:00000000

        """

    private func parse(_ text: String, state: UInt8) -> Set<UInt16> {
        var ports = Set<UInt16>()
        Array(text.utf8).withUnsafeBytes { BoundPorts.parse($0, state: state, into: &ports) }
        return ports
    }

    func testListeningPortsOnly() {
        XCTAssertEqual(parse(tcp, state: BoundPorts.tcpListening), [8080, 22])
        XCTAssertEqual(parse(tcp6, state: BoundPorts.tcpListening), [5201])
        XCTAssertEqual(parse(tcp, state: 0x01), [0xA1B2])
    }

    func testUDPBoundState() {
        let udp = """
           sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
          1: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5 2 0 0
          2: 0100007F:0035 0100007F:9999 01 00000000:00000000 00:00000000 00000000     0        0 6 2 0 0
        """
        XCTAssertEqual(parse(udp, state: BoundPorts.udpBound), [5353])
    }

    func testMalformedLinesAreSkipped() {
        let bad = """
        header
           0: 0100007F:1F90 00000000:0000 0A
           1: 0100007F: 00000000:0000 0A
           2: 0100007F:10000 00000000:0000 0A
           3: 0100007G:0050 00000000:0000 0A
           4: :0050 00000000:0000 0A
           5: 0100007F:0000 00000000:0000 0A
           6: 0100007F:0051 00000000:0000 0AX
           7: 0100007F:0052
           8: 0100007F:0053 00000000:0000 0A
        """
        XCTAssertEqual(parse(bad, state: BoundPorts.tcpListening), [8080, 0x53])
        XCTAssertEqual(parse("", state: BoundPorts.tcpListening), [])
        XCTAssertEqual(parse("no newline at all 0100007F:1F90 0A", state: BoundPorts.tcpListening), [])
    }

    func testRandomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let sample = Array(tcp.utf8)
        for _ in 0..<5000 {
            var bytes = sample
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            let cut = Int.random(in: 0...bytes.count, using: &generator)
            var ports = Set<UInt16>()
            bytes[0..<cut].withUnsafeBytes { BoundPorts.parse($0, state: BoundPorts.tcpListening, into: &ports) }
            XCTAssertTrue(ports.allSatisfy { $0 > 0 })
        }
    }
}
