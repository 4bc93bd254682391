import AdapterSupport

/// The JSON this program prints: the adapters' JSONValue, whose objects keep their keys in the order
/// given, so the output reads the same every time.
typealias JSON = JSONValue

extension JSONValue {
    static func int(_ value: Int) -> JSONValue { .integer(Int64(value)) }
    static func optional(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
    static func optional(_ value: Int32?) -> JSONValue { value.map { .integer(Int64($0)) } ?? .null }
}
