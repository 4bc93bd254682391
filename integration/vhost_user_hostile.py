#!/usr/bin/env python3
"""A hostile vhost-user frontend: connects to passt's socket and plays one malformed case.

    vhost_user_hostile.py [--pid PID] SOCKET CASE
    vhost_user_hostile.py --list

Prints one line, "CASE: refused (how)", "CASE: ignored (...)" or "CASE: answered (...)" when passt reacted
as the case expects, "CASE: FAILED: why" otherwise (status 1). "Refused" means passt closed the
connection or answered REPLY_ACK with a non-zero status; "ignored" that it went on serving (a probe,
GET_FEATURES, is answered) without using what it was given. With --pid, a passt that died during the case
fails it, and the cases about stale kick descriptors measure passt's CPU time.

Guest memory is a memfd: guest-physical GPA + x and frontend address UADDR + x both name its byte x. Ring
0 receives (passt writes frames for us), ring 1 transmits; an ARP request for 198.51.100.1 sent on ring 1
makes passt write a reply on ring 0 (its ARP proxy answers any address but the asker's).
"""
import mmap
import os
import select
import socket
import struct
import sys
import time

# Requests (QEMU docs/interop/vhost-user.rst).
GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE = 1, 2, 3, 4, 5
SET_LOG_FD, SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 7, 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES = 12, 13, 15, 16
SET_VRING_ENABLE, NET_SET_MTU = 18, 20
VERSION, REPLY, NEED_REPLY = 0x1, 0x4, 0x8
F_MRG_RXBUF, F_PROTOCOL, F_VERSION_1 = 1 << 15, 1 << 30, 1 << 32
F_CSUM = 1 << 0
P_REPLY_ACK = 1 << 3
D_NEXT, D_WRITE, D_INDIRECT = 1, 2, 4
NO_FD = 0x100
GPA = 0x100000
UADDR = 0x7F5A00000000
TIMEOUT = 2.0
NET_HEADER = 12
GUEST_MAC = bytes.fromhex("0200000000aa")


class Closed(Exception):
    """passt closed the connection."""


class Refused(Exception):
    """passt answered REPLY_ACK with a non-zero status."""

    def __init__(self, status):
        super().__init__(f"status {status}")
        self.status = status


class Bad(Exception):
    """passt did something a case does not allow."""


def u64(value):
    return struct.pack("<Q", value)


def state(index, num):
    return struct.pack("<II", index, num)


