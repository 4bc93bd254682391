/// A seeded random source (SplitMix64): the same seed gives the same run, on any machine.
struct SimulationRandom: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// True with probability `p`.
    mutating func chance(_ p: Double) -> Bool { p > 0 && Double.random(in: 0..<1, using: &self) < p }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
}

/// The bytes of a stream, as a function of their position: reordered, repeated or lost bytes all show.
struct StreamPattern {
    let salt: UInt8

    func byte(at offset: Int) -> UInt8 {
        let x = UInt64(offset) &* 0x9E37_79B1
        return UInt8(truncatingIfNeeded: (x >> 11) ^ (x >> 3)) ^ salt
    }

    func bytes(_ range: Range<Int>) -> [UInt8] { range.map(byte(at:)) }

    /// The offset of the first byte of `received` (read from `start` on) that isn't the pattern's.
    func firstMismatch(_ received: [UInt8], from start: Int = 0) -> Int? {
        for (index, value) in received.enumerated() where value != byte(at: start + index) { return start + index }
        return nil
    }
}
