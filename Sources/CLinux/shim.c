#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/uio.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <syslog.h>
#include <unistd.h>

const uint32_t CLinux_EPOLLIN = EPOLLIN, CLinux_EPOLLOUT = EPOLLOUT, CLinux_EPOLLERR = EPOLLERR,
    CLinux_EPOLLHUP = EPOLLHUP, CLinux_EPOLLRDHUP = EPOLLRDHUP, CLinux_EPOLLET = EPOLLET;

int CLinux_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static int epoll_control(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = { .events = events, .data.u64 = data };
    return epoll_ctl(epfd, op, fd, &ev);
}

int CLinux_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) {
    return epoll_control(epfd, EPOLL_CTL_ADD, fd, events, data);
}

int CLinux_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data) {
    return epoll_control(epfd, EPOLL_CTL_MOD, fd, events, data);
}

int CLinux_epoll_remove(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int CLinux_epoll_wait(int epfd, CLinux_epoll_event *out, int max, int timeout_ms) {
    struct epoll_event events[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = events[i].events;
        out[i].data = events[i].data.u64;
    }
    return n;
}

const int CLinux_CLONE_NEWNET = CLONE_NEWNET, CLinux_CLONE_NEWUSER = CLONE_NEWUSER, CLinux_CLONE_NEWNS = CLONE_NEWNS;

int CLinux_setns(int fd, int nstype) { return setns(fd, nstype); }
int CLinux_unshare(int flags) { return unshare(flags); }

const int CLinux_CAP_SYS_ADMIN = CAP_SYS_ADMIN, CLinux_CAP_SETUID = CAP_SETUID, CLinux_CAP_SETGID = CAP_SETGID;

int CLinux_has_effective_capability(int capability) {
    if (capability < 0 || capability >= 64) { errno = EINVAL; return -1; }
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    return (data[capability / 32].effective >> (capability % 32)) & 1;
}

const int CLinux_O_PATH = O_PATH, CLinux_O_DIRECTORY = O_DIRECTORY, CLinux_O_CLOEXEC = O_CLOEXEC,
    CLinux_O_NONBLOCK = O_NONBLOCK, CLinux_O_NOFOLLOW = O_NOFOLLOW;

int CLinux_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }
int CLinux_openat(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags); }

int CLinux_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int CLinux_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

long CLinux_fstatfs_type(int fd) {
    struct statfs s;
    if (fstatfs(fd, &s) < 0) return -1;
    return (long)s.f_type;
}

const long CLinux_PROC_SUPER_MAGIC = PROC_SUPER_MAGIC, CLinux_SYSFS_MAGIC = SYSFS_MAGIC,
    CLinux_DEVPTS_SUPER_MAGIC = DEVPTS_SUPER_MAGIC, CLinux_NSFS_MAGIC = NSFS_MAGIC;

int CLinux_timerfd_create(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK); }

int CLinux_timerfd_arm(int fd, long initial_ms, long interval_ms) {
    struct itimerspec it = {
        .it_value = { .tv_sec = initial_ms / 1000, .tv_nsec = (initial_ms % 1000) * 1000000L },
        .it_interval = { .tv_sec = interval_ms / 1000, .tv_nsec = (interval_ms % 1000) * 1000000L },
    };
    return timerfd_settime(fd, 0, &it, NULL);
}

int CLinux_signalfd_for(const int *signals, int count) {
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < count; i++) sigaddset(&set, signals[i]);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
    return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int CLinux_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof(info));
    if (n == (ssize_t)sizeof(info)) return (int)info.ssi_signo;
    if (n < 0 && errno == EAGAIN) return 0;
    return -1;
}

void CLinux_unblock_all_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, NULL);
}

int CLinux_inotify_init(void) { return inotify_init1(IN_CLOEXEC | IN_NONBLOCK); }
int CLinux_inotify_watch_delete(int fd, const char *path) { return inotify_add_watch(fd, path, IN_DELETE); }
int CLinux_inotify_watch_entries(int fd, const char *path) {
    return inotify_add_watch(fd, path, IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO);
}
const uint32_t CLinux_IN_DELETE = IN_DELETE, CLinux_IN_DELETE_SELF = IN_DELETE_SELF, CLinux_IN_IGNORED = IN_IGNORED,
    CLinux_IN_Q_OVERFLOW = IN_Q_OVERFLOW;

