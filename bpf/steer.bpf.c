/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdptcp_steer: the XDP program that decides, per frame, whether a TCP segment belongs to
 * xdptcp (redirect into the AF_XDP socket of the RX queue it arrived on) or to the kernel
 * (XDP_PASS). Read bpf/include/xdptcp/steer_abi.h first: it defines the maps and counters.
 *
 * Decision, in order (every frame counts SEEN plus exactly one of the others):
 *   1. Ethernet, with at most one 802.1Q tag; not IPv4/IPv6           -> PASS_NOT_OURS
 *   2. IPv4: truncated, version != 4, IHL < 5, total length smaller than the header
 *      or larger than the frame                                      -> MALFORMED
 *      not TCP, or any fragment (MF set or offset != 0)              -> PASS_NOT_OURS
 *      IPv6: truncated, version != 6, payload beyond the frame       -> MALFORMED
 *      next header not TCP (extension headers included)              -> PASS_NOT_OURS
 *   3. TCP: header truncated, data offset < 5 or beyond the IP payload -> MALFORMED
 *   4. destination port bit clear in xdptcp_ports, or no rule matches -> PASS_NOT_OURS
 *   5. rules match, but none applies on this queue: each is another process's than the queue's
 *      owner (xdptcp_sockets[rx_queue_index]; permanent rules apply everywhere) -> PASS_OTHER_OWNER
 *   6. a rule applies, but the flow is in xdptcp_kernel_flows (a kernel connection the rule
 *      would cut; looked up only once xdptcp_config says exceptions exist) -> PASS_KERNEL_FLOW
 *   7. only draining rules apply (XDPTCP_RULE_DRAINING; any rule without the flag that applies
 *      wins), and the flow is not in xdptcp_stack_flows with the rule's owner as value: a new
 *      connection, or one the draining process no longer has                -> PASS_DRAINING
 *   8. a rule applies: redirect to xdptcp_xsks[rx_queue_index]       -> REDIRECTED
 *      no socket on that queue                                        -> PASS_NO_SOCKET
 *
 * The program never drops: anything it does not claim goes to the kernel, which answers
 * ARP, ICMP and unknown ports as usual. It runs under libxdp's dispatcher (XDP_RUN_CONFIG
 * below) and lets the next program run on XDP_PASS.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "xdptcp/steer_abi.h"

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define IP_MF_OFFSET_MASK bpf_htons(0x3fff) /* MF flag and the 13-bit fragment offset */

struct vlan_tag {
  __be16 tci;
  __be16 encapsulated_proto;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xdptcp_port_bitmap);
} xdptcp_ports SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, XDPTCP_MAX_RULES);
  __type(key, __u32);
  __type(value, struct xdptcp_rule);
} xdptcp_rules SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, XDPTCP_MAX_QUEUES);
  __type(key, __u32);
  __type(value, __u32);
} xdptcp_xsks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, XDPTCP_MAX_QUEUES);
  __type(key, __u32);
  __type(value, struct xdptcp_socket_info);
} xdptcp_sockets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, XDPTCP_CTR_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} xdptcp_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, XDPTCP_MAX_KERNEL_FLOWS);
  __type(key, struct xdptcp_flow_key);
  __type(value, __u8);
} xdptcp_kernel_flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xdptcp_config);
} xdptcp_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, XDPTCP_MAX_STACK_FLOWS);
  __type(key, struct xdptcp_flow_key);
  __type(value, __u32);
} xdptcp_stack_flows SEC(".maps");

/* libxdp dispatcher metadata: our priority among the interface's XDP programs, and "run the
 * next program when we return XDP_PASS" so that other programs still see the kernel's traffic. */
