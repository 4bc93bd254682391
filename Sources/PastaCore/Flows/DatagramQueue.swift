import Glibc

/// Datagrams waiting to leave on one connected socket with one sendmmsg(), or one segmented send per run
/// of equal-sized ones. Callers queue pointers into buffers they keep intact until the next flush(), and
/// flush before closing the socket queued for.
final class DatagramQueue {
    private let capacity: Int
    private let bases: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let lengths: UnsafeMutablePointer<Int>
    private var count = 0
    private var socket: Int32 = -1
    /// The kernel segments UDP for us (cleared on the first refusal that isn't about a segment's size).
    private var segmentationWorks = true
    /// The smallest segment size a route refused as too large for its MTU.
    private var refusedSegment = Int.max

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

    /// Sends what waits: runs of equal-sized datagrams (a bulk sender's) with one segmented send each, the
    /// stack building one packet per run instead of one per datagram; the rest with sendmmsg.
    func flush() {
        guard count > 0 else { return }
        var plainFrom = 0
        var index = 0
        while index < count {
            let run = SegmentRun.length(lengths, count: count, from: index)
            if run > 1 && segmentationWorks && lengths[index] < refusedSegment {
                sendPlain(plainFrom..<index)
                if sendSegmented(index..<(index + run)) {
                    index += run
                    plainFrom = index
                    continue
                }
            }
            index += run
        }
        sendPlain(plainFrom..<count)
        count = 0
    }

    /// Whether the kernel took the run (or dropped it for want of room, as it may any datagram); false if
    /// it refused the segmentation itself, and the run goes out datagram by datagram.
    private func sendSegmented(_ range: Range<Int>) -> Bool {
        let segment = lengths[range.lowerBound]
        let send = { SocketCalls.sendSegmented(self.socket, bases: self.bases + range.lowerBound,
                                               lengths: self.lengths + range.lowerBound, count: range.count, segment: segment) }
        var result = send()
        if SocketCalls.failedOnReportedError(result) { result = send() }
        switch result {
        case .done, .wouldBlock:
            return true
        case .failed(ENOBUFS), .failed(ECONNREFUSED):
            return true  // lost like a datagram to a full buffer or a closed port
        case .failed(EINVAL), .failed(EMSGSIZE):
            // Too large a segment for the route's MTU: smaller ones may still go.
            refusedSegment = min(refusedSegment, segment)
        case .failed(let code):
            // EIO (no checksum offload on the way out) or a kernel without UDP_SEGMENT.
            logDebug("UDP: no segmentation offload: \(errorDescription(code))")
            segmentationWorks = false
        }
        return false
    }

    private func sendPlain(_ range: Range<Int>) {
        var sent = range.lowerBound
        var retried = false
        while sent < range.upperBound {
            let result = SocketCalls.sendDatagrams(socket, bases: bases + sent, lengths: lengths + sent,
                                                   count: range.upperBound - sent)
            if !retried && SocketCalls.failedOnReportedError(result) {
                retried = true
                continue
            }
            guard case .done(let n) = result, n > 0 else {  // a full buffer at the receiver: UDP may drop
                if case .failed(let code) = result { logDebug("UDP: send: \(errorDescription(code))") }
                break
            }
            sent += n
        }
    }
}
