#!/usr/bin/env bash
# Installs everything xdptcp needs to build, test and benchmark on Debian 12.
# Idempotent: packages already present are skipped, and apt-get update runs only
# when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang llvm lld libclang-rt-14-dev clang-format clang-tidy
  libbpf-dev libxdp-dev xdp-tools bpftool linux-libc-dev libelf-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libnl-3-dev libnl-route-3-dev
  nlohmann-json3-dev libpcap-dev
  iproute2 ethtool iputils-ping procps kmod
  wrk curl socat apache2-utils python3 python3-scapy gnuplot-nox valgrind
  # unmodified applications under xdptcp-run (tests and `xdptcp-bench app`)
  nginx-light redis-server redis-tools memcached tcpdump binutils
)

if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; run as root" >&2; exit 1; }
else
  SUDO=
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Packaged servers (nginx, redis, memcached) must not start as system services: the tests start
# their own copies in network namespaces, and a service on port 80 or 6379 would take the port.
# policy-rc.d exit 101 tells invoke-rc.d "not allowed" for the length of the install.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if ((own_policy)); then $SUDO rm -f "$policy"; fi
echo "install-deps: done"
