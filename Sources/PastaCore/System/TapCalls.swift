import CLinux
import Glibc

/// The tun/tap calls of TapDevice, and the kernel's virtio-net header values: errors as values.
enum TapCalls {
    /// TUNSETOFFLOAD's flags: which offloads the tap may hand us in its frames.
    static let checksum = CLinux_TUN_F_CSUM
    static let tcp4Segmentation = CLinux_TUN_F_TSO4
    static let tcp6Segmentation = CLinux_TUN_F_TSO6
    static let tcpSegmentationECN = CLinux_TUN_F_TSO_ECN
    static let udp4Segmentation = CLinux_TUN_F_USO4
    static let udp6Segmentation = CLinux_TUN_F_USO6

    /// /dev/net/tun, non-blocking.
    static func openTun() throws -> Descriptor {
        try Descriptor.open("/dev/net/tun", O_RDWR | CLinux_O_NONBLOCK)
    }

    /// Creates (or attaches to) tap `name` on `fd`, with a virtio-net header before every frame if asked;
    /// the name the kernel gave it.
    static func attach(_ fd: Int32, name: String, virtioHeader: Bool) -> Result<String, SystemError> {
        var assigned = [CChar](repeating: 0, count: Int(CLinux_IFNAMSIZ))
        guard CLinux_tap_attach(fd, name, &assigned, virtioHeader ? 1 : 0) == 0 else { return .failure(SystemError("TUNSETIFF")) }
        return .success(String(cString: assigned))
    }

    static func setOffloads(_ fd: Int32, _ flags: UInt32) -> SystemError? {
        CLinux_tap_set_offload(fd, flags) == 0 ? nil : SystemError("TUNSETOFFLOAD")
    }

    /// Writes a frame, behind a virtio-net header if `header` is given, as one packet (EINTR retried).
    static func write(_ fd: Int32, header: UnsafeRawPointer?, headerLength: Int, frame: UnsafeRawBufferPointer) -> IOResult {
        while true {
            let n = header.map { CLinux_write_with_header(fd, $0, Int32(headerLength), frame.baseAddress, frame.count) }
                ?? Glibc.write(fd, frame.baseAddress, frame.count)
            let result = IOResult(returned: n)
            if case .failed(EINTR) = result { continue }
            return result
        }
    }
}

/// struct virtio_net_hdr's size and values (linux/virtio_net.h).
enum VirtioNetValues {
    static let size = Int(CLinux_VIRTIO_NET_HDR_SIZE)
    static let needsChecksum = CLinux_VIRTIO_NET_HDR_F_NEEDS_CSUM
    static let dataValid = CLinux_VIRTIO_NET_HDR_F_DATA_VALID
    static let gsoNone = CLinux_VIRTIO_NET_HDR_GSO_NONE
    static let gsoTCPv4 = CLinux_VIRTIO_NET_HDR_GSO_TCPV4
    static let gsoTCPv6 = CLinux_VIRTIO_NET_HDR_GSO_TCPV6
    static let gsoUDP = CLinux_VIRTIO_NET_HDR_GSO_UDP_L4
    static let gsoECN = CLinux_VIRTIO_NET_HDR_GSO_ECN
}
