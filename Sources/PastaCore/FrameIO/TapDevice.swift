import Glibc

/// A tap interface (IFF_TAP | IFF_NO_PI), pasta's frame backend: each read returns one Ethernet frame,
/// each write sends one.
///
/// With offloads (the default), the tap is opened with IFF_VNET_HDR and told we take partial checksums and
/// TCP segmentation (TUNSETOFFLOAD): the namespace then hands us TCP segments of up to 64 KiB whatever its
/// MTU, and takes ours the same way, finishing checksums and cutting segments itself, so a small MTU no
/// longer costs a frame, a system call and a checksum per 1,460 bytes.
public final class TapDevice: FrameBackend {
    public let descriptor: Descriptor
    public let name: String
    /// Segmentation and checksum offloads in effect: every frame then travels behind a virtio-net header.
    public let offloads: Bool
    /// The namespace may also hand us UDP datagrams several to a frame (TUN_F_USO4/6), and takes them so
    /// (until it refuses one).
    public private(set) var udpSegmentation: Bool
    /// TCP payload per segment the namespace's MTU allows, for the segments we leave it to cut.
    private let segmentPayload4: Int
    private let segmentPayload6: Int
    /// Where received frames are read to: one slot per frame of a batch.
    private let slots: UnsafeMutableRawPointer
    private static let slotSize = FrameBatch.frameCapacity + 16
    private let header: UnsafeMutableRawPointer

    /// Creates the tap in the calling thread's network namespace (call it inside `NetworkNamespace.run`).
    /// Without `offload`, or where the kernel refuses it (said once in the log), frames are plain.
    public static func create(name: String, offload: Bool, mtu: Int) throws -> TapDevice {
        if offload {
            let fd = try openTun()
            let refusal: SystemError?
            switch TapCalls.attach(fd.raw, name: name, virtioHeader: true) {
            case .success(let assigned):
                let flags = TapCalls.checksum | TapCalls.tcp4Segmentation | TapCalls.tcp6Segmentation | TapCalls.tcpSegmentationECN
                // UDP segmentation too where the kernel knows it (6.2 and later).
                guard let noUDP = TapCalls.setOffloads(fd.raw, flags | TapCalls.udp4Segmentation | TapCalls.udp6Segmentation) else {
                    return TapDevice(descriptor: fd, name: assigned, offloads: true, udpSegmentation: true, mtu: mtu)
                }
                refusal = TapCalls.setOffloads(fd.raw, flags)
                if refusal == nil {
                    logDebug("tap: no UDP segmentation offload (\(errorDescription(noUDP.code)))")
                    return TapDevice(descriptor: fd, name: assigned, offloads: true, udpSegmentation: false, mtu: mtu)
                }
            case .failure(let error):
                refusal = error
            }
            // Closing the descriptor removes the tap it made: the plain one below takes its place.
            logInfo("tap offloads not available (\(errorDescription(refusal?.code ?? 0))): frames of at most the MTU")
        }
        let fd = try openTun()
        switch TapCalls.attach(fd.raw, name: name, virtioHeader: false) {
        case .success(let assigned):
            return TapDevice(descriptor: fd, name: assigned, offloads: false, udpSegmentation: false, mtu: mtu)
        case .failure(let error):
            throw OptionError("can't create tap device \(name) in the namespace: \(errorDescription(error.code))")
        }
    }

    private static func openTun() throws -> Descriptor {
        do {
            return try TapCalls.openTun()
        } catch let error as SystemError {
            throw OptionError("can't open /dev/net/tun: \(errorDescription(error.code))")
        }
    }

    private init(descriptor: Descriptor, name: String, offloads: Bool, udpSegmentation: Bool, mtu: Int) {
        self.descriptor = descriptor
        self.name = name
        self.offloads = offloads
        self.udpSegmentation = udpSegmentation
        segmentPayload4 = max(mtu - 40, 536)
        segmentPayload6 = max(mtu - 60, 536)
        slots = .allocate(byteCount: FrameBatch.capacity * Self.slotSize, alignment: 64)
        header = .allocate(byteCount: 16, alignment: 8)
    }

