#!/usr/bin/env bash
# sandbox.sh: a test network for xdptcp on one machine, built from a veth pair and network namespaces.
#
#   tools/sandbox.sh up|down|status [--name N] [--queues Q] [--router] [--subnet K|auto] [--env]
#
# Direct topology (default):
#   root namespace                         namespace <N>-peer
#   <N>0  198.18.0.1/24  fd00:198:18::1/64 <==veth==> <N>1  198.18.0.2/24  fd00:198:18::2/64
#
# Router topology (--router): a router namespace between the two, so that the stack has to use a
# gateway (neighbour of the next hop, not of the destination):
#   root <N>0 198.18.0.1/24 <==> r0 198.18.0.254/24 [<N>-rtr, forwarding] r1 198.18.1.254/24 <==> <N>1 198.18.1.2/24
#   IPv6 likewise: fd00:198:18::/64 on the left (router ::fe), fd00:198:19::/64 on the right.
#
# The stack's end <N>0 stays in the ROOT namespace (where xdptcp-ctl attaches and where tests run);
# only the peer (the kernel TCP on the other side) and the router live in namespaces. The veth pair
# on the stack's side has Q queues on both ends (default 2), so there is one AF_XDP socket per queue
# as on a multi-queue NIC.
#
# `up` is idempotent (it repairs what is missing, and rebuilds if --queues, --router or --subnet changed);
# `down` removes everything and succeeds when nothing is up; `status` prints what exists, and
# `status --env` prints shell-assignable facts for scripts and tests:
#   eval "$(tools/sandbox.sh status --name sbt --env)"; echo "$IFACE $PEER_NS $PEER_IP4"
# --subnet K (0..127, default 0) moves every prefix up by 2K, so that several sandboxes can coexist in
# the root namespace (their stack ends would otherwise claim the same prefix): left side
# 198.18.<2K>.0/24 and fd00:198:<0x18+2K>::/64, right side (router) 198.18.<2K+1>.0/24 and
# fd00:198:<0x19+2K>::/64. The host parts (.1 stack, .2 peer, .254 / ::fe router) stay the same.
# `up` refuses a prefix that another interface of the root namespace already holds; `--subnet auto`
# picks the first free K from 1 (tests use it, and read the addresses from `status --env`).
#
# Only 198.18.0.0/15 (RFC 2544 benchmarking) and fd00::/8 (ULA) addresses are used; nothing is routed
# off the machine.
set -euo pipefail

NAME=xdptcp
QUEUES=2
ROUTER=0
SUBNET=
ENV_OUT=0
CMD=${1:-}
[[ $# -gt 0 ]] && shift

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}
die() {
  echo "sandbox: $*" >&2
  exit 1
}

while [[ $# -gt 0 ]]; do
  case $1 in
    --name) NAME=${2:?--name needs a value}; shift 2 ;;
    --queues) QUEUES=${2:?--queues needs a value}; shift 2 ;;
    --router) ROUTER=1; shift ;;
    --subnet) SUBNET=${2:?--subnet needs a value}; shift 2 ;;
    --env) ENV_OUT=1; shift ;;
    -h | --help) usage 0 ;;
    *) echo "sandbox: unknown option '$1'" >&2; usage ;;
  esac
done
[[ $CMD == -h || $CMD == --help ]] && usage 0
[[ $CMD =~ ^(up|down|status)$ ]] || { [[ -n $CMD ]] && echo "sandbox: unknown command '$CMD'" >&2; usage; }
[[ $QUEUES =~ ^[0-9]+$ && $QUEUES -ge 1 && $QUEUES -le 64 ]] || die "--queues must be 1..64 (got '$QUEUES')"
# Interface names are limited to 15 characters (IFNAMSIZ); namespace names are ours to choose.
[[ $NAME =~ ^[a-zA-Z][a-zA-Z0-9_-]{0,12}$ ]] || die "--name must be 1..13 characters [a-zA-Z0-9_-], starting with a letter (got '$NAME')"

IFACE=${NAME}0
PEER_IF=${NAME}1
PEER_NS=${NAME}-peer
RTR_NS=${NAME}-rtr
STATE_DIR=/run/xdptcp-sandbox
PIN_DIR=/sys/fs/bpf/xdptcp/$IFACE

[[ -z $SUBNET || $SUBNET == auto || ($SUBNET =~ ^[0-9]+$ && $SUBNET -le 127) ]] ||
  die "--subnet must be 0..127 or auto (got '$SUBNET')"

