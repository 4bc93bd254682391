/// A small deterministic generator (xorshift64*), so that a failing mutation can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

/// Mutations of a valid input: flipped, inserted, deleted and duplicated bytes, and bytes that matter to
/// the grammars involved (JSON punctuation, ':', '-', '/', '[', digits, NUL, UTF-8 lead bytes).
enum Mutations {
    static let interesting: [UInt8] = Array("{}[]\":,\\-/.0123456789eEtfn ;%u".utf8) + [0, 0x0A, 0x7F, 0xC3, 0xE2, 0xF0, 0xFF]

    static func mutate(_ input: [UInt8], using rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            let byte = Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0 where !bytes.isEmpty: bytes[position] = byte
            case 1: bytes.insert(byte, at: position)
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &rng))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            case 4 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...16, using: &rng))
                bytes.removeSubrange(position..<end)
            default:
                bytes.insert(contentsOf: [UInt8](repeating: byte, count: Int.random(in: 1...200, using: &rng)), at: position)
            }
        }
        return bytes
    }
}
