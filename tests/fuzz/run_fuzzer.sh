#!/bin/sh
# Runs a libFuzzer target for a bounded time on a copy of its committed seed corpus, so that
# the inputs it discovers land in the build tree, never in the source tree. Used by ctest
# (LABEL fuzz):  run_fuzzer.sh <fuzzer> <seed-corpus-dir> <work-dir> <seconds>
# A crash leaves its input as <work-dir>/crash-* (replay: <fuzzer> <that file>).
set -eu
fuzzer=$1 seeds=$2 work=$3 seconds=$4
rm -rf "$work"
mkdir -p "$work/corpus"
cp "$seeds"/* "$work/corpus/"
exec "$fuzzer" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus"
