// The sandbox's system interfaces: process flags, capabilities, the empty root. The syscall filter and
// the lists it allows are in syscalls.c.
#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if_addr.h>
#include <sys/socket.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

const int CLinux_CLONE_NEWIPC = CLONE_NEWIPC, CLinux_CLONE_NEWUTS = CLONE_NEWUTS, CLinux_CLONE_NEWPID = CLONE_NEWPID;
const int CLinux_CAP_DAC_OVERRIDE = CAP_DAC_OVERRIDE, CLinux_CAP_FOWNER = CAP_FOWNER, CLinux_CAP_NET_ADMIN = CAP_NET_ADMIN;

int CLinux_set_no_new_privileges(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); }
int CLinux_set_dumpable(int dumpable) { return prctl(PR_SET_DUMPABLE, dumpable, 0, 0, 0); }
int CLinux_set_keep_capabilities(int keep) { return prctl(PR_SET_KEEPCAPS, keep, 0, 0, 0); }

static int capabilities_set(uint64_t effective, uint64_t permitted) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    data[0].effective = (uint32_t)effective;
    data[1].effective = (uint32_t)(effective >> 32);
    data[0].permitted = (uint32_t)permitted;
    data[1].permitted = (uint32_t)(permitted >> 32);
    return (int)syscall(SYS_capset, &header, data);
}

static int capabilities_get(uint64_t *effective, uint64_t *permitted) {
    struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &header, data) != 0) return -1;
    *effective = data[0].effective | (uint64_t)data[1].effective << 32;
    *permitted = data[0].permitted | (uint64_t)data[1].permitted << 32;
    return 0;
}

int CLinux_drop_bounding_set(uint64_t keep) {
    for (int capability = 0; capability < 64; capability++) {
        if (keep >> capability & 1) continue;
        if (prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0) {
            if (errno == EINVAL) break;  // past the last one
            return -1;
        }
    }
    return 0;
}

int CLinux_drop_capabilities(uint64_t keep) {
    uint64_t effective, permitted;
    if (capabilities_get(&effective, &permitted) != 0) return -1;
    // The bounding set takes CAP_SETPCAP to shrink: raise what we hold first. Where it isn't held (an
    // ordinary user outside any user namespace of its own), the bounding set stays; nothing is permitted anyway.
    capabilities_set(permitted, permitted);
    (void)CLinux_drop_bounding_set(keep);  // without CAP_SETPCAP it stays: that is not an error here
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    return capabilities_set(permitted & keep, permitted & keep);
}

int CLinux_mount_private_tree(void) { return mount("", "/", "", MS_REC | MS_PRIVATE, NULL); }

int CLinux_enter_empty_root(const char *mount_point, int *used_chroot) {
    *used_chroot = 0;
    // Two inodes (the root and a spare), no blocks, read-only from the start: nothing can be made in it.
    if (mount("", mount_point, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "nr_inodes=2,nr_blocks=0,mode=0555") != 0)
        return -1;
    if (chdir(mount_point) != 0) return -1;
    // pivot_root(2)'s own recipe: the new root and the old one's mount point the same directory, then the
    // old root, now stacked on top, detached with everything below it.
    if (syscall(SYS_pivot_root, ".", ".") == 0) {
        if (umount2(".", MNT_DETACH) != 0) return -1;
    } else {
        // Where the root can't be pivoted (an initramfs rootfs), chroot into the empty tmpfs instead.
        if (chroot(".") != 0) return -1;
        *used_chroot = 1;
    }
    return chdir("/");
}

