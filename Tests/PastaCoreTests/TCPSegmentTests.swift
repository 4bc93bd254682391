import XCTest
@testable import PastaCore

final class TCPSegmentTests: XCTestCase {
    private func segment(flags: UInt8, sequence: UInt32 = 1000, ack: UInt32 = 0, options: [UInt8] = [],
                         payload: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = [0xC3, 0x50, 0x1F, 0x40]  // 50000 -> 8000
        bytes += withUnsafeBytes(of: sequence.bigEndian, Array.init) + withUnsafeBytes(of: ack.bigEndian, Array.init)
        bytes += [UInt8((20 + options.count) / 4) << 4, flags, 0xFF, 0xFF, 0, 0, 0, 0]
        return bytes + options + payload
    }

    func testSynOptionsAreRead() throws {
        let bytes = segment(flags: TCPFlags.syn, options: [2, 4, 0x05, 0xB4, 1, 3, 3, 7, 4, 2, 0, 0])
        let options = try bytes.withUnsafeBytes { try XCTUnwrap(TCPSegment($0)).synOptions }
        XCTAssertEqual(options.maximumSegmentSize, 1460)
        XCTAssertEqual(options.windowScale, 7)
    }

    func testSackPermittedIsRead() throws {
        let with = segment(flags: TCPFlags.syn, options: [2, 4, 0x05, 0xB4, 1, 1, 4, 2])
        XCTAssertTrue(try with.withUnsafeBytes { try XCTUnwrap(TCPSegment($0)).synOptions.sackPermitted })
        let without = segment(flags: TCPFlags.syn, options: [2, 4, 0x05, 0xB4])
        XCTAssertFalse(try without.withUnsafeBytes { try XCTUnwrap(TCPSegment($0)).synOptions.sackPermitted })
    }

    /// SACK blocks (RFC 2018 section 3): those above the acknowledgment, lowest first, at most four, with
    /// blocks at or below the acknowledgment (D-SACK), reversed or cut short left out.
    func testSACKBlocksAboveTheAcknowledgment() throws {
        func option(_ pairs: [(UInt32, UInt32)], length: UInt8? = nil) -> [UInt8] {
            var option: [UInt8] = [1, 1, 5, length ?? UInt8(2 + 8 * pairs.count)]
            for (left, right) in pairs {
                option += withUnsafeBytes(of: left.bigEndian, Array.init) + withUnsafeBytes(of: right.bigEndian, Array.init)
            }
            return option
        }
        func blocks(_ options: [UInt8], above ack: UInt32) throws -> [[UInt32]] {
            let bytes = segment(flags: TCPFlags.ack, ack: ack, options: options)
            return try bytes.withUnsafeBytes { try XCTUnwrap(TCPSegment($0)).sackBlocks(above: ack) }.map { [$0.left, $0.right] }
        }
        XCTAssertEqual(try blocks(option([(5000, 6000), (3000, 4000)]), above: 2000), [[3000, 4000], [5000, 6000]])
        XCTAssertEqual(try blocks(option([(1000, 1500), (3000, 4000)]), above: 2000), [[3000, 4000]], "a D-SACK block below the ACK")
        XCTAssertEqual(try blocks(option([(4000, 3000)]), above: 2000), [], "a reversed block")
        XCTAssertEqual(try blocks(option([(3000, 4000)], length: 9), above: 2000), [], "a length that isn't 2 + 8n")
        XCTAssertEqual(try blocks(option([(3000, 4000), (5000, 6000)], length: 26), above: 2000), [],
                       "a length past the header")
        XCTAssertEqual(try blocks(option([(0x0000_0100, 0x0000_0200)]), above: 0xFFFF_FF00), [[0x100, 0x200]], "across the wrap")
        XCTAssertEqual(try blocks([1, 1, 1, 1], above: 2000), [])
        let four = option([(6000, 6100), (3000, 3100), (5000, 5100), (4000, 4100)])
        XCTAssertEqual(try blocks(four, above: 2000), [[3000, 3100], [4000, 4100], [5000, 5100], [6000, 6100]],
                       "four blocks, the most the option space holds, sorted")
    }

    func testMalformedOptionListsEndTheWalk() {
        for options: [UInt8] in [[2, 0, 0, 0], [2, 9, 0, 0], [3, 3, 200, 0], [1, 1, 1, 2], [8, 10, 0, 0, 0, 0, 0, 0]] {
            let bytes = segment(flags: TCPFlags.syn, options: options)
            bytes.withUnsafeBytes { raw in
                guard let parsed = TCPSegment(raw) else { return XCTFail("valid header length") }
                let found = parsed.synOptions
                XCTAssertTrue(found.windowScale.map { $0 <= 14 } ?? true, "window scale capped at 14")
            }
        }
    }

    func testHeaderLengthMustFitTheSegment() {
        var bytes = segment(flags: TCPFlags.ack)
        bytes[12] = 0x60  // 24 bytes claimed, 20 present
        bytes.withUnsafeBytes { XCTAssertNil(TCPSegment($0)) }
        bytes[12] = 0x40  // 16: below the minimum
        bytes.withUnsafeBytes { XCTAssertNil(TCPSegment($0)) }
        for length in 0..<20 {
            Array(segment(flags: TCPFlags.ack)[0..<length]).withUnsafeBytes { XCTAssertNil(TCPSegment($0)) }
        }
    }

