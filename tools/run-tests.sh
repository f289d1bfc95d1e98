#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test. Exits non-zero on any failure.
#
# Two builds, so that each test runs in the configuration that suits it:
#   build-asan/  Debug, clang, ASan+UBSan: unit, sim, fuzz and bpf tests (everything that is
#                not timing-sensitive), and the libFuzzer targets (clang only).
#   build/       RelWithDebInfo, gcc: the tools and examples, the integration tests against the
#                real kernel in network namespaces, and the benchmark smoke tests.
# Every test runs exactly once: build-asan runs all labels except integration and bench-smoke,
# build runs exactly those two.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
tools/install-deps.sh

configure() {  # dir, extra args...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
}

echo "== configure"
configure build-asan -DCMAKE_BUILD_TYPE=Debug -DXDPTCP_SANITIZE=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DXDPTCP_BUILD_BENCH=OFF
configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo

echo "== build (build-asan, build)"
cmake --build build-asan -j "$JOBS"
cmake --build build -j "$JOBS"

status=0
echo "== tests: unit, sim, fuzz, bpf (ASan+UBSan)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build-asan && ctest -LE 'integration|bench-smoke' --output-on-failure -j "$JOBS") || status=1

echo "== tests: integration, bench-smoke (release build, real kernel)"
if [[ $(id -u) -ne 0 ]]; then
  echo "NOTE: not root: integration tests will report themselves skipped (they need root for namespaces and XDP)"
fi
(cd build && ctest -L 'integration|bench-smoke' --output-on-failure) || status=1

exit $status
