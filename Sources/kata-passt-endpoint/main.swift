import Glibc

/// One JSON object on stdout per run; on failure also one line for people on stderr.
func answer(command: String?, _ fields: [(key: String, value: JSON)]) -> Never {
    print(JSON.object([("ok", .bool(true)), ("command", .optional(command))] + fields).serialized)
    exit(0)
}

func answer(command: String?, _ failure: Failure) -> Never {
    let object = JSON.object([
        ("ok", .bool(false)),
        ("command", .optional(command)),
        ("error", .string(failure.kind.rawValue)),
        ("exitCode", .int(Int(failure.kind.exitStatus))),
        ("message", .string(failure.message)),
    ] + failure.details)
    print(object.serialized)
    fflush(stdout)
    fputs("kata-passt-endpoint\(command.map { " " + $0 } ?? ""): \(failure.message)\n", stderr)
    exit(failure.kind.exitStatus)
}

/// Parses the command line, runs the subcommand and answers; never returns. Every error is a Failure
/// (typed throws), so every way out has its exit status.
func runCommandLine(_ arguments: [String]) -> Never {
    let named = arguments.first.flatMap { Invocation.Command(rawValue: $0)?.rawValue }
    let invocation: Invocation
    do {
        guard let parsed = try Invocation.parse(arguments) else {
            print(Usage.text)
            exit(0)
        }
        invocation = parsed
    } catch {
        answer(command: named, error)
    }
    let command = invocation.command.rawValue
    do {
        switch invocation.command {
        case .attach: answer(command: command, try AttachCommand.run(invocation))
        case .detach: answer(command: command, try DetachCommand.run(invocation))
        case .status: answer(command: command, try StatusCommand.run(invocation))
        }
    } catch {
        answer(command: command, error)
    }
}

runCommandLine(Array(CommandLine.arguments.dropFirst()))
