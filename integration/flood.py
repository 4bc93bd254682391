#!/usr/bin/env python3
"""A hostile guest's frames, for the flood test: valid templates (TCP SYN, UDP, ICMP echo, DHCP, IPv6 TCP
SYN and UDP, ARP) with 1 to 8 random bytes changed, 10% pure garbage and 20% truncated, sent on a raw
socket from inside the namespace. Destinations are lab addresses only: TARGETS4 and TARGETS6 (a lab range
that never answers, and the lab internet's server).

  flood IFACE GATEWAY_MAC SRC4 SRC6 COUNT [RATE]   sends COUNT frames (at RATE frames/s, default as fast
                                                   as possible); prints "sent N in S s"
  invalid IFACE GATEWAY_MAC SRC4 SRC6 COUNT [RATE] the same with frames that can create nothing: headers cut
                                                   short, IP headers with a wrong version, length or header
                                                   length, and garbage
"""
import os, random, socket, struct, sys, time

from tcp_tool import checksum

TARGETS4 = ["192.0.2.%d" % n for n in range(1, 255)] + ["203.0.113.10"]
TARGETS6 = ["2001:db8:99::%x" % n for n in range(1, 255)] + ["2001:db8:2::10"]


def ip4(src, dst, proto, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def ip6(src, dst, proto, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def l4_checksummed(segment, offset, pseudo):
    value = checksum(pseudo + segment)
    return segment[:offset] + struct.pack("!H", value) + segment[offset + 2:]


def pseudo4(src, dst, proto, length):
    return socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, length)


def pseudo6(src, dst, proto, length):
    return (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!IxxxB", length, proto))


def templates(rng, our_mac, gw_mac, src4, src6):
    eth4 = gw_mac + our_mac + b"\x08\x00"
    eth6 = gw_mac + our_mac + b"\x86\xdd"
    dst4, dst6 = rng.choice(TARGETS4), rng.choice(TARGETS6)
    sport, dport = rng.randint(1024, 65535), rng.randint(1, 65535)
    syn = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
    udp = struct.pack("!HHHH", sport, dport, 8 + 32, 0) + os.urandom(32)
    echo = struct.pack("!BBHHH", 8, 0, 0, rng.getrandbits(16), 1) + os.urandom(16)
    dhcp = struct.pack("!BBBBIHH", 1, 1, 6, 0, rng.getrandbits(32), 0, 0x8000) + bytes(16) + our_mac + bytes(202) \
        + b"\x63\x82\x53\x63\x35\x01\x01\xff"
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, our_mac, socket.inet_aton(src4), bytes(6),
                      socket.inet_aton(dst4))
    return [
        eth4 + ip4(src4, dst4, 6, l4_checksummed(syn, 16, pseudo4(src4, dst4, 6, len(syn)))),
        eth4 + ip4(src4, dst4, 17, l4_checksummed(udp, 6, pseudo4(src4, dst4, 17, len(udp)))),
        eth4 + ip4(src4, dst4, 1, echo[:2] + struct.pack("!H", checksum(echo)) + echo[4:]),
        b"\xff" * 6 + our_mac + b"\x08\x00" + ip4("0.0.0.0", "255.255.255.255", 17,
                                                  struct.pack("!HHHH", 68, 67, 8 + len(dhcp), 0) + dhcp),
        eth6 + ip6(src6, dst6, 6, l4_checksummed(syn, 16, pseudo6(src6, dst6, 6, len(syn)))),
        eth6 + ip6(src6, dst6, 17, l4_checksummed(udp, 6, pseudo6(src6, dst6, 17, len(udp)))),
        b"\xff" * 6 + our_mac + b"\x08\x06" + arp,
    ]


def mutated(rng, our_mac, gw_mac, src4, src6):
    roll = rng.random()
    if roll < 0.1:
        return os.urandom(rng.randint(1, 200))
    frame = bytearray(rng.choice(templates(rng, our_mac, gw_mac, src4, src6)))
    for _ in range(rng.randint(1, 8)):
        frame[rng.randrange(14, len(frame))] = rng.getrandbits(8)
    if roll < 0.3:
        frame = frame[:rng.randint(1, len(frame))]
    return bytes(frame)


def invalid(rng, our_mac, gw_mac, src4, src6):
    frame = bytearray(rng.choice(templates(rng, our_mac, gw_mac, src4, src6)[:6]))
    roll = rng.random()
    if roll < 0.25:
        return os.urandom(rng.randint(1, 120))
    if roll < 0.5:
        return bytes(frame[:rng.randint(14, 14 + 39)])  # cut inside the IP or transport header
    if frame[12:14] == b"\x08\x00":
        choice = rng.randrange(3)
        if choice == 0:
            frame[14] = (rng.choice([0, 5, 7, 15]) << 4) | (frame[14] & 0x0F)  # not version 4
        elif choice == 1:
            frame[14] = 0x40 | rng.choice([0, 1, 4, 15])  # header length shorter than 20 or past the frame
        else:
            frame[16:18] = struct.pack("!H", rng.choice([0, 19, 65535]))  # total length that can't be
    else:
        frame[18:20] = struct.pack("!H", 65535)  # IPv6 payload length past the frame
    return bytes(frame)


def flood(iface, gw_mac, src4, src6, count, rate=None, make=mutated):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((iface, 0))
    our_mac = sock.getsockname()[4]
    gw = bytes.fromhex(gw_mac.replace(":", ""))
    rng = random.Random(11)
    # A pool made up front keeps the sending loop cheap, so the sender isn't what slows the machine.
    pool = [make(rng, our_mac, gw, src4, src6) for _ in range(min(count, 20000))]
    start = time.monotonic()
    sent = 0
    while sent < count:
        try:
            sock.send(pool[sent % len(pool)])
        except OSError:
            pass  # a frame too short for the device: it counts as sent garbage
        sent += 1
        if rate and sent % 100 == 0:
            ahead = sent / rate - (time.monotonic() - start)
            if ahead > 0:
                time.sleep(ahead)
    print(f"sent {sent} in {time.monotonic() - start:.1f} s", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 7 or sys.argv[1] not in ("flood", "invalid"):
        raise SystemExit(__doc__)
    flood(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]),
          int(sys.argv[7]) if len(sys.argv) > 7 else None, mutated if sys.argv[1] == "flood" else invalid)