    /// Frames for no known connection get a reset (RFC 9293 3.10.7.1), however mangled; nothing traps.
    /// SYNs are left out: one would make the flows connect a real socket, and unit tests send nothing.
    func testSegmentsForUnknownFlowsGetResetsAndNeverTrap() throws {
        let options = try Options.parse(["-a", "198.51.100.2", "-g", "198.51.100.1", "-t", "none"], mode: .pasta)
        let configuration = RuntimeConfiguration(options: options, host: HostNetwork(), resolvConf: ResolvConf(text: ""))
        let sink = CapturingBackend()
        let poll = try EventPoll()
        let port = GuestPort(poll: poll, pcap: nil)
        try port.attach(sink)
        let flows = try TCPFlows(configuration: configuration, guestAddresses: GuestAddresses(configuration), poll: poll,
                                 port: port)

        func ipv4Frame(_ tcp: [UInt8]) -> [UInt8] {
            var frame = [UInt8](repeating: 0, count: 14 + 20) + tcp
            frame.withUnsafeMutableBytes {
                IPv4Packet.writeHeader(into: $0, at: 14, source: IPv4Address(198, 51, 100, 2),
                                       destination: IPv4Address(203, 0, 113, 10), protocolNumber: IPProtocol.tcp,
                                       payloadLength: tcp.count)
            }
            return frame
        }
        func feed(_ frame: [UInt8], checksumTrusted: Bool = true) {
            frame.withUnsafeBytes { raw in
                guard let ethernet = EthernetFrame(raw), let packet = IPv4Packet(ethernet.payload) else { return }
                flows.handle(ipv4: packet, checksumTrusted: checksumTrusted, now: 0)
            }
        }

        // A checksum nobody vouched for is verified: a wrong one drops the segment (counted), a right one
        // doesn't.
        let unchecked = ipv4Frame(segment(flags: TCPFlags.ack, sequence: 5, ack: 77_000, payload: [1, 2, 3]))
        feed(unchecked, checksumTrusted: false)
        XCTAssertTrue(sink.frames.isEmpty, "a segment with a bad checksum is answered")
        XCTAssertEqual(flows.badChecksums, 1)
        var checked = unchecked
        let sum = checked.withUnsafeBytes {
            InternetChecksum.ipv4(source: UnsafeRawBufferPointer(rebasing: $0[26..<30]),
                                  destination: UnsafeRawBufferPointer(rebasing: $0[30..<34]),
                                  protocolNumber: IPProtocol.tcp, segment: UnsafeRawBufferPointer(rebasing: $0[34...]))
        }
        checked[34 + 16] = UInt8(sum >> 8); checked[34 + 17] = UInt8(sum & 0xFF)
        feed(checked, checksumTrusted: false)
        XCTAssertEqual(sink.frames.count, 1, "the same segment with its checksum right gets its reset")
        XCTAssertEqual(flows.badChecksums, 1)
        sink.frames.removeAll()

        feed(ipv4Frame(segment(flags: TCPFlags.ack, sequence: 5, ack: 77_000, payload: [1, 2, 3])))
        let reset = try XCTUnwrap(sink.frames.last)
        XCTAssertTrue(FrameFixtures.checksumsValid(reset))
        XCTAssertEqual(reset[14 + 20 + 13] & TCPFlags.rst, TCPFlags.rst)
        XCTAssertEqual(Array(reset[38..<42]), [0, 1, 0x2C, 0xC8], "sequence = the segment's ACK (77000)")
        XCTAssertEqual(Array(reset[26..<34]), [203, 0, 113, 10, 198, 51, 100, 2], "from the address the guest called")

        sink.frames.removeAll()
        feed(ipv4Frame(segment(flags: TCPFlags.rst, sequence: 5)))
        XCTAssertTrue(sink.frames.isEmpty, "a reset is never answered")

        var generator = SystemRandomNumberGenerator()
        let valid = ipv4Frame(segment(flags: TCPFlags.ack | TCPFlags.psh, payload: Array(repeating: 7, count: 40)))
        for length in 0..<valid.count { feed(Array(valid[0..<length])) }
        for _ in 0..<10_000 {
            var tcp = segment(flags: UInt8.random(in: 0...255, using: &generator) & ~TCPFlags.syn,
                              sequence: .random(in: 0...UInt32.max, using: &generator),
                              ack: .random(in: 0...UInt32.max, using: &generator),
                              payload: (0..<Int.random(in: 0...64, using: &generator)).map { _ in .random(in: 0...255) })
            if Bool.random(using: &generator) { tcp[12] = UInt8.random(in: 0...255, using: &generator) }
            feed(ipv4Frame(tcp))
        }
        XCTAssertTrue(sink.frames.allSatisfy { FrameFixtures.checksumsValid($0) && $0[14 + 20 + 13] & TCPFlags.rst != 0 },
                      "only resets, all well-formed")
        XCTAssertEqual(flows.table.count, 0, "no connection was created")
    }
}
