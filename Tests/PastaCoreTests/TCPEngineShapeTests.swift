import Foundation
import XCTest

/// The TCP engine stays what its design says: no system calls in its files (they import neither Glibc
/// nor CLinux: sockets, timers and the clock come through its protocols), short functions, and a table
/// and dispatch file that stays small.
final class TCPEngineShapeTests: XCTestCase {
    private let flows = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/PastaCore/Flows").standardized

    private func engineFiles() throws -> [URL] {
        let names = try FileManager.default.contentsOfDirectory(atPath: flows.path)
        let files = names.filter {
            $0.hasPrefix("TCPEngine") || ["TCPConnection.swift", "HostSocket.swift", "GuestFrameOutput.swift",
                                          "TCPBatchWrites.swift", "TCPAckDelay.swift", "SACKBlocks.swift",
                                          "SegmentPool.swift"].contains($0)
        }
        XCTAssertGreaterThanOrEqual(files.count, 10, "the engine's files weren't found in \(flows.path)")
        return files.sorted().map { flows.appendingPathComponent($0) }
    }

    func testEngineFilesMakeNoSystemCalls() throws {
        for file in try engineFiles() {
            let text = try String(contentsOf: file, encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("import ") {
                XCTAssertFalse(line.contains("Glibc") || line.contains("CLinux"), "\(file.lastPathComponent): \(line)")
            }
            XCTAssertFalse(text.contains("CLinux_"), "\(file.lastPathComponent) calls CLinux")
        }
    }

    func testEngineFunctionsAreShort() throws {
        for file in try engineFiles() {
            for (name, length) in functionLengths(try String(contentsOf: file, encoding: .utf8)) {
                XCTAssertLessThanOrEqual(length, 80, "\(file.lastPathComponent): \(name) is \(length) lines")
            }
        }
    }

    /// The flows, the frame backends and the forwarding sockets make their system calls through System/
    /// (SocketCalls, TapCalls, TCPSocket, EventPoll, Descriptor), with errors as values: none calls the C
    /// shim itself.
    func testFlowsBackendsAndForwardingCallTheSystemOnlyThroughSystem() throws {
        let sources = flows.deletingLastPathComponent()
        var calls: [String] = []
        for directory in ["Flows", "FrameIO", "Forwarding"] {
            let folder = sources.appendingPathComponent(directory)
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".swift") {
                let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.contains("CLinux_") {
                    calls.append("\(directory)/\(name):\(number + 1)")
                }
            }
        }
        XCTAssertEqual(calls, [], "calls to the C shim outside System/")
    }

    func testTheTableAndDispatchFileStaysSmall() throws {
        let text = try String(contentsOf: flows.appendingPathComponent("TCPEngine.swift"), encoding: .utf8)
        XCTAssertLessThanOrEqual(text.split(separator: "\n", omittingEmptySubsequences: false).count, 400)
    }

    /// Each `func`'s name and length in lines, from its line to the line of the brace that closes it (by
    /// counting braces outside strings and comments; enough for this code).
    private func functionLengths(_ text: String) -> [(String, Int)] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var result: [(String, Int)] = []
        var index = 0
        while index < lines.count {
            let line = lines[index]
            guard let range = line.range(of: "func "), !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") else {
                index += 1
                continue
            }
            let name = String(line[range.upperBound...].prefix { $0 != "(" && $0 != "<" })
            var depth = 0, opened = false, end = index
            scan: for (offset, body) in lines[index...].enumerated() {
                var inString = false
                for (position, character) in body.enumerated() {
                    if character == "\"" { inString.toggle() }
                    if inString { continue }
                    if character == "/" && body.dropFirst(position).hasPrefix("//") { break }
                    if character == "{" { depth += 1; opened = true }
                    if character == "}" { depth -= 1 }
                }
                if opened && depth == 0 {
                    end = index + offset
                    break scan
                }
            }
            result.append((name, end - index + 1))
            index += 1
        }
        return result
    }
}
