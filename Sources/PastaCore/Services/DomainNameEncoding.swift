/// Domain names in DNS wire format (RFC 1035 section 3.1), as DHCP option 119 (RFC 3397, with the
/// message compression of RFC 1035 section 4.1.4), DHCPv6 option 24 and the NDP DNSSL option carry them.
enum DomainNameEncoding {
    /// Encodes `names`, skipping any that is not a valid name (labels of 1-63 bytes, at most 255 bytes
    /// encoded). With `compressed`, a suffix already written is replaced by a pointer to it.
    static func encode(_ names: [String], compressed: Bool) -> [UInt8] {
        var output: [UInt8] = []
        var suffixOffsets: [String: Int] = [:]
        for name in names {
            guard let labels = labels(of: name) else { continue }
            for index in labels.indices {
                let suffix = labels[index...].map { String(decoding: $0, as: UTF8.self) }
                    .joined(separator: ".").lowercased()
                if compressed, let offset = suffixOffsets[suffix] {
                    output += [0xC0 | UInt8(offset >> 8), UInt8(truncatingIfNeeded: offset)]
                    break
                }
                // Pointers hold 14 bits of offset; later names simply stay uncompressed.
                if output.count < 0x4000 { suffixOffsets[suffix] = output.count }
                output.append(UInt8(labels[index].count))
                output += labels[index]
                if index == labels.count - 1 { output.append(0) }
            }
        }
        return output
    }

    /// The labels of `name` as bytes, or nil when it cannot be encoded.
    private static func labels(of name: String) -> [[UInt8]]? {
        var text = Substring(name)
        if text.hasSuffix(".") { text = text.dropLast() }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard !text.isEmpty, labels.allSatisfy({ (1...63).contains($0.count) }),
              labels.reduce(1, { $0 + 1 + $1.count }) <= 255
        else { return nil }
        return labels
    }
}
