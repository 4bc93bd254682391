/// One option a command line may carry.
public struct OptionDefinition {
    public let long: String
    public let short: Character?
    public let takesValue: Bool

    public init(_ long: String, _ short: Character? = nil, value: Bool = false) {
        self.long = long
        self.short = short
        self.takesValue = value
    }
}

/// An option as it appeared: its definition and value (nil for flags).
public struct ParsedOption {
    public let definition: OptionDefinition
    public let value: String?
    /// How the user spelled it, for messages: `--pcap` or `-p`.
    public let spelling: String
}

public struct CommandLineError: Error, CustomStringConvertible {
    public let description: String
}

/// getopt_long(3) semantics with a leading '+' in the option string: options stop at the first
/// non-option argument or after `--`; `--name=value`, `--name value`, `-xVALUE`, `-x VALUE`, grouped
/// short flags, and unambiguous abbreviations of long names.
public struct CommandLineParser {
    public let definitions: [OptionDefinition]
    public let program: String

    public init(program: String, definitions: [OptionDefinition]) {
        self.program = program
        self.definitions = definitions
    }

    /// Returns the options in order and the positional arguments after them.
    /// `sawDoubleDash` tells whether `--` separated the two.
    public func parse(_ arguments: [String]) throws -> (options: [ParsedOption], positionals: [String], sawDoubleDash: Bool) {
        var options: [ParsedOption] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                return (options, Array(arguments[(index + 1)...]), true)
            }
            if argument.hasPrefix("--") {
                index = try parseLong(argument, at: index, in: arguments, into: &options)
            } else if argument.hasPrefix("-") && argument.count > 1 {
                index = try parseShortGroup(argument, at: index, in: arguments, into: &options)
            } else {
                return (options, Array(arguments[index...]), false)
            }
        }
        return (options, [], false)
    }

    /// As getopt_long permutes: options may come before, between and after the positional arguments
    /// (until `--`). Each option is handed to `apply` in order; returns the positional arguments.
    public func parsePermuted(_ arguments: [String], apply: (ParsedOption) throws -> Void) throws -> [String] {
        var positionals: [String] = []
        var rest = arguments
        while true {
            let parsed = try parse(rest)
            for option in parsed.options { try apply(option) }
            guard let first = parsed.positionals.first else { return positionals }
            positionals.append(first)
            if parsed.sawDoubleDash { return positionals + parsed.positionals.dropFirst() }
            rest = Array(parsed.positionals.dropFirst())
        }
    }

    private func parseLong(_ argument: String, at index: Int, in arguments: [String],
                           into options: inout [ParsedOption]) throws -> Int {
        let body = argument.dropFirst(2)
        let name: Substring
        var inlineValue: String?
        if let equals = body.firstIndex(of: "=") {
            name = body[..<equals]
            inlineValue = String(body[body.index(after: equals)...])
        } else {
            name = body
        }
        let definition = try lookupLong(String(name), argument: argument)
        let spelling = "--" + definition.long
        if !definition.takesValue {
            if inlineValue != nil {
                throw CommandLineError(description: "option '\(spelling)' doesn't allow an argument")
            }
            options.append(ParsedOption(definition: definition, value: nil, spelling: spelling))
            return index + 1
        }
        if let value = inlineValue {
            options.append(ParsedOption(definition: definition, value: value, spelling: spelling))
            return index + 1
        }
        guard index + 1 < arguments.count else {
            throw CommandLineError(description: "option '\(spelling)' requires an argument")
        }
        options.append(ParsedOption(definition: definition, value: arguments[index + 1], spelling: spelling))
        return index + 2
    }

    private func lookupLong(_ name: String, argument: String) throws -> OptionDefinition {
        if let exact = definitions.first(where: { $0.long == name }) { return exact }
        let candidates = name.isEmpty ? [] : definitions.filter { $0.long.hasPrefix(name) }
        if candidates.count == 1 { return candidates[0] }
        let shown = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
        if candidates.isEmpty {
            throw CommandLineError(description: "unrecognized option '\(shown)'")
        }
        let list = candidates.map { "'--\($0.long)'" }.joined(separator: " ")
        throw CommandLineError(description: "option '\(shown)' is ambiguous; possibilities: \(list)")
    }

    private func parseShortGroup(_ argument: String, at index: Int, in arguments: [String],
                                 into options: inout [ParsedOption]) throws -> Int {
        var rest = Substring(argument.dropFirst())
        while let letter = rest.first {
            rest = rest.dropFirst()
            guard let definition = definitions.first(where: { $0.short == letter }) else {
                throw CommandLineError(description: "invalid option -- '\(letter)'")
            }
            let spelling = "-\(letter)"
            if !definition.takesValue {
                options.append(ParsedOption(definition: definition, value: nil, spelling: spelling))
                continue
            }
            if !rest.isEmpty {
                options.append(ParsedOption(definition: definition, value: String(rest), spelling: spelling))
                return index + 1
            }
            guard index + 1 < arguments.count else {
                throw CommandLineError(description: "option requires an argument -- '\(letter)'")
            }
            options.append(ParsedOption(definition: definition, value: arguments[index + 1], spelling: spelling))
            return index + 2
        }
        return index + 1
    }
}
