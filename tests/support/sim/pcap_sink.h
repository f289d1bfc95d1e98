// PcapSink: a tcp::PacketSink decorator that copies every packet it passes on into a pcap file
// (smoltcp's phy::PcapWriter idea), stamped with the clock's time. Used by SimNetwork when
// XDPTCP_SIM_PCAP is set; it works in front of any sink.
#pragma once

#include "tests/support/sim/pcap_writer.h"
#include "userstack/tcp/tcp_stack.h"

namespace xdptcp::sim {

class PcapSink final : public tcp::PacketSink {
 public:
  PcapSink(tcp::PacketSink& inner, PcapWriter& writer, const Clock& clock)
      : inner_(inner), writer_(writer), clock_(clock) {}

  std::span<std::uint8_t> tx_acquire() override {
    last_ = inner_.tx_acquire();
    return last_;
  }
  void tx_commit(std::size_t len) override {
    if (len <= last_.size()) writer_.write(last_.first(len), clock_.now());
    inner_.tx_commit(len);
  }

 private:
  tcp::PacketSink& inner_;
  PcapWriter& writer_;
  const Clock& clock_;
  std::span<std::uint8_t> last_;
};

}  // namespace xdptcp::sim
