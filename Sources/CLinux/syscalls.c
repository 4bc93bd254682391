// The system calls each mode makes once sandboxed, and the seccomp filter that allows only those: the
// one place that lists them, kept here beside the shim's wrappers (shim.c) that make most of them. A
// call not listed kills the whole process (SECCOMP_RET_KILL_PROCESS), which then dies with SIGSYS.
// Adding a wrapper that the event loop, a splice worker or the namespace's resident thread calls means
// adding its system calls here; the sandbox test runs every mode's datapath under the filter.
#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SANDBOX_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef SANDBOX_AUDIT_ARCH

// What every mode needs: the Swift runtime and Glibc (memory, threads, time, exit), logging (to a file
// held open, standard error, or the system logger's socket), and the event loop (System/EventPoll,
// TimerDescriptor, the signalfd in Runtime/EventLoop).
static const int common_syscalls[] = {
    // Swift runtime, Glibc: memory, futexes, signals, time, randomness, exit.
    __NR_brk, __NR_mmap, __NR_munmap, __NR_mremap, __NR_mprotect, __NR_madvise,
    __NR_futex, __NR_sched_yield, __NR_sched_getaffinity, __NR_rt_sigprocmask, __NR_rt_sigreturn,
    __NR_rt_sigaction, __NR_getrandom, __NR_clock_gettime, __NR_clock_nanosleep, __NR_nanosleep,
    __NR_gettimeofday, __NR_getpid, __NR_gettid, __NR_getuid, __NR_geteuid, __NR_getgid, __NR_getegid,
    __NR_exit, __NR_exit_group, __NR_restart_syscall, __NR_rseq, __NR_set_robust_list, __NR_tgkill,
    // Descriptors: Descriptor (read, write, close), Logger (write, pread, ftruncate, fstat), fcntl
    // (CLinux_set_nonblocking), the quit watcher's fstatat probe relative to a held directory.
    __NR_read, __NR_write, __NR_readv, __NR_writev, __NR_pread64, __NR_pwrite64, __NR_close, __NR_fcntl,
    __NR_lseek, __NR_fstat, __NR_newfstatat, __NR_ftruncate, __NR_dup, __NR_dup3,
    // Opening by path finds nothing in the empty root; Glibc still tries (its time zone file, for
    // syslog's timestamps, were it not read before), and the quit watcher opens relative to its directory.
    __NR_openat,
#ifdef __NR_statx
    __NR_statx,
#endif
    // Event loop: epoll, timerfd, the signalfd made once the loop runs (System/EventPoll, TimerDescriptor,
    // CLinux_signalfd_for and _read).
    __NR_epoll_ctl, __NR_epoll_pwait, __NR_timerfd_settime, __NR_timerfd_gettime, __NR_signalfd4,
    // Sockets (CLinux_socket, _bind_ip, _connect_ip, _listen_ip, _accept_ip, setsockopt helpers, the
    // mmsg wrappers, CLinux_peek_into, _send_parts, _discard, _send, _shutdown_write, syslog's socket).
    __NR_socket, __NR_bind, __NR_connect, __NR_listen, __NR_accept4, __NR_getsockname, __NR_getpeername,
    __NR_setsockopt, __NR_getsockopt, __NR_sendto, __NR_recvfrom, __NR_sendmsg, __NR_recvmsg,
    __NR_sendmmsg, __NR_recvmmsg, __NR_shutdown, __NR_ioctl,
#ifdef __NR_epoll_wait
    __NR_epoll_wait,
#endif
#ifdef __NR_accept
    __NR_accept,
#endif
#ifdef __NR_fstatat64
    __NR_fstatat64,
#endif
};

// pasta: the tap (read, write, writev with a virtio-net header), spliced TCP (CLinux_splice, pipes of
// CLinux_pipe_sized, worker threads started with CLinux_start_thread), the spawned command (wait4, kill),
// the quit watcher (inotify read; openat, in the common list, of the held directory's entry), auto
// mode's /proc files (pread, lseek on descriptors opened before the sandbox).
static const int pasta_syscalls[] = {
    __NR_splice, __NR_pipe2, __NR_clone, __NR_clone3, __NR_epoll_create1, __NR_wait4, __NR_kill,
#ifdef __NR_pipe
    __NR_pipe,
#endif
};

