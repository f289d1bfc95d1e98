// The XDP steering program (bpf/steer.bpf.c) on crafted frames, through BPF_PROG_TEST_RUN:
// which frames it claims, which it leaves to the kernel, how it counts them, and that it never
// drops. Rules are installed with userstack/kernel/steer_rules. See steer_fixture.h.
#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "bpf/steer_fixture.h"
#include "bpf/test_frames.h"

namespace xdptcp::test {
namespace {

class SteerProgram : public SteerFixture {};

FrameSpec v4(std::uint16_t dport) {
  FrameSpec s;
  s.dport = dport;
  return s;
}
FrameSpec v6(std::uint16_t dport) {
  FrameSpec s;
  s.family = 6;
  s.dport = dport;
  return s;
}

TEST_F(SteerProgram, NoRules_TcpSyn_PassedNotOurs) {
  EXPECT_EQ(run(build_frame(v4(80))), kNotOurs);
  EXPECT_EQ(run(build_frame(v6(80))), kNotOurs);
}

TEST_F(SteerProgram, WildcardRule_MatchingIpv4NoSocket_PassedNoSocket) {
  add(any_v4(80, 80));
  EXPECT_EQ(run(build_frame(v4(80))), kNoSocket);
  EXPECT_EQ(run(build_frame(v4(81))), kNotOurs);
}

TEST_F(SteerProgram, WildcardRule_MatchingIpv6NoSocket_PassedNoSocket) {
  add(any_v6(443, 443));
  EXPECT_EQ(run(build_frame(v6(443))), kNoSocket);
  EXPECT_EQ(run(build_frame(v6(444))), kNotOurs);
}

TEST_F(SteerProgram, RuleOfOtherFamily_SamePort_NotOurs) {
  add(any_v4(80, 80));
  EXPECT_EQ(run(build_frame(v6(80))), kNotOurs);  // port bit set, but the rule is IPv4
}

TEST_F(SteerProgram, VlanTagged_Matching_Claimed) {
  add(any_v4(80, 80));
  add(any_v6(80, 80));
  FrameSpec a = v4(80);
  a.vlan = 42;
  EXPECT_EQ(run(build_frame(a)), kNoSocket);
  FrameSpec b = v6(80);
  b.vlan = 4095;
  EXPECT_EQ(run(build_frame(b)), kNoSocket);
  b.dport = 81;
  EXPECT_EQ(run(build_frame(b)), kNotOurs);
}

TEST_F(SteerProgram, TwoVlanTags_NotParsed_NotOurs) {
  add(any_v4(80, 80));
  FrameSpec s = v4(80);
  s.vlan = 7;
  s.double_vlan = true;
  EXPECT_EQ(run(build_frame(s)), kNotOurs);
}

TEST_F(SteerProgram, SpecificIpv4Address_OnlyThatDestination) {
  add(host_v4(kDst4, 80, 80));
  EXPECT_EQ(run(build_frame(v4(80))), kNoSocket);
  FrameSpec other = v4(80);
  other.dst4 = {198, 18, 0, 9};
  EXPECT_EQ(run(build_frame(other)), kNotOurs);
  other.dst4 = {199, 18, 0, 1};  // differs in the first byte only
  EXPECT_EQ(run(build_frame(other)), kNotOurs);
}

TEST_F(SteerProgram, SpecificIpv6Address_EveryWordCompared) {
  add(host_v6(kDst6, 80, 80));
  EXPECT_EQ(run(build_frame(v6(80))), kNoSocket);
  for (int byte : {0, 5, 10, 15}) {  // one byte in each 32-bit word
    FrameSpec other = v6(80);
    other.dst6[static_cast<std::size_t>(byte)] ^= 0x40;
    EXPECT_EQ(run(build_frame(other)), kNotOurs) << "destination differs at byte " << byte;
  }
}

TEST_F(SteerProgram, SpecificAndWildcardRules_WildcardCoversOtherAddresses) {
  add(host_v4(kDst4, 80, 80));
  add(any_v4(80, 80));
  FrameSpec other = v4(80);
  other.dst4 = {198, 18, 0, 9};
  EXPECT_EQ(run(build_frame(other)), kNoSocket);
}

TEST_F(SteerProgram, PortRange_EdgesInclusive) {
  add(any_v4(1000, 2000));
  EXPECT_EQ(run(build_frame(v4(999))), kNotOurs);
  EXPECT_EQ(run(build_frame(v4(1000))), kNoSocket);
  EXPECT_EQ(run(build_frame(v4(1500))), kNoSocket);
  EXPECT_EQ(run(build_frame(v4(2000))), kNoSocket);
  EXPECT_EQ(run(build_frame(v4(2001))), kNotOurs);
}

TEST_F(SteerProgram, PortRange_AcrossBitmapWordBoundary) {
  add(any_v4(63, 64));  // last bit of word 0, first bit of word 1
  EXPECT_EQ(run(build_frame(v4(62))), kNotOurs);
  EXPECT_EQ(run(build_frame(v4(63))), kNoSocket);
  EXPECT_EQ(run(build_frame(v4(64))), kNoSocket);
  EXPECT_EQ(run(build_frame(v4(65))), kNotOurs);
}

TEST_F(SteerProgram, ExtremePorts_ZeroAnd65535) {
  add(any_v4(0, 0));
  add(any_v4(65535, 65535));
  EXPECT_EQ(run(build_frame(v4(0))), kNoSocket);
  EXPECT_EQ(run(build_frame(v4(1))), kNotOurs);
  EXPECT_EQ(run(build_frame(v4(65534))), kNotOurs);
  EXPECT_EQ(run(build_frame(v4(65535))), kNoSocket);
}

TEST_F(SteerProgram, MatchUsesDestinationPortNotSource) {
  add(any_v4(80, 80));
  FrameSpec s = v4(12345);
  s.sport = 80;
  EXPECT_EQ(run(build_frame(s)), kNotOurs);
}

TEST_F(SteerProgram, RuleInLastSlot_Matched) {
  // Fill all slots with other ports so that the matching rule is the last one scanned.
  for (std::uint16_t i = 0; i + 1 < XDPTCP_MAX_RULES; ++i)
    add(any_v4(static_cast<std::uint16_t>(5000 + i), 5000 + i));
  add(any_v4(80, 80));
  EXPECT_EQ(run(build_frame(v4(80))), kNoSocket);
}

TEST_F(SteerProgram, Arp_NotOurs) {
  add(any_v4(0, 65535));
  EXPECT_EQ(run(build_arp_frame()), kNotOurs);
}

TEST_F(SteerProgram, IcmpAndUdp_NotOursEvenOnClaimedPort) {
  add(any_v4(0, 65535));
  add(any_v6(0, 65535));
  FrameSpec s = v4(80);
  s.proto = kProtoIcmp;
  EXPECT_EQ(run(build_frame(s)), kNotOurs);
  s.proto = kProtoUdp;
  EXPECT_EQ(run(build_frame(s)), kNotOurs);
  FrameSpec t = v6(80);
  t.proto = kProtoIcmpV6;
  EXPECT_EQ(run(build_frame(t)), kNotOurs);
  t.proto = kProtoUdp;
  EXPECT_EQ(run(build_frame(t)), kNotOurs);
}

TEST_F(SteerProgram, Ipv6ExtensionHeaderBeforeTcp_LeftToKernel) {
  add(any_v6(0, 65535));
  FrameSpec s = v6(80);
  s.proto = kProtoHopByHop;
  EXPECT_EQ(run(build_frame(s)), kNotOurs);
}

// RFC 791 §3.2: MF set or a non-zero offset makes a datagram a fragment; xdptcp does not
// reassemble, so every fragment, the first included, goes to the kernel.
TEST_F(SteerProgram, Ipv4Fragments_NotOurs_DontFragmentStillOurs) {
  add(any_v4(80, 80));
  FrameSpec s = v4(80);
  s.frag_off = 0x2000;  // MF, offset 0: first fragment
  EXPECT_EQ(run(build_frame(s)), kNotOurs);
  s.frag_off = 0x0001;  // last fragment, offset 8 bytes (bytes happen to look like a TCP header)
  EXPECT_EQ(run(build_frame(s)), kNotOurs);
  s.frag_off = 0x3fff;
  EXPECT_EQ(run(build_frame(s)), kNotOurs);
  s.frag_off = 0x4000;  // DF only: not a fragment
  EXPECT_EQ(run(build_frame(s)), kNoSocket);
}

TEST_F(SteerProgram, Ipv4BadIhl_Malformed) {
  add(any_v4(80, 80));
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    FrameSpec s = v4(80);
    s.ihl = ihl;
    EXPECT_EQ(run(build_frame(s)), kMalformed) << "IHL " << int{ihl};
  }
  // IHL 15 (60 bytes) while the total length says 40: options would overlap the TCP header.
  FrameSpec s = v4(80);
  s.ihl = 15;
  s.ip_len = 40;
  EXPECT_EQ(run(build_frame(s)), kMalformed);
}

TEST_F(SteerProgram, Ipv4Options_SkippedToTcp) {
  add(any_v4(80, 80));
  for (std::uint8_t ihl : {6, 10, 15}) {
    FrameSpec s = v4(80);
    s.ihl = ihl;
    EXPECT_EQ(run(build_frame(s)), kNoSocket) << "IHL " << int{ihl};
    s.dport = 81;
    EXPECT_EQ(run(build_frame(s)), kNotOurs) << "IHL " << int{ihl};
  }
}

TEST_F(SteerProgram, WrongIpVersion_Malformed) {
  add(any_v4(80, 80));
  add(any_v6(80, 80));
  FrameSpec s = v4(80);
  s.ip_version = 6;
  EXPECT_EQ(run(build_frame(s)), kMalformed);
  FrameSpec t = v6(80);
  t.ip_version = 4;
  EXPECT_EQ(run(build_frame(t)), kMalformed);
}

// RFC 9293 §3.1: the data offset counts 32-bit words and is at least 5.
TEST_F(SteerProgram, TcpBadDataOffset_Malformed) {
  add(any_v4(80, 80));
  add(any_v6(80, 80));
  for (int family : {4, 6}) {
    for (std::uint8_t doff = 0; doff < 5; ++doff) {
      FrameSpec s = family == 4 ? v4(80) : v6(80);
      s.doff = doff;
      EXPECT_EQ(run(build_frame(s)), kMalformed) << "IPv" << family << " data offset " << int{doff};
    }
    // Data offset beyond the segment: 60 bytes claimed, 20 present.
    FrameSpec s = family == 4 ? v4(80) : v6(80);
    std::vector<std::uint8_t> f = build_frame(s);
    f[f.size() - 8] = 15 << 4;
    EXPECT_EQ(run(f), kMalformed) << "IPv" << family << " data offset 15 in a 20-byte segment";
  }
}

TEST_F(SteerProgram, TcpOptions_Matched) {
  add(any_v4(80, 80));
  add(any_v6(80, 80));
  for (std::uint8_t doff : {6, 15}) {
    FrameSpec s = v4(80);
    s.doff = doff;
    EXPECT_EQ(run(build_frame(s)), kNoSocket);
    FrameSpec t = v6(80);
    t.doff = doff;
    t.payload = 100;
    EXPECT_EQ(run(build_frame(t)), kNoSocket);
  }
}

TEST_F(SteerProgram, Ipv4TotalLength_SmallerThanHeadersOrBeyondFrame_Malformed) {
  add(any_v4(80, 80));
  for (std::uint16_t len : {0, 19, 20, 39, 41, 1500}) {
    FrameSpec s = v4(80);
    s.ip_len = len;
    EXPECT_EQ(run(build_frame(s)), kMalformed) << "total length " << len << " in a 40-byte packet";
  }
}

TEST_F(SteerProgram, EthernetPadding_BeyondIpTotalLength_Ignored) {
  add(any_v4(80, 80));
  FrameSpec s = v4(80);
  s.trailer = 6;  // 54-byte SYN padded to the 60-byte Ethernet minimum
  EXPECT_EQ(run(build_frame(s)), kNoSocket);
}

TEST_F(SteerProgram, Ipv6PayloadLength_TooShortOrBeyondFrame_Malformed) {
  add(any_v6(80, 80));
  for (std::uint16_t len : {0, 19, 21, 1000}) {
    FrameSpec s = v6(80);
    s.ip_len = len;
    EXPECT_EQ(run(build_frame(s)), kMalformed) << "payload length " << len << " for a 20-byte segment";
  }
}

// Every truncation of a claimed frame, at or inside any header, is counted malformed and passed.
// BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header (EINVAL): for those lengths
// the kernel's refusal is what the test checks.
TEST_F(SteerProgram, TruncatedAtEveryLength_MalformedAndPassed) {
  add(any_v4(80, 80));
  add(any_v6(80, 80));
  std::vector<FrameSpec> specs;
  specs.push_back(v4(80));
  specs.push_back(v6(80));
  FrameSpec vlan4 = v4(80);
  vlan4.vlan = 5;
  specs.push_back(vlan4);
  FrameSpec vlan6 = v6(80);
  vlan6.vlan = 5;
  specs.push_back(vlan6);
  FrameSpec opts4 = v4(80);
  opts4.ihl = 7;
  opts4.doff = 8;
  opts4.payload = 10;
  specs.push_back(opts4);
  FrameSpec opts6 = v6(80);
  opts6.doff = 6;
  opts6.payload = 3;
  specs.push_back(opts6);
  for (const FrameSpec& s : specs) {
    const std::vector<std::uint8_t> full = build_frame(s);
    ASSERT_EQ(run(full), kNoSocket) << "the untruncated " << full.size() << "-byte frame";
    for (std::size_t len = 0; len < full.size(); ++len) {
      std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
      Observed o;
      int err = run_raw(cut, o);
      if (len < 14) {
        EXPECT_EQ(err, -EINVAL) << "length " << len;
        continue;
      }
      ASSERT_EQ(err, 0) << "length " << len;
      EXPECT_EQ(o, kMalformed) << "IPv" << s.family << (s.vlan ? " VLAN" : "") << " frame of " << full.size()
                               << " bytes cut to " << len;
    }
  }
}

TEST_F(SteerProgram, Arp_TruncatedStillNotOurs) {
  std::vector<std::uint8_t> arp = build_arp_frame();
  arp.resize(20);  // the program does not parse ARP; the kernel judges it
  EXPECT_EQ(run(arp), kNotOurs);
}

// Whatever the bytes, the program passes or redirects; it never drops or aborts, and every run
// moves SEEN and exactly one outcome counter. Deterministic mutations of claimed frames.
TEST_F(SteerProgram, MutatedFrames_NeverDroppedAndCountedOnce) {
  add(any_v4(0, 65535));
  add(any_v6(0, 65535));
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const std::vector<std::uint8_t> bases[] = {build_frame(v4(80)), build_frame(v6(80))};
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::uint8_t> f = bases[i % 2];
    const int flips = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < flips; ++k) f[14 + next() % (f.size() - 14)] = static_cast<std::uint8_t>(next());
    if (next() % 4 == 0) f.resize(14 + next() % (f.size() - 13));
    Observed o = run(f);
    ASSERT_EQ(o.action, XDP_PASS) << "mutation " << i;
    ASSERT_NE(o.outcome, Outcome::kNoneOrSeveral) << "mutation " << i;
    ASSERT_NE(o.outcome, Outcome::kRedirected) << "mutation " << i;
  }
  const kernel::SteerCounters c = counters();
  EXPECT_EQ(c.seen, 2000u);
  EXPECT_EQ(c.seen, c.redirected + c.pass_not_ours + c.pass_no_socket + c.malformed + c.pass_kernel_flow +
                        c.pass_other_owner + c.pass_draining);
}

