#!/usr/bin/env bash
# quickstart.sh: from a fresh Debian 12 checkout to XDP steering beside the kernel, in one command.
#
#   tools/quickstart.sh [--skip-install] [--skip-build] [--keep] [--name N] [--subnet K]
#
# 1. installs the dependencies (tools/install-deps.sh);
# 2. configures and builds build/ (RelWithDebInfo, Ninja): the targets the demonstration needs;
# 3. brings the sandbox up (tools/sandbox.sh: veth N0 in the root namespace, the peer in netns N-peer);
# 4. demonstrates: xdptcp-ctl attaches the steering program and steers one port; xsk-probe's AF_XDP
#    sockets receive that port's SYNs while ping and a kernel TCP service on another port keep working;
#    then the counters;
# 5. tears everything down on exit, also on error or Ctrl-C (unless --keep).
#
# The demonstration is one function (demo) with the targets it needs in DEMO_TARGETS, so that a later
# version can swap in an xdptcp server without touching the rest. Needs root for steps 3-5 (uses sudo
# when run as another user). XDPTCP_BUILD_DIR=dir uses dir/ instead of build/.
set -euo pipefail
cd "$(dirname "$0")/.."

SKIP_INSTALL=0 SKIP_BUILD=0 KEEP=0 NAME=xdptcp SUBNET=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --skip-install) SKIP_INSTALL=1; shift ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    --keep) KEEP=1; shift ;;
    --name) NAME=${2:?--name needs a value}; shift 2 ;;
    --subnet) SUBNET=${2:?--subnet needs a value}; shift 2 ;;  # see tools/sandbox.sh
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "quickstart: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

BUILD=${XDPTCP_BUILD_DIR:-build}  # another build directory for the same steps, e.g. a developer's own
BIN=$PWD/$BUILD/bin
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
else
  command -v sudo >/dev/null || { echo "quickstart: needs root for the sandbox and XDP; run as root" >&2; exit 1; }
  SUDO=(sudo)
fi
# Background commands below use "${SUDO[@]}" directly rather than as_root, so that $! is the process
# itself (or sudo, which relays signals to it) and not a subshell that would orphan it.
as_root() { "${SUDO[@]}" "$@"; }
section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "${*#"$BIN/"}"; as_root "$@"; }  # print a command, then run it as root

# ---- the demonstration (swap this section for a later one) ----
STEERED_PORT=7777  # steered to xdptcp (here: counted by xsk-probe, which never answers)
KERNEL_PORT=7778   # served by the kernel's own TCP throughout
DEMO_TARGETS=(xdptcp-ctl xsk-probe)
BG_PIDS=()

demo() {
  section "attach the steering program and steer TCP port $STEERED_PORT"
  show "$BIN/xdptcp-ctl" attach --iface "$IFACE"
  show "$BIN/xdptcp-ctl" steer add --iface "$IFACE" --port "$STEERED_PORT"
  show "$BIN/xdptcp-ctl" status --iface "$IFACE"

  section "a kernel TCP service on $STACK_IP4:$KERNEL_PORT, and xsk-probe on every queue of $IFACE"
  "${SUDO[@]}" socat "TCP4-LISTEN:$KERNEL_PORT,bind=$STACK_IP4,reuseaddr,fork" \
    SYSTEM:'read line; echo "served by the kernel: $line"' &
  BG_PIDS+=($!)
  local probe_log
  probe_log=$(mktemp /tmp/xdptcp-quickstart-probe.XXXXXX)
  "${SUDO[@]}" "$BIN/xsk-probe" --iface "$IFACE" --port "$STEERED_PORT" --seconds 30 >"$probe_log" 2>&1 &
  local probe=$!
  BG_PIDS+=("$probe")
  for _ in $(seq 50); do grep -q ready "$probe_log" && break; sleep 0.1; done
  cat "$probe_log"

  section "from the peer ($PEER_NS): all at once"
  echo "-- connect to the steered port $STEERED_PORT: its SYNs go to the AF_XDP sockets; nobody answers"
  "${SUDO[@]}" ip netns exec "$PEER_NS" sh -c \
    "echo hi | socat -T 2 - TCP4:$STACK_IP4:$STEERED_PORT,connect-timeout=2 2>&1 | sed 's/^/   [steered] /'" &
  local steered=$!
  echo "-- ping: ICMP still reaches the kernel"
  as_root ip netns exec "$PEER_NS" ping -c 3 -i 0.3 "$STACK_IP4"
  echo "-- a request to the kernel's service on port $KERNEL_PORT"
  as_root ip netns exec "$PEER_NS" sh -c "echo hello | socat -T 2 - TCP4:$STACK_IP4:$KERNEL_PORT"
  wait "$steered" || true

  section "stop xsk-probe: its counts"
  "${SUDO[@]}" kill -INT "$probe" 2>/dev/null || true
  wait "$probe" || true
  grep -v ready "$probe_log"
  local syns
  syns=$(sed -n 's/^total: .*: \([0-9]*\))$/\1/p' "$probe_log")
  rm -f "$probe_log"
  if [[ ${syns:-0} -eq 0 ]]; then
    echo "quickstart: FAILED: no SYN to port $STEERED_PORT reached the AF_XDP sockets" >&2
    return 1
  fi

  section "without a socket the steered port falls back to the kernel (RST: connection refused)"
  as_root ip netns exec "$PEER_NS" sh -c \
    "echo hi | socat -T 2 - TCP4:$STACK_IP4:$STEERED_PORT,connect-timeout=2" 2>&1 | sed 's/^/   /' || true

  section "counters"
  show "$BIN/xdptcp-ctl" stats --iface "$IFACE"
}

demo_cleanup() {
  for p in "${BG_PIDS[@]}"; do as_root kill "$p" 2>/dev/null || true; done
  [[ -x $BIN/xdptcp-ctl && -n ${IFACE:-} ]] && as_root "$BIN/xdptcp-ctl" detach --iface "$IFACE" >/dev/null 2>&1
  return 0
}
# ---- end of the demonstration ----

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ $KEEP == 1 ]]; then
    echo; echo "quickstart: --keep: left running; 'tools/sandbox.sh down --name $NAME' removes the sandbox"
    exit "$rc"
  fi
  section "tear down"
  demo_cleanup
  as_root tools/sandbox.sh down --name "$NAME" || true
  exit "$rc"
}

if [[ $SKIP_INSTALL == 0 ]]; then
  section "install dependencies"
  tools/install-deps.sh
fi
if [[ $SKIP_BUILD == 0 ]]; then
  section "configure and build $BUILD/ (RelWithDebInfo, Ninja): ${DEMO_TARGETS[*]}"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" --target "${DEMO_TARGETS[@]}"
fi
for t in "${DEMO_TARGETS[@]}"; do
  [[ -x $BIN/$t ]] || { echo "quickstart: $BIN/$t is missing; run without --skip-build" >&2; exit 1; }
done

trap cleanup EXIT
trap 'exit 130' INT TERM
section "sandbox up"
as_root tools/sandbox.sh up --name "$NAME" --subnet "$SUBNET"
eval "$(as_root tools/sandbox.sh status --name "$NAME" --env)"

demo
section "done"
echo "quickstart: steering worked beside the kernel; tearing down (use --keep to explore)"
