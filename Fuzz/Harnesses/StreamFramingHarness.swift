import Glibc
@testable import PastaCore

/// passt's stream framing (qemu's `-netdev stream`: a 32-bit length before each frame), the bytes a VM
/// writes to our socket. Input: a control byte, then the stream.
///
/// Control bit 0 clear: StreamFraming.next walks the bytes as one read, every frame it finds must lie
/// inside them. Set: the bytes go through a StreamBackend over a UNIX socket pair (no network), written
/// in pieces whose sizes the following control byte sets, each piece read into batches before the next;
/// then the peer closes. The backend must hand out frames of legal lengths and end in `.closed`.
enum StreamFramingHarness {
    static let harness = Harness(
        name: "stream-framing", summary: "qemu stream framing: StreamFraming.next and StreamBackend over a socket pair",
        maximumLength: 140_000, run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let control = input.byte()
        if control & 1 == 0 {
            walk(input.rest())
        } else {
            let pieceSize = 1 << Int(input.byte() % 18)
            throughBackend(input.rest(), pieceSize: pieceSize)
        }
    }

    static func walk(_ stream: [UInt8]) {
        stream.withUnsafeBytes { bytes in
            var offset = 0
            while true {
                switch StreamFraming.next(in: bytes, at: offset) {
                case .frame(let start, let length):
                    guard start == offset + StreamFraming.lengthSize, length >= StreamFraming.minimumFrame,
                          length <= StreamFraming.maximumFrame, start + length <= bytes.count
                    else { fatalError("stream-framing: frame at \(start), \(length) bytes, in \(bytes.count)") }
                    offset = start + length
                case .incomplete(let from):
                    guard from == offset else { fatalError("stream-framing: incomplete from \(from), not \(offset)") }
                    return
                case .badLength:
                    return
                }
            }
        }
    }

    static func throughBackend(_ stream: [UInt8], pieceSize: Int) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { fatalError("socketpair: \(errno)") }
        let backend: StreamBackend
        do {
            backend = try StreamBackend(socket: Descriptor(fds[0]))
        } catch {
            fatalError("stream-framing: \(error)")
        }
        let peer = fds[1]
        // A full socket must not block the run: the backend reads, then the write is tried again.
        _ = fcntl(peer, F_SETFL, O_NONBLOCK)
        let batch = FrameBatch()
        var closed = false
        var offset = 0
        while offset < stream.count && !closed {
            let piece = min(pieceSize, stream.count - offset)
            let written = stream[offset..<offset + piece].withUnsafeBytes { write(peer, $0.baseAddress, piece) }
            if written > 0 {
                offset += written
            } else if errno != EAGAIN {
                fatalError("stream-framing: write to the socket pair: \(errno)")
            }
            closed = receiveAll(backend, batch)
        }
        close(peer)
        if !closed { closed = receiveAll(backend, batch) }
        guard closed else { fatalError("stream-framing: the peer closed, the backend didn't notice") }
    }

    /// Receives until the socket has nothing more; true once the backend reports the stream closed.
    private static func receiveAll(_ backend: StreamBackend, _ batch: FrameBatch) -> Bool {
        while true {
            let receipt: FrameReceipt
            do {
                receipt = try backend.receive(into: batch)
            } catch {
                fatalError("stream-framing: receive threw \(error)")
            }
            switch receipt {
            case .closed:
                return true
            case .frames(let count, let drained):
                for index in 0..<count {
                    let length = batch[index].count
                    guard length >= StreamFraming.minimumFrame, length <= StreamFraming.maximumFrame else {
                        fatalError("stream-framing: handed out a frame of \(length) bytes")
                    }
                }
                if drained { return false }
            }
        }
    }

    static func framed(_ frame: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: UInt32(frame.count).bigEndian, Array.init) + frame
    }

    static func seeds() -> [[UInt8]] {
        let arp = FrameBuilder.ethernet(EtherType.arp, ArpHarness.request(sender: [198, 51, 100, 2], target: [198, 51, 100, 1]))
        let large = FrameBuilder.ethernet(EtherType.ipv4, [UInt8](repeating: 0x45, count: 1500))
        let stream = framed(arp) + framed(large) + framed(arp)
        return [[0] + stream, [1, 7] + stream, [1, 0] + framed(arp), [1, 17] + stream + Array(framed(arp).prefix(9)),
                [0] + [0, 0, 0, 13] + arp]
    }
}