class Frontend:
    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(path)
        self.ack = False

    def send(self, request, payload=b"", fds=(), flags=VERSION, size=None):
        data = struct.pack("<III", request, flags, len(payload) if size is None else size) + payload
        try:
            if fds:
                sent = socket.send_fds(self.sock, [data], list(fds))
                if sent < len(data):
                    self.sock.sendall(data[sent:])
            else:
                self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            raise Closed()

    def receive(self, count):
        data = b""
        while len(data) < count:
            try:
                chunk = self.sock.recv(count - len(data))
            except ConnectionResetError:
                raise Closed()
            except socket.timeout:
                raise Bad(f"no answer within {TIMEOUT:g} s")
            if not chunk:
                raise Closed()
            data += chunk
        return data

    def reply(self, request):
        got, flags, size = struct.unpack("<III", self.receive(12))
        if got != request or flags & REPLY == 0 or flags & 3 != VERSION or size > 4096:
            raise Bad(f"malformed reply (request {got}, flags {flags:#x}, size {size}) to request {request}")
        return self.receive(size)

    def call(self, request, payload=b"", fds=()):
        """A request with a reply of its own."""
        self.send(request, payload, fds)
        return self.reply(request)

    def step(self, request, payload=b"", fds=(), flags=None):
        """A request without a reply of its own: with REPLY_ACK it is acknowledged, and a refusal raises."""
        if flags is None:
            flags = VERSION | (NEED_REPLY if self.ack else 0)
        self.send(request, payload, fds, flags)
        if flags & NEED_REPLY and self.ack:
            status = struct.unpack("<Q", self.reply(request))[0]
            if status:
                raise Refused(status)

    def probe(self):
        return struct.unpack("<Q", self.call(GET_FEATURES))[0]

    def until_closed(self, seconds=1.0):
        """Probes until passt closes the connection (each probe wakes it); raises Closed then, Bad if not."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.probe()
            time.sleep(0.02)
        raise Bad("passt still serves the connection")

    def send_expect_close(self, request, payload=b"", fds=(), flags=VERSION, size=None):
        self.send(request, payload, fds, flags, size)
        self.until_closed()


class Memory:
    """Guest memory: a memfd of file_size bytes (default size); the region we describe is size bytes."""

    def __init__(self, size=1 << 20, file_size=None):
        self.size = size
        self.file_size = size if file_size is None else file_size
        self.fd = os.memfd_create("hostile-guest", os.MFD_CLOEXEC)
        os.ftruncate(self.fd, self.file_size)
        # Our own view stops at the file's end (past it we would fault ourselves) and at 1 MiB.
        self.view = mmap.mmap(self.fd, min(self.size, self.file_size, 1 << 20))

    def region(self, gpa=GPA, size=None, uaddr=UADDR, offset=0):
        return struct.pack("<QQQQ", gpa, self.size if size is None else size, uaddr, offset)

    def write(self, offset, data):
        self.view[offset:offset + len(data)] = data

    def read(self, offset, count):
        return bytes(self.view[offset:offset + count])


def table(*regions):
    return struct.pack("<II", len(regions), 0) + b"".join(regions)


class Ring:
    """A split virtqueue of `size` entries whose parts start at memory offset `at`."""

    def __init__(self, mem, index, size=8, at=None):
        self.mem, self.index, self.size = mem, index, size
        base = 0x10000 + index * 0x8000 if at is None else at
        self.desc, self.avail, self.used = base, base + 0x1000, base + 0x2000
        self.kick = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.call = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self.avail_idx = 0

    def set_desc(self, i, offset, length, flags=0, next=0, addr=None):
        addr = GPA + offset if addr is None else addr
        self.mem.write(self.desc + 16 * i, struct.pack("<QIHH", addr, length, flags, next))

    def post(self, head):
        self.mem.write(self.avail + 4 + 2 * (self.avail_idx % self.size), struct.pack("<H", head))
        self.set_avail_idx(self.avail_idx + 1)

    def set_avail_idx(self, value):
        self.avail_idx = value & 0xFFFF
        self.mem.write(self.avail + 2, struct.pack("<H", self.avail_idx))

    def used_idx(self):
        return struct.unpack("<H", self.mem.read(self.used + 2, 2))[0]

    def used_elem(self, i):
        return struct.unpack("<II", self.mem.read(self.used + 4 + 8 * (i % self.size), 8))

    def address(self, desc=None, used=None, avail=None):
        desc, used, avail = (UADDR + self.desc if desc is None else desc, UADDR + self.used if used is None else used,
                             UADDR + self.avail if avail is None else avail)
        return struct.pack("<IIQQQQ", self.index, 0, desc, used, avail, 0)

    def notify(self):
        os.eventfd_write(self.kick, 1)


def negotiate(fe, ack=True):
    offered = fe.probe()
    fe.step(SET_FEATURES, u64(offered & (F_VERSION_1 | F_PROTOCOL | F_MRG_RXBUF)))
    if offered & F_PROTOCOL:
        protocol = struct.unpack("<Q", fe.call(GET_PROTOCOL_FEATURES))[0]
        fe.ack = bool(ack and protocol & P_REPLY_ACK)
        fe.step(SET_PROTOCOL_FEATURES, u64(P_REPLY_ACK if fe.ack else 0), flags=VERSION)
    fe.step(SET_OWNER)


def start_ring(fe, ring, address=None, size=None):
    fe.step(SET_VRING_NUM, state(ring.index, ring.size if size is None else size))
    fe.step(SET_VRING_BASE, state(ring.index, 0))
    fe.step(SET_VRING_ADDR, ring.address() if address is None else address)
    fe.step(SET_VRING_CALL, u64(ring.index), [ring.call])
    fe.step(SET_VRING_KICK, u64(ring.index), [ring.kick])
    fe.step(SET_VRING_ENABLE, state(ring.index, 1))


def running(fe, mem=None, ack=True):
    """Negotiated, memory set, both rings started: (memory, receive ring, transmit ring)."""
    mem = mem or Memory()
    negotiate(fe, ack)
    fe.step(SET_MEM_TABLE, table(mem.region()), [mem.fd])
    rx, tx = Ring(mem, 0), Ring(mem, 1)
    start_ring(fe, rx)
    start_ring(fe, tx)
    return mem, rx, tx


def arp_request():
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, GUEST_MAC, socket.inet_aton("198.51.100.2"),
                      b"\0" * 6, socket.inet_aton("198.51.100.1"))
    return b"\xff" * 6 + GUEST_MAC + b"\x08\x06" + arp


def transmit_arp(tx, desc=0, offset=0x60000):
    """An ARP request, behind its virtio-net header, in one readable descriptor of the transmit ring."""
    frame = b"\0" * NET_HEADER + arp_request()
    tx.mem.write(offset, frame)
    tx.set_desc(desc, offset, len(frame))
    tx.post(desc)
    tx.notify()


def post_receive_buffers(rx, count=4, offset=0x70000):
    for i in range(count):
        rx.set_desc(i, offset + i * 2048, 2048, D_WRITE)
        rx.post(i)
    rx.notify()


def wait_used(ring, count=1, seconds=1.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ring.used_idx() >= count:
            return True
        time.sleep(0.01)
    return False


def refused(action):
    """Runs action, which must end in a refusal: a REPLY_ACK error or the connection closed."""
    try:
        action()
    except Refused as e:
        return f"refused (REPLY_ACK {e})"
    except Closed:
        return "refused (connection closed)"
    raise Bad("accepted")


def refused_or_ignored(fe, action):
    """Either refused, or passt goes on serving (the probe is answered) having dropped what it was given."""
    try:
        action()
        fe.probe()
    except Refused as e:
        return f"refused (REPLY_ACK {e})"
    except Closed:
        return "refused (connection closed)"
    return "ignored (still serving)"


CASES = {}


def case(function):
    CASES[function.__name__] = function
    return function


# Framing and header.

@case
def header_version_0(fe):
    return refused(lambda: fe.send_expect_close(GET_FEATURES, flags=0))


@case
def header_version_2(fe):
    return refused(lambda: fe.send_expect_close(GET_FEATURES, flags=2))


@case
def header_version_3(fe):
    return refused(lambda: fe.send_expect_close(GET_FEATURES, flags=3 | NEED_REPLY))


@case
def oversize_size(fe):
    """4097 payload bytes announced: more than any request carries."""
    return refused(lambda: fe.send_expect_close(SET_MEM_TABLE, size=4097))


@case
def oversize_size_max(fe):
    return refused(lambda: fe.send_expect_close(SET_FEATURES, size=0xFFFFFFFF))


@case
def truncated_payload_eof(fe):
    """SET_FEATURES announces 8 bytes, 4 come, then our side of the stream ends."""
    fe.send(SET_FEATURES, b"\0" * 4, size=8)
    fe.sock.shutdown(socket.SHUT_WR)
    return refused(lambda: fe.receive(1))


@case
def half_header_close(fe):
    """6 of the header's 12 bytes, then our side of the stream ends."""
    fe.sock.sendall(struct.pack("<III", GET_FEATURES, VERSION, 0)[:6])
    fe.sock.shutdown(socket.SHUT_WR)
    return refused(lambda: fe.receive(1))


@case
def set_features_short(fe):
    return refused(lambda: fe.send_expect_close(SET_FEATURES, b"\0" * 4))


@case
def set_features_long(fe):
    return refused(lambda: fe.send_expect_close(SET_FEATURES, b"\0" * 16))


@case
def get_features_with_payload(fe):
    return refused(lambda: fe.send_expect_close(GET_FEATURES, u64(0)))


@case
def set_vring_num_short(fe):
    negotiate(fe)
    return refused(lambda: fe.send_expect_close(SET_VRING_NUM, struct.pack("<I", 0), flags=VERSION | NEED_REPLY))


@case
def set_vring_addr_short(fe):
    negotiate(fe)
    ring = Ring(Memory(), 1)
    return refused(lambda: fe.send_expect_close(SET_VRING_ADDR, ring.address()[:32], flags=VERSION | NEED_REPLY))


@case
def set_vring_addr_long(fe):
    negotiate(fe)
    ring = Ring(Memory(), 1)
    return refused(lambda: fe.send_expect_close(SET_VRING_ADDR, ring.address() + u64(0), flags=VERSION | NEED_REPLY))


