#!/usr/bin/env python3
"""TCP helpers for the integration tests: servers and clients whose results the tests compare.

  echo-server HOST PORT             echoes every connection until EOF (any number at once); HOST "any"
                                    listens on every address of both families
  reply-server HOST PORT SIZE       reads until EOF, then sends SIZE bytes of a fixed pattern
  load HOST PORT COUNT SIZE         COUNT concurrent connections each send SIZE random bytes and
                                    check they come back unchanged; prints "ok N"
  sequential HOST PORT COUNT        COUNT short connections one after another, each echoing 32 bytes
  half-close HOST PORT SIZE         sends a request, shuts down its write side, expects SIZE bytes
  reset-server HOST PORT            reads one chunk from each connection, then closes it with RST
  expect-reset HOST PORT            sends a request; succeeds ("reset") if the connection is reset
  who-server HOST PORT              tells each connection "LOCAL_ADDRESS PEER_ADDRESS" and closes it
  who HOST PORT                     connects and prints what a who-server said
  sack HOST PORT                    connects; prints "sack" or "no sack": whether the handshake agreed on
                                    selective acknowledgments (TCP_INFO; fails only if it can't connect)
  reach-after HOSTS PORT CMD...     runs CMD, then connects to each of the comma-separated HOSTS (every ms
                                    until it succeeds, up to 5 s); prints "HOST MS" with the time since CMD
                                    exited; fails if CMD fails or a host is not reached
  hold HOST PORT GATE                connects to an echo server, echoes a line, waits (up to 60 s) until
                                    the file GATE exists, echoes another on the same connection; prints
                                    "ok" or what broke
  udp-echo-server PORT [ADDR...]     echoes UDP datagrams on ADDRs (default: every address, both families)
  udp-send HOST PORT COUNT          sends COUNT datagrams from COUNT distinct source ports (no reply awaited)
  udp-ask HOST PORT MESSAGE         sends MESSAGE, prints the reply and the address it came from
  dns-server HOST PORT ANSWER       answers every A query with the IPv4 address ANSWER
  dns-server-tcp HOST PORT ANSWER   the same over TCP (length-prefixed messages, one per connection)
  dns-ask-tcp HOST NAME             an A query over TCP to HOST port 53; prints the answer
  dns-ask HOST NAME                 sends an A query for NAME to HOST port 53; prints the answer and the
                                    address the reply came from
  udp-seq-receive HOST PORT COUNT   receives numbered datagrams until COUNT distinct ones arrived (or 15 s
                                    passed); prints "ok COUNT" or what is missing
  udp-seq-send HOST PORT COUNT MBIT sends COUNT numbered 1400-byte datagrams paced at MBIT Mbit/s
  udp-seq-send-gso HOST PORT COUNT MBIT  the same datagrams, 32 to a send (UDP_SEGMENT): the stack hands
                                    them on as one packet, which a device with UDP segmentation keeps whole
  udp-seq-serve HOST PORT COUNT MBIT  waits for one datagram, then answers it with COUNT numbered datagrams
                                    in bursts of 32 (paced at MBIT Mbit/s)
  udp-seq-fetch HOST PORT COUNT     asks udp-seq-serve for them, then receives as udp-seq-receive does
  syn IFACE DST_MAC SRC DST PORT good|bad  one raw TCP SYN on IFACE (IPv4), its checksum correct or not
  garbage IFACE DST_MAC SRC DST     raw TCP frames with random flags/sequence numbers, 20,000 SYNs and
          PORT COUNT                segments for unknown flows, sent on IFACE (IPv4 addresses)
"""
import asyncio, os, socket, struct, sys, random, time


