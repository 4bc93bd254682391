#!/usr/bin/env python3
"""A guest of passt made of raw frames, for the framing test: speaks qemu's stream protocol (a 4-byte
big-endian length before each Ethernet frame) on passt's UNIX socket and prints one line per step.

  session SOCKET SERVER PORT   DHCP DISCOVER/REQUEST (the DISCOVER written in pieces that split its
                               length), ARP for the gateway and the DHCP REQUEST in one write, then a TCP
                               connection to SERVER:PORT (an echo server) with data both ways and a close
  dhcp SOCKET                  DHCP DISCOVER -> OFFER only; prints "offer ADDRESS"
  bad-length SOCKET LENGTH     writes a frame length of LENGTH; prints "dropped" if passt closes on us
  fd-session FD                the dhcp step over an inherited connected socket FD, then closes it
  inbound-syn SOCKET COUNT     takes a DHCP lease, prints "ready", then prints "syn ADDRESS PORT" for the
                               destination of each of the next COUNT TCP SYNs passt sends it
Exit status 0 when every step saw what it expected.
"""
import os, socket, struct, sys, time

from tcp_tool import checksum

GUEST_MAC = bytes.fromhex("525400123456")
BROADCAST = b"\xff" * 6


def ipv4(src, dst, proto, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def pseudo(src, dst, proto, length):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def udp(src, dst, sport, dport, payload):
    segment = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    value = checksum(pseudo(src, dst, 17, len(segment)) + segment) or 0xFFFF
    return segment[:6] + struct.pack("!H", value) + segment[8:]


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", options=b""):
    offset = (20 + len(options)) // 4
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, offset << 4, flags, 65535, 0, 0) + options + payload
    value = checksum(pseudo(src, dst, 6, len(segment)) + segment)
    return segment[:16] + struct.pack("!H", value) + segment[18:]


def ethernet(dst, ethertype, payload):
    return dst + GUEST_MAC + struct.pack("!H", ethertype) + payload


def dhcp_message(kind, xid, requested=None, server=None):
    body = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, b"\0" * 4, b"\0" * 4,
                       b"\0" * 4, b"\0" * 4, GUEST_MAC + b"\0" * 10, b"\0" * 64, b"\0" * 128)
    options = b"\x63\x82\x53\x63" + bytes([53, 1, kind])
    if requested:
        options += bytes([50, 4]) + socket.inet_aton(requested)
    if server:
        options += bytes([54, 4]) + socket.inet_aton(server)
    options += bytes([55, 3, 1, 3, 6, 255])
    return ethernet(BROADCAST, 0x0800, ipv4("0.0.0.0", "255.255.255.255", 17,
                                           udp("0.0.0.0", "255.255.255.255", 68, 67, body + options)))


class Wire:
    """Frames over the stream socket, with control over how writes split them."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(5)
        self.pending = b""

    @staticmethod
    def framed(frame):
        return struct.pack("!I", len(frame)) + frame

    def send(self, *frames):
        self.sock.sendall(b"".join(self.framed(f) for f in frames))

    def send_in_pieces(self, frame, cuts):
        data = self.framed(frame)
        last = 0
        for cut in cuts + [len(data)]:
            self.sock.sendall(data[last:cut])
            last = cut
            time.sleep(0.05)  # separate reads on passt's side

    def receive(self, accept, timeout=5):
        """The next frame `accept` returns a value for; other frames are skipped."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            while len(self.pending) >= 4:
                length = struct.unpack("!I", self.pending[:4])[0]
                if len(self.pending) < 4 + length:
                    break
                frame, self.pending = self.pending[4:4 + length], self.pending[4 + length:]
                value = accept(frame)
                if value is not None:
                    return value
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(1 << 20)
            except socket.timeout:
                break
            if not data:
                raise SystemExit("passt closed the connection")
            self.pending += data
        raise SystemExit("timed out waiting for a frame")


def dhcp_reply(kind):
    def accept(frame):
        if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            return None
        ihl = (frame[14] & 0x0F) * 4
        payload = frame[14 + ihl + 8:]
        if payload[236:240] != b"\x63\x82\x53\x63":
            return None
        options, i, found = payload[240:], 0, {}
        while i < len(options) and options[i] != 255:
            if options[i] == 0:
                i += 1
                continue
            found[options[i]] = options[i + 2:i + 2 + options[i + 1]]
            i += 2 + options[i + 1]
        if found.get(53) != bytes([kind]):
            return None
        return socket.inet_ntoa(payload[16:20]), found
    return accept


def dhcp(wire, pieces=False):
    discover = dhcp_message(1, 0x1234)
    if pieces:
        wire.send_in_pieces(discover, [2, 30])  # splits the length, then the frame
    else:
        wire.send(discover)
    address, options = wire.receive(dhcp_reply(2))
    print(f"offer {address} router {socket.inet_ntoa(options[3][:4])}", flush=True)
    return address, socket.inet_ntoa(options[3][:4]), socket.inet_ntoa(options[54][:4])


