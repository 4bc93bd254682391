// What qemu does with a virtio-net device whose backend speaks vhost-user, without a VM: a tap device in the
// current network namespace stands in for the guest's NIC, and its frames travel through split virtqueues
// in a shared memfd ("guest memory") that the backend maps. Queue 0 receives (the backend writes frames
// into our buffers), queue 1 transmits (we hand the backend frames read from the tap).
//
//   vhost_user_frontend [OPTIONS] TAPNAME SOCKET
//   vhost_user_frontend [OPTIONS] --fd N TAPNAME          (SOCKET, if given, is ignored)
//   run it inside the namespace: ip netns exec NS vhost_user_frontend eth0 /path/passt.socket
//
//   --queue-size N     descriptors per queue, a power of 2 (default 256)
//   --mrg-rxbuf        receive into 2048-byte buffers, big frames spanning several (num_buffers > 1), if the
//                      backend offers VIRTIO_NET_F_MRG_RXBUF (the default)
//   --rx-buffer BYTES  the size of each mergeable receive buffer (default 2048; a Linux guest's grow with
//                      its average packet, up to a page)
//   --no-mrg-rxbuf     every receive chain holds a whole 64 KiB frame and its header (65562 bytes)
//   --offload          negotiate CSUM, GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6 (those offered); the tap gets
//                      IFF_VNET_HDR and its virtio-net header travels as the ring's, so TSO frames and
//                      partial checksums pass both ways
//   --event-idx        negotiate VIRTIO_RING_F_EVENT_IDX if offered
//   --split            descriptor chains as a Linux guest makes them when it fragments: the header in a
//                      descriptor of its own, the frame in descriptors of at most 4096 bytes (both queues;
//                      receive only without mrg-rxbuf, whose buffers are single descriptors)
//   --memory MiB       size of guest memory (default: what the queues need, at least 64)
//   --fd N             speak over the connected socket N (one end of a socketpair, as qemu 10.1 passes)
//   --ack-all          with REPLY_ACK, set NEED_REPLY on every request without a reply of its own, not
//                      only on SET_MEM_TABLE
//   --qemu-order       send the setup in the order of a qemu VM start (GET_FEATURES, protocol features,
//                      SET_OWNER, GET_FEATURES, SET_VRING_CALL x2, SET_FEATURES, SET_MEM_TABLE, per queue
//                      NUM BASE ADDR KICK CALL, then SET_VRING_ENABLE x2) instead of the plain one
//                      (GET_FEATURES, SET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER, SET_MEM_TABLE,
//                      per queue SET_VRING_NUM, BASE 0, ADDR, CALL, KICK, ENABLE 1)
//   --check            negotiate, set up both queues, stop them (GET_VRING_BASE), print what was
//                      negotiated on standard output and exit; no tap is opened
//
// The tap is created (IFF_TAP | IFF_NO_PI) if it doesn't exist; bring it up and configure it yourself. The
// frontend runs until the backend closes the socket or SIGTERM/SIGINT; after a signal it stops both queues
// with GET_VRING_BASE, as qemu does when a VM stops. Then it prints the frames and bytes it moved each way
// to standard error and exits 0. A missing or malformed reply, or a ring entry the backend had no right to
// return, is fatal (status 1, with a message naming it).
//
// Built to stay out of the way of the thing measured: one poll loop, many frames per wakeup, frames read
// from the tap straight into guest memory and written to it from there (one copy each way, by the kernel),
// kicks and calls suppressed as the ring's flags or event indexes allow, and no reading from the tap while
// the transmit queue is full (backpressure, as qemu does it, instead of dropping).
//
// Guest memory is one memfd: "guest physical" addresses are offsets into it plus 0x100000 (descriptors
// carry those), while SET_VRING_ADDR carries this process's virtual addresses of the rings, as qemu sends.
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#define NAME "vhost_user_frontend"

// vhost-user requests and flags (docs/interop/vhost-user.rst)
enum {
    GET_FEATURES = 1, SET_FEATURES = 2, SET_OWNER = 3, SET_MEM_TABLE = 5, SET_VRING_NUM = 8,
    SET_VRING_ADDR = 9, SET_VRING_BASE = 10, GET_VRING_BASE = 11, SET_VRING_KICK = 12, SET_VRING_CALL = 13,
    GET_PROTOCOL_FEATURES = 15, SET_PROTOCOL_FEATURES = 16, SET_VRING_ENABLE = 18,
};
#define VU_VERSION 1u
#define VU_REPLY 0x4u
#define VU_NEED_REPLY 0x8u
#define PROTOCOL_F_REPLY_ACK 3

// Feature bits (virtio 1.2 5.1.3, 6; vhost-user)
#define F_CSUM 0
#define F_GUEST_CSUM 1
#define F_GUEST_TSO4 7
#define F_GUEST_TSO6 8
#define F_HOST_TSO4 11
#define F_HOST_TSO6 12
#define F_MRG_RXBUF 15
#define F_EVENT_IDX 29
#define F_PROTOCOL_FEATURES 30
#define F_VERSION_1 32
#define BIT(n) (1ull << (n))

// Split virtqueue (virtio 1.2 2.7)
#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define AVAIL_F_NO_INTERRUPT 1
#define USED_F_NO_NOTIFY 1
struct desc { uint64_t addr; uint32_t len; uint16_t flags; uint16_t next; };
struct used_elem { uint32_t id; uint32_t len; };

// virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2
#define HDR_F_RSC_INFO 4
#define GSO_NONE 0
#define GSO_TCPV4 1
#define GSO_TCPV6 4
#define GSO_ECN 0x80

#define GPA_BASE 0x100000ull
#define PAGE 4096u
#define FRAME_MIN 14
#define TX_SLOT (17 * PAGE)          // header + the largest frame a tap gives (a 64 KiB TSO frame)
#define RX_MRG_BUFFER 2048u
#define RX_BIG_BUFFER (12u + 65550u) // header + 64 KiB IP packet + Ethernet and VLAN headers
#define SPLIT_PIECES 17u             // 4096-byte pieces that hold the largest frame
#define REPLY_TIMEOUT_S 5