@case
def set_vring_enable_2(fe):
    negotiate(fe)
    return refused(lambda: fe.step(SET_VRING_ENABLE, state(0, 2)) or fe.until_closed())


# Features.

@case
def features_not_offered(fe):
    """VIRTIO_NET_F_CTRL_VQ, not offered, asked for once REPLY_ACK is on."""
    negotiate(fe)
    return refused(lambda: fe.step(SET_FEATURES, u64(F_VERSION_1 | F_PROTOCOL | 1 << 17)))


@case
def features_not_offered_no_ack(fe):
    """Every bit, without REPLY_ACK: nothing can say no but closing."""
    return refused(lambda: fe.send_expect_close(SET_FEATURES, u64(0xFFFFFFFFFFFFFFFF)))


@case
def protocol_features_not_offered(fe):
    """Multiqueue and LOG_SHMFD, not offered."""
    fe.step(SET_FEATURES, u64(F_VERSION_1 | F_PROTOCOL))
    return refused(lambda: fe.send_expect_close(SET_PROTOCOL_FEATURES, u64(0x3)))


# The memory table.

def table_refused(fe, payload, fds, ack=True):
    negotiate(fe, ack)
    if fe.ack:
        return refused(lambda: fe.step(SET_MEM_TABLE, payload, fds) or fe.until_closed())
    return refused(lambda: fe.send_expect_close(SET_MEM_TABLE, payload, fds))


@case
def mem_zero_regions(fe):
    return table_refused(fe, table(), [])


@case
def mem_nine_regions(fe):
    mems = [Memory(1 << 16) for _ in range(9)]
    regions = [m.region(gpa=GPA + i * (1 << 16), uaddr=UADDR + i * (1 << 16)) for i, m in enumerate(mems)]
    return table_refused(fe, table(*regions), [m.fd for m in mems])


@case
def mem_more_fds(fe):
    a, b, c = Memory(1 << 16), Memory(1 << 16), Memory(1 << 16)
    return table_refused(fe, table(a.region(), b.region(gpa=GPA + (1 << 20), uaddr=UADDR + (1 << 20))),
                         [a.fd, b.fd, c.fd])


@case
def mem_fewer_fds(fe):
    a, b = Memory(1 << 16), Memory(1 << 16)
    return table_refused(fe, table(a.region(), b.region(gpa=GPA + (1 << 20), uaddr=UADDR + (1 << 20))), [a.fd])


@case
def mem_no_fds(fe):
    return table_refused(fe, table(Memory().region()), [])


@case
def mem_overlap_gpa(fe):
    a, b = Memory(), Memory()
    return table_refused(fe, table(a.region(), b.region(gpa=GPA + 4096, uaddr=UADDR + (1 << 30))), [a.fd, b.fd])


@case
def mem_overlap_uaddr(fe):
    a, b = Memory(), Memory()
    return table_refused(fe, table(a.region(), b.region(gpa=GPA + (1 << 30), uaddr=UADDR + 4096)), [a.fd, b.fd])


@case
def mem_size_zero(fe):
    mem = Memory()
    return table_refused(fe, table(mem.region(size=0)), [mem.fd])


@case
def mem_size_huge(fe):
    """2^62 bytes: the mapping alone would need more address space than there is."""
    mem = Memory()
    return table_refused(fe, table(mem.region(size=1 << 62)), [mem.fd])


@case
def mem_offset_overflow(fe):
    """mmap_offset + size wraps around 2^64."""
    mem = Memory()
    return table_refused(fe, table(mem.region(offset=(1 << 64) - 4096, size=8192)), [mem.fd])


@case
def mem_gpa_overflow(fe):
    mem = Memory()
    return table_refused(fe, table(mem.region(gpa=(1 << 64) - 4096, size=8192)), [mem.fd])


@case
def mem_uaddr_overflow(fe):
    mem = Memory()
    return table_refused(fe, table(mem.region(uaddr=(1 << 64) - 4096, size=8192)), [mem.fd])


@case
def mem_fd_not_mappable(fe):
    """An eventfd where the memory's descriptor should be: mmap fails."""
    fd = os.eventfd(0, os.EFD_CLOEXEC)
    return table_refused(fe, table(Memory().region()), [fd])


@case
def mem_table_no_ack(fe):
    """An overlapping table without REPLY_ACK: closing is the only refusal left."""
    a, b = Memory(), Memory()
    return table_refused(fe, table(a.region(), b.region(gpa=GPA + 4096, uaddr=UADDR + (1 << 30))), [a.fd, b.fd],
                         ack=False)


def beyond_eof(fe, mem, region, rx_at, tx_at, buffer_offset=None, shrink_to=None):
    """The memory table, rings at offsets rx_at/tx_at, a frame sent from buffer_offset: passt must refuse
    somewhere (table, kick, ring) rather than touch a page past the memfd's end (SIGBUS)."""
    def play():
        negotiate(fe)
        fe.step(SET_MEM_TABLE, table(region), [mem.fd])
        rx, tx = Ring(mem, 0, at=rx_at), Ring(mem, 1, at=tx_at)
        if shrink_to is not None:
            os.ftruncate(mem.fd, shrink_to)
        start_ring(fe, rx)
        start_ring(fe, tx)
        if buffer_offset is not None:
            tx.set_desc(0, buffer_offset, NET_HEADER + 42)
            tx.post(0)
            tx.notify()
        fe.until_closed()
    return refused(play)


@case
def mem_offset_beyond_eof(fe):
    """A 64 KiB memfd whose region starts at mmap_offset 1 MiB, past its end, with both rings in it."""
    mem = Memory(size=1 << 16)
    return beyond_eof(fe, mem, mem.region(offset=1 << 20), 0x1000, 0x8000)


@case
def mem_size_beyond_eof(fe):
    """A 1 MiB region of a 64 KiB memfd, both rings in the part past the file's end."""
    mem = Memory(size=1 << 20, file_size=1 << 16)
    return beyond_eof(fe, mem, mem.region(), 0x80000, 0x88000)


@case
def mem_buffer_beyond_eof(fe):
    """A 1 MiB region of a 64 KiB memfd: rings inside the file, a frame in the part past its end."""
    mem = Memory(size=1 << 20, file_size=1 << 16)
    return beyond_eof(fe, mem, mem.region(), 0x4000, 0x8000, buffer_offset=0x80000)


