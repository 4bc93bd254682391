@testable import PastaCore

/// /proc/net/{tcp,tcp6,udp,udp6} as auto mode reads them from the other side (a namespace's processes
/// can bind what they like, and the file's layout is the kernel's). Input: a control byte (bit 0: the UDP
/// state rather than TCP's listen state), then the file's text.
enum ProcNetHarness {
    static let harness = Harness(
        name: "proc-net", summary: "/proc/net/tcp and udp tables through BoundPorts.parse",
        run: run, seeds: seeds)

    static func run(_ data: UnsafeRawBufferPointer) {
        var input = FuzzInput(data)
        let state = input.byte() & 1 != 0 ? BoundPorts.udpBound : BoundPorts.tcpListening
        var ports = Set<UInt16>()
        input.rest().withUnsafeBytes { BoundPorts.parse($0, state: state, into: &ports) }
        if ports.contains(0) { fatalError("proc-net: port 0 reported as bound") }
    }

    static func seeds() -> [[UInt8]] {
        let tcp = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
               1: 0100007F:0035 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 100 0 0 10 0
               2: 0200A8C0:C350 0A00710B:0050 01 00000000:00000000 00:00000000 00000000     0        0 12347 1 0000000000000000 20 4 30 10 -1

            """
        let tcp6 = """
              sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 22 1 0000000000000000 100 0 0 10 0

            """
        let udp = """
               sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
              101: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000   104        0 3456 2 0000000000000000 0

            """
        return [[0] + Array(tcp.utf8), [0] + Array(tcp6.utf8), [1] + Array(udp.utf8)]
    }
}
