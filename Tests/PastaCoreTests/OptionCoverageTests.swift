import XCTest
@testable import PastaCore

/// `--help` (and so the man pages, which scripts/make-man.py builds from it) shows every option the
/// parser takes in each mode, and names no option the parser doesn't take.
final class OptionCoverageTests: XCTestCase {
    /// Every --long and -s name in the option column of a help text.
    private func namesIn(_ help: String) -> Set<String> {
        var names: Set<String> = []
        for line in help.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix("-") else { continue }
            // The option column ends where two spaces start the description.
            let column = trimmed.range(of: "  ").map { trimmed[..<$0.lowerBound] } ?? trimmed
            for word in column.split(whereSeparator: { $0 == " " || $0 == "," }) where word.hasPrefix("-") {
                names.insert(String(word.prefix { $0 == "-" || $0.isLetter || $0.isNumber }))
            }
        }
        return names
    }

    private func expected(_ mode: ProgramMode) -> Set<String> {
        var names: Set<String> = []
        for option in OptionTable.all {
            if mode == .passt && OptionTable.pastaOnly.contains(option.long) { continue }
            if mode == .pasta && OptionTable.passtOnly.contains(option.long) { continue }
            names.insert("--" + option.long)
            if let short = option.short { names.insert("-\(short)") }
        }
        return names
    }

    func testHelpShowsEveryOptionOfItsModeAndNoOther() {
        for mode in [ProgramMode.pasta, .passt] {
            let shown = namesIn(Usage.helpText(mode))
            XCTAssertEqual(expected(mode).subtracting(shown).sorted(), [], "\(mode): taken but not in --help")
            XCTAssertEqual(shown.subtracting(expected(mode)).sorted(), [], "\(mode): in --help but not taken")
        }
    }
}
