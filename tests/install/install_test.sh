#!/usr/bin/env bash
# Installs libxdptcp, its headers, CMake package and pkg-config file into a temporary prefix, then
# builds programs against them with find_package and with pkg-config, and runs them.
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" --component Unspecified >/dev/null
test -f "$tmp/prefix/include/xdptcp/xdptcp.hpp"
test -f "$tmp/prefix/include/xdptcp/xdptcp.h"
libdir=$(dirname "$(find "$tmp/prefix" -name 'libxdptcp.so' | head -1)")
cmake -S "$src/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
out=$(LD_LIBRARY_PATH=$libdir "$tmp/consumer/consumer_cpp")
echo "$out"
grep -q "C++: no interface named 'xdptcp-none0'" <<<"$out"
grep -q "C: no interface named 'xdptcp-none0'" <<<"$out"
# pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
c++ -std=c++20 "$src/consumer/consumer.cpp" $(pkg-config --cflags --libs xdptcp) -o "$tmp/pc"
LD_LIBRARY_PATH=$libdir "$tmp/pc" >/dev/null
echo "install_test: 1 passed, 0 failed"