@case
def mem_shrunk_after_table(fe):
    """A 1 MiB memfd, mapped; then the frontend cuts it to 64 KiB and sends a frame from past the cut."""
    mem = Memory(size=1 << 20)
    return beyond_eof(fe, mem, mem.region(), 0x4000, 0x8000, buffer_offset=0x80000, shrink_to=1 << 16)


@case
def mem_table_repeated(fe):
    """50 valid tables in a row (each replaces the last: nothing may pile up) are all accepted."""
    negotiate(fe)
    for _ in range(50):
        mem = Memory(1 << 16)
        fe.step(SET_MEM_TABLE, table(mem.region()), [mem.fd])
        mem.view.close()
        os.close(mem.fd)
    fe.probe()
    return "answered (50 tables accepted)"


@case
def mem_table_moves_running_rings(fe):
    """A new table that no longer holds the running rings must be refused, not leave rings pointing
    into unmapped memory."""
    mem, rx, tx = running(fe)
    other = Memory(1 << 16)
    return refused(lambda: fe.step(SET_MEM_TABLE, table(other.region(gpa=1 << 40, uaddr=1 << 41)), [other.fd])
                   or (transmit_arp(tx), fe.until_closed()))


# Rings.

@case
def vring_index_2(fe):
    negotiate(fe)
    return refused(lambda: fe.step(SET_VRING_NUM, state(2, 8)))


@case
def vring_index_255_call(fe):
    """SET_VRING_CALL for ring 255 with an eventfd (which passt must close, not keep)."""
    negotiate(fe)
    fd = os.eventfd(0, os.EFD_CLOEXEC)
    return refused(lambda: fe.step(SET_VRING_CALL, u64(255), [fd]))


@case
def vring_index_255_kick(fe):
    negotiate(fe)
    fd = os.eventfd(0, os.EFD_CLOEXEC)
    return refused(lambda: fe.step(SET_VRING_KICK, u64(255), [fd]))


@case
def ring_size_0(fe):
    negotiate(fe)
    return refused(lambda: fe.step(SET_VRING_NUM, state(1, 0)))


@case
def ring_size_3(fe):
    negotiate(fe)
    return refused(lambda: fe.step(SET_VRING_NUM, state(1, 3)))


@case
def ring_size_65536(fe):
    negotiate(fe)
    return refused(lambda: fe.step(SET_VRING_NUM, state(1, 65536)))


@case
def ring_base_65536(fe):
    negotiate(fe)
    return refused(lambda: fe.step(SET_VRING_BASE, state(1, 65536)))


def start_with_address(fe, make_address):
    mem = Memory()
    negotiate(fe)
    fe.step(SET_MEM_TABLE, table(mem.region()), [mem.fd])
    ring = Ring(mem, 1)
    return refused(lambda: start_ring(fe, ring, address=make_address(ring)))


@case
def ring_addr_outside_memory(fe):
    return start_with_address(fe, lambda r: r.address(desc=UADDR + (2 << 20)))


@case
def ring_addr_before_memory(fe):
    return start_with_address(fe, lambda r: r.address(avail=UADDR - 4096))


@case
def ring_addr_straddles_end(fe):
    """The used ring starts 16 bytes before the region's end."""
    return start_with_address(fe, lambda r: r.address(used=UADDR + (1 << 20) - 16))


@case
def ring_addr_wraps(fe):
    return start_with_address(fe, lambda r: r.address(desc=(1 << 64) - 16))


@case
def ring_addr_misaligned(fe):
    return start_with_address(fe, lambda r: r.address(desc=UADDR + r.desc + 8))


@case
def ring_addr_guest_physical(fe):
    """Guest-physical addresses where frontend addresses belong: outside the table's frontend range."""
    return start_with_address(fe, lambda r: r.address(desc=GPA + r.desc, used=GPA + r.used, avail=GPA + r.avail))


@case
def kick_no_fd(fe):
    """Bit 8 set: poll the ring instead of waiting for kicks, which passt does not offer."""
    mem = Memory()
    negotiate(fe)
    fe.step(SET_MEM_TABLE, table(mem.region()), [mem.fd])
    ring = Ring(mem, 1)
    fe.step(SET_VRING_NUM, state(1, ring.size))
    fe.step(SET_VRING_ADDR, ring.address())
    return refused(lambda: fe.step(SET_VRING_KICK, u64(1 | NO_FD)))


@case
def kick_no_fd_but_one_sent(fe):
    """Bit 8 set, and an eventfd along all the same."""
    negotiate(fe)
    fd = os.eventfd(0, os.EFD_CLOEXEC)
    return refused(lambda: fe.step(SET_VRING_KICK, u64(1 | NO_FD), [fd]) or fe.until_closed())


@case
def kick_high_bits(fe):
    """Bit 9 and bit 63 set, reserved."""
    negotiate(fe)
    fd = os.eventfd(0, os.EFD_CLOEXEC)
    return refused(lambda: fe.step(SET_VRING_KICK, u64(1 | 1 << 9 | 1 << 63), [fd]) or fe.until_closed())


@case
def kick_before_mem_table(fe):
    negotiate(fe)
    ring = Ring(Memory(), 1)
    fe.step(SET_VRING_NUM, state(1, ring.size))
    fe.step(SET_VRING_ADDR, ring.address())
    return refused(lambda: fe.step(SET_VRING_KICK, u64(1), [ring.kick]))


@case
def kick_before_ring_size(fe):
    mem = Memory()
    negotiate(fe)
    fe.step(SET_MEM_TABLE, table(mem.region()), [mem.fd])
    ring = Ring(mem, 1)
    fe.step(SET_VRING_ADDR, ring.address())
    return refused(lambda: fe.step(SET_VRING_KICK, u64(1), [ring.kick]))


@case
def set_vring_num_running(fe):
    mem, rx, tx = running(fe)
    return refused(lambda: fe.step(SET_VRING_NUM, state(1, 16)))


@case
def set_vring_addr_running(fe):
    mem, rx, tx = running(fe)
    return refused(lambda: fe.step(SET_VRING_ADDR, tx.address(desc=UADDR + 0x30000)))


@case
def get_vring_base_never_started(fe):
    """Answered with the ring's base (0): nothing ran."""
    negotiate(fe)
    index, num = struct.unpack("<II", fe.call(GET_VRING_BASE, state(1, 0)))
    if (index, num) != (1, 0):
        raise Bad(f"GET_VRING_BASE answered index {index}, base {num}")
    fe.probe()
    return "answered (index 1, base 0)"


