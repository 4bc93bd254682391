import Glibc
import XCTest
@testable import PastaCore

/// passt's stream framing over a real socketpair: frames split anywhere across writes, several in one
/// write, malformed lengths and random bytes; and sends the socket takes only in part.
final class StreamBackendTests: XCTestCase {
    private func pair() throws -> (StreamBackend, Int32) {
        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        return (try StreamBackend(socket: Descriptor(fds[0])), fds[1])
    }

    private func framed(_ frame: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: UInt32(frame.count).bigEndian, Array.init) + frame
    }

    private func frame(_ length: Int, _ seed: UInt8) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: $0) &+ seed } }

    /// Everything the backend hands out until the peer's bytes are used up.
    private func drain(_ backend: StreamBackend) throws -> (frames: [[UInt8]], closed: Bool) {
        let batch = FrameBatch()
        var frames: [[UInt8]] = []
        while true {
            switch try backend.receive(into: batch) {
            case .closed:
                return (frames, true)
            case .frames(let count, let drained):
                for index in 0..<count { frames.append(Array(batch[index])) }
                if drained && count == 0 { return (frames, false) }
            }
        }
    }

    func testFramesSplitAnywhereArriveWhole() throws {
        let (backend, peer) = try pair()
        defer { close(peer) }
        let frames = [frame(14, 1), frame(60, 2), frame(1514, 3), frame(65535, 4), frame(100, 5)]
        let stream = frames.flatMap(framed)
        var generator = SystemRandomNumberGenerator()
        var received: [[UInt8]] = []
        var offset = 0
        while offset < stream.count {
            let piece = min(stream.count - offset, Int.random(in: 1...3000, using: &generator))
            XCTAssertEqual(stream[offset..<offset + piece].withUnsafeBytes { write(peer, $0.baseAddress, piece) }, piece)
            offset += piece
            let (some, closed) = try drain(backend)
            XCTAssertFalse(closed)
            received += some
        }
        XCTAssertEqual(received, frames)
    }

    func testManyFramesInOneWriteFillSeveralBatches() throws {
        let (backend, peer) = try pair()
        defer { close(peer) }
        let frames = (0..<200).map { frame(60, UInt8(truncatingIfNeeded: $0)) }
        let stream = frames.flatMap(framed)
        XCTAssertEqual(stream.withUnsafeBytes { write(peer, $0.baseAddress, stream.count) }, stream.count)
        XCTAssertEqual(try drain(backend).frames, frames)
    }

    func testLengthsNoFrameHasCloseTheStream() throws {
        for length: UInt32 in [0, 13, 65536, 70000, UInt32.max] {
            let (backend, peer) = try pair()
            let bytes = withUnsafeBytes(of: length.bigEndian, Array.init) + [UInt8](repeating: 0, count: 64)
            _ = bytes.withUnsafeBytes { write(peer, $0.baseAddress, bytes.count) }
            XCTAssertTrue(try drain(backend).closed, "length \(length)")
            close(peer)
        }
    }

    func testRandomBytesNeverTrap() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let (backend, peer) = try pair()
            let bytes = (0..<Int.random(in: 1...4096, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = bytes.withUnsafeBytes { write(peer, $0.baseAddress, bytes.count) }
            close(peer)
            _ = try drain(backend)  // frames or closed: either is fine, as long as nothing traps or hangs
        }
    }

    func testPeerClosingIsNoticed() throws {
        let (backend, peer) = try pair()
        let partial = Array(framed(frame(100, 9)).prefix(50))
        _ = partial.withUnsafeBytes { write(peer, $0.baseAddress, partial.count) }
        close(peer)
        XCTAssertTrue(try drain(backend).closed)
    }

    /// A socket that takes part of a frame: the backend keeps the rest, refuses more until it has sent
    /// it, and the peer reads whole, padded frames in order.
    func testPartialSendsKeepTheFramingWhole() throws {
        let (backend, peer) = try pair()
        defer { close(peer) }
        var small: Int32 = 4096
        setsockopt(backend.socket.raw, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        let frames = (0..<400).map { frame([20, 1514, 9000, 65535][$0 % 4], UInt8(truncatingIfNeeded: $0)) }
        // Frames in memory of their own, so views of them stay valid while the backend holds them.
        let stored = frames.map { f -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: f.count, alignment: 8)
            buffer.copyBytes(from: f)
            return buffer
        }
        defer { stored.forEach { $0.deallocate() } }
        var sent = 0
        var refusals = 0
        var reader = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        _ = fcntl(peer, F_SETFL, O_NONBLOCK)
        while sent < frames.count {
            let views = stored[sent..<min(sent + 16, frames.count)].map { UnsafeRawBufferPointer($0) }
            let accepted = views.withUnsafeBufferPointer { backend.send($0) }
            sent += accepted
            if accepted < views.count {
                refusals += 1
                // The peer reads a little; the backend finishes the frame it holds before anything else.
                let n = buffer.withUnsafeMutableBytes { read(peer, $0.baseAddress, $0.count) }
                if n > 0 { reader += buffer[0..<n] }
                _ = backend.drain()
            }
        }
        while !backend.drain() {
            let n = buffer.withUnsafeMutableBytes { read(peer, $0.baseAddress, $0.count) }
            if n > 0 { reader += buffer[0..<n] }
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(peer, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            reader += buffer[0..<n]
        }
        XCTAssertGreaterThan(refusals, 0, "the small socket buffer made the backend refuse")
        var offset = 0
        var index = 0
        while offset + 4 <= reader.count {
            let length = Int(UInt32(reader[offset]) << 24 | UInt32(reader[offset + 1]) << 16 | UInt32(reader[offset + 2]) << 8
                             | UInt32(reader[offset + 3]))
            let expected = frames[index]
            XCTAssertEqual(length, max(expected.count, 60), "frame \(index): padded to 60 bytes")
            XCTAssertEqual(Array(reader[offset + 4..<offset + 4 + expected.count]), expected, "frame \(index)")
            offset += 4 + length
            index += 1
        }
        XCTAssertEqual(index, frames.count)
        XCTAssertEqual(offset, reader.count)
    }
}