struct queue {
    unsigned index, size;
    uint64_t descOffset, availOffset, usedOffset;
    struct desc *desc;
    uint16_t *avail;            // flags, idx, ring[size], used_event
    uint8_t *used;              // flags, idx, {id, len}[size], avail_event
    int kick, call;
    uint16_t nextAvail;         // avail idx not yet published
    uint16_t notifiedAvail;     // avail idx at the last notification decision
    uint16_t lastUsed;          // next used entry to read
    uint16_t seenUsed;          // used idx as last read
    unsigned long long kicks, wakeups;   // eventfd writes; reads of the call eventfd
};

static struct {
    // options
    unsigned queueSize;
    int mrg, offload, eventIdxWanted, split, ackAll, qemuOrder, check, fd;
    unsigned long memoryMiB;
    unsigned long mrgBuffer;    // bytes per mergeable receive buffer
    // negotiated
    uint64_t offered, features, protocolOffered, protocol;
    int eventIdx, replyAck;
    unsigned hdrLen;
    // memory
    int memfd;
    uint8_t *mem;
    size_t memSize;
    int sock, tap;
    struct queue rx, tx;
    // transmit: slots of TX_SLOT bytes, descriptors from a free list
    unsigned txSlots, txMaxChain, txFreeSlotCount, txFreeDescs;
    uint64_t txAreaOffset;
    unsigned *txFreeSlots;
    uint16_t *txNext, txFreeHead;
    int *txHeadSlot;            // slot of the chain whose head is this descriptor, -1 if none
    uint8_t *txHeadCount;       // descriptors in that chain
    // receive: chains of fixed descriptors, chain c starting at descriptor c * rxChainDescs
    unsigned rxChains, rxChainDescs, rxCapacity;
    size_t rxStride;
    uint64_t rxAreaOffset;
    uint8_t *rxPosted;          // 1: in the backend's hands, 2: claimed for the frame being written
    uint16_t *rxRepost;
    unsigned rxRepostCount;
    int tapWriteBlocked;
    unsigned long long framesOut, bytesOut, framesIn, bytesIn, dropped;
    int warnedHeader, warnedNumBuffers, warnedShort, warnedTap, warnedSilentRx, warnedSilentTx,
        warnedSocket;
} fe = { .queueSize = 256, .mrg = 1, .fd = -1, .memfd = -1, .sock = -1, .tap = -1 };

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static void die(const char *what) {
    fprintf(stderr, NAME ": %s: %s\n", what, strerror(errno));
    exit(1);
}

