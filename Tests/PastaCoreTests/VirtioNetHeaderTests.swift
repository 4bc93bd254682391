import XCTest
@testable import PastaCore

/// The virtio-net header in front of a tap's frames: parsing, what a received header may claim about its
/// frame, and the segmentation we ask of the namespace for our own frames.
final class VirtioNetHeaderTests: XCTestCase {
    // MARK: Frames as a namespace with offloads sends them

    /// A TCP segment with `payload` bytes, its IP length covering exactly the frame.
    static func tcpFrame(ipv4: Bool, payload: Int) -> [UInt8] {
        var frame = packetFrame(ipv4: ipv4, protocolNumber: IPProtocol.tcp, transportLength: 20 + payload)
        frame[14 + (ipv4 ? 20 : 40) + 12] = 5 << 4
        return frame
    }

    /// A UDP frame carrying `payload` bytes, its UDP length the whole IP payload (as a segmented send has it).
    static func udpFrame(ipv4: Bool, payload: Int) -> [UInt8] {
        var frame = packetFrame(ipv4: ipv4, protocolNumber: IPProtocol.udp, transportLength: 8 + payload)
        store16(&frame, 14 + (ipv4 ? 20 : 40) + 4, 8 + payload)
        return frame
    }

    /// Ethernet and IP headers (no options) in front of `transportLength` zero bytes.
    static func packetFrame(ipv4: Bool, protocolNumber: UInt8, transportLength: Int) -> [UInt8] {
        var frame = [UInt8](repeating: 0, count: 14 + (ipv4 ? 20 : 40) + transportLength)
        frame[12] = ipv4 ? 0x08 : 0x86; frame[13] = ipv4 ? 0x00 : 0xDD
        if ipv4 {
            frame[14] = 0x45; frame[14 + 9] = protocolNumber
            store16(&frame, 16, 20 + transportLength)
        } else {
            frame[14] = 0x60; frame[14 + 6] = protocolNumber
            store16(&frame, 18, transportLength)
        }
        return frame
    }

    static func store16(_ frame: inout [UInt8], _ at: Int, _ value: Int) {
        frame[at] = UInt8(value >> 8 & 0xFF); frame[at + 1] = UInt8(value & 0xFF)
    }

