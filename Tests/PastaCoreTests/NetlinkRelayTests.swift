import CLinux
import Foundation
import Glibc
import XCTest
@testable import PastaCore

/// The namespace's netlink relay (CLinux_netlink_relay_serve), over socket pairs in place of its channel
/// and its rtnetlink socket: address and route requests pass, anything else the daemon might send (a
/// compromised one included) is answered EPERM by the relay itself and never reaches the namespace.
final class NetlinkRelayTests: XCTestCase {
    private var channel: [Int32] = [-1, -1]  // [ours, the relay's]
    private var netlink: [Int32] = [-1, -1]  // [the relay's, the fake kernel's]
    private var relay: Thread?
    private let finished = DispatchSemaphore(value: 0)

    override func setUp() {
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &channel), 0)
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &netlink), 0)
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        for fd in [channel[0], netlink[1]] {
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        let (relayChannel, relayNetlink) = (channel[1], netlink[0])
        let finished = self.finished
        relay = Thread {
            CLinux_netlink_relay_serve(relayChannel, relayNetlink)
            finished.signal()
        }
        relay?.start()
    }

    override func tearDown() {
        close(channel[0])
        XCTAssertEqual(finished.wait(timeout: .now() + 5), .success, "the relay returns when our side closes")
        [channel[1], netlink[0], netlink[1]].forEach { close($0) }
    }

    private func message(type: UInt16, sequence: UInt32, payload: [UInt8] = [UInt8](repeating: 0, count: 8),
                         length: UInt32? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: length ?? UInt32(16 + payload.count)) { bytes += $0 }
        withUnsafeBytes(of: type) { bytes += $0 }
        withUnsafeBytes(of: UInt16(Netlink.request | Netlink.ack)) { bytes += $0 }
        withUnsafeBytes(of: sequence) { bytes += $0 }
        withUnsafeBytes(of: UInt32(0)) { bytes += $0 }
        return bytes + payload
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }, bytes.count)
    }

    private func receive(_ fd: Int32, wait: Bool = true) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, wait ? 0 : Int32(MSG_DONTWAIT)) }
        return n > 0 ? Array(buffer[0..<n]) : nil
    }

    /// The error code of an NLMSG_ERROR reply answering `sequence`.
    private func errorCode(_ reply: [UInt8]?, sequence: UInt32) -> Int32? {
        guard let message = reply.flatMap({ NetlinkMessage.split($0[...]).first }),
              message.type == Netlink.error, message.sequence == sequence else { return nil }
        return message.errorCode
    }

    func testAddressAndRouteRequestsPassAndTheirAnswersComeBack() {
        for (sequence, type) in [(1, Netlink.newAddress), (2, Netlink.deleteAddress), (3, Netlink.newRoute),
                                 (4, Netlink.deleteRoute)] as [(UInt32, UInt16)] {
            let request = message(type: type, sequence: sequence)
            send(channel[0], request)
            XCTAssertEqual(receive(netlink[1]), request, "passed on unchanged")
            send(netlink[1], message(type: Netlink.error, sequence: sequence, payload: [0, 0, 0, 0] + request.prefix(16)))
            XCTAssertEqual(errorCode(receive(channel[0]), sequence: sequence), 0, "the kernel's ACK comes back")
        }
    }

    func testEverythingElseIsRefusedWithoutReachingTheNamespace() {
        let refused: [(String, [UInt8], UInt32)] = [
            ("a link change", message(type: Netlink.newLink, sequence: 10), 10),
            ("a dump", message(type: Netlink.getLink, sequence: 11), 11),
            ("a length that isn't the datagram's", message(type: Netlink.newAddress, sequence: 12, length: 200), 12),
            ("a length shorter than the datagram", message(type: Netlink.newRoute, sequence: 13, length: 16), 13),
            ("two messages in one datagram",
             message(type: Netlink.newAddress, sequence: 14) + message(type: Netlink.newLink, sequence: 15), 14),
        ]
        for (what, request, sequence) in refused {
            send(channel[0], request)
            XCTAssertEqual(errorCode(receive(channel[0]), sequence: sequence), EPERM, what)
        }
        send(channel[0], [1, 2, 3])  // shorter than a header: dropped without an answer
        XCTAssertNil(receive(netlink[1], wait: false), "nothing reached the namespace")
        // Still serving after all that.
        let request = message(type: Netlink.newAddress, sequence: 20)
        send(channel[0], request)
        XCTAssertEqual(receive(netlink[1]), request)
        send(netlink[1], message(type: Netlink.error, sequence: 20, payload: [0, 0, 0, 0] + request.prefix(16)))
        XCTAssertEqual(errorCode(receive(channel[0]), sequence: 20), 0)
    }

    func testAKernelThatCantBeReachedIsAnError() {
        close(netlink[1])
        netlink[1] = -1
        send(channel[0], message(type: Netlink.newAddress, sequence: 30))
        XCTAssertEqual(errorCode(receive(channel[0]), sequence: 30), EPIPE, "the send's error, as the relay's answer")
    }
}
