// What qemu's `-netdev stream` does with a guest's frames, without a VM: a tap device in the current
// network namespace stands in for the guest's NIC, and its frames travel over passt's UNIX socket, each
// behind a 4-byte big-endian length (no virtio header), both ways.
//
//   stream_bridge TAPNAME SOCKET      run it inside the namespace: ip netns exec NS stream_bridge eth0 PATH
//
// The tap is created (IFF_TAP | IFF_NO_PI) if it doesn't exist; bring it up and configure it yourself
// (udhcpc, dhclient or ip address). The bridge runs until the socket closes, a frame length outside
// 14..65535 arrives (the stream can't be trusted after that), or SIGTERM/SIGINT; then it prints the
// frames and bytes it moved each way to standard error. Exit status 0 after a signal or end of stream.
//
// Built to stay out of the way of the thing measured: one poll loop, many frames per wakeup, a 4 MiB
// buffer each way, every tap frame gathered into one write to the socket, partial reads and writes
// carried over, and no reading from one side while the other side's buffer is full (backpressure, as
// qemu does it, instead of dropping).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define FRAME_MIN 14        // an Ethernet header
#define FRAME_MAX 65535     // what the 4-byte length may announce in this protocol (passt's limit)
#define BUFFER_SIZE (4 << 20)
#define SOCKET_BUFFER (8 << 20)

struct buffer {
    uint8_t *data;
    size_t start;   // first byte not yet consumed
    size_t end;     // one past the last byte filled
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

static void die(const char *what) {
    perror(what);
    exit(1);
}

static int open_tap(const char *name) {
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) die("open /dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (strlen(name) >= IFNAMSIZ) {
        fprintf(stderr, "stream_bridge: tap name too long: %s\n", name);
        exit(2);
    }
    strcpy(ifr.ifr_name, name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF");
    return fd;
}

static int connect_socket(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "stream_bridge: socket path too long: %s\n", path);
        exit(2);
    }
    strcpy(addr.sun_path, path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) die(path);
    // Larger socket buffers let one wakeup move more frames; the kernel caps them at wmem_max/rmem_max.
    int size = SOCKET_BUFFER;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) die("fcntl");
    return fd;
}

static void compact(struct buffer *b) {
    if (b->start == b->end) {
        b->start = b->end = 0;
    } else if (b->start > 0) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: stream_bridge TAPNAME SOCKET\n");
        return 2;
    }
    int tap = open_tap(argv[1]);
    int sock = connect_socket(argv[2]);

    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    // toSocket: length-prefixed frames read from the tap, waiting for the socket to take them.
    // fromSocket: the socket's byte stream; whole frames are written to the tap, a partial one waits.
    struct buffer toSocket = { .data = malloc(BUFFER_SIZE) };
    struct buffer fromSocket = { .data = malloc(BUFFER_SIZE) };
    if (!toSocket.data || !fromSocket.data) die("malloc");
    unsigned long long framesOut = 0, bytesOut = 0, framesIn = 0, bytesIn = 0;
    int status = 0;
    int tapBlocked = 0;   // the tap said EAGAIN on a write: wait for POLLOUT before the next frame

    while (!stopping) {
        int socketHasRoomForFrame = BUFFER_SIZE - toSocket.end >= 4 + FRAME_MAX;
        if (!socketHasRoomForFrame) compact(&toSocket);
        socketHasRoomForFrame = BUFFER_SIZE - toSocket.end >= 4 + FRAME_MAX;
        if (BUFFER_SIZE - fromSocket.end < 4 + FRAME_MAX) compact(&fromSocket);
        int roomFromSocket = fromSocket.end < BUFFER_SIZE;

        struct pollfd fds[2] = {
            { .fd = tap, .events = (socketHasRoomForFrame ? POLLIN : 0) | (tapBlocked ? POLLOUT : 0) },
            { .fd = sock, .events = (roomFromSocket && !tapBlocked ? POLLIN : 0) |
                                    (toSocket.end > toSocket.start ? POLLOUT : 0) },
        };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            die("poll");
        }
        if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            fprintf(stderr, "stream_bridge: the tap went away\n");
            status = 1;
            break;
        }

        // Tap to socket: read frames until the tap is empty or the buffer can't take a largest one.
        if (fds[0].revents & POLLIN) {
            while (BUFFER_SIZE - toSocket.end >= 4 + FRAME_MAX) {
                uint8_t *slot = toSocket.data + toSocket.end;
                ssize_t n = read(tap, slot + 4, FRAME_MAX);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    if (errno == EAGAIN) break;
                    die("read tap");
                }
                if (n < FRAME_MIN) continue;
                slot[0] = (uint8_t)(n >> 24);
                slot[1] = (uint8_t)(n >> 16);
                slot[2] = (uint8_t)(n >> 8);
                slot[3] = (uint8_t)n;
                toSocket.end += 4 + (size_t)n;
                framesOut++;
                bytesOut += (unsigned long long)n;
            }
        }
        // Whatever is queued goes to the socket at once, one write for every frame gathered so far.
        if (toSocket.end > toSocket.start) {
            ssize_t n = send(sock, toSocket.data + toSocket.start, toSocket.end - toSocket.start,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                if (errno == EPIPE || errno == ECONNRESET) break;
                die("send");
            }
            if (n > 0) toSocket.start += (size_t)n;
            if (toSocket.start == toSocket.end) toSocket.start = toSocket.end = 0;
        }

        // Socket to tap: take what the socket has, then every complete frame in the buffer.
        // (Only with room in the buffer: a recv of 0 bytes would look like the end of the stream.)
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && fromSocket.end < BUFFER_SIZE) {
            ssize_t n;
            do {
                n = recv(sock, fromSocket.data + fromSocket.end, BUFFER_SIZE - fromSocket.end, MSG_DONTWAIT);
            } while (n < 0 && errno == EINTR);
            if (n == 0) {
                fprintf(stderr, "stream_bridge: the socket was closed\n");
                break;
            }
            if (n < 0 && errno != EAGAIN) {
                if (errno == ECONNRESET) break;
                die("recv");
            }
            if (n > 0) fromSocket.end += (size_t)n;
        }
        if (fds[0].revents & POLLOUT) tapBlocked = 0;
        while (!tapBlocked && fromSocket.end - fromSocket.start >= 4) {
            const uint8_t *p = fromSocket.data + fromSocket.start;
            uint32_t length = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            if (length < FRAME_MIN || length > FRAME_MAX) {
                fprintf(stderr, "stream_bridge: frame length %u from the socket is out of range\n", length);
                status = 1;
                stopping = 1;
                break;
            }
            if (fromSocket.end - fromSocket.start < 4 + (size_t)length) break;   // the rest comes later
            ssize_t w = write(tap, p + 4, length);
            if (w < 0 && errno == EAGAIN) {
                tapBlocked = 1;
                break;
            }
            if (w < 0 && errno == EINTR) continue;
            // EIO: the tap is not up yet; the frame is lost, as on a NIC whose link is down.
            if (w < 0 && errno != EIO) die("write tap");
            fromSocket.start += 4 + (size_t)length;
            framesIn++;
            bytesIn += length;
        }
        if (fromSocket.start == fromSocket.end) fromSocket.start = fromSocket.end = 0;
    }

    fprintf(stderr, "stream_bridge: tap->socket %llu frames %llu bytes, socket->tap %llu frames %llu bytes\n",
            framesOut, bytesOut, framesIn, bytesIn);
    return status;
}