static void fatal(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    fputs(NAME ": ", stderr);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void warn_once(int *done, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void warn_once(int *done, const char *format, ...) {
    if (*done) return;
    *done = 1;
    va_list ap;
    va_start(ap, format);
    fputs(NAME ": warning: ", stderr);
    vfprintf(stderr, format, ap);
    fputs(" (reported once)\n", stderr);
    va_end(ap);
}

static const char *request_name(uint32_t request) {
    static const char *names[] = {
        [GET_FEATURES] = "GET_FEATURES", [SET_FEATURES] = "SET_FEATURES", [SET_OWNER] = "SET_OWNER",
        [SET_MEM_TABLE] = "SET_MEM_TABLE", [SET_VRING_NUM] = "SET_VRING_NUM",
        [SET_VRING_ADDR] = "SET_VRING_ADDR", [SET_VRING_BASE] = "SET_VRING_BASE",
        [GET_VRING_BASE] = "GET_VRING_BASE", [SET_VRING_KICK] = "SET_VRING_KICK",
        [SET_VRING_CALL] = "SET_VRING_CALL", [GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
        [SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES", [SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    };
    if (request < sizeof(names) / sizeof(names[0]) && names[request]) return names[request];
    return "request";
}

// ---- vhost-user messages ----

struct vu_header { uint32_t request, flags, size; };
struct vring_state { uint32_t index, num; };
struct vring_addr { uint32_t index, flags; uint64_t desc, used, avail, log; };
struct mem_region { uint64_t guestPhys, size, userAddr, mmapOffset; };
struct mem_table { uint32_t nregions, padding; struct mem_region regions[1]; };

static void vu_send(uint32_t request, uint32_t flags, const void *payload, uint32_t size, int fd) {
    struct vu_header header = { request, VU_VERSION | flags, size };
    struct iovec iov[2] = { { &header, sizeof(header) }, { (void *)payload, size } };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
    if (fd >= 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    }
    ssize_t n;
    do n = sendmsg(fe.sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EPIPE || errno == ECONNRESET)
            fatal("the backend closed the connection before %s", request_name(request));
        die("sendmsg");
    }
    if ((size_t)n != sizeof(header) + size) fatal("short write of %s", request_name(request));
}

// Reads exactly len bytes of a reply; fds that come along are closed (no reply we ask for carries one).
static void vu_read(uint32_t request, void *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        union { char buf[CMSG_SPACE(8 * sizeof(int))]; struct cmsghdr align; } control;
        struct iovec iov = { (uint8_t *)buf + got, len - got };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        ssize_t n = recvmsg(fe.sock, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            fatal("no reply to %s within %d s", request_name(request), REPLY_TIMEOUT_S);
        if (n < 0 && errno == ECONNRESET) n = 0;
        if (n < 0) die("recvmsg");
        if (n == 0) fatal("the backend closed the connection instead of replying to %s", request_name(request));
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                close(fd);
            }
        }
        got += (size_t)n;
    }
}

static void vu_reply(uint32_t request, void *payload, uint32_t size) {
    struct vu_header header;
    vu_read(request, &header, sizeof(header));
    if (header.request != request)
        fatal("expected the reply to %s (%u), got request %u (flags 0x%x, size %u)", request_name(request),
              request, header.request, header.flags, header.size);
    if ((header.flags & 3) != VU_VERSION || !(header.flags & VU_REPLY))
        fatal("reply to %s has flags 0x%x: version must be 1 and the reply bit (0x4) set",
              request_name(request), header.flags);
    if (header.size != size)
        fatal("reply to %s has size %u, expected %u", request_name(request), header.size, size);
    vu_read(request, payload, size);
}

static uint64_t vu_get_u64(uint32_t request) {
    uint64_t value;
    vu_send(request, 0, NULL, 0, -1);
    vu_reply(request, &value, sizeof(value));
    return value;
}

// A request without a reply of its own; with REPLY_ACK (always for SET_MEM_TABLE, for all with --ack-all)
// it asks for one and insists on success.
static void vu_set(uint32_t request, const void *payload, uint32_t size, int fd) {
    int ack = fe.replyAck && (request == SET_MEM_TABLE || fe.ackAll);
    vu_send(request, ack ? VU_NEED_REPLY : 0, payload, size, fd);
    if (!ack) return;
    uint64_t status;
    vu_reply(request, &status, sizeof(status));
    if (status != 0) fatal("the backend refused %s (status %llu)", request_name(request),
                           (unsigned long long)status);
}

static void vu_set_u64(uint32_t request, uint64_t value) { vu_set(request, &value, sizeof(value), -1); }

static void vu_set_state(uint32_t request, unsigned index, unsigned num) {
    struct vring_state state = { index, num };
    vu_set(request, &state, sizeof(state), -1);
}

// ---- guest memory and rings ----

static uint64_t gpa(uint64_t offset) { return GPA_BASE + offset; }
static size_t align_up(size_t n, size_t a) { return (n + a - 1) / a * a; }
static uint16_t *used_idx(struct queue *q) { return (uint16_t *)(q->used + 2); }
static uint16_t *used_flags(struct queue *q) { return (uint16_t *)q->used; }
static struct used_elem *used_ring(struct queue *q) { return (struct used_elem *)(q->used + 4); }
static uint16_t *avail_event(struct queue *q) { return (uint16_t *)(q->used + 4 + 8 * q->size); }
static uint16_t *used_event(struct queue *q) { return &q->avail[2 + q->size]; }

static size_t layout_queue(struct queue *q, size_t offset) {
    q->descOffset = offset = align_up(offset, PAGE);
    offset += 16 * (size_t)q->size;
    q->availOffset = offset = align_up(offset, PAGE);
    offset += 6 + 2 * (size_t)q->size;
    q->usedOffset = offset = align_up(offset, PAGE);
    offset += 6 + 8 * (size_t)q->size;
    return offset;
}

// Places both queues and the packet buffers; returns the bytes they need.
static size_t layout(void) {
    unsigned n = fe.queueSize;
    fe.rx = (struct queue){ .index = 0, .size = n, .kick = -1, .call = -1 };
    fe.tx = (struct queue){ .index = 1, .size = n, .kick = -1, .call = -1 };
    size_t offset = layout_queue(&fe.rx, 0);
    offset = layout_queue(&fe.tx, offset);

    fe.txMaxChain = fe.split ? 1 + SPLIT_PIECES : 1;
    fe.txSlots = fe.split ? n / 2 : n;
    fe.txAreaOffset = offset = align_up(offset, PAGE);
    offset += (size_t)fe.txSlots * TX_SLOT;

    if (fe.mrg) {
        fe.rxChainDescs = 1;
        fe.rxCapacity = fe.mrgBuffer ? (unsigned)fe.mrgBuffer : RX_MRG_BUFFER;
    } else if (fe.split) {
        fe.rxChainDescs = 1 + SPLIT_PIECES;
        fe.rxCapacity = 12 + SPLIT_PIECES * PAGE;
    } else {
        fe.rxChainDescs = 1;
        fe.rxCapacity = RX_BIG_BUFFER;
    }
    fe.rxChains = n / fe.rxChainDescs;
    fe.rxStride = align_up(fe.rxCapacity, 64);
    fe.rxAreaOffset = offset = align_up(offset, PAGE);
    offset += (size_t)fe.rxChains * fe.rxStride;
    return offset;
}

static void map_queue(struct queue *q) {
    q->desc = (struct desc *)(fe.mem + q->descOffset);
    q->avail = (uint16_t *)(fe.mem + q->availOffset);
    q->used = fe.mem + q->usedOffset;
    q->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    q->call = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->kick < 0 || q->call < 0) die("eventfd");
}

static void setup_memory(void) {
    size_t need = align_up(layout(), 1 << 20);
    if (fe.memoryMiB) {
        fe.memSize = (size_t)fe.memoryMiB << 20;
        if (fe.memSize < need)
            fatal("--memory %lu is too small for these queues: they need %zu MiB", fe.memoryMiB, need >> 20);
    } else {
        fe.memSize = need < (64u << 20) ? (64u << 20) : need;
    }
    fe.memfd = memfd_create("guest-memory", MFD_CLOEXEC);
    if (fe.memfd < 0) die("memfd_create");
    if (ftruncate(fe.memfd, (off_t)fe.memSize) < 0) die("ftruncate memfd");
    fe.mem = mmap(NULL, fe.memSize, PROT_READ | PROT_WRITE, MAP_SHARED, fe.memfd, 0);
    if (fe.mem == MAP_FAILED) die("mmap memfd");
    map_queue(&fe.rx);
    map_queue(&fe.tx);

    unsigned n = fe.queueSize;
    fe.txFreeSlots = calloc(fe.txSlots, sizeof(*fe.txFreeSlots));
    fe.txNext = calloc(n, sizeof(*fe.txNext));
    fe.txHeadSlot = calloc(n, sizeof(*fe.txHeadSlot));
    fe.txHeadCount = calloc(n, sizeof(*fe.txHeadCount));
    fe.rxPosted = calloc(fe.rxChains, 1);
    fe.rxRepost = calloc(n, sizeof(*fe.rxRepost));
    if (!fe.txFreeSlots || !fe.txNext || !fe.txHeadSlot || !fe.txHeadCount || !fe.rxPosted || !fe.rxRepost)
        die("calloc");
    for (unsigned i = 0; i < fe.txSlots; i++) fe.txFreeSlots[i] = fe.txSlots - 1 - i;
    fe.txFreeSlotCount = fe.txSlots;
    for (unsigned i = 0; i < n; i++) {
        fe.txNext[i] = (uint16_t)(i + 1);
        fe.txHeadSlot[i] = -1;
    }
    fe.txFreeHead = 0;
    fe.txFreeDescs = n;

    // Receive chains are fixed: device-writable, linked, header first when split.
    for (unsigned c = 0; c < fe.rxChains; c++) {
        uint64_t base = fe.rxAreaOffset + (uint64_t)c * fe.rxStride;
        unsigned head = c * fe.rxChainDescs;
        for (unsigned k = 0; k < fe.rxChainDescs; k++) {
            struct desc *d = &fe.rx.desc[head + k];
            uint64_t start = k == 0 ? 0 : 12 + (uint64_t)(k - 1) * PAGE;
            uint32_t len = fe.rxChainDescs == 1 ? fe.rxCapacity : k == 0 ? 12 : PAGE;
            d->addr = htole64(gpa(base + start));
            d->len = htole32(len);
            int last = k + 1 == fe.rxChainDescs;
            d->flags = htole16(DESC_F_WRITE | (last ? 0 : DESC_F_NEXT));
            d->next = htole16(last ? 0 : head + k + 1);
        }
        fe.rx.avail[2 + (fe.rx.nextAvail & (n - 1))] = htole16((uint16_t)head);
        fe.rx.nextAvail++;
        fe.rxPosted[c] = 1;
    }
    // Posted before the ring starts, as a guest fills its receive queue before the device runs.
    __atomic_store_n(&fe.rx.avail[1], htole16(fe.rx.nextAvail), __ATOMIC_RELEASE);
    fe.rx.notifiedAvail = fe.rx.nextAvail;
}

static void kick(struct queue *q) {
    uint64_t one = 1;
    if (write(q->kick, &one, sizeof(one)) < 0 && errno != EAGAIN) die("write kick eventfd");
    q->kicks++;
}

// Publishes new available entries and kicks unless the backend asked not to be (used flags or avail_event).
static void publish(struct queue *q) {
    uint16_t newIdx = q->nextAvail, oldIdx = q->notifiedAvail;
    if (newIdx == oldIdx) return;
    __atomic_store_n(&q->avail[1], htole16(newIdx), __ATOMIC_RELEASE);
    // The index store must be visible before the backend's suppression flag is read (and vice versa).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    int need;
    if (fe.eventIdx) {
        uint16_t event = le16toh(__atomic_load_n(avail_event(q), __ATOMIC_RELAXED));
        need = (uint16_t)(newIdx - event - 1) < (uint16_t)(newIdx - oldIdx);
    } else {
        need = !(le16toh(__atomic_load_n(used_flags(q), __ATOMIC_RELAXED)) & USED_F_NO_NOTIFY);
    }
    q->notifiedAvail = newIdx;
    if (need) kick(q);
}

static uint16_t load_used_idx(struct queue *q) {
    return le16toh(__atomic_load_n(used_idx(q), __ATOMIC_ACQUIRE));
}

// Asks for (or stops asking for) a call when the backend adds used entries; returns whether entries
// arrived that the request may have missed.
static int want_calls(struct queue *q, int on) {
    if (fe.eventIdx) {
        if (!on) return 0;   // the last used_event fires at most once more
        __atomic_store_n(used_event(q), htole16(q->seenUsed), __ATOMIC_RELAXED);
    } else {
        __atomic_store_n(&q->avail[0], htole16(on ? 0 : AVAIL_F_NO_INTERRUPT), __ATOMIC_RELAXED);
        if (!on) return 0;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return load_used_idx(q) != q->seenUsed;
}

static int missed_call(struct queue *q) {
    if (load_used_idx(q) == q->seenUsed) return 0;
    struct pollfd p = { .fd = q->call, .events = POLLIN };
    return poll(&p, 1, 10) == 0;
}

// ---- transmit: tap -> backend ----

static void tx_reclaim(void) {
    struct queue *q = &fe.tx;
    uint16_t used = load_used_idx(q);
    q->seenUsed = used;
    while (q->lastUsed != used) {
        struct used_elem *e = &used_ring(q)[q->lastUsed & (q->size - 1)];
        uint32_t id = le32toh(e->id);
        if (id >= q->size || fe.txHeadSlot[id] < 0)
            fatal("the backend returned tx descriptor %u (used entry %u), which it doesn't hold", id,
                  q->lastUsed);
        unsigned count = fe.txHeadCount[id];
        uint16_t last = (uint16_t)id;
        for (unsigned k = 1; k < count; k++) last = fe.txNext[last];
        fe.txNext[last] = fe.txFreeHead;
        fe.txFreeHead = (uint16_t)id;
        fe.txFreeDescs += count;
        fe.txFreeSlots[fe.txFreeSlotCount++] = (unsigned)fe.txHeadSlot[id];
        fe.txHeadSlot[id] = -1;
        q->lastUsed++;
    }
}

static int tx_has_room(void) { return fe.txFreeSlotCount > 0 && fe.txFreeDescs >= fe.txMaxChain; }

static void tx_fill(void) {
    struct queue *q = &fe.tx;
    unsigned hdr = fe.hdrLen;
    while (!stopping && tx_has_room()) {
        unsigned slot = fe.txFreeSlots[fe.txFreeSlotCount - 1];
        uint64_t offset = fe.txAreaOffset + (uint64_t)slot * TX_SLOT;
        uint8_t *buf = fe.mem + offset;
        ssize_t n;
        size_t frame;
        // Straight into guest memory: the frame is read where the backend will find it.
        n = fe.offload ? read(fe.tap, buf, TX_SLOT) : read(fe.tap, buf + hdr, TX_SLOT - hdr);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            die("read tap");
        }
        frame = fe.offload ? (size_t)n - (n >= (ssize_t)hdr ? hdr : (size_t)n) : (size_t)n;
        if (frame < FRAME_MIN) continue;
        if (fe.offload) {
            buf[0] &= (uint8_t)~(HDR_F_DATA_VALID | HDR_F_RSC_INFO);   // a driver must not set these
            if (hdr == 12) buf[10] = buf[11] = 0;   // the tap skips num_buffers; it is 0 on transmit
        } else {
            memset(buf, 0, hdr);
        }
        fe.txFreeSlotCount--;

        unsigned count = fe.split ? 1 + (unsigned)((frame + PAGE - 1) / PAGE) : 1;
        uint16_t head = fe.txFreeHead, id = head;
        for (unsigned k = 0; k < count; k++) {
            struct desc *d = &q->desc[id];
            uint64_t start, len;
            if (!fe.split) {
                start = 0;
                len = hdr + frame;
            } else if (k == 0) {
                start = 0;
                len = hdr;
            } else {
                start = hdr + (uint64_t)(k - 1) * PAGE;
                len = frame - (uint64_t)(k - 1) * PAGE < PAGE ? frame - (uint64_t)(k - 1) * PAGE : PAGE;
            }
            int last = k + 1 == count;
            d->addr = htole64(gpa(offset + start));
            d->len = htole32((uint32_t)len);
            d->flags = htole16(last ? 0 : DESC_F_NEXT);
            d->next = htole16(last ? 0 : fe.txNext[id]);
            if (!last) id = fe.txNext[id];
        }
        fe.txFreeHead = fe.txNext[id];
        fe.txFreeDescs -= count;
        fe.txHeadSlot[head] = (int)slot;
        fe.txHeadCount[head] = (uint8_t)count;
        q->avail[2 + (q->nextAvail & (q->size - 1))] = htole16(head);
        q->nextAvail++;
        fe.framesOut++;
        fe.bytesOut += frame;
    }
    publish(q);
}

// ---- receive: backend -> tap ----

static unsigned rx_chain_of(uint32_t id, uint16_t entry) {
    if (id >= fe.rx.size || id % fe.rxChainDescs != 0 || id / fe.rxChainDescs >= fe.rxChains)
        fatal("the backend returned rx descriptor %u (used entry %u), which is no chain head we posted", id,
              entry);
    unsigned c = id / fe.rxChainDescs;
    if (fe.rxPosted[c] != 1)
        fatal("the backend returned rx descriptor %u (used entry %u) twice", id, entry);
    fe.rxPosted[c] = 2;
    return c;
}

static void check_rx_header(const uint8_t *h) {
    uint8_t flags = h[0], gso = h[1];
    uint8_t type = gso & (uint8_t)~GSO_ECN;
    int csumOk = !(flags & HDR_F_NEEDS_CSUM) || (fe.features & BIT(F_GUEST_CSUM));
    int gsoOk = type == GSO_NONE || (type == GSO_TCPV4 && (fe.features & BIT(F_GUEST_TSO4))) ||
                (type == GSO_TCPV6 && (fe.features & BIT(F_GUEST_TSO6)));
    if (!csumOk || !gsoOk)
        warn_once(&fe.warnedHeader, "rx header flags 0x%x gso_type 0x%x use an offload not negotiated",
                  flags, gso);
}

static void rx_deliver(void) {
    struct queue *q = &fe.rx;
    unsigned hdr = fe.hdrLen, mask = q->size - 1;
    uint16_t used = load_used_idx(q);
    q->seenUsed = used;
    static struct iovec iov[IOV_MAX];
    unsigned chains[IOV_MAX];
    while (q->lastUsed != used && !fe.tapWriteBlocked) {
        uint16_t ready = (uint16_t)(used - q->lastUsed);
        struct used_elem *e = &used_ring(q)[q->lastUsed & mask];
        uint32_t len = le32toh(e->len);
        unsigned c = rx_chain_of(le32toh(e->id), q->lastUsed);
        uint8_t *buf = fe.mem + fe.rxAreaOffset + (size_t)c * fe.rxStride;
        if (len < hdr || len > fe.rxCapacity)
            fatal("rx used entry %u has length %u, outside %u..%u (header..buffer)", q->lastUsed, len, hdr,
                  fe.rxCapacity);
        unsigned buffers = 1;
        if (fe.mrg) {
            buffers = le16toh(*(uint16_t *)(buf + 10));
            if (buffers == 0) fatal("rx used entry %u: num_buffers is 0", q->lastUsed);
            if (buffers > fe.rxChains || buffers >= IOV_MAX)
                fatal("rx used entry %u: num_buffers %u is more than the %u buffers posted", q->lastUsed, buffers,
                      fe.rxChains);
            if (buffers > ready) {
                fe.rxPosted[c] = 1;
                break;   // the rest of the frame isn't published yet
            }
        } else if (hdr == 12 && le16toh(*(uint16_t *)(buf + 10)) != 1) {
            warn_once(&fe.warnedNumBuffers, "rx num_buffers is %u without MRG_RXBUF (must be 1)",
                      le16toh(*(uint16_t *)(buf + 10)));
        }
        check_rx_header(buf);
        // With offload the ring's header goes to the tap as its vnet header (same layout, 12 bytes).
        iov[0].iov_base = fe.offload ? buf : buf + hdr;
        iov[0].iov_len = fe.offload ? len : len - hdr;
        chains[0] = c;
        size_t frame = len - hdr;
        for (unsigned k = 1; k < buffers; k++) {
            uint16_t entry = (uint16_t)(q->lastUsed + k);
            struct used_elem *ek = &used_ring(q)[entry & mask];
            uint32_t lenk = le32toh(ek->len);
            unsigned ck = rx_chain_of(le32toh(ek->id), entry);
            if (lenk > fe.rxCapacity)
                fatal("rx used entry %u has length %u, more than the buffer's %u", entry, lenk, fe.rxCapacity);
            iov[k].iov_base = fe.mem + fe.rxAreaOffset + (size_t)ck * fe.rxStride;
            iov[k].iov_len = lenk;
            chains[k] = ck;
            frame += lenk;
        }
        int consume = 1;
        if (frame < FRAME_MIN) {
            warn_once(&fe.warnedShort, "rx frame of %zu bytes dropped", frame);
            fe.dropped++;
        } else {
            ssize_t w;
            do w = writev(fe.tap, iov, (int)buffers);
            while (w < 0 && errno == EINTR);
            if (w < 0 && errno == EAGAIN) {
                fe.tapWriteBlocked = 1;   // this frame again once the tap has room: order is kept
                consume = 0;
            } else if (w < 0) {
                // EIO: the tap is down and the frame lost, as on a NIC whose link is down.
                if (errno != EIO) warn_once(&fe.warnedTap, "tap refused a frame: %s", strerror(errno));
                fe.dropped++;
            } else {
                fe.framesIn++;
                fe.bytesIn += frame;
            }
        }
        for (unsigned k = 0; k < buffers; k++) {
            if (!consume) {
                fe.rxPosted[chains[k]] = 1;
                continue;
            }
            fe.rxPosted[chains[k]] = 0;
            fe.rxRepost[fe.rxRepostCount++] = (uint16_t)(chains[k] * fe.rxChainDescs);
        }
        if (consume) q->lastUsed = (uint16_t)(q->lastUsed + buffers);
    }
    // Buffers go back only now, so an id the backend returns twice in one batch is caught.
    for (unsigned i = 0; i < fe.rxRepostCount; i++) {
        uint16_t head = fe.rxRepost[i];
        fe.rxPosted[head / fe.rxChainDescs] = 1;
        q->avail[2 + (q->nextAvail & mask)] = htole16(head);
        q->nextAvail++;
    }
    fe.rxRepostCount = 0;
    publish(q);
}

// ---- setup ----

static int open_tap(const char *name) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (fe.offload ? IFF_VNET_HDR : 0);
    if (strlen(name) >= IFNAMSIZ) {
        fprintf(stderr, NAME ": tap name too long: %s\n", name);
        exit(2);
    }
    strcpy(ifr.ifr_name, name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
    return fd;
}

// The tap's offloads follow what the backend accepted on transmit: the kernel may then hand us partial
// checksums and TSO frames. Frames we write may carry any header the kernel understands.
static void configure_tap_offload(void) {
    if (!fe.offload) return;
    int size = (int)fe.hdrLen;
    if (ioctl(fe.tap, TUNSETVNETHDRSZ, &size) < 0) die("TUNSETVNETHDRSZ");
    int le = 1;
    ioctl(fe.tap, TUNSETVNETLE, &le);   // virtio 1 headers are little-endian; native on most hosts anyway
    unsigned offloads = 0;
    if (fe.features & BIT(F_CSUM)) {
        offloads |= TUN_F_CSUM;
        if (fe.features & BIT(F_HOST_TSO4)) offloads |= TUN_F_TSO4;
        if (fe.features & BIT(F_HOST_TSO6)) offloads |= TUN_F_TSO6;
    }
    if (ioctl(fe.tap, TUNSETOFFLOAD, offloads) < 0) die("TUNSETOFFLOAD");
}

static int connect_socket(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, NAME ": socket path too long: %s\n", path);
        exit(2);
    }
    strcpy(addr.sun_path, path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) die(path);
    return fd;
}

