/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xdptcp_impair: a TC (clsact, cls_bpf direct-action) program that impairs TCP on a link, for
 * tests on kernels without netem. Read bpf/include/xdptcp/impair_abi.h first (maps, counters)
 * and docs/IMPAIRMENT.md (where it is attached and why).
 *
 * Two entry points with the same logic: impair_ingress and impair_egress, one per clsact hook.
 * Per frame, on a device that has an entry in impair_config:
 *   1. a duplicate made by this program (skb->mark == IMPAIR_DUP_MARK): clear the mark, pass.
 *   2. not TCP over IPv4/IPv6 without fragments or VLAN tag, or a GSO packet: count
 *      passed_other and pass untouched, so that ARP, neighbour discovery and ICMP keep working.
 *   3. count seen; with probability loss_ppm: drop.
 *   4. with probability dup_ppm: bpf_clone_redirect a copy: to the same hook of the same device
 *      (the copy then takes the same path as the original: the kernel's forwarding after an
 *      ingress hook, the wire after an egress hook), or to the egress of dup_ifindex.
 *   5. with probability corrupt_ppm: flip one byte of the TCP segment (header or payload) and
 *      leave the checksum as it was, so that the receiver's checksum check catches it
 *      (RFC 9293 §3.1: a segment with a bad checksum is discarded). Any single-byte change is
 *      caught: the one's-complement sum only misses changes of a whole 16-bit word between
 *      0x0000 and 0xffff. Only detectable when the sender computed a full checksum (transmit
 *      checksum offload off), which is why the test topology turns offloads off.
 * The three decisions are independent; the order above means a duplicate is an intact copy.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdptcp/impair_abi.h"

#define IP_MF_OFFSET_MASK bpf_htons(0x3fff) /* MF flag and the 13-bit fragment offset */
#define TCP_MIN_HEADER 20

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, IMPAIR_MAX_IFACES);
  __type(key, __u32);
  __type(value, struct impair_config);
} impair_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, IMPAIR_MAX_IFACES);
  __type(key, __u32);
  __type(value, struct impair_counters);
} impair_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_HASH);
  __uint(max_entries, IMPAIR_MAX_IFACES);
  __type(key, __u32);
  __type(value, struct impair_rng_state);
} impair_rng SEC(".maps");

/* splitmix64: spreads a small seed over all 64 bits so that nearby seeds give unrelated sequences. */
static __always_inline __u64 splitmix64(__u64 x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* 32 random bits: per-CPU xorshift64* when seeded, else the kernel's generator. */
static __always_inline __u32 next_random(__u32 ifindex, const struct impair_config* cfg) {
  if (cfg->seed == 0) return bpf_get_prandom_u32();
  struct impair_rng_state* r = bpf_map_lookup_elem(&impair_rng, &ifindex);
  if (!r) {
    struct impair_rng_state zero = {};
    bpf_map_update_elem(&impair_rng, &ifindex, &zero, BPF_NOEXIST);
    r = bpf_map_lookup_elem(&impair_rng, &ifindex);
    if (!r) return bpf_get_prandom_u32();
  }
  if (r->seed != cfg->seed || r->state == 0) {
    r->seed = cfg->seed;
    r->state = splitmix64(cfg->seed ^ (((__u64)bpf_get_smp_processor_id() << 32) | ifindex));
    if (r->state == 0) r->state = 1;
  }
  __u64 x = r->state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  r->state = x;
  return (__u32)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

static __always_inline int chance(__u32 ppm, __u32 ifindex, const struct impair_config* cfg) {
  return ppm != 0 && next_random(ifindex, cfg) % IMPAIR_PPM_ONE < ppm;
}

static __always_inline struct impair_counters* counters_for(__u32 ifindex) {
  struct impair_counters* c = bpf_map_lookup_elem(&impair_counters, &ifindex);
  if (c) return c;
  struct impair_counters zero = {};
  bpf_map_update_elem(&impair_counters, &ifindex, &zero, BPF_NOEXIST);
  return bpf_map_lookup_elem(&impair_counters, &ifindex);
}

/* Where the TCP segment is: offset from the Ethernet header and length. 0 when the frame is not
 * an unfragmented TCP segment over IPv4/IPv6 with a plausible length. */
static __always_inline int find_tcp(struct __sk_buff* skb, __u32* off, __u32* len) {
  if (skb->protocol == bpf_htons(ETH_P_IP)) {
    struct iphdr ip;
    if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof ip) < 0) return 0;
    if (ip.version != 4 || ip.ihl < 5 || ip.protocol != IPPROTO_TCP) return 0;
    if (ip.frag_off & IP_MF_OFFSET_MASK) return 0;
    __u32 hlen = ip.ihl * 4;
    __u32 total = bpf_ntohs(ip.tot_len);
    if (total < hlen + TCP_MIN_HEADER || ETH_HLEN + total > skb->len) return 0;
    *off = ETH_HLEN + hlen;
    *len = total - hlen;
    return 1;
  }
  if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr ip6;
    if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof ip6) < 0) return 0;
    if (ip6.version != 6 || ip6.nexthdr != IPPROTO_TCP) return 0;
    __u32 payload = bpf_ntohs(ip6.payload_len);
    if (payload < TCP_MIN_HEADER || ETH_HLEN + sizeof ip6 + payload > skb->len) return 0;
    *off = ETH_HLEN + sizeof ip6;
    *len = payload;
    return 1;
  }
  return 0;
}

