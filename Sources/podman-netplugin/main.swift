import Glibc
import PastaCore
import PodmanNetplugin

// An OCI hook (hooks.d, see contrib/podman): reads the container's state on standard input and starts
// (createRuntime, prestart) or stops (poststop) our pasta for it. Errors go to standard error with the
// container's short ID and exit 1, which makes `podman run` fail with that message.

let usage = """
    Usage: podman-netplugin [--run-dir DIR] [--pasta PATH] [--timeout SECONDS] createRuntime|prestart|poststop
      Reads the OCI state on standard input. Port mappings come from the annotation
      io.containers.pasta.ports ('[HOSTIP:]HOSTPORT[-END]:CTRPORT[-END][/tcp|/udp]', separated by spaces
      or ';'), extra pasta options from io.containers.pasta.options.
      --run-dir DIR   PID records (default /run/podman-netplugin; rootless $XDG_RUNTIME_DIR/podman-netplugin)
      --pasta PATH    the pasta to run (default: pasta next to this program)
      --timeout S     how long pasta may take to be ready (default 20)

    """

func fail(_ message: String, id: String? = nil) -> Never {
    let prefix = id.map { "podman-netplugin: \($0): " } ?? "podman-netplugin: "
    fputs(prefix + message + "\n", stderr)
    exit(1)
}

let definitions = [OptionDefinition("run-dir", value: true), OptionDefinition("pasta", value: true),
                   OptionDefinition("timeout", value: true), OptionDefinition("help", "h")]
let parsed: (options: [ParsedOption], positionals: [String], sawDoubleDash: Bool)
do {
    parsed = try CommandLineParser(program: "podman-netplugin", definitions: definitions)
        .parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error)\n\(usage)")
}
var runDirectoryPath: String?
var pastaPath: String?
var timeout = 20
for option in parsed.options {
    switch option.definition.long {
    case "run-dir": runDirectoryPath = option.value
    case "pasta": pastaPath = option.value
    case "timeout":
        guard let seconds = option.value.flatMap({ Int($0) }), (1...300).contains(seconds) else {
            fail("--timeout: expected 1 to 300 seconds")
        }
        timeout = seconds
    default:
        fputs(usage, stdout)
        exit(0)
    }
}
guard parsed.positionals.count == 1, let stage = Hook.Stage(rawValue: parsed.positionals[0]) else {
    fail("expected one stage: createRuntime, prestart or poststop\n\(usage)")
}

/// Our own directory: pasta is installed next to the hook.
func ownDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return "." }
    let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
}

func readStandardInput(limit: Int) throws -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        var poller = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, 10_000)
        if ready < 0 && errno == EINTR { continue }
        guard ready > 0 else { throw HookError("no OCI state on standard input within 10 s") }
        let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { throw HookError("can't read the OCI state: \(String(cString: strerror(errno)))") }
        if n == 0 { return bytes }
        bytes += chunk[0..<n]
        guard bytes.count <= limit else { throw HookError("the OCI state is larger than \(limit) bytes") }
    }
}

let state: HookState
do {
    state = try HookState(parsing: try readStandardInput(limit: HookState.limits.maxBytes))
} catch {
    fail("\(error)")
}

var environment: [String: String] = [:]
if let xdg = getenv("XDG_RUNTIME_DIR") { environment["XDG_RUNTIME_DIR"] = String(cString: xdg) }
let uidMap = readSmallFileText("/proc/self/uid_map")
let hook = Hook(runDirectory: RunDirectory(path: runDirectoryPath ?? RunDirectory.defaultPath(environment: environment, uidMap: uidMap)),
                pastaExecutable: pastaPath ?? ownDirectory() + "/pasta", timeoutSeconds: timeout)
do {
    try hook.run(stage, state: state)
} catch {
    fail("\(error)", id: state.shortID)
}
exit(0)

func readSmallFileText(_ path: String) -> String? {
    (try? readSmallFile(path, limit: 65536)).map { String(decoding: $0, as: UTF8.self) }
}
