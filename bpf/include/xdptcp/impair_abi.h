/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between the link-impairment TC program (bpf/impair.bpf.c) and its user-space
 * tool (tools/impair, `xdptcp-impair tc`). Both sides include this header; change it on both
 * sides at once. See docs/IMPAIRMENT.md for how the pieces fit together.
 *
 * Maps (not pinned: the tool finds them through the program that the tc filter holds, by name):
 *   impair_config    HASH[IMPAIR_MAX_IFACES]: ifindex of the device the program runs on
 *                    -> struct impair_config. A device without an entry is not impaired.
 *   impair_counters  PERCPU_HASH[IMPAIR_MAX_IFACES]: ifindex -> struct impair_counters.
 *   impair_rng       PERCPU_HASH[IMPAIR_MAX_IFACES]: ifindex -> struct impair_rng_state, the
 *                    seeded generator (one sequence per device and CPU).
 *
 * Probabilities are in parts per million (1% = 10000).
 */
#ifndef XDPTCP_IMPAIR_ABI_H
#define XDPTCP_IMPAIR_ABI_H

#include <linux/types.h>

#define IMPAIR_MAX_IFACES 64
#define IMPAIR_PPM_ONE 1000000u

/* skb->mark on a duplicate made by the program, so that it passes untouched when it meets the
 * program again (the clone re-enters the same hook); the program clears it. "IMPD". */
#define IMPAIR_DUP_MARK 0x494d5044u

/* tc filter identity used by `xdptcp-impair tc` (handle and priority of the cls_bpf filter). */
#define IMPAIR_TC_HANDLE 0x494dU
#define IMPAIR_TC_PRIORITY 1U

#define IMPAIR_PROG_NAME "xdptcp_impair"
#define IMPAIR_CONFIG_MAP "impair_config"
#define IMPAIR_COUNTERS_MAP "impair_counters"

struct impair_config {
  __u32 loss_ppm;    /* drop the frame */
  __u32 dup_ppm;     /* send one extra copy */
  __u32 corrupt_ppm; /* flip one byte of the TCP header or payload, checksum left stale */
  __u32 dup_ifindex; /* 0: the copy re-enters the same hook of the same device (it then follows
                        the original's path); else: the copy leaves by this device's egress,
                        Ethernet header unchanged (for bridges) */
  __u64 seed;        /* 0: bpf_get_prandom_u32(); else a per-CPU xorshift seeded with seed ^ cpu */
};

struct impair_counters {
  __u64 seen;         /* TCP over IPv4/IPv6 frames considered */
  __u64 dropped;      /* of those, dropped */
  __u64 duplicated;   /* a copy was sent */
  __u64 dup_failed;   /* bpf_clone_redirect failed */
  __u64 corrupted;    /* one byte flipped */
  __u64 passed_other; /* not TCP (ARP, ND, ICMP, UDP, fragments, VLAN), or GSO: passed untouched */
};

struct impair_rng_state {
  __u64 state;
  __u64 seed; /* the config seed this state was derived from; a new seed restarts the sequence */
};

#endif /* XDPTCP_IMPAIR_ABI_H */
