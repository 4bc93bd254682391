#if FUZZ_PLANTED_BUG
/// A bug planted on purpose, only in builds with FUZZ_PLANTED_BUG (`scripts/fuzz.sh --planted-bug`): a copy
/// of DHCPServer.parse's option walk without the check that an option's value ends inside the message.
/// The dhcp harness runs it on every message it wraps; the fuzzer must report an over-read within seconds,
/// which shows that the harness reaches the option walk and that AddressSanitizer watches the reads.
enum PlantedBug {
    static func walkDHCPOptions(_ message: [UInt8]) {
        // Bytes of their own, exactly as many as the message: any read past them hits a redzone.
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(message.count, 1), alignment: 1)
        defer { copy.deallocate() }
        copy.copyBytes(from: message)
        let bytes = UnsafePointer(copy.baseAddress!.assumingMemoryBound(to: UInt8.self))
        guard message.count >= 240, message[0] == 1, message[236] == 0x63, message[237] == 0x82,
              message[238] == 0x53, message[239] == 0x63
        else { return }
        var index = 240
        var lastByte: UInt8 = 0
        while index + 2 <= message.count {
            let code = bytes[index]
            if code == 0 { index += 1; continue }
            if code == 255 { break }
            let length = Int(bytes[index + 1])
            // Missing on purpose: guard index + 2 + length <= message.count
            if length > 0 { lastByte = bytes[index + 1 + length] }
            index += 2 + length
        }
        _ = lastByte
    }
}
#endif