const int CLinux_IFNAMSIZ = IFNAMSIZ;

int CLinux_tap_attach(int fd, const char *name, char *out_name, int vnet_header) {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_header ? IFF_VNET_HDR : 0);
    if (name) strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) return -1;
    if (out_name) memcpy(out_name, ifr.ifr_name, IFNAMSIZ);
    return 0;
}

int CLinux_tap_set_offload(int fd, unsigned flags) { return ioctl(fd, TUNSETOFFLOAD, flags); }

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20  /* linux/if_tun.h, 6.2 */
#define TUN_F_USO6 0x40
#endif
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5  /* linux/virtio_net.h, 5.18 */
#endif
const unsigned CLinux_TUN_F_CSUM = TUN_F_CSUM, CLinux_TUN_F_TSO4 = TUN_F_TSO4, CLinux_TUN_F_TSO6 = TUN_F_TSO6,
               CLinux_TUN_F_TSO_ECN = TUN_F_TSO_ECN, CLinux_TUN_F_USO4 = TUN_F_USO4, CLinux_TUN_F_USO6 = TUN_F_USO6;
const int CLinux_VIRTIO_NET_HDR_SIZE = sizeof(struct virtio_net_hdr);
const unsigned char CLinux_VIRTIO_NET_HDR_F_NEEDS_CSUM = VIRTIO_NET_HDR_F_NEEDS_CSUM,
                    CLinux_VIRTIO_NET_HDR_F_DATA_VALID = VIRTIO_NET_HDR_F_DATA_VALID;
const unsigned char CLinux_VIRTIO_NET_HDR_GSO_NONE = VIRTIO_NET_HDR_GSO_NONE,
                    CLinux_VIRTIO_NET_HDR_GSO_TCPV4 = VIRTIO_NET_HDR_GSO_TCPV4,
                    CLinux_VIRTIO_NET_HDR_GSO_TCPV6 = VIRTIO_NET_HDR_GSO_TCPV6,
                    CLinux_VIRTIO_NET_HDR_GSO_UDP_L4 = VIRTIO_NET_HDR_GSO_UDP_L4,
                    CLinux_VIRTIO_NET_HDR_GSO_ECN = VIRTIO_NET_HDR_GSO_ECN;

long CLinux_write_with_header(int fd, const void *header, int header_length, const void *frame, size_t length) {
    struct iovec iov[2] = {{(void *)header, (size_t)header_length}, {(void *)frame, length}};
    return writev(fd, iov, 2);
}

// An AF_NETLINK/NETLINK_ROUTE socket bound to a kernel-chosen port id and the multicast `groups`.
static int netlink_route_bound(int extra_type_flags, unsigned groups) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | extra_type_flags, NETLINK_ROUTE);
    if (fd < 0) return -1;
    struct sockaddr_nl addr = { .nl_family = AF_NETLINK, .nl_groups = groups };
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int CLinux_netlink_route_socket(void) {
    int fd = netlink_route_bound(0, 0);
    if (fd < 0) return -1;
    int one = 1;
    // Ask for extended error reports so failures name the offending attribute where the kernel can.
    setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
    return fd;
}

int CLinux_netlink_route_listener(void) {
    return netlink_route_bound(SOCK_NONBLOCK,
                               RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE);
}

int CLinux_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
pid_t CLinux_fork(void) { return fork(); }
int CLinux_set_parent_death_signal(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0); }
void CLinux_syslog(int priority, const char *message) { syslog(priority, "%s", message); }
// LOG_NDELAY: connected now, while the logger's socket can still be reached (the sandbox hides it).
void CLinux_openlog(const char *ident) { openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON); }

struct thread_call { void (*body)(void *); void *context; };

static void *thread_trampoline(void *arg) {
    struct thread_call *call = arg;
    call->body(call->context);
    return NULL;
}

static void *detached_trampoline(void *arg) {
    struct thread_call call = *(struct thread_call *)arg;
    free(arg);
    call.body(call.context);
    return NULL;
}

int CLinux_run_on_thread(void (*body)(void *), void *context) {
    struct thread_call call = { body, context };
    pthread_t thread;
    sigset_t all, previous;  // blocked there, as in CLinux_start_thread
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    int rc = pthread_create(&thread, NULL, thread_trampoline, &call);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (rc != 0) { errno = rc; return -1; }
    pthread_join(thread, NULL);
    return 0;
}

