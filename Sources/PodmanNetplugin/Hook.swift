import AdapterSupport
import Glibc
import PastaCore

/// The OCI hook: `createRuntime` (or `prestart`) starts pasta for the container, `poststop` makes sure it
/// is gone.
public struct Hook {
    public enum Stage: String, CaseIterable {
        case createRuntime, prestart, poststop
    }

    public static let portsAnnotation = "io.containers.pasta.ports"
    public static let optionsAnnotation = "io.containers.pasta.options"

    public var runDirectory: RunDirectory
    public var pastaExecutable: String
    public var timeoutSeconds: Int

    public init(runDirectory: RunDirectory, pastaExecutable: String, timeoutSeconds: Int) {
        self.runDirectory = runDirectory
        self.pastaExecutable = pastaExecutable
        self.timeoutSeconds = timeoutSeconds
    }

    public func run(_ stage: Stage, state: HookState) throws {
        switch stage {
        case .createRuntime, .prestart: try start(state)
        case .poststop: try stop(state)
        }
    }

    /// Is the container one of ours? The hooks.d file runs the hook only for these annotations; a hook
    /// configured without that condition still leaves other containers alone.
    static func wantsPasta(_ state: HookState) -> Bool {
        state.annotations[portsAnnotation] != nil || state.annotations[optionsAnnotation] != nil
    }

    /// Validates everything, prepares /etc/hosts and resolv.conf, starts pasta and records it; on any
    /// failure nothing of ours is left running.
    func start(_ state: HookState) throws {
        guard Hook.wantsPasta(state) else { return }
        let mappings = try PortMapping.parseList(state.annotations[Hook.portsAnnotation] ?? "")
        let userOptions = try PastaArguments.splitOptions(state.annotations[Hook.optionsAnnotation] ?? "")
        guard let pid = state.pid else { throw HookError("the OCI state names no container process") }
        guard let target = ProcessIdentity.current(pid) else { throw HookError("container process \(pid) is not running") }
        // --config-net there would add a tap and addresses to the host's own network.
        if Hook.isSameFile("/proc/\(pid)/ns/net", "/proc/self/ns/net") {
            throw HookError("the container shares the host's network namespace (--network host?): pasta needs one of its own, as with --network none")
        }
        let id = state.id
        // --network container:X: X's pasta serves this namespace already; a second one would fight it.
        if let owner = runDirectory.recordIDs().first(where: { $0 != id && servesNamespace(of: pid, recordID: $0) }) {
            throw HookError("the container shares the network namespace of container \(owner.prefix(12)) (--network container:?), which its pasta already serves: publish ports on that container")
        }
        let pastaPIDFile = runDirectory.pastaPIDPath(id: id)
        let arguments = try PastaArguments(mappings: mappings, userOptions: userOptions,
                                           networkNamespace: "/proc/\(pid)/ns/net", pidFile: pastaPIDFile)
        let config = try BundleConfig(parsing: try Hook.readFile(state.bundle + "/config.json", limit: BundleConfig.limits.maxBytes),
                                      bundle: state.bundle)
        try runDirectory.create()
        // Configured for both createRuntime and prestart: the first one started it.
        if let record = try? runDirectory.readRecord(id: id), record.target == target, record.pastaIsOurs { return }
        // A pasta left from an earlier run of this container (poststop never came) serves nothing now; an
        // unreadable record names nothing that could be stopped, and is replaced below.
        try? stopRecordedPasta(id: id)
        unlink(pastaPIDFile)

        if let address = arguments.hostAddress { try ContainerFiles.pointHostEntry(config: config, address: address) }
        if let server = arguments.dnsForward4 { try ContainerFiles.pointResolverAtForwarder(config: config, server: server) }

        // pasta configures the namespace, binds its ports, forks its daemon and exits 0, or says why it
        // can't and exits non-zero.
        let outcome: ProcessLauncher.Outcome
        do {
            outcome = try ProcessLauncher.run(pastaExecutable, arguments: arguments.arguments, timeoutSeconds: timeoutSeconds)
        } catch {
            stopStartingPasta(pidFile: pastaPIDFile, target: target)
            throw HookError("can't start pasta: \(error)")
        }
        if outcome.timedOut {
            stopStartingPasta(pidFile: pastaPIDFile, target: target)
            throw HookError("pasta was not ready within \(timeoutSeconds) s\(outcome.output.isEmpty ? "" : ": " + outcome.output)")
        }
        guard outcome.status == 0 else {
            stopStartingPasta(pidFile: pastaPIDFile, target: target)
            let said = outcome.output.split(separator: "\n").joined(separator: "; ")
            throw HookError("pasta failed with exit code \(outcome.status)\(said.isEmpty ? "" : ": " + said)")
        }
        let started = Hook.pid(inFile: pastaPIDFile).flatMap(ProcessIdentity.current)
        unlink(pastaPIDFile)
        guard let pasta = started else { throw HookError("pasta exited 0 but its daemon is not running") }
        let record = PastaRecord(pasta: pasta, target: target)
        do {
            try runDirectory.writeRecord(record, id: id)
        } catch {
            Hook.terminate(record)
            throw error
        }
    }

