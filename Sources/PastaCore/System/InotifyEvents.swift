/// inotify(7) events as read(2) returns them: struct inotify_event (wd, mask, cookie, len) and a name of
/// `len` bytes padded with NULs. A truncated or overlong record ends the list.
struct InotifyEvent: Equatable {
    var mask: UInt32
    var name: String

    static let headerLength = 16

    static func parse(_ bytes: ArraySlice<UInt8>) -> [InotifyEvent] {
        var events: [InotifyEvent] = []
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= headerLength {
            let mask = bytes.loadNative(UInt32.self, at: offset + 4)
            let length = Int(bytes.loadNative(UInt32.self, at: offset + 12))
            guard length <= bytes.endIndex - offset - headerLength else { break }
            let nameBytes = bytes[(offset + headerLength)..<(offset + headerLength + length)].prefix { $0 != 0 }
            events.append(InotifyEvent(mask: mask, name: String(decoding: nameBytes, as: UTF8.self)))
            offset += headerLength + length
        }
        return events
    }
}