static void negotiate_features(void) {
    uint64_t want = BIT(F_VERSION_1) | BIT(F_PROTOCOL_FEATURES);
    if (fe.mrg) want |= BIT(F_MRG_RXBUF);
    if (fe.eventIdxWanted) want |= BIT(F_EVENT_IDX);
    if (fe.offload) want |= BIT(F_CSUM) | BIT(F_GUEST_CSUM);
    uint64_t f = fe.offered & want;
    // TSO needs the matching checksum offload (virtio 1.2 5.1.3.1).
    if (fe.offload && (f & BIT(F_CSUM))) f |= fe.offered & (BIT(F_HOST_TSO4) | BIT(F_HOST_TSO6));
    if (fe.offload && (f & BIT(F_GUEST_CSUM))) f |= fe.offered & (BIT(F_GUEST_TSO4) | BIT(F_GUEST_TSO6));
    fe.features = f;
    fe.mrg = !!(f & BIT(F_MRG_RXBUF));
    fe.eventIdx = !!(f & BIT(F_EVENT_IDX));
    fe.hdrLen = (f & (BIT(F_VERSION_1) | BIT(F_MRG_RXBUF))) ? 12 : 10;
}

static void negotiate_protocol(void) {
    if (!(fe.features & BIT(F_PROTOCOL_FEATURES))) return;
    fe.protocolOffered = vu_get_u64(GET_PROTOCOL_FEATURES);
    fe.protocol = fe.protocolOffered & BIT(PROTOCOL_F_REPLY_ACK);
    vu_set_u64(SET_PROTOCOL_FEATURES, fe.protocol);
    fe.replyAck = !!(fe.protocol & BIT(PROTOCOL_F_REPLY_ACK));
}