def pattern(size):
    block = bytes(range(256))
    return (block * (size // 256 + 1))[:size]


async def echo(reader, writer):
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def serve(host, port, handler):
    # "any" listens on every address of both families (asyncio makes "::" IPv6-only).
    server = await asyncio.start_server(handler, None if host == "any" else host, port, backlog=1024,
                                        reuse_address=True)
    async with server:
        await server.serve_forever()


def reply_handler(size):
    async def handle(reader, writer):
        while await reader.read(1 << 16):
            pass
        writer.write(pattern(size))
        await writer.drain()
        writer.close()
    return handle


async def one_load(host, port, size, semaphore):
    async with semaphore:
        payload = os.urandom(size)
        reader, writer = await asyncio.open_connection(host, port)
        async def send():
            writer.write(payload)
            await writer.drain()
            writer.write_eof()
        sender = asyncio.create_task(send())
        received = await reader.readexactly(size)
        await sender
        writer.close()
        return received == payload


async def load(host, port, count, size):
    semaphore = asyncio.Semaphore(count)
    results = await asyncio.gather(*(one_load(host, port, size, semaphore) for _ in range(count)),
                                   return_exceptions=True)
    good = sum(1 for r in results if r is True)
    errors = [r for r in results if r is not True][:3]
    print(f"ok {good}" if good == count else f"FAILED {good}/{count} {errors}")
    return good == count


def socket_address(host, port):
    """The socket address for HOST and PORT; a scoped IPv6 address (fe80::1%eth0) keeps its scope, which a
    plain (host, port) tuple would lose."""
    if "%" in host:
        return socket.getaddrinfo(host, port, socket.AF_INET6, 0, 0, socket.AI_NUMERICHOST)[0][4]
    return (host, port)


def sequential(host, port, count):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    good = 0
    for i in range(count):
        message = struct.pack("!Q", i) * 4
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(socket_address(host, port))
            s.sendall(message)
            s.shutdown(socket.SHUT_WR)
            data = b""
            while chunk := s.recv(64):
                data += chunk
            good += data == message
    print(f"ok {good}" if good == count else f"FAILED {good}/{count}")
    return good == count


def half_close(host, port, size):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect((host, port))
        s.sendall(b"request\n")
        s.shutdown(socket.SHUT_WR)
        data = bytearray()
        while chunk := s.recv(1 << 16):
            data += chunk
    good = bytes(data) == pattern(size)
    print(f"ok {len(data)}" if good else f"FAILED got {len(data)} bytes")
    return good


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_frame(dst_mac, src_mac, src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, random.randint(0, 65535), 0, 0) + payload
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def raw_syn(iface, dst_mac, src, dst, port, quality):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    frame = bytearray(tcp_frame(bytes.fromhex(dst_mac.replace(":", "")), s.getsockname()[4], src, dst,
                                random.randint(1024, 65535), port, random.getrandbits(32), 0, 0x02))
    if quality == "bad":
        frame[14 + 20 + 16] ^= 0x5A  # the TCP checksum's first byte
    s.send(bytes(frame))
    print("ok")
    return True


def garbage(iface, dst_mac, src, dst, port, count):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    src_mac = s.getsockname()[4]
    dst_mac = bytes.fromhex(dst_mac.replace(":", ""))
    rng = random.Random(7)
    sent = 0
    for i in range(count):
        kind = i % 4
        sport = rng.randint(1024, 65535)
        if kind == 0:    # random flags and sequence numbers towards the service port
            frame = tcp_frame(dst_mac, src_mac, src, dst, sport, port, rng.getrandbits(32), rng.getrandbits(32),
                              rng.getrandbits(8), os.urandom(rng.randint(0, 64)))
        elif kind == 1:  # segments for flows that don't exist
            frame = tcp_frame(dst_mac, src_mac, src, dst, sport, rng.randint(1, 65535), rng.getrandbits(32),
                              rng.getrandbits(32), 0x10, os.urandom(32))
        else:            # SYN flood
            frame = tcp_frame(dst_mac, src_mac, src, dst, sport, port, rng.getrandbits(32), 0, 0x02)
        if kind == 0 and rng.random() < 0.2:  # some truncated or bad-length frames too
            frame = frame[:rng.randint(14, len(frame))]
        s.send(frame)
        sent += 1
    print(f"ok {sent}")
    return True


def udp_echo_server(port, hosts):
    import selectors
    selector = selectors.DefaultSelector()
    # Bound to given addresses, replies leave from the address the request went to (a wildcard socket
    # would answer from the outgoing interface's address).
    for host in hosts or ["0.0.0.0", "::"]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((host, port))
        selector.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            data, peer = key.fileobj.recvfrom(65535)
            key.fileobj.sendto(data, peer)


def udp_send(host, port, count):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = []
    for i in range(count):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.sendto(b"flow %d" % i, (host, port))
        sockets.append(s)
        if i % 100 == 99:
            time.sleep(0.01)  # stay below the tap's transmit queue (1000 frames)
    for s in sockets:
        s.close()
    print(f"ok {count}")
    return True


def udp_ask(host, port, message):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(message.encode(), socket_address(host, port))
        data, peer = s.recvfrom(65535)
    print(data.decode(errors="replace"), peer[0])
    return True


def dns_server(host, port, answer):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((host, port))
    while True:
        query, peer = s.recvfrom(512)
        if len(query) >= 12:
            s.sendto(dns_answer(query, answer), peer)


def dns_answer(query, answer):
    """The reply to an A query: the question as asked, one record with ANSWER."""
    end = 12
    while end < len(query) and query[end] != 0:
        end += query[end] + 1
    question = query[12:end + 5]
    header = query[:2] + b"\x81\x80" + b"\x00\x01\x00\x01\x00\x00\x00\x00"
    return header + question + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton(answer)


def dns_server_tcp(host, port, answer):
    """DNS over TCP (RFC 7766): each message behind its two-byte length."""
    s = tcp_listener(host, port)
    while True:
        conn, _ = s.accept()
        with conn:
            conn.settimeout(5)
            try:
                length = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))[0]
                query = conn.recv(length, socket.MSG_WAITALL)
                if len(query) >= 12:
                    reply = dns_answer(query, answer)
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except (OSError, struct.error):
                pass