    deinit {
        slots.deallocate()
        header.deallocate()
    }

    // MARK: FrameBackend

    public var eventDescriptor: Int32 { descriptor.raw }
    public var segmentationOffload: Bool { offloads }

    /// One read per frame, into slots of our own, until the tap is empty or the batch full. A frame whose
    /// virtio-net header doesn't agree with it is dropped; a partial checksum is left as it is for TCP and
    /// UDP (which don't need it) and finished here for the rest.
    public func receive(into batch: FrameBatch) throws -> FrameReceipt {
        batch.removeAll()
        let headerSize = offloads ? VirtioNetHeader.size : 0
        while !batch.isFull {
            let slot = slots + batch.count * Self.slotSize
            guard let n = try descriptor.read(into: slot, count: Self.slotSize), n > 0 else { break }
            guard n > headerSize else { continue }
            let frame = UnsafeMutableRawBufferPointer(start: slot + headerSize, count: n - headerSize)
            guard offloads else {
                batch.append(UnsafeRawBufferPointer(frame))
                continue
            }
            guard let virtio = VirtioNetHeader(UnsafeRawBufferPointer(start: slot, count: n)),
                  var offload = virtio.received(UnsafeRawBufferPointer(frame))
            else { continue }
            // TCP's and UDP's (checksum offsets 16 and 6) stay partial.
            if let partial = offload.partialChecksum, partial.field - partial.start != 16, partial.field - partial.start != 6 {
                partial.complete(frame)
                offload.partialChecksum = nil
            }
            batch.append(UnsafeRawBufferPointer(frame), offload: offload)
        }
        return .frames(batch.count, drained: !batch.isFull)
    }

    /// One write per frame (behind its virtio-net header, with offloads). The tap takes frames until the
    /// namespace's input backlog is full; EAGAIN is the only refusal.
    public func send(_ frames: UnsafeBufferPointer<UnsafeRawBufferPointer>) -> Int {
        for (index, frame) in frames.enumerated() {
            if offloads {
                VirtioNetHeader.forOutgoing(frame, segmentPayload4: segmentPayload4, segmentPayload6: segmentPayload6)
                    .write(to: header)
            }
            let written = TapCalls.write(descriptor.raw, header: offloads ? UnsafeRawPointer(header) : nil,
                                         headerLength: VirtioNetHeader.size, frame: frame)
            // Any other error loses this frame, as a congested link would.
            if case .wouldBlock = written { return index }
        }
        return frames.count
    }

    /// One write, behind a header asking the namespace's stack to cut the payload into datagrams
    /// (VIRTIO_NET_HDR_GSO_UDP_L4) and finish their checksums.
    public func sendDatagrams(_ frame: UnsafeRawBufferPointer, datagramSize: Int) -> Bool {
        guard udpSegmentation, let udp = PartialChecksum.ofUDP(frame) else { return true }  // not one: dropped
        VirtioNetHeader(flags: VirtioNetHeader.needsChecksum, gsoType: VirtioNetHeader.gsoUDP,
                        headerLength: UInt16(udp.start + 8), gsoSize: UInt16(datagramSize),
                        checksumStart: UInt16(udp.start), checksumOffset: 6).write(to: header)
        switch TapCalls.write(descriptor.raw, header: header, headerLength: VirtioNetHeader.size, frame: frame) {
        case .done: return true
        case .wouldBlock: return false
        case .failed(let code):
            // The kernel refused the segmentation itself: this frame is lost, later datagrams go one by one.
            logWarning("tap: UDP segmentation refused (\(errorDescription(code))): datagrams go one per frame")
            udpSegmentation = false
            return true
        }
    }

    /// Nothing is held back: writable means room.
    public func drain() -> Bool { true }
}