def inbound_syn(path, count):
    wire = Wire(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
    wire.sock.connect(path)
    dhcp(wire)
    print("ready", flush=True)

    def syn(frame):
        if frame[12:14] != b"\x08\x00" or frame[23] != 6:
            return None
        ihl = (frame[14] & 0x0F) * 4
        t = frame[14 + ihl:]
        if t[13] & 0x12 != 0x02:
            return None
        return socket.inet_ntoa(frame[30:34]), struct.unpack("!H", t[2:4])[0]
    for _ in range(count):
        address, port = wire.receive(syn, timeout=20)
        print(f"syn {address} {port}", flush=True)
    return True


def session(path, server, port):
    wire = Wire(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
    wire.sock.connect(path)
    address, router, server_id = dhcp(wire, pieces=True)
    arp = ethernet(BROADCAST, 0x0806, struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, GUEST_MAC,
                                                  socket.inet_aton(address), b"\0" * 6, socket.inet_aton(router)))
    request = dhcp_message(3, 0x1234, requested=address, server=server_id)
    wire.send(arp, request)  # two frames in one write

    def arp_reply(frame):
        if frame[12:14] == b"\x08\x06" and struct.unpack("!H", frame[20:22])[0] == 2 and frame[28:32] == socket.inet_aton(router):
            return frame[22:28]
    gateway_mac = wire.receive(arp_reply)
    print(f"arp {router} is {gateway_mac.hex(':')}", flush=True)
    acked, _ = wire.receive(dhcp_reply(5))
    print(f"ack {acked}", flush=True)

    # TCP through passt to the lab server: handshake, data each way, close.
    sport, seq = 40000, 1000
    def to_server(flags, ack, payload=b"", options=b""):
        return ethernet(gateway_mac, 0x0800, ipv4(address, server, 6,
                                                 tcp(address, server, sport, port, seq, ack, flags, payload, options)))
    def segment_from_server(want_flags=0):
        def accept(frame):
            if frame[12:14] != b"\x08\x00" or frame[23] != 6 or frame[26:30] != socket.inet_aton(server):
                return None
            ihl = (frame[14] & 0x0F) * 4
            total = struct.unpack("!H", frame[16:18])[0]
            t = frame[14 + ihl:14 + total]  # frames shorter than 60 bytes come padded
            sp, dp, s, a, off, flags = struct.unpack("!HHIIBB", t[:14])
            if dp != sport or flags & want_flags != want_flags:
                return None
            return s, a, flags, t[(off >> 4) * 4:]
        return accept
    wire.send(to_server(0x02, 0, options=struct.pack("!BBH", 2, 4, 1460)))
    their_seq, their_ack, flags, _ = wire.receive(segment_from_server(0x12))
    seq += 1
    rcv = their_seq + 1
    wire.send(to_server(0x10, rcv))
    message = b"hello through passt " * 50
    wire.send(to_server(0x18, rcv, message))
    seq += len(message)
    echoed = b""
    while len(echoed) < len(message):
        s, a, flags, data = wire.receive(segment_from_server())
        if data and s == rcv:
            echoed += data
            rcv += len(data)
            wire.send(to_server(0x10, rcv))
    print("tcp echo " + ("intact" if echoed == message else "corrupt"), flush=True)
    wire.send(to_server(0x11, rcv))  # FIN
    seq += 1
    while True:
        s, a, flags, data = wire.receive(segment_from_server())
        if flags & 0x01:
            rcv = s + len(data) + 1
            wire.send(to_server(0x10, rcv))
            break
    print("tcp closed", flush=True)
    return echoed == message


def bad_length(path, length):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.sendall(struct.pack("!I", length) + b"\0" * min(length, 64))
    sock.settimeout(5)
    try:
        closed = sock.recv(65536 + 4) == b""
        while not closed:
            closed = sock.recv(65536 + 4) == b""
    except (socket.timeout, ConnectionResetError):
        closed = False
    print("dropped" if closed else "still connected", flush=True)
    return closed


def main(argv):
    if argv[1] == "session":
        return session(argv[2], argv[3], int(argv[4]))
    if argv[1] == "dhcp":
        wire = Wire(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        wire.sock.connect(argv[2])
        dhcp(wire)
        return True
    if argv[1] == "bad-length":
        return bad_length(argv[2], int(argv[3]))
    if argv[1] == "inbound-syn":
        return inbound_syn(argv[2], int(argv[3]))
    if argv[1] == "fd-session":
        wire = Wire(socket.socket(fileno=int(argv[2])))
        dhcp(wire)
        wire.sock.close()
        return True
    raise SystemExit(__doc__)


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv) else 1)