// passt: the UNIX socket a VM connects to (accept4) and the stream of frames (read, writev) are in the
// common list; a vhost-user client gets an epoll set of its own (its control socket, kick eventfds and
// an eventfd of ours, made when it connects), and its memory table's descriptors are mapped with mmap
// (common), guarded by a SIGBUS handler (rt_sigaction, common). No threads,
// no namespace, no command.
static const int passt_syscalls[] = { __NR_epoll_create1, __NR_eventfd2 };

// The socket janitor: waits on its socket, then removes socket files relative to held directories.
static const int janitor_syscalls[] = {
    __NR_read, __NR_write, __NR_close, __NR_newfstatat, __NR_unlinkat, __NR_exit, __NR_exit_group,
    __NR_rt_sigreturn, __NR_futex, __NR_munmap, __NR_brk, __NR_mmap,
};

// The namespace's netlink relay: requests in and replies out on its socket to us, each passed on over
// the rtnetlink socket it holds.
static const int relay_syscalls[] = {
    __NR_read, __NR_write, __NR_sendto, __NR_recvfrom, __NR_exit, __NR_exit_group, __NR_rt_sigreturn,
};

#define COUNT(list) (int)(sizeof(list) / sizeof((list)[0]))

struct syscall_list { const int *calls; int count; };

static int profile_lists(CLinux_syscall_profile profile, struct syscall_list lists[2]) {
    switch (profile) {
    case CLinux_SYSCALLS_PASTA:
    case CLinux_SYSCALLS_SLIRP4NETNS:  // pasta's datapath, its API socket served by the common calls
        lists[0] = (struct syscall_list){ common_syscalls, COUNT(common_syscalls) };
        lists[1] = (struct syscall_list){ pasta_syscalls, COUNT(pasta_syscalls) };
        return 2;
    case CLinux_SYSCALLS_PASST:
        lists[0] = (struct syscall_list){ common_syscalls, COUNT(common_syscalls) };
        lists[1] = (struct syscall_list){ passt_syscalls, COUNT(passt_syscalls) };
        return 2;
    case CLinux_SYSCALLS_SOCKET_JANITOR:
        lists[0] = (struct syscall_list){ janitor_syscalls, COUNT(janitor_syscalls) };
        return 1;
    case CLinux_SYSCALLS_NETLINK_RELAY:
        lists[0] = (struct syscall_list){ relay_syscalls, COUNT(relay_syscalls) };
        return 1;
    }
    return 0;
}

int CLinux_syscall_filter_count(CLinux_syscall_profile profile) {
    struct syscall_list lists[2];
    int n = profile_lists(profile, lists), total = 0;
    for (int i = 0; i < n; i++) total += lists[i].count;
    return total;
}

int CLinux_install_syscall_filter(CLinux_syscall_profile profile) {
    struct syscall_list lists[2];
    int n = profile_lists(profile, lists);
    enum { MAX = 250 };  // a jump reaches at most 255 instructions ahead
    struct sock_filter program[MAX + 8];
    int length = 0;
    // The architecture first: a syscall number means something else under another ABI.
    program[length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    program[length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SANDBOX_AUDIT_ARCH, 1, 0);
    program[length++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    program[length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    int calls = 0;
    for (int i = 0; i < n; i++) calls += lists[i].count;
    if (calls > MAX) { errno = E2BIG; return -1; }
    // One comparison per call, each jumping to the final ALLOW; falling through all of them kills.
    int remaining = calls;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < lists[i].count; j++) {
            remaining--;
            program[length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                                                            (unsigned)lists[i].calls[j], remaining + 1, 0);
        }
    }
    program[length++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
    program[length++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog fprog = { .len = (unsigned short)length, .filter = program };
    return (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog);
}

long CLinux_make_forbidden_syscall(void) {
    // swapoff(2) on a null path: harmless (EFAULT) where it is allowed, and on no list.
    return syscall(__NR_swapoff, NULL);
}

#else

int CLinux_syscall_filter_count(CLinux_syscall_profile profile) { (void)profile; return 0; }
int CLinux_install_syscall_filter(CLinux_syscall_profile profile) {
    (void)profile;
    errno = ENOSYS;
    return -1;
}
long CLinux_make_forbidden_syscall(void) { return syscall(__NR_swapoff, NULL); }

#endif