// Steering exceptions (xdptcp_kernel_flows): a kernel connection's flow (flow_of: as the program
// sees its segments) stays with the kernel.
TEST_F(SteerProgram, KernelFlowException_ThatFlowPassed_OtherFlowsToThePortSteered) {
  add(any_v4(80, 80));
  add(any_v6(80, 80));
  for (const FrameSpec& base : {v4(80), v6(80)}) {
    SCOPED_TRACE(base.family);
    FrameSpec kept = base;
    kept.sport = 40001;
    ASSERT_TRUE(kernel::add_kernel_flow(maps_, flow_of(kept)).ok());
    EXPECT_EQ(run(build_frame(kept)), kKernelFlow);
    FrameSpec other_port = base;  // same hosts, another source port
    other_port.sport = 40002;
    EXPECT_EQ(run(build_frame(other_port)), kNoSocket);
    FrameSpec other_host = kept;  // same ports, another source address
    if (base.family == 4) {
      other_host.src4[3] = 9;
    } else {
      other_host.src6[15] = 9;
    }
    EXPECT_EQ(run(build_frame(other_host)), kNoSocket);
    FrameSpec reversed = kept;  // the ports swapped: not the same flow
    reversed.sport = kept.dport;
    reversed.dport = kept.sport;
    EXPECT_EQ(run(build_frame(reversed)), kNotOurs);
  }
}