static void send_mem_table(void) {
    struct mem_table table = { .nregions = 1 };
    table.regions[0] = (struct mem_region){ GPA_BASE, fe.memSize, (uint64_t)(uintptr_t)fe.mem, 0 };
    vu_set(SET_MEM_TABLE, &table, sizeof(table), fe.memfd);
}

static void send_rings(struct queue *q) {
    vu_set_state(SET_VRING_NUM, q->index, q->size);
    vu_set_state(SET_VRING_BASE, q->index, 0);
    struct vring_addr addr = { q->index, 0, (uint64_t)(uintptr_t)q->desc, (uint64_t)(uintptr_t)q->used,
                               (uint64_t)(uintptr_t)q->avail, 0 };
    vu_set(SET_VRING_ADDR, &addr, sizeof(addr), -1);
}

static void send_eventfd(uint32_t request, struct queue *q) {
    uint64_t index = q->index;
    vu_set(request, &index, sizeof(index), request == SET_VRING_KICK ? q->kick : q->call);
}

static void send_enable(struct queue *q) {
    if (fe.features & BIT(F_PROTOCOL_FEATURES)) vu_set_state(SET_VRING_ENABLE, q->index, 1);
}

static void setup(void) {
    struct timeval timeout = { REPLY_TIMEOUT_S, 0 };
    setsockopt(fe.sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));

    fe.offered = vu_get_u64(GET_FEATURES);
    negotiate_features();
    if (!(fe.offered & BIT(F_VERSION_1)))
        fprintf(stderr, NAME ": warning: the backend doesn't offer VERSION_1; using 10-byte legacy headers\n");
    // The receive buffers depend on whether MRG_RXBUF was offered, so memory is laid out only now.
    setup_memory();
    if (!fe.qemuOrder) {
        vu_set_u64(SET_FEATURES, fe.features);
        negotiate_protocol();
        vu_set(SET_OWNER, NULL, 0, -1);
        send_mem_table();
        struct queue *queues[2] = { &fe.rx, &fe.tx };
        for (int i = 0; i < 2; i++) {
            send_rings(queues[i]);
            send_eventfd(SET_VRING_CALL, queues[i]);
            send_eventfd(SET_VRING_KICK, queues[i]);
            send_enable(queues[i]);
        }
    } else {
        negotiate_protocol();
        vu_set(SET_OWNER, NULL, 0, -1);
        uint64_t again = vu_get_u64(GET_FEATURES);
        if (again != fe.offered)
            fatal("GET_FEATURES changed from 0x%llx to 0x%llx", (unsigned long long)fe.offered,
                  (unsigned long long)again);
        send_eventfd(SET_VRING_CALL, &fe.rx);
        send_eventfd(SET_VRING_CALL, &fe.tx);
        vu_set_u64(SET_FEATURES, fe.features);
        send_mem_table();
        struct queue *queues[2] = { &fe.rx, &fe.tx };
        for (int i = 0; i < 2; i++) {
            send_rings(queues[i]);
            send_eventfd(SET_VRING_KICK, queues[i]);
            send_eventfd(SET_VRING_CALL, queues[i]);
        }
        send_enable(&fe.rx);
        send_enable(&fe.tx);
    }
}