@case
def get_vring_base_index_9(fe):
    """Without REPLY_ACK, so no reply can say no: the connection is closed."""
    negotiate(fe, ack=False)
    return refused(lambda: fe.send_expect_close(GET_VRING_BASE, state(9, 0)))


# Descriptor chains. passt only notices a broken ring when it walks it; the next event it handles (our
# probe) ends the connection.

def broken_transmit(fe, build):
    mem, rx, tx = running(fe)
    build(mem, tx)
    tx.notify()
    return refused(fe.until_closed)


@case
def chain_loop(fe):
    def build(mem, tx):
        tx.set_desc(0, 0x60000, 64, D_NEXT, 1)
        tx.set_desc(1, 0x60100, 64, D_NEXT, 0)
        tx.post(0)
    return broken_transmit(fe, build)


@case
def chain_self_loop_empty(fe):
    """A descriptor of 0 bytes that points at itself: no byte count grows, only the walk."""
    def build(mem, tx):
        tx.set_desc(0, 0x60000, 0, D_NEXT, 0)
        tx.post(0)
    return broken_transmit(fe, build)


@case
def desc_outside_memory(fe):
    def build(mem, tx):
        tx.set_desc(0, 0, 64, addr=GPA + (4 << 20))
        tx.post(0)
    return broken_transmit(fe, build)


@case
def desc_below_memory(fe):
    def build(mem, tx):
        tx.set_desc(0, 0, 64, addr=GPA - 32)
        tx.post(0)
    return broken_transmit(fe, build)


@case
def desc_length_overflow(fe):
    """16 bytes before the region's end, 2^32 - 1 bytes long."""
    def build(mem, tx):
        tx.set_desc(0, (1 << 20) - 16, 0xFFFFFFFF)
        tx.post(0)
    return broken_transmit(fe, build)


@case
def desc_addr_wraps(fe):
    def build(mem, tx):
        tx.set_desc(0, 0, 64, addr=(1 << 64) - 32)
        tx.post(0)
    return broken_transmit(fe, build)


@case
def chain_over_4gib(fe):
    """A sparse 9 GiB memfd: two descriptors of 4 GiB - 1 each are inside it, their sum is not a u32."""
    mem = Memory(size=9 << 30)
    mem_, rx, tx = running(fe, mem)
    tx.set_desc(0, 1 << 30, 0xFFFFFFFF, D_NEXT, 1)
    tx.set_desc(1, 5 << 30, 0xFFFFFFFF)
    tx.post(0)
    tx.notify()
    return refused(fe.until_closed)


@case
def desc_next_out_of_range(fe):
    def build(mem, tx):
        tx.set_desc(0, 0x60000, 64, D_NEXT, 200)
        tx.post(0)
    return broken_transmit(fe, build)


@case
def desc_indirect(fe):
    """INDIRECT, never negotiated, pointing at a table of garbage."""
    def build(mem, tx):
        tx.set_desc(0, 0x60000, 16 * 4, D_INDIRECT)
        mem.write(0x60000, b"\xff" * 64)
        tx.post(0)
    return broken_transmit(fe, build)


@case
def avail_idx_jump(fe):
    """The available index 9 entries ahead in a ring of 8."""
    def build(mem, tx):
        for i in range(8):
            tx.set_desc(i, 0x60000, 64)
        tx.set_avail_idx(9)
    return broken_transmit(fe, build)


@case
def avail_idx_backwards(fe):
    """The available index 0xffff: 65535 entries ahead of 0, as the ring counts."""
    def build(mem, tx):
        tx.set_avail_idx(0xFFFF)
    return broken_transmit(fe, build)


@case
def avail_head_out_of_range(fe):
    def build(mem, tx):
        mem.write(tx.avail + 4, struct.pack("<H", 8))
        tx.set_avail_idx(1)
    return broken_transmit(fe, build)


@case
def tx_writable_then_readable(fe):
    def build(mem, tx):
        tx.set_desc(0, 0x60000, 64, D_WRITE | D_NEXT, 1)
        tx.set_desc(1, 0x60100, 64)
        tx.post(0)
    return broken_transmit(fe, build)


@case
def tx_frame_too_short(fe):
    """5 bytes, shorter than the virtio-net header: dropped, the chain given back, the ring still runs."""
    mem, rx, tx = running(fe)
    tx.set_desc(0, 0x60000, 5)
    tx.post(0)
    tx.notify()
    time.sleep(0.05)
    fe.probe()
    post_receive_buffers(rx)
    transmit_arp(tx, desc=1)
    if not wait_used(rx):
        raise Bad("no ARP reply after the short frame")
    return "ignored (short frame dropped, ARP still answered)"


@case
def tx_frame_too_long(fe):
    """A 70000-byte frame gathered from many descriptors: dropped, not copied past passt's buffers."""
    mem = Memory(size=1 << 20)
    mem_, rx, tx = running(fe, mem)
    tx = Ring(mem, 1, size=64, at=0x20000)
    fe.call(GET_VRING_BASE, state(1, 0))
    start_ring(fe, tx)
    for i in range(35):
        tx.set_desc(i, 0x80000 + i * 2000, 2000, D_NEXT if i < 34 else 0, i + 1)
    tx.post(0)
    tx.notify()
    time.sleep(0.05)
    fe.probe()
    post_receive_buffers(rx)
    transmit_arp(tx, desc=40)
    if not wait_used(rx):
        raise Bad("no ARP reply after the long frame")
    return "ignored (long frame dropped, ARP still answered)"


def broken_receive(fe, build):
    """Receive chains built by `build`, then an ARP request: passt writes its reply into them."""
    mem, rx, tx = running(fe)
    build(mem, rx)
    rx.notify()
    transmit_arp(tx)
    return refused(fe.until_closed)


@case
def rx_readable_after_writable(fe):
    def build(mem, rx):
        rx.set_desc(0, 0x70000, 2048, D_WRITE | D_NEXT, 1)
        rx.set_desc(1, 0x71000, 2048)
        rx.post(0)
    return broken_receive(fe, build)


@case
def rx_desc_outside_memory(fe):
    def build(mem, rx):
        rx.set_desc(0, 0, 2048, D_WRITE, addr=GPA + (8 << 20))
        rx.post(0)
    return broken_receive(fe, build)


