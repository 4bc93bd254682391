/// passt options that would undo what attach is for: `-P`/`-s` name files the helper owns, `-F` replaces
/// the socket, `-f` keeps passt from returning, `-1` makes it quit after the helper's own readiness probe.
enum PasstOptionConflicts {
    static let longNames = ["pid", "socket", "socket-path", "fd", "foreground", "one-off"]
    static let shortFlags: Set<Character> = ["P", "s", "F", "f", "1"]
    /// passt's short options that take a value: the rest of a cluster after one of them is that value.
    static let shortWithValue: Set<Character> = ["l", "p", "P", "m", "a", "n", "M", "g", "i", "o", "D", "S",
                                                 "s", "F", "t", "u", "T", "U", "I"]

    /// The first conflicting option as written, or nil.
    static func find(in options: [String]) -> String? {
        var i = 0
        while i < options.count {
            let token = options[i]
            i += 1
            if token == "--" { return nil }  // what follows is positional for passt
            if token.hasPrefix("--") {
                // getopt_long takes unambiguous abbreviations (--fore, --one): a name that starts any
                // conflicting one is refused; where it would also start another option, passt itself
                // would refuse it as ambiguous.
                let name = token.dropFirst(2).split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    .first.map(String.init) ?? ""
                if !name.isEmpty, longNames.contains(where: { $0.hasPrefix(name) }) { return token }
                continue
            }
            guard token.hasPrefix("-"), token.count > 1 else { continue }
            for (offset, letter) in token.dropFirst().enumerated() {
                if shortFlags.contains(letter) { return token }
                if shortWithValue.contains(letter) {
                    // A value-taking letter at the end of its cluster takes the next word.
                    if offset == token.count - 2 { i += 1 }
                    break
                }
            }
        }
        return nil
    }
}
