import XCTest
@testable import PastaCore

final class InternetChecksumTests: XCTestCase {
    /// The plain RFC 1071 definition: big-endian 16-bit words, odd byte padded, folded, complemented.
    private func reference(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index < bytes.count {
            sum += UInt32(bytes[index]) << 8 | (index + 1 < bytes.count ? UInt32(bytes[index + 1]) : 0)
            sum = (sum & 0xFFFF) + (sum >> 16)
            index += 2
        }
        return ~UInt16(sum)
    }

    func testKnownAnswerFromRFC1071() {
        var checksum = InternetChecksum()
        ([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7] as [UInt8]).withUnsafeBytes { checksum.add($0) }
        XCTAssertEqual(checksum.value, ~0xDDF2)
    }

    func testWordAtATimeSumMatchesTheDefinitionForEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<200 {
            let bytes = (0..<length + 3).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for start in 0..<3 {
                let slice = Array(bytes[start..<start + length])
                var checksum = InternetChecksum()
                bytes.withUnsafeBytes { checksum.add(UnsafeRawBufferPointer(rebasing: $0[start..<start + length])) }
                XCTAssertEqual(checksum.value, reference(slice), "length \(length) at offset \(start)")
            }
        }
        let large = (0..<65536).map { _ in UInt8.random(in: 0...255, using: &generator) }
        var checksum = InternetChecksum()
        large.withUnsafeBytes { checksum.add($0) }
        XCTAssertEqual(checksum.value, reference(large))
        let ones = [UInt8](repeating: 0xFF, count: 65535)
        var saturated = InternetChecksum()
        ones.withUnsafeBytes { saturated.add($0) }
        XCTAssertEqual(saturated.value, reference(ones))
    }

    func testPiecesWithEvenLengthsAddUp() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var pieces = InternetChecksum()
        bytes.withUnsafeBytes { all in
            pieces.add(UnsafeRawBufferPointer(rebasing: all[0..<40]))
            pieces.add(UnsafeRawBufferPointer(rebasing: all[40..<998]))
            pieces.add(UnsafeRawBufferPointer(rebasing: all[998...]))
        }
        XCTAssertEqual(pieces.value, reference(bytes))
    }
}
