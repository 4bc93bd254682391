import Glibc

extension dirent {
    /// The entry's file name (d_name up to its terminating zero).
    public var name: String {
        withUnsafeBytes(of: d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
