import Glibc
@testable import PodmanNetplugin

func temporaryDirectory() throws -> String {
    var template = Array("/tmp/podman-netplugin-test.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { throw HookError("mkdtemp failed") }
    return String(cString: made)
}

func write(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw HookError("can't create \(path)") }
    defer { close(fd) }
    try ContainerFiles.writeAll(fd, Array(text.utf8), what: path)
}

func read(_ path: String) throws -> String {
    String(decoding: try Hook.readFile(path, limit: 1 << 20), as: UTF8.self)
}

/// Removes a directory tree made by a test (without Foundation).
enum FileManagerless {
    static func removeTree(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if info.st_mode & S_IFMT == S_IFDIR, let directory = opendir(path) {
            var names: [String] = []
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(directory)
            for name in names { try removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
