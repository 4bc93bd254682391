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
extern const uint32_t CLinux_IN_DELETE, CLinux_IN_DELETE_SELF, CLinux_IN_IGNORED;

// tun/tap: creates (or attaches to) tap `name` on fd; the kernel's chosen name is copied to out_name (IFNAMSIZ).
int CLinux_tap_attach(int fd, const char *name, char *out_name);
extern const int CLinux_IFNAMSIZ;

// Netlink: an AF_NETLINK/NETLINK_ROUTE socket bound to a kernel-chosen port id.
int CLinux_netlink_route_socket(void);

// Runs body(context) on a new thread and waits for it: namespace switches stay off the caller's thread.
int CLinux_run_on_thread(void (*body)(void *), void *context);

// Processes.
int CLinux_pipe_cloexec(int fds[2]);
pid_t CLinux_fork(void);
int CLinux_set_parent_death_signal(int sig);
void CLinux_syslog(int priority, const char *message);
void CLinux_openlog(const char *ident);

#endif
