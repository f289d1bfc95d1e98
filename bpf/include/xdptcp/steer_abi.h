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
 *                    socket in xdptcp_xsks (an XSKMAP cannot be read from user space), i.e. which
 *                    process owns the RX queue. The program reads it too (see "Owners" below).
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
 *   xdptcp_stack_flows
 *                    LRU_HASH[XDPTCP_MAX_STACK_FLOWS]: struct xdptcp_flow_key -> __u32, the pid of
 *                    the process whose stack has the connection (ABI 4). Read only for segments
 *                    that a draining rule selects (see "Draining" below). The key is the one of
 *                    xdptcp_kernel_flows: local = destination of the arriving segment, remote =
 *                    its source. Unlike an exception, an entry evicted while its owner drains
 *                    sends the connection to the kernel, which resets it: the map is sized for
 *                    every connection a process may hold open.
 *
 * Owners (ABI 3). Several processes may share an interface, each owning some RX queues (its pid in
 * xdptcp_sockets[q].owner_pid) and installing its own rules (its pid in xdptcp_rule.owner_pid; 0 is
 * a permanent rule of xdptcp-ctl, which serves every process). A rule applies to a segment arriving
 * on queue q when it matches the segment and (owner_pid == 0 || owner_pid == the owner of q); a
 * queue without a record (no socket registered, or q >= XDPTCP_MAX_QUEUES) has owner 0, so only
 * permanent rules apply there. A segment that some rule matches but none applies to goes to the
 * kernel (PASS_OTHER_OWNER): redirecting it would hand one process's traffic to another's socket.
 * Hence rules of different owners may select the same traffic (two stacks each steering their
 * ephemeral range to themselves); user space keeps at most one rule per (match, owner), and no
 * process rule beside a permanent one of the same match (which covers it).
 *
 * Draining (ABI 4). A process that closes its listening socket while connections it accepted are
 * still open (nginx's old workers on `nginx -s reload`) keeps its rule, flagged
 * XDPTCP_RULE_DRAINING: a segment that such a rule selects is redirected only when its flow is in
 * xdptcp_stack_flows with the rule's owner_pid as value (a connection the process still has);
 * anything else, new connections in particular, goes to the kernel (PASS_DRAINING), whose listener
 * (held by other processes: the nginx master and the new workers) serves it. Without the flag, the rule
 * would send new SYNs to a stack that no longer listens; without the rule, the remaining
 * connections' segments would reach the kernel, which answers them with RST.
 * A draining rule yields to a rule without the flag that also applies to the segment (a permanent
 * rule, or another rule of the same owner): that one steers it as usual. Rules without the flag
 * cost nothing more: xdptcp_stack_flows is looked up only when a draining rule is the one that
 * applies. The process lists its flows before it sets the flag (and may remove each when its
 * connection closes); a permanent rule does not drain (it belongs to no process). Entries of dead
 * processes are removed with their rules.
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

#define XDPTCP_ABI_VERSION 4

/* A rule table this small is scanned linearly, and only for packets whose port bit is set. */
#define XDPTCP_MAX_RULES 64
#define XDPTCP_MAX_QUEUES 64
#define XDPTCP_PORT_WORDS (65536 / 64)
#define XDPTCP_MAX_KERNEL_FLOWS 16384
#define XDPTCP_MAX_STACK_FLOWS 65536

#define XDPTCP_PIN_ROOT "/sys/fs/bpf/xdptcp"
#define XDPTCP_PROG_NAME "xdptcp_steer"

enum xdptcp_family {
  XDPTCP_FAMILY_NONE = 0, /* free rule slot */
  XDPTCP_FAMILY_V4 = 4,
  XDPTCP_FAMILY_V6 = 6,
};

enum xdptcp_rule_flags {
  XDPTCP_RULE_ANY_ADDR = 1u << 0, /* wildcard destination address (of the rule's family) */
  XDPTCP_RULE_DRAINING = 1u << 1, /* only the owner's flows in xdptcp_stack_flows (ABI 4; Draining) */
};

struct xdptcp_rule {
  __u8 family; /* enum xdptcp_family */
  __u8 flags;  /* enum xdptcp_rule_flags */
  __u16 reserved;
  __u16 port_lo;   /* host byte order, inclusive */
  __u16 port_hi;   /* host byte order, inclusive */
  __u8 addr[16];   /* network order; IPv4 uses the first 4 bytes, the rest zero */
  __u32 owner_pid; /* process that installed the rule, 0 for xdptcp-ctl (permanent); see Owners */
  __u32 reserved2;
};

struct xdptcp_port_bitmap {
  __u64 words[XDPTCP_PORT_WORDS]; /* bit (port % 64) of words[port / 64], host-order port */
};

struct xdptcp_socket_info {
  __u32 owner_pid; /* the queue's owner; 0: no socket registered on this queue */
  __u32 reserved;
  __u64 registered_ns; /* CLOCK_BOOTTIME at registration, for status */
};

/* A flow as the program sees an arriving segment: local = destination, remote = source. The key of
 * xdptcp_kernel_flows and xdptcp_stack_flows. */
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
  XDPTCP_CTR_REDIRECTED,       /* a rule applies (see Owners): redirected into an AF_XDP socket */
  XDPTCP_CTR_PASS_NOT_OURS,    /* well-formed, but no rule matched (incl. ARP, ICMP, UDP) */
  XDPTCP_CTR_PASS_NO_SOCKET,   /* a rule applies, but no socket on this RX queue */
  XDPTCP_CTR_MALFORMED,        /* truncated or invalid header; passed to the kernel */
  XDPTCP_CTR_PASS_KERNEL_FLOW, /* a rule applies, but the flow is a kernel connection's
                                  (xdptcp_kernel_flows): passed to the kernel */
  XDPTCP_CTR_PASS_OTHER_OWNER, /* a rule of another process matches; this queue's socket is not that
                                  process's (or no process owns the queue): passed to the kernel */
  XDPTCP_CTR_PASS_DRAINING,    /* a draining rule matched, and the flow is not one the owner still
                                  has (xdptcp_stack_flows): new connection for the kernel */
  XDPTCP_CTR_COUNT             /* new counters go last: an older program's map simply lacks them */
};

#endif /* XDPTCP_STEER_ABI_H */