int CLinux_start_thread(void (*body)(void *), void *context) {
    struct thread_call *call = malloc(sizeof(*call));
    if (!call) { errno = ENOMEM; return -1; }
    call->body = body;
    call->context = context;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    // The new thread starts with every signal blocked, whenever it is started: process-directed signals
    // (SIGTERM, SIGCHLD) belong to the main thread's signalfd, and a thread that took one would die of it.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    int rc = pthread_create(&thread, &attributes, detached_trampoline, call);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    pthread_attr_destroy(&attributes);
    if (rc != 0) { free(call); errno = rc; return -1; }
    return 0;
}

int CLinux_online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

long CLinux_splice(int fd_in, int fd_out, size_t length, int more) {
    unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK | (more ? SPLICE_F_MORE : 0);
    ssize_t n;
    do { n = splice(fd_in, NULL, fd_out, NULL, length, flags); } while (n < 0 && errno == EINTR);
    return n;
}

int CLinux_pipe_sized(int fds[2], int size) {
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return -1;
    fcntl(fds[0], F_SETPIPE_SZ, size);  /* may exceed a user's pipe quota: keep the default then */
    return fcntl(fds[0], F_GETPIPE_SZ);
}

/* Sockets over raw addresses. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>
#include <linux/sock_diag.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/un.h>

static socklen_t make_sockaddr(struct sockaddr_storage *storage, int family, const uint8_t *address,
                               uint16_t port) {
    memset(storage, 0, sizeof(*storage));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)storage;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, address, 4);
        return sizeof(*sin);
    }
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)storage;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    memcpy(&sin6->sin6_addr, address, 16);
    return sizeof(*sin6);
}

static void read_sockaddr(const struct sockaddr_storage *storage, int *family, uint8_t *address,
                          uint16_t *port) {
    if (storage->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)storage;
        *family = AF_INET;
        memcpy(address, &sin->sin_addr, 4);
        *port = ntohs(sin->sin_port);
        return;
    }
    const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)storage;
    *port = ntohs(sin6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
        *family = AF_INET;
        memcpy(address, (const uint8_t *)&sin6->sin6_addr + 12, 4);
    } else {
        *family = AF_INET6;
        memcpy(address, &sin6->sin6_addr, 16);
    }
}

int CLinux_socket(int family, int type) {
    return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int CLinux_bind_ip(int fd, int family, const uint8_t *address, uint16_t port, const char *device) {
    if (device && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, device, strlen(device) + 1) < 0) return -1;
    struct sockaddr_storage storage;
    socklen_t length = make_sockaddr(&storage, family, address, port);
    return bind(fd, (struct sockaddr *)&storage, length);
}

int CLinux_connect_ip(int fd, int family, const uint8_t *address, uint16_t port) {
    struct sockaddr_storage storage;
    socklen_t length = make_sockaddr(&storage, family, address, port);
    return connect(fd, (struct sockaddr *)&storage, length);
}

#ifndef IPV6_FREEBIND
#define IPV6_FREEBIND 78  /* linux/in6.h, Linux 4.15 */
#endif

// Lets bind() take an address no interface has (yet); fails only where the kernel lacks the option.
static int set_freebind(int fd, int family) {
    int one = 1;
    if (family == AF_INET6) return setsockopt(fd, IPPROTO_IPV6, IPV6_FREEBIND, &one, sizeof(one));
    return setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
}

int CLinux_listen_ip(int family, const uint8_t *address, uint16_t port, int backlog, const char *device, int freebind) {
    int fd = CLinux_socket(family, SOCK_STREAM);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (freebind && set_freebind(fd, family) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    if (CLinux_bind_ip(fd, family, address, port, device) < 0 || listen(fd, backlog) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int CLinux_accept_ip(int fd, int *family, uint8_t *address, uint16_t *port) {
    struct sockaddr_storage storage;
    socklen_t length = sizeof(storage);
    int client = accept4(fd, (struct sockaddr *)&storage, &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client >= 0) read_sockaddr(&storage, family, address, port);
    return client;
}

int CLinux_local_ip(int fd, int *family, uint8_t *address, uint16_t *port) {
    struct sockaddr_storage storage;
    socklen_t length = sizeof(storage);
    if (getsockname(fd, (struct sockaddr *)&storage, &length) < 0) return -1;
    read_sockaddr(&storage, family, address, port);
    return 0;
}

int CLinux_socket_error(int fd) {
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) return errno;
    return error;
}

int CLinux_send_queue_bytes(int fd) {
    int bytes = 0;
    if (ioctl(fd, SIOCOUTQ, &bytes) < 0) return -1;
    return bytes;
}

int CLinux_send_buffer_size(int fd) {
    int size = 0;
    socklen_t length = sizeof(size);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &length) < 0) return -1;
    return size;
}

