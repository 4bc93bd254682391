import CLinux
import Foundation
import Glibc
import XCTest
@testable import PastaCore

/// The namespace's netlink relay (CLinux_netlink_relay_serve), over socket pairs in place of its channel
/// and its rtnetlink socket: the address and route requests we make for the tap pass; anything else the
/// daemon might send (a compromised one included) is answered EPERM by the relay itself and never reaches
/// the namespace.
final class NetlinkRelayTests: XCTestCase {
    private let tap: Int32 = 7
    private var channel: [Int32] = [-1, -1]  // [ours, the relay's]
    private var netlink: [Int32] = [-1, -1]  // [the relay's, the fake kernel's]
    private let finished = DispatchSemaphore(value: 0)

    override func setUp() {
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &channel), 0)
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue), 0, &netlink), 0)
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        for fd in [channel[0], netlink[1]] {
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        let (relayChannel, relayNetlink, tap) = (channel[1], netlink[0], tap)
        let finished = self.finished
        Thread {
            CLinux_netlink_relay_serve(relayChannel, relayNetlink, tap)
            finished.signal()
        }.start()
    }

    override func tearDown() {
        close(channel[0])
        XCTAssertEqual(finished.wait(timeout: .now() + 5), .success, "the relay returns when our side closes")
        [channel[1], netlink[0], netlink[1]].forEach { if $0 >= 0 { close($0) } }
    }

    private func route(_ destination: String?, length: Int, via gateway: String?) -> RouteInfo {
        RouteInfo(family: (destination ?? gateway ?? "").contains(":") ? Netlink.familyIPv6 : Netlink.familyIPv4,
                  destination: destination.flatMap(IPAddress.init), destinationLength: length,
                  gateway: gateway.flatMap(IPAddress.init), outputInterface: nil, table: 254, routingProtocol: 3,
                  scope: 0, type: 1, priority: 100)
    }

    /// The four requests NamespaceReconfiguration makes, as RouteNetlinkSocket builds them.
    private func ourRequests(interface: Int32? = nil) -> [[UInt8]] {
        let index = interface ?? tap
        return [
            RouteNetlinkSocket.addressRequest(Netlink.newAddress, flags: Netlink.create | Netlink.exclusive,
                                              IPAddress("198.51.100.3")!, prefixLength: 24, interfaceIndex: index),
            RouteNetlinkSocket.addressRequest(Netlink.deleteAddress, flags: 0, IPAddress("2001:db8:1::2")!,
                                              prefixLength: 64, interfaceIndex: index),
            RouteNetlinkSocket.routeRequest(Netlink.newRoute, flags: Netlink.create | Netlink.exclusive,
                                            route(nil, length: 0, via: "198.51.100.1"), interfaceIndex: index),
            RouteNetlinkSocket.routeRequest(Netlink.deleteRoute, flags: 0, route("203.0.113.0", length: 24, via: nil),
                                            interfaceIndex: index),
        ].enumerated().map { $0.element.finished(sequence: UInt32(100 + $0.offset)) }
    }

    private func allows(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { CLinux_netlink_relay_allows($0.baseAddress, $0.count, tap) != 0 }
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) {
        XCTAssertEqual(bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }, bytes.count)
    }

    private func receive(_ fd: Int32, wait: Bool = true) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, wait ? 0 : Int32(MSG_DONTWAIT)) }
        return n > 0 ? Array(buffer[0..<n]) : nil
    }

    private func sequence(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) } }

    /// The error code of an NLMSG_ERROR reply answering `sequence`.
    private func errorCode(_ reply: [UInt8]?, sequence: UInt32) -> Int32? {
        guard let message = reply.flatMap({ NetlinkMessage.split($0[...]).first }),
              message.type == Netlink.error, message.sequence == sequence else { return nil }
        return message.errorCode
    }

    private func ack(_ request: [UInt8]) -> [UInt8] {
        var reply = NetlinkRequest(type: Netlink.error, flags: 0)
        reply.append(UInt32(0))
        reply.append(bytes: Array(request.prefix(16)))
        return reply.finished(sequence: sequence(request))
    }

    func testOurRequestsPassAndTheirAnswersComeBack() {
        for request in ourRequests() {
            XCTAssertTrue(allows(request))
            send(channel[0], request)
            XCTAssertEqual(receive(netlink[1]), request, "passed on unchanged")
            send(netlink[1], ack(request))
            XCTAssertEqual(errorCode(receive(channel[0]), sequence: sequence(request)), 0, "the kernel's ACK comes back")
        }
    }

    /// Requests a compromised daemon might make, each one thing away from ours.
    func testAnythingElseIsRefused() {
        let (address, route) = (ourRequests()[0], ourRequests()[2])
        func changed(_ bytes: [UInt8], at offset: Int, to value: UInt8) -> [UInt8] {
            var copy = bytes
            copy[offset] = value
            return copy
        }
        func withAttribute(_ bytes: [UInt8], type: UInt16, _ payload: [UInt8]) -> [UInt8] {
            var attribute: [UInt8] = []
            withUnsafeBytes(of: UInt16(4 + payload.count)) { attribute += $0 }
            withUnsafeBytes(of: type) { attribute += $0 }
            attribute += payload
            while attribute.count % 4 != 0 { attribute.append(0) }
            var longer = bytes + attribute
            withUnsafeBytes(of: UInt32(longer.count)) { longer.replaceSubrange(0..<4, with: $0) }
            return longer
        }
        let refused: [(String, [UInt8])] = [
            ("an address on another interface", ourRequests(interface: 1)[0]),
            ("a route through another interface", ourRequests(interface: 1)[2]),
            ("a route without its interface", Array(route.prefix(route.count - 16)).withLength()),
            ("a link change", changed(address, at: 4, to: UInt8(Netlink.newLink))),
            ("a dump", changed(changed(address, at: 4, to: 18), at: 6, to: 0x03)),
            ("NLM_F_REPLACE", changed(route, at: 7, to: 0x07)),
            ("the local table", changed(route, at: 16 + 4, to: 255)),
            ("a blackhole route", changed(route, at: 16 + 7, to: 6)),
            ("another routing protocol", changed(route, at: 16 + 5, to: 4)),
            ("a source prefix", changed(route, at: 16 + 2, to: 8)),
            ("an address of another family", changed(address, at: 16, to: 17)),
            ("an address of host scope", changed(address, at: 16 + 3, to: 254)),
            ("RTA_TABLE", withAttribute(route, type: 15, [255, 0, 0, 0])),
            ("RTA_ENCAP", withAttribute(route, type: 22, [0, 0, 0, 0])),
            ("RTA_PREFSRC", withAttribute(route, type: 7, [198, 51, 100, 9])),
            ("IFA_LABEL", withAttribute(address, type: 3, Array("lo".utf8) + [0])),
            ("an attribute longer than the message", changed(route, at: route.count - 8, to: 0xff)),
            ("a length that isn't the datagram's", changed(address, at: 0, to: UInt8(address.count + 4))),
            ("two messages in one datagram", (address + route).withLength(address.count)),
        ]
        for (what, request) in refused {
            XCTAssertFalse(allows(request), what)
            send(channel[0], request)
            XCTAssertEqual(errorCode(receive(channel[0]), sequence: sequence(request)), EPERM, what)
        }
        // Cut anywhere, it is refused; but where only the optional last attribute (RTA_PRIORITY) goes.
        for length in 0..<route.count where length != route.count - 8 {
            XCTAssertFalse(allows(Array(route.prefix(length)).withLength()), "cut at \(length)")
        }
        send(channel[0], [1, 2, 3])  // shorter than a header: dropped without an answer
        XCTAssertNil(receive(netlink[1], wait: false), "nothing reached the namespace")
        // Still serving after all that.
        send(channel[0], address)
        XCTAssertEqual(receive(netlink[1]), address)
        send(netlink[1], ack(address))
        XCTAssertEqual(errorCode(receive(channel[0]), sequence: sequence(address)), 0)
    }

    func testAKernelThatCantBeReachedIsAnError() {
        close(netlink[1])
        netlink[1] = -1
        let request = ourRequests()[0]
        send(channel[0], request)
        XCTAssertEqual(errorCode(receive(channel[0]), sequence: sequence(request)), EPIPE, "the send's error, as the relay's answer")
    }
}

private extension Array where Element == UInt8 {
    /// The message with its nlmsg_len set to `length` (its own size by default).
    func withLength(_ length: Int? = nil) -> [UInt8] {
        guard count >= 4 else { return self }
        var copy = self
        Swift.withUnsafeBytes(of: UInt32(length ?? count)) { copy.replaceSubrange(0..<4, with: $0) }
        return copy
    }
}
