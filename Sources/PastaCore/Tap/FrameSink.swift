/// Where frames for the guest go: the tap device in pasta mode (and, later, passt's socket to qemu).
/// Flows only ever see this, so they don't depend on how frames travel.
public protocol FrameSink: AnyObject {
    func send(_ frame: UnsafeRawBufferPointer)
}

/// The tap, with every frame sent also written to the capture file if there is one.
public final class TapSink: FrameSink {
    private let tap: TapDevice
    private let pcap: PcapWriter?

    public init(tap: TapDevice, pcap: PcapWriter?) {
        self.tap = tap
        self.pcap = pcap
    }

    public func send(_ frame: UnsafeRawBufferPointer) {
        pcap?.record(frame)
        tap.send(frame)
    }
}
