// libFuzzer target for the receive parse chain: parse_ethernet -> parse_ip -> parse_tcp ->
// tcp_checksum_ok, plus ARP. Besides "no crash, no out-of-bounds read" (ASan), it checks that
// whatever parses re-emits to a header that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "userstack/wire/checksum.h"
#include "userstack/wire/ethernet.h"
#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

using namespace xdptcp::wire;

namespace {

void check_tcp_round_trip(const TcpRepr& r) {
  // emit_tcp may trim SACK blocks that do not fit beside the other options; compare after
  // one emit/parse cycle, which must then be a fixed point.
  std::uint8_t buf[kTcpMaxHeader];
  const std::size_t n = emit_tcp(r, buf);
  if (n < kTcpMinHeader || n > kTcpMaxHeader || n != r.header_len()) std::abort();
  auto again = parse_tcp(std::span<const std::uint8_t>(buf, n));
  if (!again) std::abort();
  std::uint8_t buf2[kTcpMaxHeader];
  const std::size_t n2 = emit_tcp(again->repr, buf2);
  if (n2 != n) std::abort();
  auto third = parse_tcp(std::span<const std::uint8_t>(buf2, n2));
  if (!third || !(third->repr == again->repr)) std::abort();
  // Fixed fields always survive.
  if (again->repr.seq != r.seq || again->repr.ack != r.ack || again->repr.flags != r.flags) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> frame(data, size);
  auto eth = parse_ethernet(frame);
  if (!eth) return 0;
  if (eth->ether_type == kEtherTypeArp) {
    (void)parse_arp(eth->payload);
    return 0;
  }
  auto ip = parse_ip(eth->payload);
  if (!ip) return 0;
  if (ip->payload.data() < eth->payload.data() ||
      ip->payload.data() + ip->payload.size() > eth->payload.data() + eth->payload.size()) {
    std::abort();
  }
  if (ip->protocol != kIpProtoTcp) return 0;
  auto tcp = parse_tcp(ip->payload);
  if (!tcp) return 0;
  if (tcp->header_len + tcp->payload.size() != ip->payload.size()) std::abort();
  (void)tcp_checksum_ok(ip->src, ip->dst, ip->payload);
  check_tcp_round_trip(tcp->repr);
  return 0;
}