// GET_VRING_BASE stops a queue; the reply is the next available index the backend would have used.
static unsigned stop_queue(struct queue *q) {
    struct vring_state state = { q->index, 0 };
    vu_send(GET_VRING_BASE, 0, &state, sizeof(state), -1);
    vu_reply(GET_VRING_BASE, &state, sizeof(state));
    if (state.index != q->index)
        fatal("GET_VRING_BASE for queue %u answered for queue %u", q->index, state.index);
    return state.num;
}

static void feature_names(char *out, size_t size, uint64_t f) {
    static const struct { int bit; const char *name; } names[] = {
        { F_CSUM, "CSUM" }, { F_GUEST_CSUM, "GUEST_CSUM" }, { F_GUEST_TSO4, "GUEST_TSO4" },
        { F_GUEST_TSO6, "GUEST_TSO6" }, { F_HOST_TSO4, "HOST_TSO4" }, { F_HOST_TSO6, "HOST_TSO6" },
        { F_MRG_RXBUF, "MRG_RXBUF" }, { F_EVENT_IDX, "EVENT_IDX" },
        { F_PROTOCOL_FEATURES, "PROTOCOL_FEATURES" }, { F_VERSION_1, "VERSION_1" },
    };
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (f & BIT(names[i].bit) && used < size)
            used += (size_t)snprintf(out + used, size - used, "%s%s", used ? " " : "", names[i].name);
}