int CLinux_send_memory(int fd, int *buffer_size, int *queued) {
    uint32_t info[SK_MEMINFO_VARS];
    socklen_t length = sizeof(info);
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, info, &length) < 0) return -1;
    *buffer_size = (int)info[SK_MEMINFO_SNDBUF];
    *queued = (int)info[SK_MEMINFO_WMEM_QUEUED];
    return 0;
}

int CLinux_set_peek_offset(int fd, int offset) {
    return setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &offset, sizeof(offset));
}

long CLinux_peek_into(int fd, void *const *bases, const size_t *lengths, int count) {
    struct iovec iov[CLinux_MAX_PARTS];
    if (count > CLinux_MAX_PARTS) count = CLinux_MAX_PARTS;
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = bases[i];
        iov[i].iov_len = lengths[i];
    }
    struct msghdr message = {.msg_iov = iov, .msg_iovlen = (size_t)count};
    return recvmsg(fd, &message, MSG_PEEK | MSG_DONTWAIT);
}

long CLinux_discard(int fd, size_t count) { return recv(fd, NULL, count, MSG_TRUNC | MSG_DONTWAIT); }

long CLinux_send_parts(int fd, const void *const *bases, const size_t *lengths, int count) {
    struct iovec iov[CLinux_MAX_PARTS];
    if (count > CLinux_MAX_PARTS) count = CLinux_MAX_PARTS;
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = (void *)bases[i];
        iov[i].iov_len = lengths[i];
    }
    struct msghdr message = {.msg_iov = iov, .msg_iovlen = (size_t)count};
    return sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
}

long CLinux_send(int fd, const void *buffer, size_t length) {
    return send(fd, buffer, length, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int CLinux_shutdown_write(int fd) { return shutdown(fd, SHUT_WR); }

int CLinux_set_linger_reset(int fd) {
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof(linger));
}

int CLinux_set_nodelay(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

long CLinux_raise_file_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) < 0) return -1;
    // With CAP_SYS_RESOURCE the hard limit itself can go up to fs.nr_open.
    FILE *nr_open = fopen("/proc/sys/fs/nr_open", "re");
    unsigned long ceiling = 0;
    if (nr_open) {
        if (fscanf(nr_open, "%lu", &ceiling) != 1) ceiling = 0;
        fclose(nr_open);
    }
    if (ceiling > limit.rlim_max) {
        struct rlimit raised = {.rlim_cur = ceiling, .rlim_max = ceiling};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return (long)ceiling;
    }
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) < 0) return -1;
    return (long)limit.rlim_cur;
}

int CLinux_socket_protocol(int family, int type, int protocol) {
    return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}

long CLinux_sendto_ip(int fd, const void *buffer, size_t length, int family, const uint8_t *address, uint16_t port) {
    struct sockaddr_storage storage;
    socklen_t size = make_sockaddr(&storage, family, address, port);
    return sendto(fd, buffer, length, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&storage, size);
}

