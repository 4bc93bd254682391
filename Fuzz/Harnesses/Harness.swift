/// One fuzz target: what it does with an input, and the seed inputs its corpus starts from.
struct Harness {
    /// Also the name of its corpus directory, Fuzz/corpus/NAME.
    let name: String
    /// What the harness feeds, in a line, for `--list`.
    let summary: String
    /// libFuzzer's -max_len when the caller gives none: inputs larger than its 4096-byte default matter.
    var maximumLength: Int? = nil
    /// Runs one input; traps (Swift runtime checks, AddressSanitizer, a failed invariant) are the findings.
    let run: (UnsafeRawBufferPointer) -> Void
    /// Small, valid inputs (written once into Fuzz/corpus by `--write-seeds`).
    let seeds: () -> [[UInt8]]
}

/// A parser of untrusted bytes that will get a harness once it exists.
struct PendingHarness {
    let name: String
    let reason: String
}