def dns_query(ident, name):
    """An A query for NAME with the two-byte id IDENT, recursion desired."""
    return (ident + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
            + b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\x00\x00\x01\x00\x01")


def dns_ask_tcp(host, name):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    query = dns_query(b"\x43\x21", name)
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(3)
        s.connect((host, 53))
        s.sendall(struct.pack("!H", len(query)) + query)
        length = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
        reply = s.recv(length, socket.MSG_WAITALL)
    print(socket.inet_ntoa(reply[-4:]))
    return reply[:2] == b"\x43\x21"


def dns_ask(host, name):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    query = dns_query(b"\x12\x34", name)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(query, (host, 53))
        reply, peer = s.recvfrom(512)
    print(socket.inet_ntoa(reply[-4:]), peer[0])
    return reply[:2] == b"\x12\x34"


def numbered(number):
    return struct.pack("!I", number) + bytes([number & 0xFF]) * 1396


def receive_numbered(s, count):
    """Receives numbered datagrams on s until count distinct intact ones arrived or 15 s passed."""
    seen = set()
    s.settimeout(15)
    try:
        while len(seen) < count:
            data = s.recv(2048)
            number = struct.unpack("!I", data[:4])[0]
            if data[4:] == bytes([number & 0xFF]) * (len(data) - 4):
                seen.add(number)
    except socket.timeout:
        pass
    print(f"ok {count}" if len(seen) == count else f"FAILED {count - len(seen)} missing")
    return len(seen) == count


def udp_seq_receive(host, port, count):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((host, port))
        return receive_numbered(s, count)


def udp_seq_send(host, port, count, mbit):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    interval = 1400 * 8 / (mbit * 1e6)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        start = time.perf_counter()
        for number in range(count):
            s.sendto(numbered(number), (host, port))
            while time.perf_counter() - start < (number + 1) * interval:
                pass
    print(f"ok {count}")
    return True


def udp_seq_serve(host, port, count, mbit):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    group = 32
    interval = group * 1400 * 8 / (mbit * 1e6)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, port))
        _, peer = s.recvfrom(2048)
        start = time.perf_counter()
        for first in range(0, count, group):
            for number in range(first, min(first + group, count)):
                s.sendto(numbered(number), peer)
            while time.perf_counter() - start < (first // group + 1) * interval:
                pass
    print(f"ok {count}")
    return True


def udp_seq_fetch(host, port, count):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.connect((host, port))
        s.send(b"go")
        return receive_numbered(s, count)


def udp_seq_send_gso(host, port, count, mbit):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    group = 32
    interval = group * 1400 * 8 / (mbit * 1e6)
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.IPPROTO_UDP, 103, 1400)  # UDP_SEGMENT (linux/udp.h)
        s.connect((host, port))
        start = time.perf_counter()
        for first in range(0, count, group):
            s.send(b"".join(numbered(number) for number in range(first, min(first + group, count))))
            while time.perf_counter() - start < (first // group + 1) * interval:
                pass
    print(f"ok {count}")
    return True


def tcp_listener(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(16)
    return listener


def reset_server(host, port):
    listener = tcp_listener(host, port)
    while True:
        connection, _ = listener.accept()
        connection.recv(4096)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()


def expect_reset(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect((host, port))
        s.sendall(b"hello")
        try:
            data = s.recv(4096)
        except ConnectionResetError:
            print("reset")
            return True
        print(f"no reset: got {data!r}")
        return False


async def tell_who(reader, writer):
    local, peer = writer.get_extra_info("sockname"), writer.get_extra_info("peername")
    writer.write(f"{local[0]} {peer[0]}\n".encode())
    await writer.drain()
    writer.close()


def who(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect((host, port))
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    print(data.decode(errors="replace").strip())
    return bool(data)


TCPI_OPT_SACK = 2  # tcpi_options, the sixth byte of struct tcp_info (linux/tcp.h)


def sack(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect((host, port))
        info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
    print("sack" if info[5] & TCPI_OPT_SACK else "no sack")
    return True


def hold(host, port, gate):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect((host, port))
            for line in (b"one\n", b"two\n"):
                if line == b"two\n":
                    deadline = time.monotonic() + 60
                    while not os.path.exists(gate) and time.monotonic() < deadline:
                        time.sleep(0.05)
                s.sendall(line)
                data = b""
                while len(data) < len(line):
                    chunk = s.recv(len(line) - len(data))
                    if not chunk:
                        raise OSError("connection closed")
                    data += chunk
                if data != line:
                    raise OSError(f"echoed {data!r}")
    except OSError as error:
        print(f"broken: {error}", flush=True)
        return False
    print("ok", flush=True)
    return True


def reach_after(hosts, port, command):
    import subprocess
    if subprocess.run(command).returncode != 0:
        return False
    exited = time.monotonic()
    for host in hosts.split(","):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        while True:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(1)
                try:
                    s.connect((host, port))
                    break
                except OSError:
                    if time.monotonic() - exited > 5:
                        print(f"{host} unreachable")
                        return False
            time.sleep(0.001)
        print(f"{host} {int((time.monotonic() - exited) * 1000)}")
    return True


def main(argv):
    command = argv[1]
    if command == "echo-server":
        asyncio.run(serve(argv[2], int(argv[3]), echo))
    elif command == "reply-server":
        asyncio.run(serve(argv[2], int(argv[3]), reply_handler(int(argv[4]))))
    elif command == "load":
        return asyncio.run(load(argv[2], int(argv[3]), int(argv[4]), int(argv[5])))
    elif command == "sequential":
        return sequential(argv[2], int(argv[3]), int(argv[4]))
    elif command == "half-close":
        return half_close(argv[2], int(argv[3]), int(argv[4]))
    elif command == "reset-server":
        reset_server(argv[2], int(argv[3]))
    elif command == "expect-reset":
        return expect_reset(argv[2], int(argv[3]))
    elif command == "who-server":
        asyncio.run(serve(argv[2], int(argv[3]), tell_who))
    elif command == "who":
        return who(argv[2], int(argv[3]))
    elif command == "sack":
        return sack(argv[2], int(argv[3]))
    elif command == "reach-after":
        return reach_after(argv[2], int(argv[3]), argv[4:])
    elif command == "udp-echo-server":
        udp_echo_server(int(argv[2]), argv[3:])
    elif command == "udp-send":
        return udp_send(argv[2], int(argv[3]), int(argv[4]))
    elif command == "hold":
        return hold(argv[2], int(argv[3]), argv[4])
    elif command == "udp-ask":
        return udp_ask(argv[2], int(argv[3]), argv[4])
    elif command == "dns-ask":
        return dns_ask(argv[2], argv[3])
    elif command == "dns-ask-tcp":
        return dns_ask_tcp(argv[2], argv[3])
    elif command == "dns-server-tcp":
        dns_server_tcp(argv[2], int(argv[3]), argv[4])
    elif command == "dns-server":
        dns_server(argv[2], int(argv[3]), argv[4])
    elif command == "udp-seq-receive":
        return udp_seq_receive(argv[2], int(argv[3]), int(argv[4]))
    elif command == "udp-seq-send":
        return udp_seq_send(argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    elif command == "udp-seq-serve":
        return udp_seq_serve(argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    elif command == "udp-seq-fetch":
        return udp_seq_fetch(argv[2], int(argv[3]), int(argv[4]))
    elif command == "syn":
        return raw_syn(argv[2], argv[3], argv[4], argv[5], int(argv[6]), argv[7])
    elif command == "udp-seq-send-gso":
        return udp_seq_send_gso(argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    elif command == "garbage":
        return garbage(argv[2], argv[3], argv[4], argv[5], int(argv[6]), int(argv[7]))
    return False


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv) else 1)
