#!/usr/bin/env bash
# One TCP flow over a long, narrow link: how much of it the kernel and xdptcp each fill (issue 13,
# item 3: window scaling and buffer auto-tuning). A client namespace, a router namespace that delays
# every frame by DELAY ms each way and limits both directions to RATE Mbit/s with tbf
# (xdptcp-impair delay --delay --rate, docs/IMPAIRMENT.md), and a server namespace whose interface the
# stack serves. Each leg sends SIZE MB through one connection with socat, unmodified, on the kernel or
# on xdptcp (xdptcp-run), in both directions: the server receiving (its receive window must cover the
# bandwidth-delay product) and the server sending (its send buffer and congestion window must).
#
#   sudo tools/bench-wan.sh [--build DIR] [--delay MS] [--rate MBIT] [--size MB] [--rounds N] [--name P]
#                           [--kernel-cc ALG]
#
# --kernel-cc sets the kernel sockets' congestion control (TCP_CONGESTION on socat's sockets; default:
# the host's net.ipv4.tcp_congestion_control, often bbr or cubic); xdptcp uses CUBIC (RFC 9438).
# Prints one line per leg: Mbit/s and the share of RATE. Needs root, socat and a built tree (the
# release build, build-rel/, by default). Addresses: 198.19.210.0/24 and 198.19.211.0/24.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build-rel DELAY=10 RATE=200 SIZE=100 ROUNDS=2 NAME=wan CC=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) BUILD=$2; shift 2 ;;
    --delay) DELAY=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --name) NAME=$2; shift 2 ;;
    --kernel-cc) CC=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-wan: unknown argument '$1' (see --help)" >&2; exit 64 ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "bench-wan: needs root (network namespaces, XDP): run it with sudo" >&2; exit 77; }
command -v socat >/dev/null || { echo "bench-wan: socat is missing: apt-get install socat" >&2; exit 69; }
IMPAIR=$BUILD/bin/xdptcp-impair RUN=$BUILD/bin/xdptcp-run
for b in "$IMPAIR" "$RUN"; do
  [[ -x $b ]] || { echo "bench-wan: $b is missing: build it (cmake --build $BUILD)" >&2; exit 69; }
done

C=$NAME-c R=$NAME-r S=$NAME-s
CIF=${NAME}c0 RC=${NAME}rc RS=${NAME}rs SIF=${NAME}s0
SRV=198.19.211.2
fwd_pid=""
cleanup() {
  [[ -n $fwd_pid ]] && kill "$fwd_pid" 2>/dev/null && wait "$fwd_pid" 2>/dev/null || true
  for ns in "$C" "$R" "$S"; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true; done
  sleep 0.2
  for ns in "$C" "$R" "$S"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT
cleanup

for ns in "$C" "$R" "$S"; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add "$CIF" netns "$C" type veth peer name "$RC" netns "$R"
ip link add "$SIF" netns "$S" type veth peer name "$RS" netns "$R"
# Offloads off on every end: the stack sees real checksums, the forwarder real frames
# (docs/IMPAIRMENT.md, "Requirements on the topology").
for p in "$C:$CIF" "$R:$RC" "$R:$RS" "$S:$SIF"; do
  ip netns exec "${p%%:*}" ethtool -K "${p#*:}" rx off tx off gro off tso off gso off >/dev/null
  ip -n "${p%%:*}" link set "${p#*:}" up
done
ip -n "$C" addr add 198.19.210.2/24 dev "$CIF"
ip -n "$R" addr add 198.19.210.1/24 dev "$RC"
ip -n "$R" addr add 198.19.211.1/24 dev "$RS"
ip -n "$S" addr add $SRV/24 dev "$SIF"
ip -n "$C" route add default via 198.19.210.1
ip -n "$S" route add default via 198.19.211.1

ip netns exec "$R" "$IMPAIR" delay --in "$RC" --out "$RS" --delay "$DELAY" --rate "$RATE" --queue 8192 \
  > "/tmp/$NAME-forwarder.log" 2>&1 &
fwd_pid=$!
for _ in $(seq 50); do grep -q ready "/tmp/$NAME-forwarder.log" && break; sleep 0.1; done
ip netns exec "$C" ping -c 3 -i 0.2 -q $SRV | tail -1

bytes=$((SIZE * 1000 * 1000))
# TCP_CONGESTION (IPPROTO_TCP 6, option 13) on the kernel's sockets, when asked.
OPT=""
[[ -n $CC ]] && OPT=",setsockopt-string=6:13:$CC"
# One leg: $1 kernel|xdptcp, $2 recv|send (the server's side). Prints Mbit/s.
leg() {
  local stack=$1 dir=$2 wrap=() start end
  [[ $stack == xdptcp ]] && wrap=("$RUN" --iface "$SIF" --log 0 --)
  if [[ $dir == recv ]]; then
    ip netns exec "$S" "${wrap[@]}" socat -u TCP4-LISTEN:5001,reuseaddr$OPT OPEN:/dev/null &
  else
    ip netns exec "$S" "${wrap[@]}" socat -u EXEC:"head -c $bytes /dev/zero" TCP4-LISTEN:5001,reuseaddr$OPT &
  fi
  local srv=$!
  sleep 1  # the stack attaches and starts listening; the client retries its connect meanwhile
  start=$(date +%s.%N)
  if [[ $dir == recv ]]; then
    head -c "$bytes" /dev/zero | ip netns exec "$C" socat -u - TCP4:$SRV:5001,retry=50,interval=0.1$OPT
  else
    ip netns exec "$C" socat -u TCP4:$SRV:5001,retry=50,interval=0.1$OPT - | wc -c > "/tmp/$NAME-got"
  fi
  end=$(date +%s.%N)
  wait "$srv" 2>/dev/null || true
  if [[ $dir == send && $(cat "/tmp/$NAME-got") -ne $bytes ]]; then
    echo "bench-wan: $stack $dir: received $(cat "/tmp/$NAME-got") of $bytes bytes" >&2
    echo 0
    return
  fi
  awk -v b="$bytes" -v s="$start" -v e="$end" 'BEGIN { printf "%.1f\n", b * 8 / (e - s) / 1e6 }'
}

echo "one flow, ${SIZE} MB, RTT $((2 * DELAY)) ms, $RATE Mbit/s (tbf); offloads off on every end;" \
  "kernel congestion control ${CC:-$(sysctl -n net.ipv4.tcp_congestion_control)}, xdptcp cubic"
printf '%-8s %-22s %s\n' stack "server" "Mbit/s (share of $RATE) per round"
for dir in recv send; do
  for stack in kernel xdptcp; do
    line=""
    for _ in $(seq "$ROUNDS"); do
      m=$(leg "$stack" "$dir")
      line+=$(awk -v m="$m" -v r="$RATE" 'BEGIN { printf "%7.1f (%3.0f%%)", m, 100 * m / r }')
    done
    printf '%-8s %-22s %s\n' "$stack" "$([[ $dir == recv ]] && echo receives || echo sends)" "$line"
  done
done