    static func uso(ipv4: Bool, segment: UInt16) -> VirtioNetHeader {
        VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.gsoUDP, headerLength: 0,
                        gsoSize: segment, checksumStart: UInt16(14 + (ipv4 ? 20 : 40)), checksumOffset: 6)
    }

    static func tso(ipv4: Bool, segment: UInt16) -> VirtioNetHeader {
        VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: ipv4 ? VirtioNetHeader.gsoTCPv4 : VirtioNetHeader.gsoTCPv6,
                        headerLength: UInt16(14 + (ipv4 ? 20 : 40) + 20), gsoSize: segment,
                        checksumStart: UInt16(14 + (ipv4 ? 20 : 40)), checksumOffset: 16)
    }

    func received(_ header: VirtioNetHeader, _ frame: [UInt8]) -> ReceivedOffload? {
        frame.withUnsafeBytes { header.received($0) }
    }

    // MARK: Parsing

    func testParsesLittleEndianFieldsAndRejectsEveryTruncation() {
        let bytes: [UInt8] = [0x01, 0x05, 0x36, 0x00, 0x78, 0x05, 0x22, 0x00, 0x06, 0x00]
        let header = bytes.withUnsafeBytes { VirtioNetHeader($0) }
        XCTAssertEqual(header, VirtioNetHeader(flags: 1, gsoType: 5, headerLength: 0x36, gsoSize: 1400,
                                               checksumStart: 0x22, checksumOffset: 6))
        for length in 0..<VirtioNetHeader.size {
            XCTAssertNil(Array(bytes[0..<length]).withUnsafeBytes { VirtioNetHeader($0) }, "parsed \(length) bytes")
        }
        var written = [UInt8](repeating: 0xEE, count: VirtioNetHeader.size)
        written.withUnsafeMutableBytes { header!.write(to: $0.baseAddress!) }
        XCTAssertEqual(written, bytes)
    }

    func testPartialChecksumMustLieInsideTheFrame() {
        let header = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: 34, checksumOffset: 16)
        XCTAssertEqual(header.partialChecksum(frameLength: 54), PartialChecksum(start: 34, field: 50))
        XCTAssertEqual(header.partialChecksum(frameLength: 52), PartialChecksum(start: 34, field: 50))
        XCTAssertNil(header.partialChecksum(frameLength: 51), "field ends past the frame")
        XCTAssertNil(header.partialChecksum(frameLength: 34), "start at the frame's end")
        XCTAssertNil(VirtioNetHeader(checksumStart: 34, checksumOffset: 16).partialChecksum(frameLength: 54),
                     "no NEEDS_CSUM, no partial checksum")
        XCTAssertNil(VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: 0xFFFF, checksumOffset: 0xFFFF)
            .partialChecksum(frameLength: 65_000))
    }

    // MARK: What a received header may claim

    func testPlainAndVouchedForFrames() {
        let frame = Self.tcpFrame(ipv4: true, payload: 10)
        XCTAssertEqual(received(VirtioNetHeader(), frame), ReceivedOffload())
        XCTAssertEqual(received(VirtioNetHeader(flags: VirtioNetHeader.dataValid), frame),
                       ReceivedOffload(partialChecksum: nil, checksumTrusted: true, datagramSize: 0))
        let partial = VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: 34, checksumOffset: 16)
        XCTAssertEqual(received(partial, frame),
                       ReceivedOffload(partialChecksum: PartialChecksum(start: 34, field: 50), checksumTrusted: true))
        XCTAssertNil(received(VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, checksumStart: 60, checksumOffset: 16), frame))
    }

    func testSegmentedTCPMustBeTCPOfTheRightFamily() {
        for ipv4 in [true, false] {
            let frame = Self.tcpFrame(ipv4: ipv4, payload: 60_000)
            XCTAssertEqual(received(Self.tso(ipv4: ipv4, segment: 1448), frame)?.datagramSize, 0)
            XCTAssertNil(received(Self.tso(ipv4: !ipv4, segment: 1448), frame), "TSO type of the other family")
            XCTAssertNil(received(Self.tso(ipv4: ipv4, segment: 0), frame), "segment size 0")
            var noChecksum = Self.tso(ipv4: ipv4, segment: 1448)
            noChecksum.flags = 0
            XCTAssertNil(received(noChecksum, frame), "segmentation without a partial checksum")
            XCTAssertNil(received(Self.uso(ipv4: ipv4, segment: 1400), frame), "USO on a TCP frame")
            var ecn = Self.tso(ipv4: ipv4, segment: 1448)
            ecn.gsoType |= VirtioNetHeader.gsoECN
            XCTAssertNotNil(received(ecn, frame), "TSO with ECN")
            var unknown = Self.tso(ipv4: ipv4, segment: 1448)
            unknown.gsoType = 3  // UFO: never offered
            XCTAssertNil(received(unknown, frame))
        }
    }

    func testSegmentedUDPGivesItsDatagramSizeOnlyWhenLengthsAddUp() {
        for ipv4 in [true, false] {
            let frame = Self.udpFrame(ipv4: ipv4, payload: 32 * 1400)
            let offload = received(Self.uso(ipv4: ipv4, segment: 1400), frame)
            XCTAssertEqual(offload?.datagramSize, 1400)
            XCTAssertEqual(offload?.checksumTrusted, true)
            // The UDP length must cover the IP payload, the IP length the frame.
            var shortUDP = frame
            Self.store16(&shortUDP, 14 + (ipv4 ? 20 : 40) + 4, 1408)
            XCTAssertNil(received(Self.uso(ipv4: ipv4, segment: 1400), shortUDP))
            var longIP = frame
            Self.store16(&longIP, ipv4 ? 16 : 18, 32 * 1400 + (ipv4 ? 29 : 9))
            XCTAssertNil(received(Self.uso(ipv4: ipv4, segment: 1400), longIP))
            var wrongStart = Self.uso(ipv4: ipv4, segment: 1400)
            wrongStart.checksumStart += 4
            XCTAssertNil(received(wrongStart, frame), "checksum start not at the UDP header")
            var wrongOffset = Self.uso(ipv4: ipv4, segment: 1400)
            wrongOffset.checksumOffset = 16
            XCTAssertNil(received(wrongOffset, frame), "TCP's checksum offset on UDP")
            XCTAssertNil(received(Self.tso(ipv4: ipv4, segment: 1400), frame), "TSO on a UDP frame")
            for length in 0..<frame.count {
                XCTAssertNil(received(Self.uso(ipv4: ipv4, segment: 1400), Array(frame[0..<length])),
                             "accepted a frame cut at \(length)")
            }
        }
    }

    /// 10,000 mutations of header and frame: no trap, and whatever is accepted holds together: a partial
    /// checksum field inside the frame, a datagram size only on UDP whose lengths cover the frame exactly.
    func testMutatedHeadersAndFramesNeverAcceptLengthsThatDontAddUp() {
        var generator = SystemRandomNumberGenerator()
        let valid: [(VirtioNetHeader, [UInt8])] = [
            (Self.uso(ipv4: true, segment: 1400), Self.udpFrame(ipv4: true, payload: 4000)),
            (Self.uso(ipv4: false, segment: 1232), Self.udpFrame(ipv4: false, payload: 4000)),
            (Self.tso(ipv4: true, segment: 1448), Self.tcpFrame(ipv4: true, payload: 4000)),
            (Self.tso(ipv4: false, segment: 1428), Self.tcpFrame(ipv4: false, payload: 4000)),
        ]
        var accepted = 0
        for round in 0..<10_000 {
            let (header, frame) = valid[round % valid.count]
            var headerBytes = [UInt8](repeating: 0, count: VirtioNetHeader.size)
            headerBytes.withUnsafeMutableBytes { header.write(to: $0.baseAddress!) }
            var bytes = headerBytes + frame
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                // Mostly the header and the first headers of the frame, where the lengths are.
                let at = Int.random(in: 0..<min(bytes.count, Bool.random(using: &generator) ? 80 : bytes.count), using: &generator)
                bytes[at] = UInt8.random(in: 0...255, using: &generator)
            }
            if Int.random(in: 0..<8, using: &generator) == 0 {
                bytes.removeLast(Int.random(in: 0..<bytes.count, using: &generator))
            }
            guard let parsed = bytes.withUnsafeBytes({ VirtioNetHeader($0) }) else { continue }
            let body = Array(bytes.dropFirst(VirtioNetHeader.size))
            guard let offload = received(parsed, body) else { continue }
            accepted += 1
            if let partial = offload.partialChecksum {
                XCTAssertTrue(partial.start < body.count && partial.field + 2 <= body.count, "checksum outside the frame")
            }
            if offload.datagramSize > 0 {
                let ipv4 = body[12] == 0x08
                let transport = ipv4 ? 14 + Int(body[14] & 0x0F) * 4 : 54
                let ipLength = ipv4 ? Int(body[16]) << 8 | Int(body[17]) : 40 + (Int(body[18]) << 8 | Int(body[19]))
                XCTAssertEqual(ipLength, body.count - 14, "IP length of an accepted USO frame")
                XCTAssertEqual(Int(body[transport + 4]) << 8 | Int(body[transport + 5]), body.count - transport,
                               "UDP length of an accepted USO frame")
                XCTAssertEqual(body[ipv4 ? 23 : 20], IPProtocol.udp)
            }
        }
        XCTAssertGreaterThan(accepted, 100, "some mutations keep the frame valid")
    }

    // MARK: Our frames for the namespace

    func testOutgoingTCPIsSegmentedAtTheMTUsPayloadOnlyWhenLonger() {
        for ipv4 in [true, false] {
            let limit4 = 1460, limit6 = 1440
            let limit = ipv4 ? limit4 : limit6
            for payload in [0, 1, limit - 1, limit, limit + 1, 20_000, 65_000] {
                let frame = Self.tcpFrame(ipv4: ipv4, payload: payload)
                let header = frame.withUnsafeBytes {
                    VirtioNetHeader.forOutgoing($0, segmentPayload4: limit4, segmentPayload6: limit6)
                }
                let transport = 14 + (ipv4 ? 20 : 40)
                XCTAssertEqual(header.flags, VirtioNetHeader.needsChecksum)
                XCTAssertEqual(Int(header.checksumStart), transport)
                XCTAssertEqual(header.checksumOffset, 16)
                if payload > limit {
                    XCTAssertEqual(header.gsoType, ipv4 ? VirtioNetHeader.gsoTCPv4 : VirtioNetHeader.gsoTCPv6)
                    XCTAssertEqual(Int(header.gsoSize), limit)
                    XCTAssertEqual(Int(header.headerLength), transport + 20)
                } else {
                    XCTAssertEqual(header.gsoType, VirtioNetHeader.gsoNone, "payload \(payload)")
                }
            }
        }
        let udp = Self.udpFrame(ipv4: true, payload: 3000)
        XCTAssertEqual(udp.withUnsafeBytes { VirtioNetHeader.forOutgoing($0, segmentPayload4: 1460, segmentPayload6: 1440) },
                       VirtioNetHeader(), "other frames go complete, as they are")
    }

    /// A UDP frame built with its checksum partial (for USO), finished as the namespace's stack would,
    /// carries the checksum a complete build gives, over both families.
    func testPartialUDPFramesFinishToTheCompleteChecksum() {
        let payload = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        for ipv4 in [true, false] {
            func build(partial: Bool) -> [UInt8] {
                let offset = ipv4 ? ReplyFrame.udp4PayloadOffset : ReplyFrame.udp6PayloadOffset
                var frame = [UInt8](repeating: 0, count: offset + payload.count)
                frame.replaceSubrange(offset..., with: payload)
                let length = frame.withUnsafeMutableBytes { buffer in
                    ipv4 ? ReplyFrame.completeUDPv4(buffer, payloadLength: payload.count, sourceMAC: FrameFixtures.ourMAC,
                                                    destinationMAC: FrameFixtures.guestMAC.bytes,
                                                    source: IPv4Address(203, 0, 113, 10), destination: IPv4Address(198, 51, 100, 2),
                                                    sourcePort: 5201, destinationPort: 40000, partialChecksum: partial)
                         : ReplyFrame.completeUDPv6(buffer, payloadLength: payload.count, sourceMAC: FrameFixtures.ourMAC,
                                                    destinationMAC: FrameFixtures.guestMAC.bytes,
                                                    source: IPv6Address("2001:db8:2::10")!, destination: IPv6Address("2001:db8::2")!,
                                                    sourcePort: 5201, destinationPort: 40000, partialChecksum: partial)
                }
                return Array(frame[0..<length])
            }
            let complete = build(partial: false)
            var partial = build(partial: true)
            XCTAssertNotEqual(partial, complete)
            let checksum = try! XCTUnwrap(partial.withUnsafeBytes { PartialChecksum.ofUDP($0) })
            partial.withUnsafeMutableBytes { checksum.complete($0) }
            XCTAssertEqual(partial, complete, ipv4 ? "IPv4" : "IPv6")
            XCTAssertTrue(FrameFixtures.checksumsValid(partial))
        }
    }

    func testOutgoingHeaderOfEveryTruncationStaysInsideTheFrame() {
        let frame = Self.tcpFrame(ipv4: true, payload: 3000)
        for length in 0...frame.count {
            let header = Array(frame[0..<length]).withUnsafeBytes {
                VirtioNetHeader.forOutgoing($0, segmentPayload4: 1460, segmentPayload6: 1440)
            }
            if header.flags != 0 { XCTAssertLessThanOrEqual(Int(header.checksumStart) + 18, length) }
            if header.gsoType != VirtioNetHeader.gsoNone { XCTAssertLessThanOrEqual(Int(header.headerLength), length) }
        }
    }
}
