#!/usr/bin/env bash
# quickstart.sh: from a fresh Debian 12 checkout to an HTTP server on xdptcp beside the kernel, in one command.
#
#   tools/quickstart.sh [--skip-install] [--skip-build] [--keep] [--name N] [--subnet K]
#
# 1. installs the dependencies (tools/install-deps.sh);
# 2. configures and builds build/ (RelWithDebInfo, Ninja): the targets the demonstration needs;
# 3. brings the sandbox up (tools/sandbox.sh: veth N0 in the root namespace, the peer in netns N-peer);
# 4. demonstrates: xdptcp-httpd serves HTTP on the user-level stack (it attaches the steering program
#    itself) to curl (IPv4 and IPv6) and wrk in the peer namespace, while ping and a kernel TCP service
#    on the same address keep working; stopping it gives the port back to the kernel;
# 5. tears the sandbox down, then runs a short comparison against the kernel (xdptcp-bench compare);
#    everything is torn down on error or Ctrl-C too (unless --keep).
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
HTTP_PORT=8080     # served by xdptcp-httpd on the user-level stack
KERNEL_PORT=7778   # served by the kernel's own TCP throughout
DEMO_TARGETS=(xdptcp-httpd xdptcp-ctl xdptcp-bench)
BG_PIDS=()

# Runs a command in the peer namespace, printing it first.
peer() {
  printf '[%s]$ %s\n' "$PEER_NS" "$*"
  as_root ip netns exec "$PEER_NS" "$@"
}

demo() {
  section "xdptcp-httpd on $IFACE: an HTTP server on the user-level stack (one engine per queue)"
  local log
  log=$(mktemp /tmp/xdptcp-quickstart-httpd.XXXXXX)
  "${SUDO[@]}" "$BIN/xdptcp-httpd" --iface "$IFACE" --port "$HTTP_PORT" --body-size 64 >"$log" 2>&1 &
  local httpd=$!
  BG_PIDS+=("$httpd")
  for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
  cat "$log"
  grep -q listening "$log" || { echo "quickstart: FAILED: xdptcp-httpd did not start" >&2; return 1; }

  section "a kernel TCP service on $STACK_IP4:$KERNEL_PORT, beside it on the same address"
  "${SUDO[@]}" socat "TCP4-LISTEN:$KERNEL_PORT,bind=$STACK_IP4,reuseaddr,fork" \
    SYSTEM:'read line; echo "served by the kernel: $line"' &
  BG_PIDS+=($!)
  sleep 0.3

  section "kernel clients in $PEER_NS: curl (IPv4, IPv6), wrk, and the kernel's own services still answering"
  peer curl -sS -m 5 -o /dev/null -w 'HTTP %{http_code}, %{size_download} bytes over IPv4\n' "http://$STACK_IP4:$HTTP_PORT/"
  peer curl -sS -m 5 -o /dev/null -w 'HTTP %{http_code}, %{size_download} bytes over IPv6\n' "http://[$STACK_IP6]:$HTTP_PORT/"
  peer wrk -t2 -c32 -d3s "http://$STACK_IP4:$HTTP_PORT/"
  peer wrk -t2 -c32 -d3s -H 'Connection: close' "http://$STACK_IP4:$HTTP_PORT/"
  peer ping -c 2 -i 0.3 "$STACK_IP4"
  peer sh -c "echo hello | socat -T 2 - TCP4:$STACK_IP4:$KERNEL_PORT"
  show "$BIN/xdptcp-ctl" stats --iface "$IFACE"

  section "stop xdptcp-httpd: port $HTTP_PORT goes back to the kernel at once (RST: connection refused)"
  "${SUDO[@]}" kill -TERM "$httpd" 2>/dev/null || true
  wait "$httpd" 2>/dev/null || true
  tail -n 1 "$log"
  rm -f "$log"
  peer curl -sS -m 3 "http://$STACK_IP4:$HTTP_PORT/" 2>&1 | sed 's/^/   /' || true
}

# After the sandbox is down: the short comparison, in a sandbox of its own.
demo_compare() {
  section "a short comparison against the kernel (xdptcp-bench compare, short connections)"
  as_root "$BIN/xdptcp-bench" compare --workload short --duration 3 --rounds 3 --engines 2
  echo "(docs/PERFORMANCE.md: every workload, and how to reproduce)"
}

demo_cleanup() {
  for p in "${BG_PIDS[@]}"; do as_root kill "$p" 2>/dev/null || true; done
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
if [[ $KEEP == 0 ]]; then
  trap - EXIT
  section "tear down"
  demo_cleanup
  as_root tools/sandbox.sh down --name "$NAME" || true
  demo_compare
fi
section "done"
echo "quickstart: an HTTP server on the user-level stack served kernel clients beside the kernel's own services"