TEST_F(SteerProgram, KernelFlowException_WithoutRule_NotOurs_AndRemovedExceptionSteersAgain) {
  FrameSpec kept = v4(8080);
  ASSERT_TRUE(kernel::add_kernel_flow(maps_, flow_of(kept)).ok());
  EXPECT_EQ(run(build_frame(kept)), kNotOurs);  // no rule: the exception is never consulted
  add(any_v4(8080, 8080));
  EXPECT_EQ(run(build_frame(kept)), kKernelFlow);
  auto has = kernel::has_kernel_flow(maps_, flow_of(kept));
  ASSERT_TRUE(has.ok());
  EXPECT_TRUE(has.value());
  ASSERT_TRUE(kernel::del_kernel_flow(maps_, flow_of(kept)).ok());
  EXPECT_TRUE(kernel::del_kernel_flow(maps_, flow_of(kept)).ok()) << "removing twice is no error";
  EXPECT_EQ(run(build_frame(kept)), kNoSocket);
  const kernel::SteerCounters c = counters();
  EXPECT_EQ(c.pass_kernel_flow, 1u);
}

TEST_F(SteerProgram, KernelFlowException_MixedFamilies_Refused) {
  wire::FourTuple t = flow_of(v4(80));
  t.remote.ip = wire::IpAddr::v6_bytes(kSrc6.data());
  auto r = kernel::add_kernel_flow(maps_, t);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EINVAL);
}

