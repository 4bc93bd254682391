/// What a pesto client reads from the server before it may send anything: the hello and the tables, with
/// each table's name and capabilities. A client parses it again as bytes arrive, until it is complete.
public struct PestoServerGreeting: Equatable {
    public struct Table: Equatable {
        public var table: ForwardingTable
        public var name: String
        public var capabilities: ForwardingCapabilities
    }

    public var tables: [Table]
    /// Bytes the greeting took.
    public var size: Int

    /// Rules a table may claim before we call it nonsense rather than wait for them.
    static let maximumRules: UInt32 = 1 << 20

    /// The greeting at the start of `bytes`: nil while incomplete; throws when it is not one we can use.
    public static func parse(_ bytes: [UInt8]) throws -> PestoServerGreeting? {
        guard bytes.count >= PestoProtocol.helloSize else {
            guard bytes.prefix(8).elementsEqual(PestoProtocol.magic.prefix(bytes.count)) else { throw wrongMagic }
            return nil
        }
        guard bytes[0..<8].elementsEqual(PestoProtocol.magic) else { throw wrongMagic }
        let version = PestoProtocol.u32(bytes[...], at: 8)
        guard version == PestoProtocol.version else {
            throw PestoProtocolError("the server speaks protocol version \(version); this client speaks \(PestoProtocol.version)")
        }
        let nameSize = PestoProtocol.u32(bytes[...], at: 12), interfaceSize = PestoProtocol.u32(bytes[...], at: 16)
        guard nameSize == PestoProtocol.pifNameSize, interfaceSize == PestoProtocol.interfaceNameSize else {
            throw PestoProtocolError("the server uses name sizes \(nameSize)/\(interfaceSize), not \(PestoProtocol.pifNameSize)/\(PestoProtocol.interfaceNameSize)")
        }
        var offset = PestoProtocol.helloSize
        var tables: [Table] = []
        while true {
            guard offset < bytes.count else { return nil }
            let value = bytes[offset]
            offset += 1
            if value == 0 { return PestoServerGreeting(tables: tables, size: offset) }
            guard let pif = ForwardingPif(rawValue: value) else { throw PestoProtocolError("unknown pif \(value) in the server's tables") }
            guard bytes.count - offset >= PestoProtocol.pifNameSize + 8 else { return nil }
            let nameBytes = bytes[offset..<(offset + PestoProtocol.pifNameSize)]
            guard let end = nameBytes.firstIndex(of: 0) else { throw PestoProtocolError("a table name without its NUL") }
            let name = String(decoding: nameBytes[offset..<end], as: UTF8.self)
            offset += PestoProtocol.pifNameSize
            let caps = ForwardingCapabilities(rawValue: PestoProtocol.u32(bytes[...], at: offset))
            let count = PestoProtocol.u32(bytes[...], at: offset + 4)
            offset += 8
            guard count <= maximumRules else { throw PestoProtocolError("\(count) rules in table \(name)") }
            guard bytes.count - offset >= Int(count) * PestoProtocol.ruleSize else { return nil }
            var table = ForwardingTable(pif)
            for _ in 0..<count {
                switch PestoProtocol.decodeRule(bytes[offset..<(offset + PestoProtocol.ruleSize)]) {
                case .success(let rule): table.rules.append(rule)
                case .failure(let error): throw PestoProtocolError("table \(name): \(error)")
                }
                offset += PestoProtocol.ruleSize
            }
            tables.append(Table(table: table, name: name, capabilities: caps))
        }
    }

    private static let wrongMagic = PestoProtocolError("the socket doesn't speak the pesto protocol (wrong magic)")
}