struct {
  __uint(priority, 10);
  __uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(xdptcp_steer);

/* Readable from the loaded program's .rodata, so tools can check which ABI a program speaks. */
const volatile __u32 xdptcp_abi_version = XDPTCP_ABI_VERSION;

static __always_inline void count(__u32 counter) {
  __u64* v = bpf_map_lookup_elem(&xdptcp_counters, &counter);
  if (v) *v += 1; /* per-CPU slot: no atomic needed */
}

/* Counts SEEN and the outcome, and returns the verdict, in one place. */
static __always_inline int verdict(__u32 counter, int action) {
  count(XDPTCP_CTR_SEEN);
  count(counter);
  return action;
}

/* Where the parsed packet goes; filled by the parsers, read by the rule matcher. */
struct flow {
  __u8 family;    /* XDPTCP_FAMILY_V4 / _V6 */
  __u16 dport;    /* host order */
  __u16 sport;    /* host order */
  __u32 daddr[4]; /* network order; IPv4 in daddr[0] */
  __u32 saddr[4]; /* network order; IPv4 in saddr[0] */
};

static __always_inline __u32 rule_word(const struct xdptcp_rule* r, int i) {
  __u32 w;
  __builtin_memcpy(&w, &r->addr[i * 4], sizeof(w));
  return w;
}

static __always_inline int rule_matches(const struct xdptcp_rule* r, const struct flow* f) {
  if (r->family != f->family) return 0; /* also skips free slots (family 0) */
  if (f->dport < r->port_lo || f->dport > r->port_hi) return 0;
  if (r->flags & XDPTCP_RULE_ANY_ADDR) return 1;
  if (rule_word(r, 0) != f->daddr[0]) return 0;
  if (f->family == XDPTCP_FAMILY_V4) return 1;
  return rule_word(r, 1) == f->daddr[1] && rule_word(r, 2) == f->daddr[2] && rule_word(r, 3) == f->daddr[3];
}

static __always_inline int port_claimed(__u16 port) {
  __u32 zero = 0;
  const struct xdptcp_port_bitmap* bm = bpf_map_lookup_elem(&xdptcp_ports, &zero);
  if (!bm) return 0;
  return (bm->words[(port >> 6) & (XDPTCP_PORT_WORDS - 1)] >> (port & 63)) & 1;
}

/* The process owning the RX queue (steer_abi.h, "Owners"); 0 when none does, which leaves only the
 * permanent rules applicable there. */
static __always_inline __u32 queue_owner(__u32 queue) {
  const struct xdptcp_socket_info* si = bpf_map_lookup_elem(&xdptcp_sockets, &queue);
  return si ? si->owner_pid : 0;
}

/* Ordered by precedence: the scan keeps the highest it has seen, so a rule that applies outranks
 * one of another owner, and a rule without XDPTCP_RULE_DRAINING outranks a draining one. */
enum scan_result {
  SCAN_NO_MATCH = 0, /* no rule selects the segment */
  SCAN_OTHER_OWNER,  /* rules select it, but all belong to processes other than the queue's owner */
  SCAN_DRAINING,     /* only draining rules apply: steer the segment only if its owner has the flow */
  SCAN_APPLIES,      /* a permanent rule or one of the queue's owner selects it, without the flag */
};

/* One pass over the rules: stops at the first that applies without the draining flag (so rules
 * without it cost what they did before draining existed), and remembers whether one of another owner
 * or a draining one matched on the way, so that the reason for passing can be counted without a
 * second scan. A draining rule that applies does not end the scan: a rule without the flag further
 * on still steers the segment as usual (steer_abi.h, "Draining"). `drain_owner` receives the owner of
 * the draining rule for SCAN_DRAINING. */
static __always_inline enum scan_result scan_rules(const struct flow* f, __u32 owner, __u32* drain_owner) {
  enum scan_result found = SCAN_NO_MATCH;
  for (__u32 i = 0; i < XDPTCP_MAX_RULES; i++) {
    __u32 key = i;
    const struct xdptcp_rule* r = bpf_map_lookup_elem(&xdptcp_rules, &key);
    if (!r || !rule_matches(r, f)) continue;
    if (r->owner_pid != 0 && r->owner_pid != owner) {
      if (found < SCAN_OTHER_OWNER) found = SCAN_OTHER_OWNER;
      continue;
    }
    if (!(r->flags & XDPTCP_RULE_DRAINING)) return SCAN_APPLIES;
    found = SCAN_DRAINING;
    *drain_owner = r->owner_pid;
  }
  return found;
}

/* The key of xdptcp_kernel_flows and xdptcp_stack_flows for the segment: local = its destination. */
static __always_inline void flow_key(const struct flow* f, struct xdptcp_flow_key* key) {
  key->family = f->family;
  key->local_port = f->dport;
  key->remote_port = f->sport;
  __builtin_memcpy(key->local_addr, f->daddr, sizeof(key->local_addr));
  __builtin_memcpy(key->remote_addr, f->saddr, sizeof(key->remote_addr));
}

/* Whether the flow is a kernel connection's steering exception. One array lookup while there are
 * none (the config flag), one hash lookup more once there are. */
static __always_inline int kernel_flow(const struct flow* f) {
  __u32 zero = 0;
  const struct xdptcp_config* cfg = bpf_map_lookup_elem(&xdptcp_config, &zero);
  if (!cfg || !cfg->kernel_flows) return 0;
  struct xdptcp_flow_key key = {};
  flow_key(f, &key);
  return bpf_map_lookup_elem(&xdptcp_kernel_flows, &key) != 0;
}

/* Whether the draining process `owner` still has the flow (xdptcp_stack_flows). Another process's
 * entry does not count: that process's rule, not this one, would steer it. */
static __always_inline int owner_has_flow(const struct flow* f, __u32 owner) {
  struct xdptcp_flow_key key = {};
  flow_key(f, &key);
  const __u32* pid = bpf_map_lookup_elem(&xdptcp_stack_flows, &key);
  return pid && *pid == owner;
}

SEC("xdp")
int xdptcp_steer(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct flow f = {};

  /* 1. Ethernet and at most one VLAN tag. */
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
  void* l3 = eth + 1;
  __be16 proto = eth->h_proto;
  if (proto == ETH_P_8021Q_BE) {
    struct vlan_tag* vlan = l3;
    if ((void*)(vlan + 1) > data_end) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
    proto = vlan->encapsulated_proto;
    l3 = vlan + 1;
  }

  /* 2. The IP header; l4_len is what the IP header says the TCP segment occupies. */
  struct tcphdr* tcp;
  __u32 l4_len;
  if (proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = l3;
    if ((void*)(ip + 1) > data_end) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
    if (ip->version != 4 || ip->ihl < 5) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
    __u32 ihl = ip->ihl * 4;
    __u32 tot_len = bpf_ntohs(ip->tot_len);
    if (tot_len < ihl || (void*)ip + tot_len > data_end) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
    if (ip->protocol != IPPROTO_TCP) return verdict(XDPTCP_CTR_PASS_NOT_OURS, XDP_PASS);
    /* RFC 791: only the first fragment carries the TCP header, and xdptcp does not reassemble;
     * the kernel does. So every fragment, first one included, belongs to the kernel. */
    if (ip->frag_off & IP_MF_OFFSET_MASK) return verdict(XDPTCP_CTR_PASS_NOT_OURS, XDP_PASS);
    tcp = (void*)ip + ihl;
    l4_len = tot_len - ihl;
    f.family = XDPTCP_FAMILY_V4;
    f.daddr[0] = ip->daddr;
    f.saddr[0] = ip->saddr;
  } else if (proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip6 = l3;
    if ((void*)(ip6 + 1) > data_end) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
    if (ip6->version != 6) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
    l4_len = bpf_ntohs(ip6->payload_len);
    if ((void*)(ip6 + 1) + l4_len > data_end) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
    /* Extension headers (fragment, routing, hop-by-hop...) are left to the kernel. */
    if (ip6->nexthdr != IPPROTO_TCP) return verdict(XDPTCP_CTR_PASS_NOT_OURS, XDP_PASS);
    tcp = (void*)(ip6 + 1);
    f.family = XDPTCP_FAMILY_V6;
    f.daddr[0] = ip6->daddr.in6_u.u6_addr32[0];
    f.daddr[1] = ip6->daddr.in6_u.u6_addr32[1];
    f.daddr[2] = ip6->daddr.in6_u.u6_addr32[2];
    f.daddr[3] = ip6->daddr.in6_u.u6_addr32[3];
    f.saddr[0] = ip6->saddr.in6_u.u6_addr32[0];
    f.saddr[1] = ip6->saddr.in6_u.u6_addr32[1];
    f.saddr[2] = ip6->saddr.in6_u.u6_addr32[2];
    f.saddr[3] = ip6->saddr.in6_u.u6_addr32[3];
  } else {
    return verdict(XDPTCP_CTR_PASS_NOT_OURS, XDP_PASS); /* ARP, LLDP, QinQ, ... */
  }

  /* 3. The TCP header (RFC 9293 §3.1: data offset counts 32-bit words, at least 5). */
  if ((void*)(tcp + 1) > data_end || l4_len < sizeof(*tcp)) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
  __u32 doff = tcp->doff * 4;
  if (doff < sizeof(*tcp) || doff > l4_len) return verdict(XDPTCP_CTR_MALFORMED, XDP_PASS);
  f.dport = bpf_ntohs(tcp->dest);
  f.sport = bpf_ntohs(tcp->source);

  /* 4. Quick reject on the port bitmap, then the rules. The queue's owner is looked up only past
   * the bitmap, so traffic that is not ours pays nothing for it. */
  if (!port_claimed(f.dport)) return verdict(XDPTCP_CTR_PASS_NOT_OURS, XDP_PASS);
  __u32 drain_owner = 0;
  enum scan_result scan = scan_rules(&f, queue_owner(ctx->rx_queue_index), &drain_owner);
  if (scan == SCAN_NO_MATCH) return verdict(XDPTCP_CTR_PASS_NOT_OURS, XDP_PASS);

  /* 5. Another process's traffic arriving on this queue: redirecting it would hand it to this
   * queue's owner, which has no connection for it. Counted apart, so that a NIC spreading one
   * process's flows over other processes' queues shows. */
  if (scan == SCAN_OTHER_OWNER) return verdict(XDPTCP_CTR_PASS_OTHER_OWNER, XDP_PASS);

  /* 6. A kernel connection the rule would cut stays with the kernel. */
  if (kernel_flow(&f)) return verdict(XDPTCP_CTR_PASS_KERNEL_FLOW, XDP_PASS);

  /* 7. A draining process (it closed its listener) keeps the connections it has; everything else,
   * new connections first of all, goes to the kernel, whose listener is another process's. */
  if (scan == SCAN_DRAINING && !owner_has_flow(&f, drain_owner))
    return verdict(XDPTCP_CTR_PASS_DRAINING, XDP_PASS);

  /* 8. Ours. bpf_redirect_map returns the fallback action (XDP_PASS) when the XSKMAP has no
   * socket for this queue, so its return value alone tells which counter is right, without a
   * separate lookup that a closing socket could race with. */
  int action = bpf_redirect_map(&xdptcp_xsks, ctx->rx_queue_index, XDP_PASS);
  if (action == XDP_REDIRECT) return verdict(XDPTCP_CTR_REDIRECTED, XDP_REDIRECT);
  return verdict(XDPTCP_CTR_PASS_NO_SOCKET, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
