// The neighbour model against the kernel (issue 11 item 3; root): a real stack (AF_XDP on a sandbox
// veth, the production KernelResolver and route table) serves a kernel client in the peer
// namespace. An attacker on the peer's link sends a SYN with the client's source address from its
// own MAC (a raw AF_PACKET frame). Before, the engine learned client -> attacker's MAC from it and
// sent the client's replies there, which the client's veth dropped (not its MAC): the connection
// starved. Now nothing is learned from a segment TCP did not accept, and the replies arrive.
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "support/netns/netns_util.h"
#include "xdptcp/xdptcp.hpp"

namespace xdptcp {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The kernel client: connects, sends a line, then waits (sending nothing) for the server's line.
constexpr const char* kClient = R"(
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"hi\n")
print("sent", flush=True)
s.settimeout(10)  # longer than the test waits: on a loaded machine the steps before take a while
buf = b""
try:
    while b"\n" not in buf:
        d = s.recv(100)
        if not d:
            break
        buf += d
    print("got " + buf.decode().strip(), flush=True)
except socket.timeout:
    print("timeout", flush=True)
)";

// The attacker: an Ethernet frame from a MAC of its own, carrying a SYN from the client's address
// (a new source port) to the stack's listening port, with correct IP and TCP checksums.
constexpr const char* kForge = R"(
import socket, struct, sys
iface, dst_mac, src_ip, dst_ip, dport = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
src, dst = socket.inet_aton(src_ip), socket.inet_aton(dst_ip)
tcp = struct.pack("!HHIIBBHHH", 40404, dport, 12345, 0, 5 << 4, 0x02, 65535, 0, 0)
tcp = tcp[:16] + struct.pack("!H", csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, src, dst)
ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
eth = bytes.fromhex(dst_mac.replace(":", "")) + bytes.fromhex("02bad0000066") + b"\x08\x00"
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
s.send(eth + ip + tcp)
print("forged", flush=True)
)";

std::string write_script(const std::string& name, const char* text) {
  std::string path = "/tmp/xdptcp-" + name + "-" + std::to_string(getpid()) + ".py";
  std::ofstream(path) << text;
  return path;
}

std::string read_line(const std::string& path) {
  std::string s;
  std::getline(std::ifstream(path), s);
  return s;
}

TEST(KernelNeighborTest, ForgedFrameFromThePeersLink_DoesNotRedirectReplies) {
  if (!test::is_root()) GTEST_SKIP() << "needs root: creates network namespaces, veth pairs and XDP programs";
  test::Sandbox sb({.name = "lt1", .queues = 1});
  ASSERT_TRUE(sb.up().ok());
  constexpr std::uint16_t kPort = 7411;

  StackOptions o;
  o.iface = sb.iface();
  o.engines = 1;
  o.pin_cores = false;
  std::string error;
  auto stack = Stack::create(o, &error);
  ASSERT_TRUE(stack) << error;
  Context* ctx = stack->drive(&error);
  ASSERT_NE(ctx, nullptr) << error;
  const int l = ctx->socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(kPort);
  inet_pton(AF_INET, sb.stack_ip4().c_str(), &a.sin_addr);
  ASSERT_EQ(ctx->bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(ctx->listen(l, 16), 0);
  const int ep = ctx->epoll_create();
  const auto drive_for = [&](milliseconds d, const auto& until) {
    const auto end = Clock::now() + d;
    while (Clock::now() < end && !until()) {
      epoll_event out[4];
      (void)ctx->epoll_wait(ep, out, 4, 5);
    }
    return until();
  };

  const std::string client_py = write_script("lt-client", kClient);
  const std::string forge_py = write_script("lt-forge", kForge);
  test::BackgroundCommand client(test::in_netns(
      sb.peer_ns(), "exec python3 " + client_py + " " + sb.stack_ip4() + " " + std::to_string(kPort)));
  int s = -1;
  std::string got;
  ASSERT_TRUE(drive_for(milliseconds(5000), [&] {
    if (s < 0) s = ctx->accept(l, nullptr, nullptr);
    char buf[64];
    if (s >= 0) {
      for (ssize_t r; (r = ctx->read(s, buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(r));
    }
    return got == "hi\n";
  })) << client.output();

  // Our ACK of the line goes out (the engine holds an ACK for the application's turn), so that the
  // client has nothing left to retransmit: from here on it only listens.
  drive_for(milliseconds(100), [] { return false; });

  // The forgery, then a moment for the stack to take it in (and answer the SYN).
  const std::string mac = read_line("/sys/class/net/" + sb.iface() + "/address");
  const test::CommandResult f =
      sb.in_peer("python3 " + forge_py + " " + sb.var("PEER_IFACE") + " " + mac + " " + sb.peer_ip4() + " " +
                 sb.stack_ip4() + " " + std::to_string(kPort));
  ASSERT_TRUE(f.ok() && f.output.find("forged") != std::string::npos) << f.output;
  drive_for(milliseconds(200), [] { return false; });

  // The server speaks first; the client has nothing more to say, so none of its frames would set a
  // poisoned entry right: the line arrives only if the replies still go to the client's MAC.
  ASSERT_EQ(ctx->write(s, "pong\n", 5), 5);
  EXPECT_TRUE(drive_for(milliseconds(5000), [&] { return !client.running(); }));
  EXPECT_NE(client.output().find("got pong"), std::string::npos) << client.output();
  ctx->close(s);
  ctx->close(l);
  ctx->close(ep);
  unlink(client_py.c_str());
  unlink(forge_py.c_str());
}

}  // namespace
}  // namespace xdptcp
