/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between the XDP steering program (bpf/steer.bpf.c) and user space
 * (userstack/kernel/steering, tools/ctl). Both sides include this header; change it on
 * both sides at once and bump XDPTCP_ABI_VERSION.
 *
 * Maps (pinned by `xdptcp-ctl attach` under /sys/fs/bpf/xdptcp/<ifname>/<map name>):
 *   xdptcp_ports     ARRAY[1] of struct xdptcp_port_bitmap: one bit per TCP destination port
 *                    that some rule covers. A quick reject, so that traffic which is not ours
 *                    costs one lookup and one bit test.
 *   xdptcp_rules     ARRAY[XDPTCP_MAX_RULES] of struct xdptcp_rule: the steering rules.
 *                    family == 0 marks a free slot. User space keeps xdptcp_ports equal to the
 *                    union of the port ranges of the used slots.
 *   xdptcp_xsks      XSKMAP[XDPTCP_MAX_QUEUES]: RX queue index -> AF_XDP socket.
 *   xdptcp_sockets   ARRAY[XDPTCP_MAX_QUEUES] of struct xdptcp_socket_info: who registered the
 *                    socket in xdptcp_xsks (an XSKMAP cannot be read from user space).
 *   xdptcp_counters  PERCPU_ARRAY[XDPTCP_CTR_COUNT] of __u64, indexed by enum xdptcp_counter.
 *   xdptcp_kernel_flows
 *                    LRU_HASH[XDPTCP_MAX_KERNEL_FLOWS]: struct xdptcp_flow_key -> __u8 (unused,
 *                    1). Steering exceptions: kernel connections that a rule would otherwise take
 *                    away (a hybrid listener's connections accepted by the kernel before the
 *                    stack's rule went in). A segment that matches a rule and whose flow is here
 *                    goes to the kernel (PASS_KERNEL_FLOW). Eviction is safe: a forgotten flow is
 *                    only steered as the rule says, as without the exception.
 *   xdptcp_config    ARRAY[1] of struct xdptcp_config: flags set by user space; `kernel_flows`
 *                    is set once the first exception is added, so that the program skips the
 *                    exception lookup while there are none.
 *
 * Addresses are stored in network byte order, as they appear on the wire; ports (rule ranges and
 * bitmap bit numbers) in host byte order.
 *
 * The program's .rodata also holds `__u32 xdptcp_abi_version` (= XDPTCP_ABI_VERSION), so that a
 * tool finding a loaded program can tell which layout its maps have.
 */
#ifndef XDPTCP_STEER_ABI_H
#define XDPTCP_STEER_ABI_H

#include <linux/types.h>

#define XDPTCP_ABI_VERSION 2

/* A rule table this small is scanned linearly, and only for packets whose port bit is set. */
#define XDPTCP_MAX_RULES 64
#define XDPTCP_MAX_QUEUES 64
#define XDPTCP_PORT_WORDS (65536 / 64)
#define XDPTCP_MAX_KERNEL_FLOWS 16384

#define XDPTCP_PIN_ROOT "/sys/fs/bpf/xdptcp"
#define XDPTCP_PROG_NAME "xdptcp_steer"

enum xdptcp_family {
  XDPTCP_FAMILY_NONE = 0, /* free rule slot */
  XDPTCP_FAMILY_V4 = 4,
  XDPTCP_FAMILY_V6 = 6,
};

enum xdptcp_rule_flags {
  XDPTCP_RULE_ANY_ADDR = 1u << 0, /* wildcard destination address (of the rule's family) */
};

struct xdptcp_rule {
  __u8 family; /* enum xdptcp_family */
  __u8 flags;  /* enum xdptcp_rule_flags */
  __u16 reserved;
  __u16 port_lo;   /* host byte order, inclusive */
  __u16 port_hi;   /* host byte order, inclusive */
  __u8 addr[16];   /* network order; IPv4 uses the first 4 bytes, the rest zero */
  __u32 owner_pid; /* process that installed the rule, 0 for xdptcp-ctl (permanent) */
  __u32 reserved2;
};

struct xdptcp_port_bitmap {
  __u64 words[XDPTCP_PORT_WORDS]; /* bit (port % 64) of words[port / 64], host-order port */
};

struct xdptcp_socket_info {
  __u32 owner_pid; /* 0: no socket registered on this queue */
  __u32 reserved;
  __u64 registered_ns; /* CLOCK_BOOTTIME at registration, for status */
};

/* A flow as the program sees an arriving segment: local = destination, remote = source. */
struct xdptcp_flow_key {
  __u8 family; /* enum xdptcp_family */
  __u8 reserved[3];
  __u16 local_port;     /* host byte order */
  __u16 remote_port;    /* host byte order */
  __u8 local_addr[16];  /* network order; IPv4 uses the first 4 bytes, the rest zero */
  __u8 remote_addr[16]; /* likewise */
};

struct xdptcp_config {
  __u32 kernel_flows; /* nonzero once xdptcp_kernel_flows may hold an entry */
  __u32 reserved;
};

enum xdptcp_counter {
  XDPTCP_CTR_SEEN = 0,         /* every frame the program ran on */
  XDPTCP_CTR_REDIRECTED,       /* matched a rule and redirected into an AF_XDP socket */
  XDPTCP_CTR_PASS_NOT_OURS,    /* well-formed, but no rule matched (incl. ARP, ICMP, UDP) */
  XDPTCP_CTR_PASS_NO_SOCKET,   /* matched a rule, but no socket on this RX queue */
  XDPTCP_CTR_MALFORMED,        /* truncated or invalid header; passed to the kernel */
  XDPTCP_CTR_PASS_KERNEL_FLOW, /* matched a rule, but the flow is a kernel connection's
                                  (xdptcp_kernel_flows): passed to the kernel */
  XDPTCP_CTR_COUNT
};

#endif /* XDPTCP_STEER_ABI_H */
