import AdapterSupport

/// The OCI state a runtime writes to a hook's standard input (runtime-spec "State"):
/// `{"ociVersion", "id", "status", "pid", "bundle", "annotations"}`.
public struct HookState: Equatable {
    public var ociVersion: String
    public var id: String
    public var status: String
    /// The container's init process; absent (or 0) once it has stopped.
    public var pid: Int32?
    public var bundle: String
    public var annotations: [String: String]

    /// The first 12 characters of the ID, as Podman shows it.
    public var shortID: String { String(id.prefix(12)) }

    /// State documents are small; a megabyte leaves room for large annotations.
    public static let limits = JSONValue.Limits(maxBytes: 1 << 20, maxDepth: 16, maxStringBytes: 256 << 10)

    public init(ociVersion: String, id: String, status: String, pid: Int32?, bundle: String,
                annotations: [String: String]) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations
    }

    /// Parses and validates the state document.
    public init(parsing bytes: [UInt8]) throws {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes, limits: HookState.limits)
        } catch let error as JSONError {
            throw HookError("invalid OCI state JSON: \(error)")
        }
        guard document.objectValue != nil else { throw HookError("invalid OCI state: not a JSON object") }
        func requiredString(_ key: String) throws -> String {
            guard let member = document[key] else { throw HookError("invalid OCI state: no \"\(key)\"") }
            guard let text = member.stringValue else { throw HookError("invalid OCI state: \"\(key)\" is not a string") }
            return text
        }
        ociVersion = try requiredString("ociVersion")
        id = try requiredString("id")
        status = try requiredString("status")
        bundle = try requiredString("bundle")
        // Container IDs become file names in the run directory: keep them to what runtimes generate.
        guard !id.isEmpty, id.utf8.count <= 128,
              id.utf8.allSatisfy({ HookState.isIDCharacter($0) }), id != ".", id != ".."
        else { throw HookError("invalid OCI state: container id '\(HookError.printable(id))' is not 1 to 128 of [A-Za-z0-9_.-]") }
        guard bundle.hasPrefix("/"), !bundle.utf8.contains(0), bundle.utf8.count < 4096 else {
            throw HookError("invalid OCI state: bundle '\(HookError.printable(bundle))' is not an absolute path")
        }
        switch document["pid"] {
        case nil, .null?: pid = nil
        case let member?:
            guard let value = member.integerValue, value >= 0, value <= Int64(Int32.max) else {
                throw HookError("invalid OCI state: \"pid\" is not a process ID")
            }
            pid = value == 0 ? nil : Int32(value)
        }
        annotations = [:]
        switch document["annotations"] {
        case nil, .null?: break
        case .object(let members)?:
            for (key, value) in members {
                guard let text = value.stringValue else {
                    throw HookError("invalid OCI state: annotation '\(HookError.printable(key))' is not a string")
                }
                annotations[key] = text
            }
        default: throw HookError("invalid OCI state: \"annotations\" is not an object")
        }
    }

    static func isIDCharacter(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
            || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
    }
}
