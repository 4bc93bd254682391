/// When our ACK for guest data may wait briefly so that the reply carries it.
///
/// Only a request in an exchange is worth it: a bulk sender that waits for our ACK to open its window
/// loses a whole delay per window. A Linux guest bounds its segments to half the largest window it has
/// seen (tcp_bound_to_half_wnd), so behind a host socket whose send buffer stays small (a 1500-byte
/// uplink keeps it at about 64 KiB) its "full" segments are smaller than the MSS: the full segment is the
/// smaller of the two, and data of a full segment or more is acknowledged at once.
struct TCPAckDelay {
    /// Bytes the guest sent that no frame of ours acknowledged yet.
    var unacknowledged: UInt32
    /// The guest sent this data after we had sent it data: a request answering a reply, not a stream.
    var interactive: Bool
    /// Payload bytes per segment from our MTU and the guest's MSS option.
    var segmentSize: Int
    /// The largest window we ever advertised on this connection, in bytes.
    var largestWindow: UInt32
    /// Some of the guest's data waits for room in the socket: the guest needs to hear about it.
    var heldBack: Bool
    var guestFinished: Bool

    /// The guest's full-sized segment, as it computes it.
    var fullSegment: UInt32 {
        let half = largestWindow / 2
        return UInt32(segmentSize) < half || half == 0 ? UInt32(segmentSize) : half
    }

    var mayWait: Bool {
        interactive && !heldBack && !guestFinished && unacknowledged > 0 && unacknowledged < fullSegment
    }
}
