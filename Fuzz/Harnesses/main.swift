import Glibc
import LibFuzzerDriver
import PastaCore

/// pasta-fuzz HARNESS [libFuzzer flags and corpus directories]: runs one harness under libFuzzer.
/// pasta-fuzz --list: the harnesses, then the pending ones marked as such.
/// pasta-fuzz --write-seeds HARNESS DIR: writes the harness's seed inputs into DIR.

func usage() -> Never {
    fputs("usage: pasta-fuzz HARNESS [libFuzzer options] [corpus...] | --list | --write-seeds HARNESS DIR\n", stderr)
    fputs("harnesses: \(HarnessList.all.map(\.name).joined(separator: " "))\n", stderr)
    exit(2)
}

func writeSeeds(_ harness: Harness, into directory: String) {
    for (index, seed) in harness.seeds().enumerated() {
        let path = "\(directory)/seed-\(index)"
        guard let file = fopen(path, "wb") else {
            fputs("can't write \(path)\n", stderr)
            exit(1)
        }
        _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
}

/// The harness libFuzzer's callback runs: chosen once, before the driver starts.
var selected: Harness!

/// libFuzzer's callback. Exported under its conventional name too: libFuzzer's own main (unused, since
/// SwiftPM points `main` at ours) refers to it, and the link needs it defined.
@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { usage() }
switch arguments[1] {
case "--list":
    for harness in HarnessList.all { print("\(harness.name)\t\(harness.summary)") }
    for pending in HarnessList.pending { print("\(pending.name)\tpending: \(pending.reason)") }
    exit(0)
case "--write-seeds":
    guard arguments.count == 4, let harness = HarnessList.named(arguments[2]) else { usage() }
    writeSeeds(harness, into: arguments[3])
    exit(0)
default:
    guard let harness = HarnessList.named(arguments[1]) else { usage() }
    selected = harness
}

// Messages at every level are built, as with --trace, but written to /dev/null: libFuzzer's output stays readable.
var logging = Options(mode: .pasta)
logging.trace = true
logging.logFile = "/dev/null"
do { try Logger.shared.configure(options: logging) } catch { fatalError("logging to /dev/null: \(error)") }

// libFuzzer sees the program name and everything after the harness name.
var driverArguments = [arguments[0]] + arguments.dropFirst(2)
if let maximum = selected.maximumLength, !driverArguments.contains(where: { $0.hasPrefix("-max_len=") }) {
    driverArguments.insert("-max_len=\(maximum)", at: 1)
}
var argc = CInt(driverArguments.count)
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = .allocate(capacity: driverArguments.count + 1)
for (index, argument) in driverArguments.enumerated() { argv[index] = strdup(argument) }
argv[driverArguments.count] = nil
var argvPointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
exit(LLVMFuzzerRunDriver(&argc, &argvPointer, testOneInput))
