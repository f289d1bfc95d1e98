# The TCP core on simulated links (included by CMakeLists.txt once userstack/tcp builds).
xdptcp_gtest(sim_tcp_property_test LABEL sim TIMEOUT 300
  SOURCES tcp_property_test.cpp leak_reporter.cpp
  LIBS xdptcp_sim xdptcp_tcp xdptcp_wire)
xdptcp_gtest(sim_tcp_scenario_test LABEL sim
  SOURCES tcp_scenario_test.cpp leak_reporter.cpp
  LIBS xdptcp_sim xdptcp_tcp xdptcp_wire)
xdptcp_gtest(sim_tcp_alloc_test LABEL sim
  SOURCES tcp_alloc_test.cpp leak_reporter.cpp
  LIBS xdptcp_sim xdptcp_tcp xdptcp_wire)
xdptcp_gtest(sim_tcp_loss_throughput_test LABEL sim
  SOURCES tcp_loss_throughput_test.cpp leak_reporter.cpp
  LIBS xdptcp_sim xdptcp_tcp xdptcp_wire)
xdptcp_gtest(sim_tcp_siblings_test LABEL sim
  SOURCES tcp_siblings_test.cpp leak_reporter.cpp
  LIBS xdptcp_sim xdptcp_tcp xdptcp_wire)
xdptcp_gtest(sim_tcp_memory_test LABEL sim
  SOURCES tcp_memory_test.cpp
  LIBS xdptcp_sim xdptcp_tcp xdptcp_wire)
xdptcp_gtest(sim_tcp_autotune_test LABEL sim
  SOURCES tcp_autotune_test.cpp
  LIBS xdptcp_sim xdptcp_tcp xdptcp_wire)