static void describe(FILE *out, const char *separator) {
    char names[256];
    feature_names(names, sizeof(names), fe.features);
    fprintf(out, "features 0x%llx (%s) of 0x%llx offered%sprotocol features 0x%llx%s of 0x%llx offered%s"
            "queue size %u, rx %u chains of %u bytes (%u descriptor%s each), tx %u slots, memory %zu MiB\n",
            (unsigned long long)fe.features, names, (unsigned long long)fe.offered, separator,
            (unsigned long long)fe.protocol, fe.replyAck ? " (REPLY_ACK)" : "",
            (unsigned long long)fe.protocolOffered, separator, fe.queueSize, fe.rxChains, fe.rxCapacity,
            fe.rxChainDescs, fe.rxChainDescs == 1 ? "" : "s", fe.txSlots, fe.memSize >> 20);
}

// Also at a fatal error after setup, so the counters are always the last line.
static void print_counters(void) {
    fprintf(stderr, NAME ": kicks rx %llu tx %llu, call wakeups rx %llu tx %llu, %llu frames dropped\n",
            fe.rx.kicks, fe.tx.kicks, fe.rx.wakeups, fe.tx.wakeups, fe.dropped);
    fprintf(stderr, NAME ": tap->backend %llu frames %llu bytes, backend->tap %llu frames %llu bytes\n",
            fe.framesOut, fe.bytesOut, fe.framesIn, fe.bytesIn);
}

static unsigned long parse_number(const char *option, const char *value) {
    char *end;
    errno = 0;
    unsigned long n = value ? strtoul(value, &end, 0) : 0;
    if (!value || errno || *end || end == value) {
        fprintf(stderr, NAME ": %s needs a number\n", option);
        exit(2);
    }
    return n;
}

