// The counters an engine publishes into its stats region slot (stats_region.h), in slot order:
// EngineStats ("engine."), io::IoStats ("io."), tcp::TcpStats without its drops ("tcp."), then one
// per tcp::DropReason by index ("drop." and the reason's name). The names go into the region's
// names table, so readers need not know this order; it is fixed here and documented in
// docs/xdptcp-ctl.md. New counters go at the end of their group.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "userstack/engine/engine.h"
#include "userstack/engine/stats_region.h"
#include "userstack/io/packet_io.h"
#include "userstack/tcp/tcp_stats.h"

namespace xdptcp::engine::counters {

template <typename S>
struct Field {
  std::string_view name;
  std::uint64_t S::*member;
};

inline constexpr std::array kEngine = {
    Field<EngineStats>{"iterations", &EngineStats::iterations},
    Field<EngineStats>{"rx_frames", &EngineStats::rx_frames},
    Field<EngineStats>{"rx_not_ip", &EngineStats::rx_not_ip},
    Field<EngineStats>{"rx_bad_ethernet", &EngineStats::rx_bad_ethernet},
    Field<EngineStats>{"tx_frames", &EngineStats::tx_frames},
    Field<EngineStats>{"tx_no_neighbor", &EngineStats::tx_no_neighbor},
    Field<EngineStats>{"resolver_failures", &EngineStats::resolver_failures},
    Field<EngineStats>{"l2_pending_full", &EngineStats::l2_pending_full},
    Field<EngineStats>{"l2_resolved", &EngineStats::l2_resolved},
    Field<EngineStats>{"l2_held", &EngineStats::l2_held},
    Field<EngineStats>{"l2_held_sent", &EngineStats::l2_held_sent},
    Field<EngineStats>{"l2_held_drops", &EngineStats::l2_held_drops},
    Field<EngineStats>{"handoffs_out", &EngineStats::handoffs_out},
    Field<EngineStats>{"handoffs_in", &EngineStats::handoffs_in},
    Field<EngineStats>{"handoff_drops", &EngineStats::handoff_drops},
    Field<EngineStats>{"sleeps", &EngineStats::sleeps},
    Field<EngineStats>{"flow_directory_full", &EngineStats::flow_directory_full},
    Field<EngineStats>{"capture_frames", &EngineStats::capture_frames},
    Field<EngineStats>{"capture_lost", &EngineStats::capture_lost},
    Field<EngineStats>{"tx_no_route", &EngineStats::tx_no_route},
    Field<EngineStats>{"neighbor_evictions", &EngineStats::neighbor_evictions},
    Field<EngineStats>{"l2_learned", &EngineStats::l2_learned},
};
// A counter added to EngineStats without a name here would be missing from the region.
static_assert(kEngine.size() * sizeof(std::uint64_t) == sizeof(EngineStats),
              "every EngineStats counter needs its entry in engine_counters.h");

inline constexpr std::array kIo = {
    Field<io::IoStats>{"rx_frames", &io::IoStats::rx_frames},
    Field<io::IoStats>{"tx_frames", &io::IoStats::tx_frames},
    Field<io::IoStats>{"tx_no_buffer", &io::IoStats::tx_no_buffer},
    Field<io::IoStats>{"kicks", &io::IoStats::kicks},
    Field<io::IoStats>{"fill_wakeups", &io::IoStats::fill_wakeups},
    Field<io::IoStats>{"rx_dropped", &io::IoStats::rx_dropped},
    Field<io::IoStats>{"rx_invalid", &io::IoStats::rx_invalid},
    Field<io::IoStats>{"rx_fill_empty", &io::IoStats::rx_fill_empty},
    Field<io::IoStats>{"rx_ring_full", &io::IoStats::rx_ring_full},
    Field<io::IoStats>{"tx_invalid", &io::IoStats::tx_invalid},
};
static_assert(kIo.size() * sizeof(std::uint64_t) == sizeof(io::IoStats),
              "every io::IoStats counter needs its entry in engine_counters.h");

inline constexpr std::array kTcp = {
    Field<tcp::TcpStats>{"segments_in", &tcp::TcpStats::segments_in},
    Field<tcp::TcpStats>{"segments_out", &tcp::TcpStats::segments_out},
    Field<tcp::TcpStats>{"data_bytes_in", &tcp::TcpStats::data_bytes_in},
    Field<tcp::TcpStats>{"data_bytes_out", &tcp::TcpStats::data_bytes_out},
    Field<tcp::TcpStats>{"retransmits", &tcp::TcpStats::retransmits},
    Field<tcp::TcpStats>{"fast_retransmits", &tcp::TcpStats::fast_retransmits},
    Field<tcp::TcpStats>{"sack_recoveries", &tcp::TcpStats::sack_recoveries},
    Field<tcp::TcpStats>{"rtos", &tcp::TcpStats::rtos},
    Field<tcp::TcpStats>{"tlp_probes", &tcp::TcpStats::tlp_probes},
    Field<tcp::TcpStats>{"tlp_recoveries", &tcp::TcpStats::tlp_recoveries},
    Field<tcp::TcpStats>{"rack_reo_timeouts", &tcp::TcpStats::rack_reo_timeouts},
    Field<tcp::TcpStats>{"rescue_retransmits", &tcp::TcpStats::rescue_retransmits},
    Field<tcp::TcpStats>{"dsacks_out", &tcp::TcpStats::dsacks_out},
    Field<tcp::TcpStats>{"dsacks_in", &tcp::TcpStats::dsacks_in},
    Field<tcp::TcpStats>{"spurious_undos", &tcp::TcpStats::spurious_undos},
    Field<tcp::TcpStats>{"persist_probes", &tcp::TcpStats::persist_probes},
    Field<tcp::TcpStats>{"keepalive_probes", &tcp::TcpStats::keepalive_probes},
    Field<tcp::TcpStats>{"delayed_acks", &tcp::TcpStats::delayed_acks},
    Field<tcp::TcpStats>{"challenge_acks", &tcp::TcpStats::challenge_acks},
    Field<tcp::TcpStats>{"challenge_acks_limited", &tcp::TcpStats::challenge_acks_limited},
    Field<tcp::TcpStats>{"challenge_acks_socket_limited", &tcp::TcpStats::challenge_acks_socket_limited},
    Field<tcp::TcpStats>{"rsts_out", &tcp::TcpStats::rsts_out},
    Field<tcp::TcpStats>{"rsts_in", &tcp::TcpStats::rsts_in},
    Field<tcp::TcpStats>{"cookies_sent", &tcp::TcpStats::cookies_sent},
    Field<tcp::TcpStats>{"cookies_accepted", &tcp::TcpStats::cookies_accepted},
    Field<tcp::TcpStats>{"conns_opened", &tcp::TcpStats::conns_opened},
    Field<tcp::TcpStats>{"conns_accepted", &tcp::TcpStats::conns_accepted},
    Field<tcp::TcpStats>{"conns_reset", &tcp::TcpStats::conns_reset},
    Field<tcp::TcpStats>{"conns_timed_out", &tcp::TcpStats::conns_timed_out},
    Field<tcp::TcpStats>{"conns_refused", &tcp::TcpStats::conns_refused},
    Field<tcp::TcpStats>{"time_wait_recycled", &tcp::TcpStats::time_wait_recycled},
    Field<tcp::TcpStats>{"time_wait_reused", &tcp::TcpStats::time_wait_reused},
    Field<tcp::TcpStats>{"port_filter_fallbacks", &tcp::TcpStats::port_filter_fallbacks},
    Field<tcp::TcpStats>{"tx_buffer_unavailable", &tcp::TcpStats::tx_buffer_unavailable},
    Field<tcp::TcpStats>{"tx_oversize", &tcp::TcpStats::tx_oversize},
    Field<tcp::TcpStats>{"mem_pressure_clamped", &tcp::TcpStats::mem_pressure_clamped},
};
inline constexpr std::size_t kDrops = static_cast<std::size_t>(tcp::DropReason::kCount);
static_assert((kTcp.size() + kDrops) * sizeof(std::uint64_t) == sizeof(tcp::TcpStats),
              "every tcp::TcpStats counter needs its entry in engine_counters.h");

inline constexpr std::size_t kCount = kEngine.size() + kIo.size() + kTcp.size() + kDrops;

// "engine.iterations", ..., "drop.sibling_flow": the region's names table.
inline std::vector<std::string> names() {
  std::vector<std::string> out;
  out.reserve(kCount);
  for (const auto& f : kEngine) out.push_back("engine." + std::string(f.name));
  for (const auto& f : kIo) out.push_back("io." + std::string(f.name));
  for (const auto& f : kTcp) out.push_back("tcp." + std::string(f.name));
  for (std::size_t r = 0; r < kDrops; ++r)
    out.push_back("drop." + std::string(tcp::to_string(static_cast<tcp::DropReason>(r))));
  return out;
}

// The values in names() order.
inline void fill(std::span<std::uint64_t, kCount> out, const EngineStats& e, const io::IoStats& io,
                 const tcp::TcpStats& t) {
  std::size_t i = 0;
  for (const auto& f : kEngine) out[i++] = e.*f.member;
  for (const auto& f : kIo) out[i++] = io.*f.member;
  for (const auto& f : kTcp) out[i++] = t.*f.member;
  for (const std::uint64_t d : t.drops) out[i++] = d;
}

// Connection snapshot entries per engine (xdptcp-ctl ss): the stack's max_sockets, so that every
// socket an application may hold fits (TCBs beyond, such as TIME-WAIT, are counted as truncated),
// up to a bound on the file (256 bytes an entry, sparse until written).
inline constexpr std::size_t kMaxConnCapacity = std::size_t{1} << 18;

// The stats region of a stack's engines (Stack::create), or nullptr with a warning on stderr.
inline std::unique_ptr<StatsRegion> create_stats_region(const std::string& iface, unsigned engines,
                                                        const std::vector<unsigned>& queues,
                                                        std::size_t max_sockets = 16384) {
  return create_stats_region_or_warn(
      {.iface = iface,
       .engines = engines,
       .queues = queues,
       .names = names(),
       .conn_capacity = static_cast<std::uint32_t>(std::min(max_sockets, kMaxConnCapacity)),
       .capture_slots = capture::kDefaultSlots});
}

}  // namespace xdptcp::engine::counters
