// Wrappers for Linux interfaces that Glibc's Swift module does not export.
// _GNU_SOURCE lives only in shim.c: defining it here would break the Glibc module (fd_set clash).
#ifndef CLINUX_H
#define CLINUX_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

// epoll: struct epoll_event is packed on x86_64, so Swift gets an unpacked twin and the shim converts.
typedef struct {
    uint32_t events;
    uint64_t data;
} CLinux_epoll_event;

extern const uint32_t CLinux_EPOLLIN, CLinux_EPOLLOUT, CLinux_EPOLLERR, CLinux_EPOLLHUP,
    CLinux_EPOLLRDHUP, CLinux_EPOLLET;

int CLinux_epoll_create(void);
int CLinux_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
int CLinux_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data);
int CLinux_epoll_remove(int epfd, int fd);
int CLinux_epoll_wait(int epfd, CLinux_epoll_event *events, int max, int timeout_ms);

// Namespaces.
extern const int CLinux_CLONE_NEWNET, CLinux_CLONE_NEWUSER, CLinux_CLONE_NEWNS;
int CLinux_setns(int fd, int nstype);
int CLinux_unshare(int flags);

// Capabilities (capget(2) has no glibc wrapper): 1 when `capability` is in our effective set in our own
// user namespace, 0 when not, -1 with errno.
int CLinux_has_effective_capability(int capability);
extern const int CLinux_CAP_SYS_ADMIN, CLinux_CAP_SETUID, CLinux_CAP_SETGID;

// File descriptors and files.
extern const int CLinux_O_PATH, CLinux_O_DIRECTORY, CLinux_O_CLOEXEC, CLinux_O_NONBLOCK, CLinux_O_NOFOLLOW;
int CLinux_open(const char *path, int flags, mode_t mode);
int CLinux_openat(int dirfd, const char *path, int flags);
int CLinux_set_nonblocking(int fd);
int CLinux_set_cloexec(int fd);
// Filesystem type magic of the filesystem holding fd, or -1.
long CLinux_fstatfs_type(int fd);
extern const long CLinux_PROC_SUPER_MAGIC, CLinux_SYSFS_MAGIC, CLinux_DEVPTS_SUPER_MAGIC, CLinux_NSFS_MAGIC;

// Timers, signals, inotify.
int CLinux_timerfd_create(void);
int CLinux_timerfd_arm(int fd, long initial_ms, long interval_ms);
// Blocks the given signals and returns a signalfd delivering them.
int CLinux_signalfd_for(const int *signals, int count);
// Reads one signal from a signalfd: the signal number, 0 when none is pending, -1 on error.
int CLinux_signalfd_read(int fd);
void CLinux_unblock_all_signals(void);
int CLinux_inotify_init(void);
int CLinux_inotify_watch_delete(int fd, const char *path);
// Watches a directory for entries written, created, renamed in or out, or deleted (a resolver file
// replaced by rename shows as IN_MOVED_TO).
int CLinux_inotify_watch_entries(int fd, const char *path);
extern const uint32_t CLinux_IN_DELETE, CLinux_IN_DELETE_SELF, CLinux_IN_IGNORED, CLinux_IN_Q_OVERFLOW;

// tun/tap: creates (or attaches to) tap `name` on fd; the kernel's chosen name is copied to out_name (IFNAMSIZ).
// With vnet_header, every frame read or written is preceded by a struct virtio_net_hdr (10 bytes).
int CLinux_tap_attach(int fd, const char *name, char *out_name, int vnet_header);
// TUNSETOFFLOAD: which segmentation and checksum offloads we can take in frames the tap hands us; the
// namespace's stack then sends us frames of that kind. Returns -1 with errno if the kernel refuses.
int CLinux_tap_set_offload(int fd, unsigned flags);
extern const unsigned CLinux_TUN_F_CSUM, CLinux_TUN_F_TSO4, CLinux_TUN_F_TSO6, CLinux_TUN_F_TSO_ECN, CLinux_TUN_F_USO4,
    CLinux_TUN_F_USO6;
// struct virtio_net_hdr's size and values (linux/virtio_net.h).
extern const int CLinux_VIRTIO_NET_HDR_SIZE;
extern const unsigned char CLinux_VIRTIO_NET_HDR_F_NEEDS_CSUM, CLinux_VIRTIO_NET_HDR_F_DATA_VALID;
extern const unsigned char CLinux_VIRTIO_NET_HDR_GSO_NONE, CLinux_VIRTIO_NET_HDR_GSO_TCPV4,
    CLinux_VIRTIO_NET_HDR_GSO_TCPV6, CLinux_VIRTIO_NET_HDR_GSO_UDP_L4, CLinux_VIRTIO_NET_HDR_GSO_ECN;
