import AdapterSupport

/// What the hook needs from the bundle's `config.json` (the OCI runtime spec): where the root file
/// system is and which files are bind-mounted over `/etc/hosts` and `/etc/resolv.conf`.
public struct BundleConfig: Equatable {
    /// The root file system, made absolute against the bundle.
    public var rootPath: String
    /// Destination in the container -> source on the host, for bind mounts only.
    public var bindMounts: [String: String]

    /// config.json carries the seccomp profile: a few hundred kilobytes; 16 MiB is generous.
    public static let limits = JSONValue.Limits(maxBytes: 16 << 20, maxDepth: 64, maxStringBytes: 1 << 20)

    public init(rootPath: String, bindMounts: [String: String]) {
        self.rootPath = rootPath
        self.bindMounts = bindMounts
    }

    public init(parsing bytes: [UInt8], bundle: String) throws {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes, limits: BundleConfig.limits)
        } catch let error as JSONError {
            throw HookError("invalid config.json: \(error)")
        }
        guard let root = document["root"]?["path"]?.stringValue, !root.isEmpty, !root.utf8.contains(0) else {
            throw HookError("invalid config.json: no root.path")
        }
        rootPath = root.hasPrefix("/") ? root : bundle + "/" + root
        bindMounts = [:]
        switch document["mounts"] {
        case nil, .null?: break
        case .array(let mounts)?:
            for mount in mounts {
                guard let destination = mount["destination"]?.stringValue,
                      let source = mount["source"]?.stringValue
                else { continue }
                let options = mount["options"]?.arrayValue?.compactMap(\.stringValue) ?? []
                guard mount["type"]?.stringValue == "bind" || options.contains("bind") || options.contains("rbind") else {
                    continue
                }
                bindMounts[BundleConfig.normalized(destination)] = source
            }
        default: throw HookError("invalid config.json: \"mounts\" is not an array")
        }
    }

    /// `/etc//hosts/` and `/etc/hosts` name the same destination.
    static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }
}
