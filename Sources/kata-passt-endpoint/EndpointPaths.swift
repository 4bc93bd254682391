import Glibc

/// Where an endpoint's files live: DIR/kata-passt-N.pid and DIR/kata-passt-N.socket, the names Kata's
/// passt networking model uses (with DIR = /tmp), and the qemu arguments that connect a VM to the socket.
struct EndpointPaths {
    /// sun_path holds 108 bytes, one of them the terminating NUL.
    static let maximumSocketPathBytes = 107

    let index: Int
    let directory: String
    let pidFile: String
    let socket: String

    /// Resolves `directory` to an absolute path without symbolic links (qemu and passt may run in
    /// another working directory), and checks that it is a directory and the socket path fits.
    init(index: Int, directory given: String) throws(Failure) {
        guard let resolved = realpath(given, nil) else {
            throw Failure(.badDirectory, "--dir \(given): \(errnoText())")
        }
        let directory = String(cString: resolved)
        free(resolved)
        var info = stat()
        guard stat(directory, &info) == 0 else { throw Failure(.badDirectory, "--dir \(given): \(errnoText())") }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw Failure(.badDirectory, "--dir \(given) is not a directory")
        }
        let prefix = directory == "/" ? "/kata-passt-\(index)" : "\(directory)/kata-passt-\(index)"
        self.index = index
        self.directory = directory
        pidFile = prefix + ".pid"
        socket = prefix + ".socket"
        guard socket.utf8.count <= Self.maximumSocketPathBytes else {
            throw Failure(.badDirectory, "--dir \(given): the socket path \(socket) is longer than the "
                + "\(Self.maximumSocketPathBytes) bytes a UNIX socket address holds")
        }
    }

    /// Fails unless files can be created in the directory: a probe file is made and removed at once, which
    /// also catches read-only mounts and (for root) what permission bits alone would not show.
    func checkWritable() throws(Failure) {
        var template = Array("\(directory)/.kata-passt-\(index).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw Failure(.badDirectory, "--dir \(directory) is not writable: \(errnoText())")
        }
        close(fd)
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    }

    /// qemu (7.2 or later) arguments for a virtio-net NIC on the socket. qemu's option syntax separates
    /// parameters with commas, so a comma inside the path is written twice.
    func qemuArguments(mac: MACAddress) -> [String] {
        let id = "kata-passt-\(index)"
        let path = socket.doubling(",")
        return [
            "-netdev", "stream,id=\(id),server=off,addr.type=unix,addr.path=\(path)",
            "-device", "virtio-net-pci,netdev=\(id),mac=\(mac.text)",
        ]
    }
}

func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

extension String {
    /// The string with every `character` written twice.
    func doubling(_ character: Character) -> String {
        var out = ""
        for c in self {
            out.append(c)
            if c == character { out.append(c) }
        }
        return out
    }
}
