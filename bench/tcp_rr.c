// 1-byte TCP ping-pong (TCP_RR) and connect-request-response-close (TCP_CRR) for the benchmark, in C so
// that the client's own overhead (a few microseconds) doesn't hide the difference between datapaths.
//
//   server HOST PORT        answers each byte with a byte, one connection at a time
//   client HOST PORT COUNT  prints the mean and 99th percentile round trip in microseconds
//   crr HOST PORT COUNT     COUNT connections one after another, each one round trip; prints the mean
//                           and 99th percentile of connect + round trip + close in microseconds
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static socklen_t address(const char *host, int port, struct sockaddr_storage *out) {
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        return sizeof(*v4);
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        return sizeof(*v6);
    }
    fprintf(stderr, "not an address: %s\n", host);
    exit(2);
}

static void nodelay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int connected(const char *host, int port) {
    struct sockaddr_storage to;
    socklen_t length = address(host, port, &to);
    int fd = socket(to.ss_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&to, length) < 0) {
        perror("connect");
        exit(1);
    }
    nodelay(fd);
    return fd;
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void round_trip(int fd) {
    char byte = 'x';
    if (write(fd, &byte, 1) != 1 || read(fd, &byte, 1) != 1) {
        fprintf(stderr, "connection closed\n");
        exit(1);
    }
}

static int compare(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static void report(long long *samples, int count) {
    qsort(samples, count, sizeof(*samples), compare);
    double sum = 0;
    for (int i = 0; i < count; i++) sum += samples[i];
    printf("%.1f %.1f\n", sum / count / 1000.0, samples[(int)(count * 0.99)] / 1000.0);
}

static int serve(const char *host, int port) {
    struct sockaddr_storage at;
    socklen_t length = address(host, port, &at);
    int listener = socket(at.ss_family, SOCK_STREAM, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(listener, (struct sockaddr *)&at, length) < 0 || listen(listener, 16) < 0) {
        perror("listen");
        return 1;
    }
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) continue;
        nodelay(fd);
        char byte;
        while (read(fd, &byte, 1) == 1 && write(fd, &byte, 1) == 1) {}
        close(fd);
    }
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "server") == 0) return serve(argv[2], atoi(argv[3]));
    if (argc != 5) {
        fprintf(stderr, "usage: tcp_rr server HOST PORT | client HOST PORT COUNT | crr HOST PORT COUNT\n");
        return 2;
    }
    int port = atoi(argv[3]), count = atoi(argv[4]);
    if (count < 1) return 2;
    long long *samples = calloc(count, sizeof(*samples));
    if (strcmp(argv[1], "crr") == 0) {
        for (int i = 0; i < count; i++) {
            long long start = now_ns();
            int fd = connected(argv[2], port);
            round_trip(fd);
            close(fd);
            samples[i] = now_ns() - start;
        }
    } else {
        int fd = connected(argv[2], port);
        for (int i = 0; i < 200; i++) round_trip(fd);  // warm-up
        for (int i = 0; i < count; i++) {
            long long start = now_ns();
            round_trip(fd);
            samples[i] = now_ns() - start;
        }
        close(fd);
    }
    report(samples, count);
    return 0;
}
