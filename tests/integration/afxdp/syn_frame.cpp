// Hand-built TCP/IPv4 frames for the AF_XDP tests; see syn_frame.h.
#include "integration/afxdp/syn_frame.h"

#include "userstack/wire/ip.h"
#include "userstack/wire/tcp_header.h"

namespace xdptcp::test {

std::size_t build_ipv4_tcp(const SegmentSpec& spec, std::span<std::uint8_t> out) {
  wire::TcpRepr tcp;
  tcp.src_port = spec.src_port;
  tcp.dst_port = spec.dst_port;
  tcp.seq = spec.seq;
  tcp.ack = spec.ack;
  tcp.flags = spec.flags;
  tcp.window = 64240;
  if ((spec.flags & wire::tcp_flags::kSyn) != 0) tcp.options.mss = spec.mss;
  const std::size_t tcp_len = tcp.header_len();
  const std::size_t total = wire::kEthHeader + wire::kIpv4MinHeader + tcp_len;
  if (out.size() < total) return 0;

  std::size_t off = wire::emit_ethernet(spec.dst_mac, spec.src_mac, wire::kEtherTypeIpv4, std::nullopt, out);
  wire::IpHeaderSpec ip;
  ip.src = spec.src_ip;
  ip.dst = spec.dst_ip;
  ip.protocol = wire::kIpProtoTcp;
  ip.payload_len = static_cast<std::uint16_t>(tcp_len);
  ip.ident = static_cast<std::uint16_t>(spec.src_port);
  off += wire::emit_ip(ip, out.subspan(off));
  const std::span<std::uint8_t> segment = out.subspan(off, tcp_len);
  if (wire::emit_tcp(tcp, segment) != tcp_len) return 0;
  wire::tcp_fill_checksum(spec.src_ip, spec.dst_ip, segment);
  return total;
}

std::optional<SeenSegment> read_ipv4_tcp(std::span<const std::uint8_t> frame) {
  const auto eth = wire::parse_ethernet(frame);
  if (!eth || eth->ether_type != wire::kEtherTypeIpv4) return std::nullopt;
  const auto ip = wire::parse_ip(eth->payload);
  if (!ip || ip->protocol != wire::kIpProtoTcp) return std::nullopt;
  if (!wire::tcp_checksum_ok(ip->src, ip->dst, ip->payload)) return std::nullopt;
  const auto tcp = wire::parse_tcp(ip->payload);
  if (!tcp) return std::nullopt;
  SeenSegment s;
  s.src_ip = ip->src;
  s.dst_ip = ip->dst;
  s.src_port = tcp->repr.src_port;
  s.dst_port = tcp->repr.dst_port;
  s.seq = tcp->repr.seq;
  s.ack = tcp->repr.ack;
  s.flags = tcp->repr.flags;
  return s;
}

}  // namespace xdptcp::test