// Writes a virtio-net header and a frame as one packet (writev).
long CLinux_write_with_header(int fd, const void *header, int header_length, const void *frame, size_t length);
extern const int CLinux_IFNAMSIZ;

// Netlink: an AF_NETLINK/NETLINK_ROUTE socket bound to a kernel-chosen port id.
int CLinux_netlink_route_socket(void);
// A non-blocking NETLINK_ROUTE socket subscribed to the link, IPv4/IPv6 address and route groups: it
// only ever receives the kernel's change notifications.
int CLinux_netlink_route_listener(void);

// Runs body(context) on a new thread and waits for it: namespace switches stay off the caller's thread.
int CLinux_run_on_thread(void (*body)(void *), void *context);

// Starts body(context) on a detached thread that lives on its own (signals stay blocked there).
int CLinux_start_thread(void (*body)(void *), void *context);
int CLinux_online_cpus(void);

// splice(): moves up to `length` bytes between a socket and a pipe without copying (non-blocking;
// `more` hints that more data follows). Returns bytes moved, 0 at EOF, -1 with errno.
long CLinux_splice(int fd_in, int fd_out, size_t length, int more);
// A non-blocking close-on-exec pipe, asked to hold `size` bytes (best effort); returns its capacity or -1.
int CLinux_pipe_sized(int fds[2], int size);

// Processes.
int CLinux_pipe_cloexec(int fds[2]);
pid_t CLinux_fork(void);
int CLinux_set_parent_death_signal(int sig);
void CLinux_syslog(int priority, const char *message);
void CLinux_openlog(const char *ident);

// TCP/UDP sockets over raw addresses: `address` holds 4 (AF_INET) or 16 (AF_INET6) bytes in network order,
// so Swift never builds a sockaddr. All sockets are non-blocking and close-on-exec.
int CLinux_socket(int family, int type);
// Binds to address:port (an all-zero address is the wildcard); `device` (or NULL) sets SO_BINDTODEVICE.
int CLinux_bind_ip(int fd, int family, const uint8_t *address, uint16_t port, const char *device);
// Starts a connect(); 0 or -1 with errno (EINPROGRESS while in progress).
int CLinux_connect_ip(int fd, int family, const uint8_t *address, uint16_t port);
// A listening TCP socket on address:port; IPv6 ones are v6-only; `device` (or NULL) as for CLinux_bind_ip.
// With `freebind`, the address need not be configured yet (IP_FREEBIND, IPV6_FREEBIND).
int CLinux_listen_ip(int family, const uint8_t *address, uint16_t port, int backlog, const char *device, int freebind);
// accept4(); the peer's family, address (IPv4-mapped IPv6 is unmapped) and port are written out.
int CLinux_accept_ip(int fd, int *family, uint8_t *address, uint16_t *port);
// The local address and port of a socket, as above.
int CLinux_local_ip(int fd, int *family, uint8_t *address, uint16_t *port);
// The pending error of a socket (SO_ERROR), or errno if that can't be read.
int CLinux_socket_error(int fd);
// Bytes in a TCP socket's send queue not yet acknowledged by the peer (SIOCOUTQ), and its SO_SNDBUF.
int CLinux_send_queue_bytes(int fd);
int CLinux_send_buffer_size(int fd);
// SO_MEMINFO: the send buffer's size and what its queue takes, both in the kernel's memory accounting
// (payload plus per-packet overhead).
int CLinux_send_memory(int fd, int *buffer_size, int *queued);
// SO_PEEK_OFF: where the next MSG_PEEK read starts; -1 where the kernel doesn't support it for TCP.
int CLinux_set_peek_offset(int fd, int offset);
// Peeks into `count` buffers (one iovec each) without consuming; returns bytes, 0 at EOF, -1 with errno.
/// Most buffers one peek or gathered send takes; callers pass no more. A batch's data for one connection
/// from a guest whose frames lie in page fragments (passt --vhost-user) is ~17 parts a 64 KiB frame.
/// At most UIO_MAXIOV (1024).
#define CLinux_MAX_PARTS 1024
long CLinux_peek_into(int fd, void *const *bases, const size_t *lengths, int count);
/// One send(MSG_DONTWAIT | MSG_NOSIGNAL) gathering `count` buffers.
long CLinux_send_parts(int fd, const void *const *bases, const size_t *lengths, int count);
// Drops `count` bytes from the receive queue (MSG_TRUNC); returns how many.
long CLinux_discard(int fd, size_t count);
long CLinux_send(int fd, const void *buffer, size_t length);
int CLinux_shutdown_write(int fd);
// SO_LINGER with a zero timeout: close() then sends RST instead of FIN.
int CLinux_set_linger_reset(int fd);
int CLinux_set_nodelay(int fd);
// Datagrams: a socket of any protocol (ping sockets are SOCK_DGRAM with IPPROTO_ICMP/ICMPV6), sending
// to an address.
int CLinux_socket_protocol(int family, int type, int protocol);
long CLinux_sendto_ip(int fd, const void *buffer, size_t length, int family, const uint8_t *address, uint16_t port);
// Sends `count` datagrams (one buffer each) on a connected socket with one sendmmsg(); returns how many
// went out, or -1 with errno.
int CLinux_send_datagrams(int fd, void *const *bases, const size_t *lengths, int count);
// The same on an unconnected socket, every datagram to address:port.
int CLinux_send_datagrams_to(int fd, void *const *bases, const size_t *lengths, int count, int family,
                             const uint8_t *address, uint16_t port);