@case
def rx_chain_loop(fe):
    def build(mem, rx):
        rx.set_desc(0, 0x70000, 16, D_WRITE | D_NEXT, 1)
        rx.set_desc(1, 0x71000, 16, D_WRITE | D_NEXT, 0)
        rx.post(0)
    return broken_receive(fe, build)


@case
def rx_head_out_of_range(fe):
    def build(mem, rx):
        mem.write(rx.avail + 4, struct.pack("<H", 0xFFFF))
        rx.set_avail_idx(1)
    return broken_receive(fe, build)


@case
def rx_tiny_buffers(fe):
    """Receive chains of 1 byte each (mergeable buffers): too few bytes for a frame. Refused, or the
    frame waits (or is lost) while passt goes on serving."""
    mem, rx, tx = running(fe)
    for i in range(8):
        rx.set_desc(i, 0x70000 + i * 16, 1, D_WRITE)
        rx.post(i)
    rx.notify()
    transmit_arp(tx)
    time.sleep(0.05)
    return refused_or_ignored(fe, lambda: fe.probe())


@case
def sane_arp(fe):
    """The harness itself: a well-formed ARP request is answered on the receive ring."""
    mem, rx, tx = running(fe)
    post_receive_buffers(rx)
    transmit_arp(tx)
    if not wait_used(rx):
        raise Bad("no frame on the receive ring")
    head, length = rx.used_elem(0)
    data = mem.read(0x70000 + head * 2048, length)
    if length < NET_HEADER + 42 or data[NET_HEADER + 12:NET_HEADER + 14] != b"\x08\x06":
        raise Bad(f"the receive ring holds {length} bytes that are no ARP reply")
    return f"answered (ARP reply, {length} bytes)"


def running_with_csum(fe):
    """Like running(), with CSUM negotiated: the transmit header's NEEDS_CSUM vouches for a checksum."""
    mem = Memory()
    offered = fe.probe()
    fe.step(SET_FEATURES, u64(offered & (F_VERSION_1 | F_PROTOCOL | F_MRG_RXBUF | F_CSUM)))
    protocol = struct.unpack("<Q", fe.call(GET_PROTOCOL_FEATURES))[0]
    fe.ack = bool(protocol & P_REPLY_ACK)
    fe.step(SET_PROTOCOL_FEATURES, u64(P_REPLY_ACK if fe.ack else 0), flags=VERSION)
    fe.step(SET_OWNER)
    fe.step(SET_MEM_TABLE, table(mem.region()), [mem.fd])
    rx, tx = Ring(mem, 0), Ring(mem, 1)
    start_ring(fe, rx)
    start_ring(fe, tx)
    post_receive_buffers(rx)
    return mem, rx, tx


@case
def partial_checksum_not_tcp(fe):
    """With CSUM negotiated, a DHCP request whose header claims a TCP-like partial checksum (offset 16): the
    services finish checksums they were left, and must do it in passt's memory, never in the guest's
    transmit buffer, which has to read back byte for byte as the guest wrote it."""
    mem, rx, tx = running_with_csum(fe)
    udp = struct.pack("!HHHH", 68, 67, 8 + 300, 0) + bytes(300)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, b"\0" * 4, b"\xff" * 4)
    total = sum(struct.unpack("!10H", ip))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    ip = ip[:10] + struct.pack("!H", ~total & 0xFFFF) + ip[12:]   # a valid header: the frame gets as far as DHCP
    header = struct.pack("<BBHHHHH", 1, 0, 0, 0, 14 + 20, 16, 0)   # NEEDS_CSUM at 34 + 16: inside the payload
    frame = header + b"\xff" * 6 + GUEST_MAC + b"\x08\x00" + ip + udp
    mem.write(0x60000, frame)
    tx.set_desc(0, 0x60000, len(frame))
    tx.post(0)
    tx.notify()
    if not wait_used(tx):
        raise Bad("the frame never came back used")
    if mem.read(0x60000, len(frame)) != frame:
        raise Bad("passt wrote into the guest's transmit buffer")
    fe.probe()
    return "ignored (transmit buffer untouched, still serving)"


def tcp_headers(payload_length, ip_length=None, data_offset=5, flags=0x08, sequence=1000):
    """Ethernet, IPv4 and TCP headers of a segment from the guest to 203.0.113.10:9 (no connection there:
    passt answers with a reset whose acknowledgment counts the payload)."""
    options = b"\x01" * (4 * data_offset - 20)
    tcp = struct.pack("!HHIIBBHHH", 40000, 9, sequence, 0, data_offset << 4, flags, 65535, 0, 0) + options
    length = 20 + len(tcp) + payload_length if ip_length is None else ip_length
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, length, 0, 0x4000, 64, 6, 0,
                     socket.inet_aton("198.51.100.2"), socket.inet_aton("203.0.113.10"))
    total = sum(struct.unpack("!10H", ip))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    ip = ip[:10] + struct.pack("!H", ~total & 0xFFFF) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x01" + GUEST_MAC + b"\x08\x00" + ip + tcp


def transmit_pieces(tx, pieces, offset=0x60000):
    """One transmit chain, a descriptor per piece."""
    at = offset
    for i, piece in enumerate(pieces):
        tx.mem.write(at, piece)
        last = i == len(pieces) - 1
        tx.set_desc(i, at, len(piece), 0 if last else D_NEXT, 0 if last else i + 1)
        at += (len(piece) + 15) & ~15
    tx.post(0)
    tx.notify()


def reset_answer(mem, rx, seconds=1.0):
    """The acknowledgment of the reset passt put on the receive ring, or None if nothing came."""
    if not wait_used(rx, seconds=seconds):
        return None
    head, length = rx.used_elem(0)
    data = mem.read(0x70000 + head * 2048, length)
    tcp = NET_HEADER + 14 + 20
    if length < tcp + 20 or data[NET_HEADER + 12:NET_HEADER + 14] != b"\x08\x00" or not data[tcp + 13] & 0x04:
        raise Bad(f"the receive ring holds {length} bytes that are no TCP reset")
    return struct.unpack("!I", data[tcp + 8:tcp + 12])[0]


NEEDS_CSUM_TCP = struct.pack("<BBHHHHH", 1, 0, 0, 0, 14 + 20, 16, 0)
NO_OFFLOAD = struct.pack("<BBHHHHH", 0, 0, 0, 0, 0, 0, 0)


