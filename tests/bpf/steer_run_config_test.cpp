// The steering program's libxdp metadata (XDP_RUN_CONFIG in bpf/steer.bpf.c), as libxdp reads it
// from the object embedded in the skeleton: its priority under the multi-program dispatcher, and
// that the next program runs after ours returns XDP_PASS (and only then). Needs no privileges.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <xdp/libxdp.h>

#include <cstddef>

#include "bpf/steer_fixture.h"
#include "steer.skel.h"
#include "xdptcp/steer_abi.h"

namespace {

TEST(SteerRunConfig, LibxdpReadsPriorityAndChainCallOnPassOnly) {
  libbpf_set_print(xdptcp::test::quiet_libbpf);
  std::size_t size = 0;
  const void* elf = steer::elf_bytes(&size);
  bpf_object_open_opts opts{};
  opts.sz = sizeof opts;
  opts.object_name = "steer";
  bpf_object* obj = bpf_object__open_mem(elf, size, &opts);
  ASSERT_NE(obj, nullptr);
  xdp_program* prog = xdp_program__from_bpf_obj(obj, "xdp");
  ASSERT_EQ(libxdp_get_error(prog), 0);
  EXPECT_STREQ(xdp_program__name(prog), XDPTCP_PROG_NAME);
  EXPECT_EQ(xdp_program__run_prio(prog), 10u);
  EXPECT_TRUE(xdp_program__chain_call_enabled(prog, XDP_PASS));
  EXPECT_FALSE(xdp_program__chain_call_enabled(prog, XDP_REDIRECT));
  EXPECT_FALSE(xdp_program__chain_call_enabled(prog, XDP_DROP));
  xdp_program__close(prog);
  bpf_object__close(obj);
}

}  // namespace