void CLinux_socket_janitor_serve(int channel, int count, const int *directories, const char *const *names,
                                 const uint64_t *inodes) {
    char byte = 0;
    ssize_t n;
    do { n = read(channel, &byte, 1); } while (n < 0 && errno == EINTR);
    // A byte: the daemon is leaving and waits for us. End of file: it was killed or crashed, and its
    // files stay, as they would without a sandbox (the next passt takes over a stale socket).
    if (n != 1) _exit(0);
    for (int i = 0; i < count; i++) {
        struct stat status;
        if (fstatat(directories[i], names[i], &status, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(status.st_mode)
            && (uint64_t)status.st_ino == inodes[i])
            unlinkat(directories[i], names[i], 0);
    }
    byte = 1;
    do { n = write(channel, &byte, 1); } while (n < 0 && errno == EINTR);
    _exit(0);
}

// An NLMSG_ERROR reply of our own to `request` (its first 16 bytes are a struct nlmsghdr).
static void relay_refuse(int channel, const struct nlmsghdr *request, int error) {
    struct { struct nlmsghdr header; struct nlmsgerr body; } reply;
    memset(&reply, 0, sizeof(reply));
    reply.header.nlmsg_len = sizeof(reply);
    reply.header.nlmsg_type = NLMSG_ERROR;
    reply.header.nlmsg_seq = request->nlmsg_seq;
    reply.body.error = -error;
    reply.body.msg = *request;
    ssize_t n;
    do { n = write(channel, &reply, sizeof(reply)); } while (n < 0 && errno == EINTR);
}

// Whether a reply datagram ends the exchange: it holds an ACK or error, or the end of a dump.
static int relay_reply_ends(const unsigned char *bytes, size_t length) {
    size_t offset = 0;
    while (length - offset >= sizeof(struct nlmsghdr)) {
        const struct nlmsghdr *header = (const struct nlmsghdr *)(bytes + offset);
        if (header->nlmsg_len < sizeof(struct nlmsghdr) || header->nlmsg_len > length - offset) return 1;
        if (header->nlmsg_type == NLMSG_ERROR || header->nlmsg_type == NLMSG_DONE) return 1;
        offset += NLMSG_ALIGN(header->nlmsg_len);
        if (offset > length) return 1;
    }
    return 0;
}

// Walks the attributes after a fixed header of `fixed` bytes: each whole, 4-aligned, of a type in
// `allowed` (a bit mask); the output interface, if `oif_type` is set, must be `interface_index` and present.
static int relay_attributes_allowed(const unsigned char *bytes, size_t length, size_t fixed, uint32_t allowed,
                                    int oif_type, int interface_index) {
    size_t offset = NLMSG_HDRLEN + fixed;
    int oif_seen = 0;
    if (length < offset) return 0;
    while (offset < length) {
        struct rtattr attribute;
        if (length - offset < sizeof(attribute)) return 0;
        memcpy(&attribute, bytes + offset, sizeof(attribute));
        if (attribute.rta_len < sizeof(attribute) || attribute.rta_len > length - offset) return 0;
        if (attribute.rta_type >= 32 || !(allowed & (1u << attribute.rta_type))) return 0;
        if (oif_type && attribute.rta_type == oif_type) {
            int32_t index;
            if (attribute.rta_len != RTA_LENGTH(sizeof(index))) return 0;
            memcpy(&index, bytes + offset + RTA_LENGTH(0), sizeof(index));
            if (index != interface_index) return 0;
            oif_seen = 1;
        }
        offset += RTA_ALIGN(attribute.rta_len);
    }
    return !oif_type || oif_seen;
}

int CLinux_netlink_relay_allows(const void *request, size_t length, int interface_index) {
    const unsigned char *bytes = request;
    struct nlmsghdr header;
    if (length < sizeof(header) || length > 4096) return 0;
    memcpy(&header, bytes, sizeof(header));
    if (header.nlmsg_len != length) return 0;
    if (header.nlmsg_flags & ~(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)) return 0;
    if (!(header.nlmsg_flags & NLM_F_REQUEST)) return 0;
    switch (header.nlmsg_type) {
    case RTM_NEWADDR:
    case RTM_DELADDR: {
        struct ifaddrmsg address;
        if (length < NLMSG_HDRLEN + sizeof(address)) return 0;
        memcpy(&address, bytes + NLMSG_HDRLEN, sizeof(address));
        if (address.ifa_family != AF_INET && address.ifa_family != AF_INET6) return 0;
        if ((int)address.ifa_index != interface_index || address.ifa_scope != RT_SCOPE_UNIVERSE) return 0;
        return relay_attributes_allowed(bytes, length, sizeof(address),
                                        1u << IFA_ADDRESS | 1u << IFA_LOCAL | 1u << IFA_FLAGS, 0, interface_index);
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
        struct rtmsg route;
        if (length < NLMSG_HDRLEN + sizeof(route)) return 0;
        memcpy(&route, bytes + NLMSG_HDRLEN, sizeof(route));
        if (route.rtm_family != AF_INET && route.rtm_family != AF_INET6) return 0;
        if (route.rtm_src_len || route.rtm_tos || route.rtm_table != RT_TABLE_MAIN || route.rtm_flags) return 0;
        if (route.rtm_protocol != RTPROT_BOOT || route.rtm_type != RTN_UNICAST) return 0;
        if (route.rtm_scope != RT_SCOPE_UNIVERSE && route.rtm_scope != RT_SCOPE_LINK) return 0;
        return relay_attributes_allowed(bytes, length, sizeof(route),
                                        1u << RTA_DST | 1u << RTA_GATEWAY | 1u << RTA_OIF | 1u << RTA_PRIORITY,
                                        RTA_OIF, interface_index);
    }
    default:
        return 0;
    }
}

void CLinux_netlink_relay_serve(int channel, int netlink, int interface_index) {
    static unsigned char buffer[32768] __attribute__((aligned(4)));
    for (;;) {
        ssize_t n;
        do { n = read(channel, buffer, sizeof(buffer)); } while (n < 0 && errno == EINTR);
        if (n <= 0) return;  // the daemon is gone
        struct nlmsghdr request;
        if ((size_t)n < sizeof(request)) continue;
        memcpy(&request, buffer, sizeof(request));
        // Only what the daemon sends for the tap; anything else is refused here, never passed on.
        if (!CLinux_netlink_relay_allows(buffer, (size_t)n, interface_index)) {
            relay_refuse(channel, &request, EPERM);
            continue;
        }
        ssize_t sent;
        do { sent = send(netlink, buffer, (size_t)n, 0); } while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            relay_refuse(channel, &request, errno);
            continue;
        }
        for (;;) {
            ssize_t m;
            do { m = recv(netlink, buffer, sizeof(buffer), 0); } while (m < 0 && errno == EINTR);
            if (m <= 0) {
                relay_refuse(channel, &request, m < 0 ? errno : EIO);
                break;
            }
            ssize_t w;
            do { w = write(channel, buffer, (size_t)m); } while (w < 0 && errno == EINTR);
            if (relay_reply_ends(buffer, (size_t)m)) break;
        }
    }
}