def scattered_case(fe, pieces, expect_ack):
    mem, rx, tx = running_with_csum(fe)
    transmit_pieces(tx, pieces)
    if not wait_used(tx):
        raise Bad("the transmit chain never came back used")
    ack = reset_answer(mem, rx, seconds=1.0 if expect_ack is not None else 0.3)
    if ack != expect_ack:
        raise Bad(f"reset acknowledging {ack}, expected {expect_ack}")
    fe.probe()
    return f"answered (reset, ack {ack})" if ack is not None else "ignored (dropped, still serving)"


@case
def scattered_tcp_payload(fe):
    """A Linux guest's layout: the headers in one descriptor, the payload in two more. The payload is read
    where it lies; the reset passt answers with counts all of it."""
    return scattered_case(fe, [NEEDS_CSUM_TCP + tcp_headers(3000), b"a" * 1000, b"b" * 2000], 1000 + 3000)


@case
def scattered_ip_length_short(fe):
    """The IP length covers less than the descriptors hold: the frame is dropped, not cut."""
    return scattered_case(fe, [NEEDS_CSUM_TCP + tcp_headers(0, ip_length=40 + 500), b"a" * 1000], None)


@case
def scattered_ip_length_long(fe):
    """The IP length claims more than the descriptors hold: dropped, nothing read past them."""
    return scattered_case(fe, [NEEDS_CSUM_TCP + tcp_headers(0, ip_length=40 + 4000), b"a" * 1000], None)


@case
def scattered_tcp_header_split(fe):
    """The TCP header itself is cut between two descriptors: gathered, then handled whole."""
    headers = NEEDS_CSUM_TCP + tcp_headers(100)
    return scattered_case(fe, [headers[:50], headers[50:], b"c" * 100], 1000 + 100)


@case
def scattered_options_past_buffer(fe):
    """The data offset says 60 bytes of TCP header, the first buffer holds 20 of them: gathered."""
    headers = NEEDS_CSUM_TCP + tcp_headers(200, data_offset=15)
    return scattered_case(fe, [headers[:NET_HEADER + 54], headers[NET_HEADER + 54:] + b"d" * 200], 1000 + 200)


@case
def scattered_not_vouched(fe):
    """No NEEDS_CSUM, no DATA_VALID and a checksum of 0: gathered, verified, dropped."""
    return scattered_case(fe, [NO_OFFLOAD + tcp_headers(800), b"e" * 800], None)


@case
def scattered_many_pieces(fe):
    """The payload in single bytes, as many as the ring holds: read where they lie or gathered, all count."""
    fe_pieces = [NEEDS_CSUM_TCP + tcp_headers(7)] + [b"f"] * 7
    return scattered_case(fe, fe_pieces, 1000 + 7)


@case
def transmit_ring_full(fe):
    """Every transmit chain posted with one kick, as a guest does before it waits for them back: all come
    back used without another kick (held until one, the guest would never send again)."""
    mem, rx, tx = running(fe)
    post_receive_buffers(rx, count=tx.size)
    for i in range(tx.size):
        frame = b"\0" * NET_HEADER + arp_request()
        mem.write(0x60000 + i * 128, frame)
        tx.set_desc(i, 0x60000 + i * 128, len(frame))
        tx.post(i)
    tx.notify()
    if not wait_used(tx, count=tx.size):
        raise Bad(f"{tx.used_idx()} of {tx.size} transmit chains came back without a second kick")
    return f"answered (all {tx.size} transmit chains back)"


# Descriptors that come with messages.

@case
def extra_fd_get_features(fe):
    fd = os.eventfd(0, os.EFD_CLOEXEC)
    return refused(lambda: fe.send_expect_close(GET_FEATURES, fds=[fd]))


@case
def extra_fds_set_owner(fe):
    fds = [os.eventfd(0, os.EFD_CLOEXEC) for _ in range(2)]
    return refused(lambda: fe.send_expect_close(SET_OWNER, fds=fds))


@case
def extra_fd_set_vring_num(fe):
    negotiate(fe)
    fd = os.eventfd(0, os.EFD_CLOEXEC)
    return refused(lambda: fe.step(SET_VRING_NUM, state(1, 8), [fd]) or fe.until_closed())


@case
def many_fds(fe):
    """SET_OWNER with 40 descriptors."""
    fds = [os.eventfd(0, os.EFD_CLOEXEC) for _ in range(40)]
    return refused(lambda: fe.send_expect_close(SET_OWNER, fds=fds))


@case
def fds_split_from_message(fe):
    """Descriptors sent with half a header, the rest of the message (GET_FEATURES, which takes none) later."""
    fd = os.eventfd(0, os.EFD_CLOEXEC)
    data = struct.pack("<III", GET_FEATURES, VERSION, 0)
    socket.send_fds(fe.sock, [data[:6]], [fd])
    time.sleep(0.02)
    return refused(lambda: (fe.sock.sendall(data[6:]), fe.until_closed()))


# Requests passt doesn't serve.

@case
def unknown_request(fe):
    """Request 99 without NEED_REPLY: refused by closing, or ignored."""
    negotiate(fe)
    return refused_or_ignored(fe, lambda: fe.send(99, u64(0)))


@case
def unknown_request_need_reply(fe):
    negotiate(fe)
    return refused(lambda: fe.step(99, u64(0)))


@case
def unknown_request_zero(fe):
    negotiate(fe)
    return refused(lambda: fe.step(0, b"", flags=VERSION | NEED_REPLY))


@case
def unknown_request_big_payload(fe):
    """Request 1000 with 4096 bytes of payload and two descriptors."""
    negotiate(fe)
    fds = [os.eventfd(0, os.EFD_CLOEXEC) for _ in range(2)]
    return refused(lambda: fe.step(1000, b"\xaa" * 4096, fds))


@case
def set_log_fd(fe):
    """SET_LOG_FD (LOG_SHMFD never offered) with a memfd: passt must close it."""
    negotiate(fe)
    return refused(lambda: fe.step(SET_LOG_FD, b"", [Memory(1 << 16).fd]))


@case
def net_set_mtu(fe):
    negotiate(fe)
    return refused(lambda: fe.step(NET_SET_MTU, u64(1500)))


# The connection itself.

