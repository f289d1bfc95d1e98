// `xdptcp-ctl stats`: what it reads (the steering program's counters and the stats regions of the
// processes on the interface, userstack/engine/stats_region.h) and how it prints them: text, JSON,
// the Prometheus text exposition format, and rates per second for --watch. The printing is kept
// apart from the reading so that tests/unit/ctl can check it without root.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "userstack/engine/stats_region.h"
#include "userstack/kernel/steer_rules.h"

namespace xdptcp::ctl {

// One look at an interface.
struct StatsSample {
  std::string iface;
  std::optional<kernel::SteerCounters> xdp;  // nullopt: the program's maps could not be read
  std::string xdp_error;                     // ... and why
  engine::RegionListing regions;
  std::vector<std::string> removed;  // files --clean removed (stale regions, dead temporaries)
  std::vector<std::string> clean_errors;
  std::int64_t monotonic_ns = 0;  // CLOCK_MONOTONIC when taken (the engines' clock): publish ages
};

// The description of a region counter ("tcp.segments_in"), "" when unknown (a newer writer's).
std::string_view counter_help(std::string_view name);

// The XDP program's counters by name, in the order of `enum xdptcp_counter` (steer_abi.h): the one
// list that stats, status, JSON and Prometheus all print.
std::vector<std::pair<const char*, std::uint64_t>> xdp_rows(const kernel::SteerCounters& c);

nlohmann::json stats_json(const StatsSample& s);
void print_stats_text(std::ostream& out, const StatsSample& s);
void print_prometheus(std::ostream& out, const StatsSample& s);

// --watch: rates per second between two samples `seconds` apart. Processes and engines present in
// both only (matched by pid, start time and engine index).
nlohmann::json rates_json(const StatsSample& before, const StatsSample& after, double seconds);
void print_rates_text(std::ostream& out, const StatsSample& before, const StatsSample& after, double seconds);

// For `status`: "2 live, 1 stale" and the stale ones' paths; empty when there is no region.
std::string regions_summary(const engine::RegionListing& l, const std::string& iface);
nlohmann::json regions_status_json(const engine::RegionListing& l);

}  // namespace xdptcp::ctl