# The addresses of subnet K and topology router(0|1); see the header. Sets L4 R4 (IPv4 /24 prefixes
# without the host byte), L6 R6 (IPv6 /64 prefixes without "::"), STACK_IP4/6, PEER_IP4/6, GW4/6.
addresses() {  # router subnet
  L4=198.18.$((2 * $2)) R4=198.18.$((2 * $2 + 1))
  L6=fd00:198:$(printf %x $((0x18 + 2 * $2))) R6=fd00:198:$(printf %x $((0x19 + 2 * $2)))
  STACK_IP4=$L4.1 STACK_IP6=$L6::1
  if [[ $1 == 1 ]]; then
    PEER_IP4=$R4.2 PEER_IP6=$R6::2 GW4=$L4.254 GW6=$L6::fe
  else
    PEER_IP4=$L4.2 PEER_IP6=$L6::2 GW4= GW6=
  fi
}

need_root() {
  [[ $(id -u) -eq 0 ]] || die "'$CMD' needs root (network namespaces, veth, XDP): run 'sudo $0 $CMD ...'"
  for t in ip ethtool; do
    command -v "$t" >/dev/null || die "'$t' not found: run tools/install-deps.sh"
  done
}

ns_exists() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }
link_exists() { ip link show dev "$1" >/dev/null 2>&1; }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Checksum offloads off. A veth "transmits" a kernel segment without computing the TCP checksum
# (CHECKSUM_PARTIAL: the field holds only the pseudo-header sum) and the receiving kernel trusts it.
# XDP and AF_XDP see the raw frame and no checksum status, so the stack would see wrong checksums on
# everything the peer sends; and a peer that trusted receive status would accept the stack's bad
# checksums unchecked. With tx and rx offload off, every segment carries a real checksum and every
# kernel verifies it. TSO/GSO/GRO off too, so that frames are the segments actually on the wire.
offloads_off() {  # [ns] iface
  local run=()
  [[ $# -eq 2 ]] && { run=(ip netns exec "$1"); shift; }
  "${run[@]}" ethtool -K "$1" rx off tx off tso off gso off gro off >/dev/null 2>&1 ||
    "${run[@]}" ethtool -K "$1" rx off tx off >/dev/null ||
    die "cannot turn checksum offloads off on $1 (ethtool -K $1 rx off tx off)"
}

# A trivial XDP_PASS program for the peer end of the stack's veth. A veth accepts frames pushed into
# it by XDP (XDP_TX / XDP_REDIRECT into the device: ndo_xdp_xmit) only when its PEER runs in NAPI mode,
# which it does when it has an XDP program (or GRO on, which we turn off, see offloads_off). Without
# it such frames are dropped (seen on kernel 6.18: XDP_TX on <N>0 counted only in its
# rx_queue_*_xdp_tx_errors, `ethtool -S`; with this program the peer receives them). AF_XDP copy-mode
# transmit goes through the ordinary skb path and does not need it, but the program is cheap and
# keeps every XDP transmit path working in the sandbox.
ensure_pass_prog() {
  mkdir -p "$STATE_DIR"
  local obj=$STATE_DIR/xdp_pass.o src=$STATE_DIR/xdp_pass.bpf.c
  [[ -s $obj ]] && { echo "$obj"; return; }
  command -v clang >/dev/null || return 1
  cat >"$src" <<'EOF'
// Written by tools/sandbox.sh: passes every frame; its presence puts the veth peer in NAPI mode.
#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int xdp_pass(struct xdp_md *ctx) { (void)ctx; return XDP_PASS; }
__attribute__((section("license"), used)) char LICENSE[] = "GPL";
EOF
  clang -O2 -g -target bpf -I/usr/include/x86_64-linux-gnu -c "$src" -o "$obj.tmp" >/dev/null 2>&1 || return 1
  mv "$obj.tmp" "$obj"
  echo "$obj"
}

peer_xdp() {  # ns iface
  local ns=$1 dev=$2 obj
  if in_ns "$ns" ip -d link show dev "$dev" | grep -q 'prog/xdp'; then return; fi
  if obj=$(ensure_pass_prog) && in_ns "$ns" ip link set dev "$dev" xdpdrv obj "$obj" sec xdp 2>/dev/null; then
    return
  fi
  # Fallback: GRO also switches the veth to NAPI mode.
  echo "sandbox: note: no XDP_PASS program on $ns/$dev (clang missing?); enabling GRO there instead" >&2
  in_ns "$ns" ethtool -K "$dev" gro on >/dev/null
}

mount_bpffs() {
  # xdptcp-ctl pins its maps under /sys/fs/bpf/xdptcp, and libxdp's dispatcher needs bpffs too.
  if ! mount | grep -q ' /sys/fs/bpf type bpf'; then
    mount -t bpf bpf /sys/fs/bpf || die "cannot mount bpffs on /sys/fs/bpf"
  fi
}

current_queues() {
  local n
  n=$(ls -d /sys/class/net/"$IFACE"/queues/rx-* 2>/dev/null | wc -l)
  echo "$n"
}

sandbox_exists() { link_exists "$IFACE" || ns_exists "$PEER_NS" || ns_exists "$RTR_NS"; }
current_router() { ns_exists "$RTR_NS" && echo 1 || echo 0; }
# The subnet K of an existing sandbox, read from the stack end's IPv4 address ('' when none).
current_subnet() {
  local x
  x=$(ip -4 -o addr show dev "$IFACE" 2>/dev/null | grep -o ' 198\.18\.[0-9]*\.1/' | cut -d. -f3 | head -1)
  [[ -n $x ]] && echo $((x / 2))
  return 0
}

# Another interface of the root namespace already on our prefixes (another sandbox, or a test's own
# veth) would capture our traffic: refuse, and say how to choose another subnet.
check_conflicts() {
  local other
  other=$(ip -4 -o addr show | awk -v me="$IFACE" '$2 != me {print $2, $4}' |
    grep -E " ($L4|$R4)\.[0-9]+/" || true)
  [[ -n $other ]] && other+=$'\n'
  other+=$(ip -4 route show | grep -E "^($L4|$R4)\.0/24 " | grep -Ev " dev $IFACE( |$)" || true)
  [[ -z $other ]] || die "prefix $L4.0/24 or $R4.0/24 is already in use in the root namespace:
$other
  choose another --subnet K (each K uses 198.18.<2K>.0/24 and 198.18.<2K+1>.0/24)"
}

# --subnet auto: the sandbox's current subnet if it exists, else the first free K from 1 (0 is the
# default that people use by hand).
pick_subnet() {
  SUBNET=$(current_subnet)
  [[ -n $SUBNET ]] && return
  local k
  for ((k = 1; k <= 127; k++)); do
    addresses "$ROUTER" "$k"
    if (check_conflicts) 2>/dev/null; then
      SUBNET=$k
      return
    fi
  done
  die "--subnet auto: every subnet 1..127 is in use"
}

do_down() {
  local quiet=${1:-0}
  link_exists "$IFACE" && ip link del dev "$IFACE"
  ns_exists "$PEER_NS" && ip netns del "$PEER_NS"
  ns_exists "$RTR_NS" && ip netns del "$RTR_NS"
  # Pins of xdptcp-ctl for an interface that no longer exists are stale.
  [[ -d $PIN_DIR ]] && rm -rf "$PIN_DIR"
  # So are its stats regions and queue-waiting markers (/run/xdptcp/<ifname>, docs/xdptcp-ctl.md).
  [[ -d /run/xdptcp/$IFACE ]] && rm -rf "/run/xdptcp/$IFACE"
  [[ $quiet == 1 ]] || echo "sandbox '$NAME': down"
}

# Addresses on a veth end. IPv6 without duplicate address detection (nodad, and accept_dad=0 for the
# link-local address, which neighbour discovery uses as its source): otherwise the addresses stay
# tentative for 1-2 s after `up` and the first IPv6 packets wait for it.
addr_setup() {  # ns('' = root) iface ip4/len ip6/len
  local run=()
  [[ -n $1 ]] && run=(ip netns exec "$1")
  "${run[@]}" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=0" "net.ipv6.conf.$2.accept_dad=0"
  "${run[@]}" ip addr replace "$3" dev "$2"
  "${run[@]}" ip -6 addr replace "$4" dev "$2" nodad
  "${run[@]}" ip link set dev "$2" up
}

do_up() {
  # One `up` at a time on the machine: --subnet auto must not hand the same prefix to two sandboxes.
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/up.lock"
  flock 9
  mount_bpffs
  SUBNET=${SUBNET:-0}
  if [[ $SUBNET == auto ]]; then pick_subnet; fi
  if sandbox_exists && { [[ $(current_router) != "$ROUTER" ]] || [[ $(current_queues) != "$QUEUES" ]] ||
    [[ $(current_subnet) != "$SUBNET" ]]; }; then
    echo "sandbox '$NAME': configuration changed (queues/router/subnet); rebuilding"
    do_down 1
  fi
  addresses "$ROUTER" "$SUBNET"
  check_conflicts  # before anything is created
  # A half-built sandbox (e.g. interrupted `up`) whose veth lost its other end: start over.
  if link_exists "$IFACE" && ! ns_exists "$PEER_NS"; then do_down 1; fi

  ns_exists "$PEER_NS" || ip netns add "$PEER_NS"
  in_ns "$PEER_NS" ip link set lo up
  local q=(numtxqueues "$QUEUES" numrxqueues "$QUEUES")
  if [[ $ROUTER == 1 ]]; then
    ns_exists "$RTR_NS" || ip netns add "$RTR_NS"
    in_ns "$RTR_NS" ip link set lo up
    link_exists "$IFACE" ||
      ip link add "$IFACE" "${q[@]}" type veth peer name r0 netns "$RTR_NS" "${q[@]}"
    in_ns "$RTR_NS" ip link show dev r1 >/dev/null 2>&1 ||
      in_ns "$RTR_NS" ip link add r1 "${q[@]}" type veth peer name "$PEER_IF" netns "$PEER_NS" "${q[@]}"
    in_ns "$RTR_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    addr_setup "$RTR_NS" r0 "$L4.254/24" "$L6::fe/64"
    addr_setup "$RTR_NS" r1 "$R4.254/24" "$R6::fe/64"
    offloads_off "$RTR_NS" r0
    offloads_off "$RTR_NS" r1
    peer_xdp "$RTR_NS" r0
  else
    link_exists "$IFACE" ||
      ip link add "$IFACE" "${q[@]}" type veth peer name "$PEER_IF" netns "$PEER_NS" "${q[@]}"
  fi
  addr_setup "" "$IFACE" "$STACK_IP4/24" "$STACK_IP6/64"
  addr_setup "$PEER_NS" "$PEER_IF" "$PEER_IP4/24" "$PEER_IP6/64"
  offloads_off "$IFACE"
  offloads_off "$PEER_NS" "$PEER_IF"
  if [[ $ROUTER == 1 ]]; then
    # Only the sandbox's own prefixes are routed in the root namespace; its default route is untouched.
    ip route replace "$R4.0/24" via "$GW4" dev "$IFACE"
    ip -6 route replace "$R6::/64" via "$GW6" dev "$IFACE"
    in_ns "$PEER_NS" ip route replace default via "$R4.254" dev "$PEER_IF"
    in_ns "$PEER_NS" ip -6 route replace default via "$R6::fe" dev "$PEER_IF"
  else
    peer_xdp "$PEER_NS" "$PEER_IF"
  fi
  echo "sandbox '$NAME': up ($( [[ $ROUTER == 1 ]] && echo router || echo direct ), $QUEUES queues):" \
    "$IFACE $STACK_IP4 <-> $PEER_NS/$PEER_IF $PEER_IP4"
}

print_env() {
  local r k
  r=$(current_router)
  k=$(current_subnet)
  addresses "$r" "${k:-${SUBNET:-0}}"
  local up=0
  link_exists "$IFACE" && ns_exists "$PEER_NS" && up=1
  cat <<EOF
SANDBOX_NAME=$NAME
SANDBOX_UP=$up
SANDBOX_ROUTER=$r
SANDBOX_SUBNET=${k:-${SUBNET:-0}}
IFACE=$IFACE
QUEUES=$(current_queues)
PEER_NS=$PEER_NS
PEER_IFACE=$PEER_IF
ROUTER_NS=$([[ $r == 1 ]] && echo "$RTR_NS")
STACK_IP4=$STACK_IP4
PEER_IP4=$PEER_IP4
STACK_IP6=$STACK_IP6
PEER_IP6=$PEER_IP6
GATEWAY_IP4=$GW4
GATEWAY_IP6=$GW6
PIN_DIR=$PIN_DIR
EOF
}

do_status() {
  if [[ $ENV_OUT == 1 ]]; then
    print_env
    return
  fi
  if ! sandbox_exists; then
    echo "sandbox '$NAME': down (nothing exists)"
    return
  fi
  echo "sandbox '$NAME': $( [[ $(current_router) == 1 ]] && echo router || echo direct ) topology"
  if link_exists "$IFACE"; then
    echo "== root: $IFACE ($(current_queues) rx queues)"
    ip -br addr show dev "$IFACE"
    ip -d link show dev "$IFACE" | grep -E 'prog/xdp|xdp' | sed 's/^ */   /' || true
  else
    echo "== root: $IFACE missing"
  fi
  for ns in "$RTR_NS" "$PEER_NS"; do
    ns_exists "$ns" || continue
    echo "== netns $ns"
    in_ns "$ns" ip -br addr show | grep -v '^lo ' || true
    in_ns "$ns" ip -o -d link show | grep -o '^[0-9]*: [^:@]*\|prog/xdp id [0-9]* name [a-z_]*' |
      paste -sd' ' | grep -o '[^ :]* prog/xdp id [0-9]* name [a-z_]*' | sed 's/^/   xdp: /' || true
    in_ns "$ns" ip route show | sed 's/^/   /'
  done
  if [[ -d $PIN_DIR ]]; then
    echo "== pinned under $PIN_DIR: $(ls "$PIN_DIR" | tr '\n' ' ')"
  fi
}

case $CMD in
  up) need_root; do_up ;;
  down) need_root; do_down ;;
  status)
    # Reading is allowed without root, but namespaces are only visible to root in full.
    [[ $(id -u) -eq 0 ]] || echo "sandbox: note: not root; the view may be incomplete" >&2
    do_status
    ;;
esac
