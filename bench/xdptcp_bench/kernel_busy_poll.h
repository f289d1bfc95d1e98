// The kernel's busy polling for a latency-tuned kernel server or client (--busy-poll), so that a
// busy-poll comparison gives the kernel the same treatment xdptcp's spinning engines get: the
// thread spins in epoll_wait(0) on its own core, and the kernel polls the device's NAPI context
// from that thread instead of waiting for the softirq to deliver:
//  - per socket SO_BUSY_POLL (microseconds a read or poll may spin on the socket's NAPI; accepted
//    sockets inherit the listener's), SO_PREFER_BUSY_POLL and SO_BUSY_POLL_BUDGET (Linux 5.11);
//  - per epoll instance the EPIOCSPARAMS ioctl (Linux 6.9), which turns busy polling on for
//    epoll_wait without the machine-wide net.core.busy_poll / net.core.busy_read sysctls (left
//    untouched: the machine is shared).
// Each setting that the kernel refuses is reported, not fatal (older kernels lack the newer ones).
#pragma once

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

namespace xdptcp::bench {

inline constexpr int kBusyPollUs = 50;        // as the kernel documentation suggests for sockets
inline constexpr int kBusyPollBudget = 64;    // packets per poll (the NAPI default)
inline constexpr int kSoPreferBusyPoll = 69;  // SO_PREFER_BUSY_POLL, Linux 5.11
inline constexpr int kSoBusyPollBudget = 70;  // SO_BUSY_POLL_BUDGET, Linux 5.11

// struct epoll_params of <linux/eventpoll.h> (Linux 6.9); Debian 12's headers predate it.
struct EpollParams {
  std::uint32_t busy_poll_usecs;
  std::uint16_t busy_poll_budget;
  std::uint8_t prefer_busy_poll;
  std::uint8_t pad;
};
inline constexpr unsigned long kEpiocsparams = _IOW(0x8A, 0x01, EpollParams);  // EPIOCSPARAMS

// Sets the socket's busy-poll options; returns "" or what failed.
inline std::string busy_poll_socket(int fd) {
  std::string failed;
  const int us = kBusyPollUs, one = 1, budget = kBusyPollBudget;
  if (::setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &us, sizeof us) < 0)
    failed += std::string(" SO_BUSY_POLL: ") + std::strerror(errno) + ";";
  if (::setsockopt(fd, SOL_SOCKET, kSoPreferBusyPoll, &one, sizeof one) < 0)
    failed += std::string(" SO_PREFER_BUSY_POLL: ") + std::strerror(errno) + ";";
  if (::setsockopt(fd, SOL_SOCKET, kSoBusyPollBudget, &budget, sizeof budget) < 0)
    failed += std::string(" SO_BUSY_POLL_BUDGET: ") + std::strerror(errno) + ";";
  return failed;
}

// Turns busy polling on for an epoll instance; returns "" or what failed.
inline std::string busy_poll_epoll(int ep) {
  EpollParams p{};
  p.busy_poll_usecs = kBusyPollUs;
  p.busy_poll_budget = kBusyPollBudget;
  p.prefer_busy_poll = 1;
  if (::ioctl(ep, kEpiocsparams, &p) < 0) return std::string(" EPIOCSPARAMS: ") + std::strerror(errno) + ";";
  return "";
}

}  // namespace xdptcp::bench