    /// Whether the pasta recorded under `recordID` runs for a container process in `pid`'s network namespace.
    func servesNamespace(of pid: Int32, recordID: String) -> Bool {
        guard let record = try? runDirectory.readRecord(id: recordID), record.target.isRunning, record.pastaIsOurs
        else { return false }
        return Hook.isSameFile("/proc/\(record.target.pid)/ns/net", "/proc/\(pid)/ns/net")
    }

    func stop(_ state: HookState) throws {
        try stopRecordedPasta(id: state.id)
    }

    /// Stops the recorded pasta once the container process it serves is gone, and forgets it. A poststop
    /// that comes late, after `podman start` already started a new pasta for a new process, leaves that
    /// one alone.
    func stopRecordedPasta(id: String) throws {
        let record: PastaRecord?
        do {
            record = try runDirectory.readRecord(id: id)
        } catch {
            runDirectory.removeRecord(id: id)
            throw error
        }
        guard let record else { return }
        if record.target.isRunning { return }
        Hook.terminate(record)
        runDirectory.removeRecord(id: id)
    }

    /// A pasta that failed or timed out may have forked its daemon already: stop it too.
    func stopStartingPasta(pidFile: String, target: ProcessIdentity) {
        if let pid = Hook.pid(inFile: pidFile), let pasta = ProcessIdentity.current(pid) {
            Hook.terminate(PastaRecord(pasta: pasta, target: target))
        }
        unlink(pidFile)
    }

    /// SIGTERM to the recorded pasta if it is still ours, SIGKILL if it has not gone within 2 s.
    static func terminate(_ record: PastaRecord) {
        guard record.pastaIsOurs else { return }
        kill(record.pasta.pid, SIGTERM)
        for _ in 0..<200 {
            if !record.pasta.isRunning { return }
            usleep(10_000)
        }
        if record.pastaIsOurs { kill(record.pasta.pid, SIGKILL) }
    }

    static func isSameFile(_ a: String, _ b: String) -> Bool {
        var first = stat(), second = stat()
        return stat(a, &first) == 0 && stat(b, &second) == 0 && first.st_dev == second.st_dev && first.st_ino == second.st_ino
    }

    static func pid(inFile path: String) -> Int32? {
        guard let bytes = try? readFile(path, limit: 64) else { return nil }
        return Int32(String(decoding: bytes, as: UTF8.self).trimmingWhitespace)
    }

    static func readFile(_ path: String, limit: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw HookError("can't open \(path): \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size <= limit else { throw HookError("\(path) is larger than \(limit) bytes") }
        return try ContainerFiles.readAll(fd, what: path, limit: limit)
    }
}

extension String {
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        let start = scalars.firstIndex { !" \t\n\r".unicodeScalars.contains($0) } ?? scalars.endIndex
        let end = scalars.lastIndex { !" \t\n\r".unicodeScalars.contains($0) }.map { scalars.index(after: $0) } ?? start
        return String(scalars[start..<max(start, end)])
    }
}