@case
def flood_get_features(fe):
    """10,000 GET_FEATURES without reading a reply: passt may answer them all or drop us, not block."""
    fe.sock.settimeout(10)
    try:
        fe.sock.sendall(struct.pack("<III", GET_FEATURES, VERSION, 0) * 10000)
    except (BrokenPipeError, ConnectionResetError):
        return "refused (dropped while we flooded)"
    except socket.timeout:
        raise Bad("passt stopped reading for 10 s")
    answered = 0
    try:
        while answered < 10000:
            fe.reply(GET_FEATURES)
            answered += 1
    except Closed:
        return f"refused (dropped after {answered} replies)"
    return "answered (all 10000)"


@case
def flood_endless(fe):
    """GET_FEATURES without end, never reading a reply. passt may drop us or stop reading us, but not spend
    its whole time on us: half a second in, a second client must be turned away (closed) promptly, which
    only passt's event loop does."""
    fe.sock.setblocking(False)
    chunk = struct.pack("<III", GET_FEATURES, VERSION, 0) * 1000
    start = time.monotonic()
    other = None
    sent = 0
    while time.monotonic() < start + 3:
        try:
            # Whole messages only: a partial send continues where it stopped.
            sent = (sent + fe.sock.send(chunk[sent:])) % len(chunk)
        except BlockingIOError:
            # Room again as soon as passt reads: the socket never runs dry.
            select.select([], [fe.sock], [], 0.01)
        except (BrokenPipeError, ConnectionResetError):
            return "refused (dropped while we flooded)"
        if other is None and time.monotonic() > start + 0.5:
            other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            other.connect(fe.path)
            other.setblocking(False)
        elif other is not None:
            try:
                if other.recv(1) == b"":
                    return "ignored (passt went on with other work while we flooded)"
                raise Bad("the second connection got data")
            except BlockingIOError:
                pass
            except ConnectionResetError:
                return "ignored (passt went on with other work while we flooded)"
    raise Bad("passt was busy with the flood for 2.5 s: a second client was neither turned away nor served")


@case
def second_client(fe):
    """A second connection while we are served is closed; we are still served."""
    negotiate(fe)
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.settimeout(TIMEOUT)
    other.connect(fe.path)
    try:
        if other.recv(1) != b"":
            raise Bad("the second connection got data")
    except socket.timeout:
        raise Bad("the second connection was neither closed nor served")
    except ConnectionResetError:
        pass
    fe.probe()
    return "refused (second connection closed, first still served)"


@case
def reset_owner_running(fe, pid=None):
    """RESET_OWNER while both rings run, then kicks on their old eventfds: nothing of the old rings may be
    used, and passt must not spin on eventfds it no longer reads."""
    mem, rx, tx = running(fe)
    fe.step(RESET_OWNER, flags=VERSION)
    post_receive_buffers(rx)
    transmit_arp(tx)
    spin = spinning(pid)
    outcome = refused_or_ignored(fe, fe.probe)
    if spin:
        raise Bad("passt spins on the old rings' kick eventfds (CPU busy while idle)")
    return outcome


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def spinning(pid, seconds=0.5):
    """Whether passt burns more than a third of a CPU over `seconds` (None: no --pid)."""
    if pid is None:
        return None
    before = cpu_ticks(pid)
    time.sleep(seconds)
    used = (cpu_ticks(pid) - before) / os.sysconf("SC_CLK_TCK")
    return used > seconds / 3


def stale_kick(fe, pid, stop):
    mem, rx, tx = running(fe)
    stop(tx)
    tx.notify()
    spin = spinning(pid)
    fe.probe()
    if spin:
        raise Bad("passt spins on the stopped ring's kick eventfd (CPU busy while idle)")
    return "ignored (old kick eventfd written: " + ("passt stays idle)" if spin is False else "CPU not measured)")


@case
def stale_kick_after_stop(fe, pid=None):
    """GET_VRING_BASE stops ring 1; we keep its kick eventfd and write to it."""
    return stale_kick(fe, pid, lambda tx: fe.call(GET_VRING_BASE, state(1, 0)))


@case
def stale_kick_after_replace(fe, pid=None):
    """SET_VRING_KICK gives running ring 1 a new eventfd; we write to the old one."""
    def replace(tx):
        old = tx.kick
        tx.kick = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        fe.step(SET_VRING_KICK, u64(1), [tx.kick])
        tx.kick = old
    return stale_kick(fe, pid, replace)


@case
def ring_restart_same_kick(fe):
    """A frontend that stops ring 1 and starts it again with the same kick eventfd (as qemu does across a
    guest driver reset) must be served: an ARP request sent after the restart is answered."""
    mem, rx, tx = running(fe)
    index, base = struct.unpack("<II", fe.call(GET_VRING_BASE, state(1, 0)))
    try:
        fe.step(SET_VRING_BASE, state(1, base))
        fe.step(SET_VRING_KICK, u64(1), [tx.kick])
        fe.step(SET_VRING_ENABLE, state(1, 1))
    except Closed:
        raise Bad("passt closed the connection once ring 1 got its kick eventfd again")
    post_receive_buffers(rx)
    transmit_arp(tx)
    if not wait_used(rx):
        try:
            fe.probe()
        except Closed:
            raise Bad("passt dropped the connection after the ring restarted")
        raise Bad("the restarted ring's kick went unheard: no ARP reply")
    return "answered (ARP reply after the restart)"


def alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return False


def main(argv):
    if argv[1:] == ["--list"]:
        print("\n".join(CASES))
        return 0
    pid = None
    if len(argv) > 2 and argv[1] == "--pid":
        pid = int(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) != 3 or argv[2] not in CASES:
        print("usage: " + __doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    path, name = argv[1], argv[2]
    function = CASES[name]
    try:
        fe = Frontend(path)
        if "pid" in function.__code__.co_varnames[:function.__code__.co_argcount]:
            outcome = function(fe, pid=pid)
        else:
            outcome = function(fe)
    except Closed:
        print(f"{name}: FAILED: passt closed the connection during the set-up")
        return 1
    except Refused as e:
        print(f"{name}: FAILED: passt refused a step of the set-up (REPLY_ACK {e})")
        return 1
    except (Bad, OSError) as e:
        print(f"{name}: FAILED: {e}")
        return 1
    if pid is not None:
        time.sleep(0.05)
        if not alive(pid):
            print(f"{name}: FAILED: passt (PID {pid}) died ({outcome})")
            return 1
    print(f"{name}: {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
