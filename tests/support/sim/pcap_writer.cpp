// PcapWriter: see pcap_writer.h.
#include "tests/support/sim/pcap_writer.h"

#include <cstdlib>
#include <cstring>

namespace xdptcp::sim {
namespace {

void put32(std::uint8_t* p, std::uint32_t v) {
  std::memcpy(p, &v, 4);
}  // host order, as the magic
void put16(std::uint8_t* p, std::uint16_t v) {
  std::memcpy(p, &v, 2);
}

}  // namespace

Result<PcapWriter> PcapWriter::open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return errno_error("cannot create pcap file " + path +
                       " (XDPTCP_SIM_PCAP must name an existing, writable folder)");
  }
  std::uint8_t h[24];
  put32(h, kPcapMagicNanos);
  put16(h + 4, 2);  // version 2.4
  put16(h + 6, 4);
  put32(h + 8, 0);   // thiszone
  put32(h + 12, 0);  // sigfigs
  put32(h + 16, kPcapSnapLen);
  put32(h + 20, kLinkTypeRaw);
  if (std::fwrite(h, 1, sizeof h, f) != sizeof h) {
    std::fclose(f);
    return errno_error("cannot write pcap header to " + path);
  }
  return PcapWriter(f);
}

PcapWriter::~PcapWriter() {
  if (f_ != nullptr) std::fclose(f_);
}

void PcapWriter::write(std::span<const std::uint8_t> ip_packet, Instant t) {
  if (f_ == nullptr) return;
  const std::size_t incl = ip_packet.size() < kPcapSnapLen ? ip_packet.size() : kPcapSnapLen;
  const std::int64_t ns = t.ns < 0 ? 0 : t.ns;
  std::uint8_t h[16];
  put32(h, static_cast<std::uint32_t>(ns / 1'000'000'000));
  put32(h + 4, static_cast<std::uint32_t>(ns % 1'000'000'000));
  put32(h + 8, static_cast<std::uint32_t>(incl));
  put32(h + 12, static_cast<std::uint32_t>(ip_packet.size()));
  std::fwrite(h, 1, sizeof h, f_);
  std::fwrite(ip_packet.data(), 1, incl, f_);
  ++packets_;
}

void PcapWriter::flush() {
  if (f_ != nullptr) std::fflush(f_);
}

std::optional<std::string> pcap_dir_from_env() {
  const char* d = std::getenv("XDPTCP_SIM_PCAP");
  if (d == nullptr || *d == '\0') return std::nullopt;
  return std::string(d);
}

std::string pcap_path(std::string_view dir, std::string_view run_name) {
  std::string name;
  name.reserve(run_name.size() + 5);
  for (char c : run_name) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    name.push_back(safe ? c : '_');
  }
  if (name.empty()) name = "sim";
  std::string path(dir);
  if (!path.empty() && path.back() != '/') path.push_back('/');
  return path + name + ".pcap";
}

}  // namespace xdptcp::sim
