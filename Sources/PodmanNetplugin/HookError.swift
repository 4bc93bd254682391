/// A failure the hook reports on standard error (prefixed with the container's short ID) before exiting 1.
public struct HookError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }

    /// `text` cut to 80 characters with control characters escaped, for quoting untrusted input in messages.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(80) {
            out += scalar.value < 0x20 || scalar.value == 0x7F ? "\\x" + String(scalar.value, radix: 16) : String(scalar)
        }
        return text.unicodeScalars.count > 80 ? out + "..." : out
    }
}