// Sends `count` payloads on a connected UDP socket with one sendmsg() and UDP_SEGMENT: the kernel cuts them
// into datagrams of `segment` bytes (every payload but the last must be that long). Returns the bytes sent,
// or -1 with errno (EINVAL, EMSGSIZE or EIO where the route or device can't segment).
int CLinux_send_segmented(int fd, void *const *bases, const size_t *lengths, int count, uint16_t segment);
// Asks for `bytes` of receive and send buffer (the kernel caps it at net.core.rmem_max/wmem_max).
void CLinux_set_buffer_sizes(int fd, int bytes);
// Receives up to `count` datagrams (one buffer each) with one recvmmsg(); their sizes go to `received`.
// Returns how many arrived, or -1 with errno.
int CLinux_receive_datagrams(int fd, void *const *bases, const size_t *lengths, int count, size_t *received);
// The same on an unconnected socket, with each sender's family, address (16 bytes per datagram, IPv4 in
// the first 4) and port.
int CLinux_receive_datagrams_from(int fd, void *const *bases, const size_t *lengths, int count, size_t *received,
                                  int *families, uint8_t *addresses, uint16_t *ports);
// A bound UDP socket on address:port (IPv6 ones v6-only), for inbound forwarding; `device` as above.
int CLinux_udp_bound(int family, const uint8_t *address, uint16_t port, const char *device, int freebind);

// Raises RLIMIT_NOFILE's soft limit to the hard limit (both to fs.nr_open where permitted); returns the
// new soft limit.
long CLinux_raise_file_limit(void);

// UNIX stream sockets for passt: a non-blocking listener at `path`, a blocking client connection to it
// (-1 with errno, ENAMETOOLONG for a path that doesn't fit), accept4() non-blocking, and whether a
// descriptor is a connected-type stream socket at all.
int CLinux_unix_listen(const char *path, int backlog);
int CLinux_unix_connect(const char *path);
int CLinux_accept(int fd);
int CLinux_is_stream_socket(int fd);

// The sandbox (sandbox.c): process flags, capabilities, an empty root.
extern const int CLinux_CLONE_NEWIPC, CLinux_CLONE_NEWUTS, CLinux_CLONE_NEWPID;
extern const int CLinux_CAP_DAC_OVERRIDE, CLinux_CAP_FOWNER, CLinux_CAP_NET_ADMIN;
int CLinux_set_no_new_privileges(void);
int CLinux_set_dumpable(int dumpable);
int CLinux_set_keep_capabilities(int keep);
// For the calling thread: the permitted and effective sets down to `keep` (a mask of capability bits, of
// those held), the inheritable and ambient sets empty, the bounding set down to `keep` where we may.
int CLinux_drop_capabilities(uint64_t keep);
// The calling thread's bounding set down to `keep`; takes CAP_SETPCAP, so it comes before a switch away
// from root, which empties the other sets.
int CLinux_drop_bounding_set(uint64_t keep);
// Makes every mount in our (new) mount namespace private, so nothing we do propagates out.
int CLinux_mount_private_tree(void);
// Mounts an empty read-only tmpfs on `mount_point` and makes it our root: pivot_root(2), or chroot(2)
// where that fails (*used_chroot is then 1). 0, or -1 with errno.
int CLinux_enter_empty_root(const char *mount_point, int *used_chroot);
// The namespace's netlink relay: reads one request at a time from `channel` (SOCK_SEQPACKET), passes it to
// `netlink` if it is one the daemon makes (CLinux_netlink_relay_allows), else answers EPERM itself, and
// writes each reply datagram back until the ACK or error. Returns when the channel closes.
void CLinux_netlink_relay_serve(int channel, int netlink, int interface_index);
// Whether the relay passes `request` (one datagram of `length` bytes) on: one whole RTM_NEWADDR or
// RTM_DELADDR of an IPv4/IPv6 address on `interface_index`, or RTM_NEWROUTE/RTM_DELROUTE of a unicast
// route of the main table through it, with only the flags and attributes the daemon sends.
int CLinux_netlink_relay_allows(const void *request, size_t length, int interface_index);
// The socket janitor's whole life: waits until `channel` yields a byte (or end of file: it just exits),
// removes each names[i] in directories[i] that is still the socket with inodes[i], answers, and exits.
void CLinux_socket_janitor_serve(int channel, int count, const int *directories, const char *const *names,
                                 const uint64_t *inodes) __attribute__((noreturn));

