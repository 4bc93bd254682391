import Glibc

/// The local ports of sockets in one state, read from /proc/net/{tcp,tcp6,udp,udp6} (proc(5)): a header
/// line, then one line per socket, "sl local_address rem_address st ...", addresses as HEX:HEXPORT.
/// Malformed lines are skipped, whatever the bytes.
public enum BoundPorts {
    /// TCP_LISTEN for TCP; TCP_CLOSE (7) is how an unconnected, bound UDP socket shows.
    public static let tcpListening: UInt8 = 0x0A
    public static let udpBound: UInt8 = 0x07

    public static func parse(_ text: UnsafeRawBufferPointer, state: UInt8, into ports: inout Set<UInt16>) {
        var lineStart = 0
        var isHeader = true
        while lineStart < text.count {
            var lineEnd = lineStart
            while lineEnd < text.count && text[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            if !isHeader, let port = port(in: UnsafeRawBufferPointer(rebasing: text[lineStart..<lineEnd]), state: state) {
                ports.insert(port)
            }
            isHeader = false
            lineStart = lineEnd + 1
        }
    }

    /// The local port of one socket line if it is in `state`.
    static func port(in line: UnsafeRawBufferPointer, state: UInt8) -> UInt16? {
        var fields: [Range<Int>] = []
        var index = 0
        while index < line.count && fields.count < 4 {
            while index < line.count && line[index] == UInt8(ascii: " ") { index += 1 }
            let start = index
            while index < line.count && line[index] != UInt8(ascii: " ") { index += 1 }
            if index > start { fields.append(start..<index) }
        }
        guard fields.count == 4, let socketState = hexValue(line, fields[3]), socketState == UInt64(state) else {
            return nil
        }
        let local = fields[1]
        guard let colon = local.lastIndex(where: { line[$0] == UInt8(ascii: ":") }), colon > local.lowerBound,
              hexValue(line, local.lowerBound..<colon) != nil,
              let port = hexValue(line, (colon + 1)..<local.upperBound), port > 0, port <= 0xFFFF
        else { return nil }
        return UInt16(port)
    }

    /// A hexadecimal field of at most 16 digits; a 32-digit one (an IPv6 address) is only checked, as 0.
    private static func hexValue(_ line: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt64? {
        guard !range.isEmpty, range.count <= 16 else {
            return range.count == 32 && range.allSatisfy({ isHexDigit(line[$0]) }) ? 0 : nil
        }
        var value: UInt64 = 0
        for index in range {
            let c = line[index]
            guard isHexDigit(c) else { return nil }
            value = value << 4 | UInt64(c <= 57 ? c - 48 : (c | 0x20) - 87)
        }
        return value
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102)
    }
}
