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
#
# A test that skips itself (GTEST_SKIP: no root, a tool missing) is reported by ctest as skipped
# (cmake/Testing.cmake). As root nothing may skip: the tools are installed and the rights are
# there, so a skip would hide an untested feature; the run then fails and names the skipped tests.
# Not as root, the skips are expected and only listed.
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

# run_ctest <build dir> <ctest args...>: ctest in that build directory, its output shown as it comes
# (its summary lines included). Each test it reports skipped is added to `skipped` as
# "<dir>/<test>", and to `skip_details` with one more line per skipped GoogleTest test and its
# reason (from the run's Testing/Temporary/LastTest.log). Returns ctest's status.
skipped=()
skip_details=()
run_ctest() {
  local dir=$1 out rc=0 name line
  shift
  out=$(mktemp)
  (cd "$dir" && ctest "$@") 2>&1 | tee "$out" || rc=$?
  # ctest's closing list: "The following tests did not run:", then "  <n> - <name> (Skipped)".
  while read -r name; do
    skipped+=("$dir/$name")
    skip_details+=("$dir/$name")
    while IFS= read -r line; do
      skip_details+=("    $line")
    done < <(gtest_skips "$dir/Testing/Temporary/LastTest.log" "$name")
  done < <(awk '/^The following tests did not run:/ { f = 1; next }
                f && /^[ \t]+[0-9]+ - .* \(Skipped\)$/ { sub(/^[ \t]+[0-9]+ - /, ""); sub(/ \(Skipped\)$/, ""); print; next }
                f && !/^[ \t]/ { f = 0 }' "$out")
  rm -f "$out"
  return "$rc"
}

# gtest_skips <LastTest.log> <test>: "<Suite.Test>: <reason>" for each GoogleTest test that skipped
# in the output of ctest test <test> ("path:line: Skipped", the reason, "[  SKIPPED ] Suite.Test (N ms)").
gtest_skips() {
  [[ -f $1 ]] || return 0
  awk -v test="$2" '
    /^[0-9]+\/[0-9]+ Test: / { mine = ($3 == test); reason = ""; grab = 0; next }
    !mine { next }
    /: Skipped$/ { grab = 1; reason = ""; next }
    grab { grab = 0; reason = $0 }
    /^\[  SKIPPED \] [^ ]+ \([0-9]+ ms\)$/ { print $4 ": " (reason == "" ? "(no reason given)" : reason); reason = "" }
  ' "$1"
}

status=0
echo "== tests: unit, sim, fuzz, bpf (ASan+UBSan)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
run_ctest build-asan -LE 'integration|bench-smoke' --output-on-failure -j "$JOBS" || status=1

echo "== tests: integration, bench-smoke (release build, real kernel)"
if [[ $(id -u) -ne 0 ]]; then
  echo "NOTE: not root: integration tests will report themselves skipped (they need root for namespaces and XDP)"
fi
run_ctest build -L 'integration|bench-smoke' --output-on-failure || status=1

if ((${#skipped[@]} > 0)); then
  echo "== skipped tests"
  if [[ $(id -u) -eq 0 ]]; then
    echo "FAIL: running as root, yet ${#skipped[@]} test(s) skipped; as root every test must run (install"
    echo "      what they need with tools/install-deps.sh, or fix the test):"
    printf '  %s\n' "${skip_details[@]}"
    status=1
  else
    echo "NOTE: not root: ${#skipped[@]} test(s) skipped (expected: tests that need root skip themselves):"
    printf '  %s\n' "${skipped[@]}"
  fi
fi

exit $status
