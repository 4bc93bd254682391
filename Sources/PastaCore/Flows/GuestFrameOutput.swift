/// The guest's side of the datapath as the TCP engine sends to it: GuestPort in the program, a simulated
/// link in the tests.
protocol GuestFrameOutput: AnyObject {
    /// The backend can take no more for now (see GuestPort): flows keep what they have and wait.
    var isFull: Bool { get }
    /// Where our frames go: the guest's MAC address as its frames show it.
    var guestMAC: [UInt8] { get }
    /// The backend takes TCP segments of up to 64 KiB with the checksum left partial.
    var segmentationOffload: Bool { get }
    /// Offers frames in order; returns how many were taken.
    func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int
    /// Offers one frame; false if it wasn't taken.
    @discardableResult
    func send(_ frame: UnsafeRawBufferPointer) -> Bool
    /// Room for TCP frames in the guest's own buffers, to read payloads into (see FrameLoan); only asked
    /// with `segmentationOffload`.
    func borrowFrames(headerLength: Int, payloadLimit: Int, bytes: Int) -> FrameLoanOutcome
    /// The first `frames` frames of the loan are filled: they go to the guest. Returns how many were taken.
    func settle(_ loan: FrameLoan, frames: Int) -> Int
}

extension GuestPort: GuestFrameOutput {}

/// The TCP engine's two timers: the delayed ACK's and the fine retransmission clock (timerfds in the
/// program, virtual deadlines in the tests). Their expiry comes back as `ackTimerExpired` and
/// `retransmitClockFired`.
protocol TCPTimers: AnyObject {
    /// Fires once, after `milliseconds`.
    func armAckTimer(afterMilliseconds milliseconds: Int)
    /// Ticks every `TCPEngine.retransmitClockInterval` ms while running.
    func setRetransmitClock(running: Bool)
}