// The syscall filter (syscalls.c): each mode's list of allowed system calls, anything else kills the process.
typedef enum { CLinux_SYSCALLS_PASTA = 0, CLinux_SYSCALLS_PASST = 1, CLinux_SYSCALLS_SLIRP4NETNS = 2,
               CLinux_SYSCALLS_SOCKET_JANITOR = 3,
               CLinux_SYSCALLS_NETLINK_RELAY = 4 } CLinux_syscall_profile;
// Installs the filter for `profile` on every thread of the process (SECCOMP_FILTER_FLAG_TSYNC); needs
// no_new_privs. 0, or -1 with errno (ENOSYS on an architecture without lists).
int CLinux_install_syscall_filter(CLinux_syscall_profile profile);
// How many system calls `profile` allows.
int CLinux_syscall_filter_count(CLinux_syscall_profile profile);
// A system call on no list, for the test that shows the filter kills.
long CLinux_make_forbidden_syscall(void);

// vhost-user: a message and the descriptors that came with it (SCM_RIGHTS). Reads up to `length` bytes
// into `buffer` (non-blocking); up to `max_fds` descriptors go to `fds` (close-on-exec) and their number
// to *fd_count; *truncated is 1 when more came than fit (the kernel closed those). Returns recvmsg's value.
long CLinux_receive_with_fds(int fd, void *buffer, size_t length, int *fds, int max_fds, int *fd_count,
                             int *truncated);
// The commit the binary was built from (scripts/stamp-commit.sh), or "unknown commit".
const char *CLinux_build_commit(void);

// An error a socket queued (IP_RECVERR, IPV6_RECVERR): sock_extended_err's fields, and the address of
// whoever reported it (offender_family 0 when the kernel gave none).
struct CLinux_socket_error {
    int error;
    unsigned char origin, type, code;
    unsigned int info;
    int offender_family;
    unsigned char offender[16];
};
// Reads the oldest error from `fd`'s error queue (MSG_ERRQUEUE, non-blocking): what it quotes of the packet
// that caused it goes to `buffer`, the error to *error_out. Returns recvmsg's value (-1 with errno EAGAIN
// when the queue is empty); error_out->error is 0 if no IP_RECVERR/IPV6_RECVERR message came with it.
long CLinux_receive_socket_error(int fd, void *buffer, size_t length, struct CLinux_socket_error *error_out);
// The virtqueues' shared indexes: the driver on another CPU writes them. An acquire load, a release
// store and a full fence (between publishing our used index and reading whether to notify).
static inline uint16_t CLinux_load_acquire_u16(const void *address) {
    return __atomic_load_n((const uint16_t *)address, __ATOMIC_ACQUIRE);
}
static inline void CLinux_store_release_u16(void *address, uint16_t value) {
    __atomic_store_n((uint16_t *)address, value, __ATOMIC_RELEASE);
}
static inline void CLinux_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
// eventfd(2), non-blocking and close-on-exec.
int CLinux_eventfd(void);

// Guest memory that a vhost-user frontend shrinks under us (ftruncate of its memfd) would kill us with
// SIGBUS on the next access. Inside a guarded range, the handler maps a zero page over the faulting one
// (the access then succeeds) and counts the fault, so the backend can drop that frontend; outside, the
// default action is restored and the fault repeats. Ranges: at most 16. 0, or -1 (table full).
int CLinux_guard_range(void *start, size_t length);
void CLinux_unguard_range(void *start);
unsigned long CLinux_guard_faults(void);

#endif
