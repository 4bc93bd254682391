import CLinux
import Glibc

/// Datagrams waiting to leave on one connected socket with one sendmmsg(). Callers queue pointers into
/// buffers they keep intact until the next flush(), and flush before closing the socket queued for.
final class DatagramQueue {
    private let capacity: Int
    private let bases: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let lengths: UnsafeMutablePointer<Int>
    private var count = 0
    private var socket: Int32 = -1

    init(capacity: Int) {
        self.capacity = capacity
        bases = .allocate(capacity: capacity)
        lengths = .allocate(capacity: capacity)
    }

    deinit {
        bases.deallocate()
        lengths.deallocate()
    }

    /// Queues `payload` for `socket`, first sending what waits when it is for another socket or full.
    @inline(__always)
    func append(_ payload: UnsafeRawBufferPointer, on socket: Int32) {
        if count == capacity || (count > 0 && socket != self.socket) { flush() }
        self.socket = socket
        bases[count] = UnsafeMutableRawPointer(mutating: payload.baseAddress)
        lengths[count] = payload.count
        count += 1
    }

    func flush() {
        guard count > 0 else { return }
        var sent = 0
        while sent < count {
            let n = Int(CLinux_send_datagrams(socket, bases + sent, lengths + sent, Int32(count - sent)))
            if n <= 0 {  // a full buffer at the receiver: UDP may drop
                if n < 0 { logDebug("UDP: send: \(String(cString: strerror(errno)))") }
                break
            }
            sent += n
        }
        count = 0
    }
}