// A set pinned by an older xdptcp has no exception maps (open_pinned leaves them at -1): adding an
// exception says to re-attach.
TEST_F(SteerProgram, KernelFlowException_OlderPinnedSet_ClearError) {
  kernel::SteerMapFds old = maps_;
  old.kernel_flows = -1;
  old.config = -1;
  auto r = kernel::add_kernel_flow(old, flow_of(v4(80)));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, EBADF);
  EXPECT_NE(r.error().message.find("re-attach"), std::string::npos) << r.error().message;
}

// The map is bounded: an LRU hash of XDPTCP_MAX_KERNEL_FLOWS entries, so adding beyond the bound
// evicts old entries instead of failing, and the newest exception still works.
TEST_F(SteerProgram, KernelFlowMap_BoundedLruEvictsInsteadOfFailing) {
  bpf_map_info info{};
  __u32 len = sizeof info;
  ASSERT_EQ(bpf_obj_get_info_by_fd(maps_.kernel_flows, &info, &len), 0);
  EXPECT_EQ(info.type, BPF_MAP_TYPE_LRU_HASH);
  EXPECT_EQ(info.max_entries, static_cast<__u32>(XDPTCP_MAX_KERNEL_FLOWS));
  add(any_v4(80, 80));
  FrameSpec s = v4(80);
  const unsigned total = XDPTCP_MAX_KERNEL_FLOWS + 1000;
  for (unsigned i = 0; i < total; ++i) {
    s.src4 = {10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
              static_cast<std::uint8_t>(i)};
    auto r = kernel::add_kernel_flow(maps_, flow_of(s));
    ASSERT_TRUE(r.ok()) << "exception " << i << ": " << r.error().describe();
  }
  xdptcp_flow_key key{};
  xdptcp_flow_key next{};
  unsigned entries = 0;
  const void* prev = nullptr;
  while (bpf_map_get_next_key(maps_.kernel_flows, prev, &next) == 0) {
    key = next;
    prev = &key;
    ++entries;
  }
  EXPECT_LE(entries, static_cast<unsigned>(XDPTCP_MAX_KERNEL_FLOWS));
  EXPECT_GT(entries, 0u);
  EXPECT_EQ(run(build_frame(s)), kKernelFlow) << "the newest exception";
}

}  // namespace
}  // namespace xdptcp::test