static __always_inline int impair(struct __sk_buff* skb, int ingress) {
  if (skb->mark == IMPAIR_DUP_MARK) {
    skb->mark = 0;
    return TC_ACT_OK;
  }
  __u32 ifindex = skb->ifindex;
  const struct impair_config* cfg = bpf_map_lookup_elem(&impair_config, &ifindex);
  if (!cfg) return TC_ACT_OK;
  struct impair_counters* ctr = counters_for(ifindex);
  if (!ctr) return TC_ACT_OK;

  __u32 off = 0, len = 0;
  if (skb->gso_segs > 1 || !find_tcp(skb, &off, &len)) {
    ctr->passed_other++;
    return TC_ACT_OK;
  }
  ctr->seen++;

  if (chance(cfg->loss_ppm, ifindex, cfg)) {
    ctr->dropped++;
    return TC_ACT_SHOT;
  }

  if (chance(cfg->dup_ppm, ifindex, cfg)) {
    __u32 saved_mark = skb->mark;
    long rc;
    skb->mark = IMPAIR_DUP_MARK; /* copied into the clone */
    if (cfg->dup_ifindex != 0)
      rc = bpf_clone_redirect(skb, cfg->dup_ifindex, 0);
    else
      rc = bpf_clone_redirect(skb, ifindex, ingress ? BPF_F_INGRESS : 0);
    skb->mark = saved_mark;
    if (rc == 0)
      ctr->duplicated++;
    else
      ctr->dup_failed++;
  }

  if (chance(cfg->corrupt_ppm, ifindex, cfg)) {
    __u32 where = off + next_random(ifindex, cfg) % len;
    __u8 byte = 0;
    if (bpf_skb_load_bytes(skb, where, &byte, 1) == 0) {
      byte ^= (__u8)(1 + next_random(ifindex, cfg) % 255); /* never 0: the byte always changes */
      /* flags 0: neither the L4 checksum nor skb->csum is updated, on purpose. */
      if (bpf_skb_store_bytes(skb, where, &byte, 1, 0) == 0) {
        /* A receiver told CHECKSUM_UNNECESSARY would not look at the checksum at all. */
        bpf_csum_level(skb, BPF_CSUM_LEVEL_RESET);
        ctr->corrupted++;
      }
    }
  }
  return TC_ACT_OK;
}

SEC("tc")
int impair_ingress(struct __sk_buff* skb) {
  return impair(skb, 1);
}

SEC("tc")
int impair_egress(struct __sk_buff* skb) {
  return impair(skb, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