int CLinux_udp_bound(int family, const uint8_t *address, uint16_t port, const char *device, int freebind) {
    int fd = CLinux_socket(family, SOCK_DGRAM);
    if (fd < 0) return -1;
    int one = 1;
    if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (freebind && set_freebind(fd, family) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    if (CLinux_bind_ip(fd, family, address, port, device) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

// One message per buffer, for sendmmsg()/recvmmsg(); returns the count, capped at 64.
static int fill_messages(struct mmsghdr *messages, struct iovec *iov, void *const *bases, const size_t *lengths,
                         int count) {
    if (count > 64) count = 64;
    memset(messages, 0, sizeof(messages[0]) * (size_t)count);
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = bases[i];
        iov[i].iov_len = lengths[i];
        messages[i].msg_hdr.msg_iov = &iov[i];
        messages[i].msg_hdr.msg_iovlen = 1;
    }
    return count;
}

int CLinux_send_datagrams(int fd, void *const *bases, const size_t *lengths, int count) {
    struct mmsghdr messages[64];
    struct iovec iov[64];
    count = fill_messages(messages, iov, bases, lengths, count);
    return sendmmsg(fd, messages, (unsigned)count, MSG_DONTWAIT | MSG_NOSIGNAL);
}

#include <netinet/udp.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103  /* linux/udp.h, 4.18 */
#endif

// One sendmsg() whose payloads the kernel cuts into datagrams of `segment` bytes (UDP generic segmentation
// offload): the stack builds one packet for them all. Every payload but the last is `segment` bytes.
int CLinux_send_segmented(int fd, void *const *bases, const size_t *lengths, int count, uint16_t segment) {
    struct iovec iov[64];
    if (count > 64) count = 64;
    for (int i = 0; i < count; i++) {
        iov[i].iov_base = bases[i];
        iov[i].iov_len = lengths[i];
    }
    union { char buffer[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr message = { .msg_iov = iov, .msg_iovlen = (size_t)count,
                              .msg_control = control.buffer, .msg_controllen = sizeof(control.buffer) };
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_UDP;
    header->cmsg_type = UDP_SEGMENT;
    header->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(header), &segment, sizeof(segment));
    return (int)sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int CLinux_send_datagrams_to(int fd, void *const *bases, const size_t *lengths, int count, int family,
                             const uint8_t *address, uint16_t port) {
    struct mmsghdr messages[64];
    struct iovec iov[64];
    struct sockaddr_storage destination;
    socklen_t length = make_sockaddr(&destination, family, address, port);
    count = fill_messages(messages, iov, bases, lengths, count);
    for (int i = 0; i < count; i++) {
        messages[i].msg_hdr.msg_name = &destination;
        messages[i].msg_hdr.msg_namelen = length;
    }
    return sendmmsg(fd, messages, (unsigned)count, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void CLinux_set_buffer_sizes(int fd, int bytes) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof(bytes));
}

int CLinux_receive_datagrams_from(int fd, void *const *bases, const size_t *lengths, int count, size_t *received,
                                  int *families, uint8_t *addresses, uint16_t *ports) {
    struct mmsghdr messages[64];
    struct iovec iov[64];
    struct sockaddr_storage sources[64];
    count = fill_messages(messages, iov, bases, lengths, count);
    for (int i = 0; i < count; i++) {
        messages[i].msg_hdr.msg_name = &sources[i];
        messages[i].msg_hdr.msg_namelen = sizeof(sources[i]);
    }
    int n = recvmmsg(fd, messages, (unsigned)count, MSG_DONTWAIT, NULL);
    for (int i = 0; i < n; i++) {
        received[i] = messages[i].msg_len;
        read_sockaddr(&sources[i], &families[i], addresses + 16 * i, &ports[i]);
    }
    return n;
}

int CLinux_receive_datagrams(int fd, void *const *bases, const size_t *lengths, int count, size_t *received) {
    struct mmsghdr messages[64];
    struct iovec iov[64];
    count = fill_messages(messages, iov, bases, lengths, count);
    int n = recvmmsg(fd, messages, (unsigned)count, MSG_DONTWAIT, NULL);
    for (int i = 0; i < n; i++) received[i] = messages[i].msg_len;
    return n;
}

// --- UNIX stream sockets (passt's socket to qemu) ---

static int unix_address(struct sockaddr_un *address, const char *path) {
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof(address->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(address->sun_path, path, length);
    return 0;
}

int CLinux_unix_listen(const char *path, int backlog) {
    struct sockaddr_un address;
    if (unix_address(&address, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0 || listen(fd, backlog) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int CLinux_unix_connect(const char *path) {
    struct sockaddr_un address;
    if (unix_address(&address, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int CLinux_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

int CLinux_is_stream_socket(int fd) {
    struct stat status;
    int type = 0;
    socklen_t length = sizeof(type);
    if (fstat(fd, &status) < 0 || !S_ISSOCK(status.st_mode)) return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) < 0) return 0;
    return type == SOCK_STREAM;
}

#include <sys/eventfd.h>

long CLinux_receive_with_fds(int fd, void *buffer, size_t length, int *fds, int max_fds, int *fd_count,
                             int *truncated) {
    union { char space[CMSG_SPACE(sizeof(int) * 16)]; struct cmsghdr align; } control;
    struct iovec part = { .iov_base = buffer, .iov_len = length };
    struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control.space,
                              .msg_controllen = sizeof(control.space) };
    *fd_count = 0;
    *truncated = 0;
    long n = recvmsg(fd, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    if (message.msg_flags & MSG_CTRUNC) *truncated = 1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        const int *received = (const int *)CMSG_DATA(c);
        for (int i = 0; i < count; i++) {
            if (*fd_count < max_fds) fds[(*fd_count)++] = received[i];
            else { close(received[i]); *truncated = 1; }
        }
    }
    return n;
}

int CLinux_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

#include <sys/mman.h>

#define GUARDED_RANGES 16
static struct { uintptr_t start, end; } guarded[GUARDED_RANGES];
static volatile unsigned long guard_fault_count;
static long guard_page_size;

static void guard_sigbus(int signal, siginfo_t *info, void *context) {
    (void)context;
    uintptr_t address = (uintptr_t)info->si_addr;
    for (int i = 0; i < GUARDED_RANGES; i++) {
        if (guarded[i].start <= address && address < guarded[i].end) {
            void *page = (void *)(address & ~(uintptr_t)(guard_page_size - 1));
            if (mmap(page, (size_t)guard_page_size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
                guard_fault_count++;
                return;
            }
            break;
        }
    }
    struct sigaction fallback = { .sa_handler = SIG_DFL };
    sigaction(signal, &fallback, NULL);
}

int CLinux_guard_range(void *start, size_t length) {
    if (guard_page_size == 0) {
        guard_page_size = sysconf(_SC_PAGESIZE);
        struct sigaction action = { .sa_sigaction = guard_sigbus, .sa_flags = SA_SIGINFO };
        sigemptyset(&action.sa_mask);
        if (sigaction(SIGBUS, &action, NULL) != 0) { guard_page_size = 0; return -1; }
    }
    for (int i = 0; i < GUARDED_RANGES; i++) {
        if (guarded[i].start == 0) {
            guarded[i].end = (uintptr_t)start + length;
            guarded[i].start = (uintptr_t)start;
            return 0;
        }
    }
    return -1;
}

void CLinux_unguard_range(void *start) {
    for (int i = 0; i < GUARDED_RANGES; i++) {
        if (guarded[i].start == (uintptr_t)start) { guarded[i].start = 0; guarded[i].end = 0; }
    }
}

unsigned long CLinux_guard_faults(void) { return guard_fault_count; }

#include <linux/errqueue.h>

long CLinux_receive_socket_error(int fd, void *buffer, size_t length, struct CLinux_socket_error *error_out) {
    union {
        char space[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in6))];
        struct cmsghdr align;
    } control;
    struct iovec part = { .iov_base = buffer, .iov_len = length };
    struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1, .msg_control = control.space,
                              .msg_controllen = sizeof(control.space) };
    memset(error_out, 0, sizeof(*error_out));
    long n = recvmsg(fd, &message, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c; c = CMSG_NXTHDR(&message, c)) {
        if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
              (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
            continue;
        if (c->cmsg_len < CMSG_LEN(sizeof(struct sock_extended_err))) continue;
        struct sock_extended_err e;
        memcpy(&e, CMSG_DATA(c), sizeof(e));
        error_out->error = (int)e.ee_errno;
        error_out->origin = e.ee_origin;
        error_out->type = e.ee_type;
        error_out->code = e.ee_code;
        error_out->info = e.ee_info;
        size_t after = c->cmsg_len - CMSG_LEN(sizeof(struct sock_extended_err));
        const unsigned char *offender = CMSG_DATA(c) + sizeof(struct sock_extended_err);
        sa_family_t family = AF_UNSPEC;
        if (after >= sizeof(sa_family_t)) memcpy(&family, offender, sizeof(family));
        if (family == AF_INET && after >= sizeof(struct sockaddr_in)) {
            struct sockaddr_in a;
            memcpy(&a, offender, sizeof(a));
            error_out->offender_family = AF_INET;
            memcpy(error_out->offender, &a.sin_addr, 4);
        } else if (family == AF_INET6 && after >= sizeof(struct sockaddr_in6)) {
            struct sockaddr_in6 a;
            memcpy(&a, offender, sizeof(a));
            error_out->offender_family = AF_INET6;
            memcpy(error_out->offender, &a.sin6_addr, 16);
        }
    }
    return n;
}