static void usage(void) {
    fprintf(stderr, "usage: " NAME " [--queue-size N] [--mrg-rxbuf | --no-mrg-rxbuf] [--offload] [--event-idx]\n"
                    "       [--split] [--memory MiB] [--rx-buffer BYTES] [--ack-all] [--qemu-order] [--check] [--fd N] TAPNAME [SOCKET]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--queue-size")) fe.queueSize = (unsigned)parse_number(o, argv[++i]);
        else if (!strcmp(o, "--mrg-rxbuf")) fe.mrg = 1;
        else if (!strcmp(o, "--no-mrg-rxbuf")) fe.mrg = 0;
        else if (!strcmp(o, "--offload")) fe.offload = 1;
        else if (!strcmp(o, "--event-idx")) fe.eventIdxWanted = 1;
        else if (!strcmp(o, "--split")) fe.split = 1;
        else if (!strcmp(o, "--memory")) fe.memoryMiB = parse_number(o, argv[++i]);
        else if (!strcmp(o, "--rx-buffer")) {
            fe.mrgBuffer = parse_number(o, argv[++i]);
            if (fe.mrgBuffer < 64 || fe.mrgBuffer > 65536) fatal("--rx-buffer %lu: 64 to 65536 bytes", fe.mrgBuffer);
        }
        else if (!strcmp(o, "--fd")) fe.fd = (int)parse_number(o, argv[++i]);
        else if (!strcmp(o, "--ack-all")) fe.ackAll = 1;
        else if (!strcmp(o, "--qemu-order")) fe.qemuOrder = 1;
        else if (!strcmp(o, "--check")) fe.check = 1;
        else if (!strcmp(o, "--")) { i++; break; }
        else usage();
    }
    int positional = argc - i;
    if (positional != 2 && !(fe.fd >= 0 && positional == 1)) usage();
    const char *tapName = argv[i], *socketPath = positional == 2 ? argv[i + 1] : NULL;
    unsigned n = fe.queueSize;
    if (n < 2 || n > 32768 || (n & (n - 1))) {
        fprintf(stderr, NAME ": --queue-size must be a power of 2 from 2 to 32768\n");
        return 2;
    }
    if (fe.split && n < 64) {
        fprintf(stderr, NAME ": --split needs --queue-size 64 or more (a chain takes up to %u descriptors)\n",
                1 + SPLIT_PIECES);
        return 2;
    }

    if (!fe.check) fe.tap = open_tap(tapName);
    if (fe.fd >= 0) {
        struct stat st;
        if (fstat(fe.fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
            fprintf(stderr, NAME ": --fd %d is not a socket\n", fe.fd);
            return 2;
        }
        fe.sock = fe.fd;
    } else {
        fe.sock = connect_socket(socketPath);
    }

    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    setup();
    if (fe.check) {
        describe(stdout, "\n");
        unsigned rxBase = stop_queue(&fe.rx), txBase = stop_queue(&fe.tx);
        printf("stopped: rx base %u, tx base %u\n", rxBase, txBase);
        return 0;
    }
    configure_tap_offload();
    atexit(print_counters);
    fputs(NAME ": ", stderr);
    describe(stderr, ", ");

    want_calls(&fe.tx, 0);   // transmit completions are reaped as we go; a call only helps when out of room
    want_calls(&fe.rx, 1);
    kick(&fe.rx);            // the backend may look at the receive buffers posted before the ring started

    int status = 0, closed = 0;
    while (!stopping) {
        tx_reclaim();
        rx_deliver();
        int again = !fe.tapWriteBlocked && want_calls(&fe.rx, 1);
        int txWait = !tx_has_room();
        if (txWait) {
            if (want_calls(&fe.tx, 1)) again = 1;
        } else {
            want_calls(&fe.tx, 0);
        }

        struct pollfd fds[4] = {
            { .fd = fe.tap, .events = (txWait ? 0 : POLLIN) | (fe.tapWriteBlocked ? POLLOUT : 0) },
            { .fd = fe.rx.call, .events = POLLIN },
            { .fd = fe.tx.call, .events = txWait ? POLLIN : 0 },
            { .fd = fe.sock, .events = POLLIN },
        };
        int ready = poll(fds, 4, again ? 0 : 1000);
        if (ready < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (ready == 0 && !again) {
            // A second with nothing: used entries we asked to be called for, and weren't, mean a missed
            // notification (the short poll lets a call that is just arriving count).
            if (!fe.tapWriteBlocked && missed_call(&fe.rx))
                warn_once(&fe.warnedSilentRx, "the backend added rx used entries without a call");
            if (txWait && missed_call(&fe.tx))
                warn_once(&fe.warnedSilentTx, "the backend added tx used entries without a call");
        }
        for (int k = 1; k <= 2; k++) {
            if (!(fds[k].revents & POLLIN)) continue;
            uint64_t count;
            if (read(fds[k].fd, &count, sizeof(count)) == sizeof(count)) (k == 1 ? &fe.rx : &fe.tx)->wakeups++;
        }
        if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) {
            char scratch[4096];
            ssize_t r = recv(fe.sock, scratch, sizeof(scratch), MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno == ECONNRESET)) {
                fprintf(stderr, NAME ": the backend closed the connection\n");
                closed = 1;
                break;
            }
            if (r > 0) warn_once(&fe.warnedSocket, "unexpected data from the backend on the vhost-user socket");
        }
        if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            fprintf(stderr, NAME ": the tap went away\n");
            status = 1;
            break;
        }
        if (fds[0].revents & POLLOUT) fe.tapWriteBlocked = 0;
        if (fds[0].revents & POLLIN) tx_fill();
    }

    if (!closed && status == 0) {
        unsigned rxBase = stop_queue(&fe.rx), txBase = stop_queue(&fe.tx);
        fprintf(stderr, NAME ": stopped: rx base %u (avail %u), tx base %u (avail %u)\n", rxBase,
                fe.rx.nextAvail, txBase, fe.tx.nextAvail);
    }
    return status;
}
