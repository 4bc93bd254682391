@testable import PastaCore

/// The pesto control protocol (version 2), both ends' untrusted input. Input: a control byte, then bytes.
///
/// Control bit 0 clear: the bytes are a client's update, fed to PestoUpdateReader in pieces whose size the
/// next control byte sets, then the client closes. A complete update must survive a round trip: encoded
/// again and read again, it gives the same tables. Set: the bytes are a server's greeting as a pesto
/// client parses it; a greeting it accepts must lie inside the bytes.
enum PestoHarness {
    static let harness = Harness(
        name: "pesto", summary: "pesto protocol: a client's update (PestoUpdateReader) and a server's greeting",
        maximumLength: 16384, run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let control = input.byte()
        if control & 1 == 0 {
            let pieceSize = 1 + Int(input.byte()) * 4
            readUpdate(input.rest(), pieceSize: pieceSize)
        } else {
            parseGreeting(input.rest())
        }
    }

    static func read(_ bytes: [UInt8], pieceSize: Int) -> PestoUpdateReader.State {
        var reader = PestoUpdateReader()
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + pieceSize)
            let state = bytes[offset..<end].withUnsafeBytes { reader.feed($0) }
            if case .malformed = state { return state }
            offset = end
        }
        return reader.finish()
    }

    static func readUpdate(_ bytes: [UInt8], pieceSize: Int) {
        guard case .complete(let tables) = read(bytes, pieceSize: pieceSize) else { return }
        for table in tables { _ = table.description }
        let again = read(PestoProtocol.update(tables), pieceSize: 1 << 16)
        guard again == .complete(tables) else { fatalError("pesto: \(tables) read back as \(again)") }
    }

    static func parseGreeting(_ bytes: [UInt8]) {
        guard let greeting = try? PestoServerGreeting.parse(bytes) else { return }
        guard greeting.size >= PestoProtocol.helloSize, greeting.size <= bytes.count else {
            fatalError("pesto: a greeting of \(greeting.size) bytes in \(bytes.count)")
        }
    }

    static func seeds() -> [[UInt8]] {
        let rules = [
            ForwardingRule(.tcp, address: IPAddress("0.0.0.0"), ports: 18080...18080, targetFirst: 80,
                           targetAddress: IPAddress("10.88.0.5")),
            ForwardingRule(.udp, interface: "eth0", ports: 53...54, weak: true),
        ]
        let update = PestoProtocol.update([ForwardingTable(.host, rules: rules), ForwardingTable(.splice)])
        let greeting = PestoProtocol.hello
            + PestoProtocol.dump([ForwardingTable(.host, rules: rules)], capabilities: [.ipv4, .ipv6, .tcp, .udp])
        return [[0, 0] + update, [0, 13] + update, [0, 0, 0], [1] + greeting, [1] + Array(greeting.prefix(20))]
    }
}
