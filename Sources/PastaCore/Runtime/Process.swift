import CLinux
import Glibc

/// Process-level chores around start-up: inherited descriptors, the PID file, privileges, daemonising.
public enum ProcessSetup {
    /// Closes every descriptor above stderr except `keep`: an OCI runtime waits for EOF on the pipes its
    /// hooks inherit, so holding them would hang it.
    public static func closeInheritedDescriptors(keeping keep: Set<Int32>) {
        guard let directory = opendir("/proc/self/fd") else { return }
        let own = dirfd(directory)
        var inherited: [Int32] = []
        while let entry = readdir(directory) {
            if let fd = Int32(entry.pointee.name), fd > 2, fd != own, !keep.contains(fd) { inherited.append(fd) }
        }
        closedir(directory)
        inherited.forEach { Glibc.close($0) }
    }

    /// Detaches into the background: the parent writes the child's PID and exits 0; the child gets a
    /// session of its own and /dev/null for standard input and output. With `untilReady`, the parent
    /// first waits for the child's `daemonReady()` (pasta sandboxes itself after the fork), and exits 1
    /// if the child ends before.
    public static func daemonize(pidFile: PidFile?, untilReady: Bool = false) {
        var ready: [Int32] = [-1, -1]
        if untilReady && CLinux_pipe_cloexec(&ready) != 0 { ready = [-1, -1] }
        let child = CLinux_fork()
        if child < 0 {
            logError("can't fork: \(String(cString: strerror(errno)))")
            pidFile?.discard()
            exit(1)
        }
        if child > 0 {
            if ready[0] >= 0 {
                Glibc.close(ready[1])
                var byte: UInt8 = 0
                var n = 0
                repeat { n = Glibc.read(ready[0], &byte, 1) } while n < 0 && errno == EINTR
                if n != 1 {
                    pidFile?.discard()
                    exit(1)
                }
            }
            if let pidFile, !pidFile.write(pid: child) {
                kill(child, SIGTERM)
                pidFile.discard()
                exit(1)
            }
            exit(0)
        }
        if ready[0] >= 0 {
            Glibc.close(ready[0])
            readyDescriptor = ready[1]
        }
        setsid()
        prepareNullDevice()
        if nullDevice >= 0 {
            dup2(nullDevice, 0); dup2(nullDevice, 1); dup2(nullDevice, 2)
            if nullDevice > 2 { Glibc.close(nullDevice) }
            nullDevice = -1
        }
        Logger.shared.detachedFromTerminal(keepStandardError: false)
    }

    /// The daemon's end of the pipe its parent waits on (`daemonize(untilReady:)`).
    private static var readyDescriptor: Int32 = -1

    /// Lets the waiting parent go: the daemon is ready to serve.
    static func daemonReady() {
        guard readyDescriptor >= 0 else { return }
        var byte: UInt8 = 1
        _ = Glibc.write(readyDescriptor, &byte, 1)
        Glibc.close(readyDescriptor)
        readyDescriptor = -1
    }

    /// /dev/null, opened before the sandbox hides it, for daemonising.
    private static var nullDevice: Int32 = -1

    static func prepareNullDevice() {
        if nullDevice < 0 { nullDevice = CLinux_open("/dev/null", O_RDWR | CLinux_O_CLOEXEC, 0) }
    }

    /// Resolves `spec` (UID, UID:GID, LOGIN or LOGIN:GROUP) to IDs, before anything starts.
    public static func identity(_ spec: String) throws -> (uid: uid_t, gid: gid_t) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        var uid: uid_t
        var gid: gid_t
        if let numeric = UInt32(parts[0]) {
            uid = numeric
            gid = getpwuid(numeric).map { $0.pointee.pw_gid } ?? numeric
        } else if let entry = getpwnam(parts[0]) {
            uid = entry.pointee.pw_uid
            gid = entry.pointee.pw_gid
        } else {
            throw OptionError("--runas: no user '\(parts[0])'")
        }
        if parts.count == 2 {
            if let numeric = UInt32(parts[1]) {
                gid = numeric
            } else if let group = getgrnam(parts[1]) {
                gid = group.pointee.gr_gid
            } else {
                throw OptionError("--runas: no group '\(parts[1])'")
            }
        }
        return (uid, gid)
    }
}

/// The `-P/--pid` file: opened before anything starts so a bad path fails early, removed on failure.
public final class PidFile {
    private let path: String
    private let descriptor: Descriptor
    private let createdByUs: Bool

    public init(path: String) throws {
        self.path = path
        createdByUs = access(path, F_OK) != 0
        do {
            descriptor = try Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        } catch let error as SystemError {
            throw OptionError("can't open PID file \(path): \(String(cString: strerror(error.code)))")
        }
    }

    @discardableResult
    public func write(pid: pid_t) -> Bool {
        do {
            try descriptor.writeAll("\(pid)\n")
            descriptor.close()
            return true
        } catch {
            logError("can't write PID file \(path): \(error)")
            return false
        }
    }

    /// Removes the file after a failure, when we were the ones who created it.
    public func discard() {
        descriptor.close()
        guard !Sandbox.isolated else { return }
        if createdByUs { unlink(path) }
    }
}
