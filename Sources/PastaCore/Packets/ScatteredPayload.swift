/// A packet's payload where it doesn't follow its headers: parts in further buffers, in order (a guest's
/// transmit buffers, whose frames a Linux driver lays out as the headers in one buffer and the data in
/// page fragments). Read where it lies: written to a socket as the parts of one send.
public struct ScatteredPayload {
    public let parts: UnsafeBufferPointer<UnsafeRawBufferPointer>
    public let byteCount: Int

    public static let none = ScatteredPayload(parts: UnsafeBufferPointer(start: nil, count: 0), byteCount: 0)

    public init(parts: UnsafeBufferPointer<UnsafeRawBufferPointer>, byteCount: Int) {
        self.parts = parts
        self.byteCount = byteCount
    }

    public var isEmpty: Bool { byteCount == 0 }

    /// Copies the bytes into `target` (which has room for them); returns how many.
    public func copy(into target: UnsafeMutableRawPointer) -> Int {
        var copied = 0
        for part in parts {
            (target + copied).copyMemory(from: part.baseAddress!, byteCount: part.count)
            copied += part.count
        }
        return copied
    }
}
