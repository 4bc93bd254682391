import XCTest
import PastaCore
@testable import PodmanNetplugin

final class PortMappingTests: XCTestCase {
    func testPodmanSyntaxBecomesPastaSpecs() throws {
        let mappings = try PortMapping.parseList(Fixtures.ports)
        XCTAssertEqual(mappings.map(\.pastaOption), ["-t", "-t", "-t", "-u", "-u"])
        XCTAssertEqual(mappings.map(\.pastaSpec),
                       ["18080:80", "127.0.0.1/18081:80", "::1/8443-8444:443-444", "5353:53", "2001:db8::1/53:5353"])
        XCTAssertEqual(mappings[2].hostAddress, IPAddress("::1"))
        XCTAssertEqual(mappings[2].containerPorts, 443...444)
    }

    func testEmptyListAndSeparators() throws {
        XCTAssertEqual(try PortMapping.parseList(""), [])
        XCTAssertEqual(try PortMapping.parseList(" ;\t\n ;"), [])
        XCTAssertEqual(try PortMapping.parseList("1:2;3:4\t5:6\n7:8").count, 4)
    }

    func testSameHostPortForTCPAndUDPOrOtherAddresses() throws {
        XCTAssertEqual(try PortMapping.parseList("53:53/tcp 53:53/udp").count, 2)
        XCTAssertEqual(try PortMapping.parseList("127.0.0.1:80:80 127.0.0.2:80:81 [::1]:80:82").count, 3)
    }

    /// Whatever the annotation parser accepts, pasta's own port-spec parser accepts too, forwarding the
    /// same ports to the same targets.
    func testAcceptedMappingsAreValidPastaSpecs() throws {
        var rng = SeededGenerator(seed: 80)
        let valid = Array(Fixtures.ports.utf8)
        var accepted = 0
        for _ in 0..<10_000 {
            let input = String(decoding: Mutations.mutate(valid, using: &rng), as: UTF8.self)
            let mappings: [PortMapping]
            do {
                mappings = try PortMapping.parseList(input)
            } catch {
                XCTAssertTrue(error is HookError, "\(error)")
                continue
            }
            accepted += 1
            for mapping in mappings {
                let spec = try PortSpec(parsing: mapping.pastaSpec)
                XCTAssertEqual(spec.bindAddress, mapping.hostAddress, input)
                XCTAssertEqual(spec.target(of: mapping.hostPorts.upperBound), mapping.containerPorts.upperBound, input)
            }
        }
        XCTAssertGreaterThan(accepted, 100)
    }

    func testEveryTruncationParsesOrFailsCleanly() {
        let text = Array(Fixtures.ports.utf8)
        for length in 0...text.count {
            let prefix = String(decoding: text[0..<length], as: UTF8.self)
            do {
                _ = try PortMapping.parseList(prefix)
            } catch {
                XCTAssertTrue(error is HookError, "\(error)")
            }
        }
    }

    func testTruncatedMappingsAreRejected() {
        // Cut inside its last item, a mapping always loses its container port or a bracket.
        for item in ["18080:80", "127.0.0.1:18081:80", "[::1]:8443-8444:443-444/tcp"] {
            let bytes = Array(item.utf8)
            for length in 1..<bytes.count {
                let cut = String(decoding: bytes[0..<length], as: UTF8.self)
                // Still valid: a shorter container port, or no protocol (tcp).
                if ["18080:8", "127.0.0.1:18081:8", "[::1]:8443-8444:443-444"].contains(cut) { continue }
                XCTAssertThrowsError(try PortMapping(parsing: cut), cut)
            }
        }
    }

    /// Each bad annotation with the message it gets.
    func testBadMappings() {
        let table: [(String, String)] = [
            ("18080:abc", "invalid port mapping '18080:abc': 'abc' is not a port number (1 to 65535)"),
            ("80", "a host port is needed (HOSTPORT:CTRPORT)"),
            (":80", "a host port is needed"),
            ("127.0.0.1::80", "a host port is needed"),
            ("0:80", "'0' is not a port number"),
            ("65536:80", "'65536' is not a port number"),
            ("8080:+80", "'+80' is not a port number"),
            ("8080-8081:80", "the host range has 2 ports, the container range 1"),
            ("8090-8080:80-90", "port range '8090-8080' is reversed"),
            ("80-81-82:80", "invalid port range '80-81-82'"),
            ("80:80/sctp", "SCTP is not supported"),
            ("80:80/icmp", "unknown protocol 'icmp'"),
            ("80:80/", "unknown protocol ''"),
            ("::1:80:80", "too many ':' (IPv6 host addresses go in brackets"),
            ("[::1:80:80", "no ']' after the IPv6 address"),
            ("[::1]80:80", "expected ':' after ']'"),
            ("[127.0.0.1]:80:80", "'127.0.0.1' is not an IPv6 address"),
            ("[fe80::1%eth0]:80:80", "is not an IPv6 address"),
            ("[::1]:1:80:80", "too many ':' after the address"),
            ("300.1.2.3:80:80", "'300.1.2.3' is not an IPv4 address"),
            ("localhost:80:80", "'localhost' is not an IPv4 address"),
            ("80:80 80:81", "host port 80/tcp is mapped twice ('80:81')"),
            ("127.0.0.1:80:80 80:81", "host port 80/tcp is mapped twice"),
            ("0.0.0.0:80-90:80-90 127.0.0.1:85:85", "host port 85/tcp is mapped twice"),
            ("80:80,81:81", "',' doesn't separate mappings"),
            ("80:8\u{0}0", "only printable ASCII characters are allowed"),
            ("80:80é", "only printable ASCII characters are allowed"),
            (String(repeating: "1", count: 129), "expected 1 to 128 characters"),
            (String(repeating: "1:1 ", count: 1025), "longer than 4096 bytes"),
            ((1...65).map { "\($0):\($0)" }.joined(separator: " "), "more than 64 mappings"),
        ]
        for (text, expected) in table {
            XCTAssertThrowsError(try PortMapping.parseList(text), text) { error in
                XCTAssertTrue("\(error)".hasPrefix("io.containers.pasta.ports: "), "\(error)")
                XCTAssertTrue("\(error)".contains(expected), "\(text): got '\(error)', expected '\(expected)'")
            }
        }
        XCTAssertGreaterThanOrEqual(table.count, 20)
    }
}
