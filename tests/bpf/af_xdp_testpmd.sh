#!/bin/bash
# DPDK's af_xdp PMD runs with our XDP program (xdp_prog=) on a veth, and the
# program splits the traffic: testpmd receives exactly the ICMP/ICMPv6 echo
# requests sent across the link (untagged, in one VLAN tag and in two), while
# a TCP transfer on the same link is
# passed to the kernel (delivered intact, counted in xdp_passed). Afterwards
# the PMD has detached the program.
#
#   af_xdp_testpmd.sh ICMP_STEER_BPF_OBJ XDP_STEER_CTL
#
# Needs root and dpdk-testpmd (exit 77, "skipped", without them). Creates
# network namespaces ef-xta-PID/ef-xtb-PID joined by veth ef-xt0/ef-xt1 and removes
# them on exit. No traffic leaves those namespaces.
set -euo pipefail

OBJ=$1
CTL=$2
NS_A=ef-xta-$$
NS_B=ef-xtb-$$
PINGS_V4=5
PINGS_V6=3
PINGS_VLAN=2     # echo requests in one 802.1Q tag
PINGS_QINQ=2     # echo requests in 802.1ad + 802.1Q
TCP_BYTES=2000000
WORK=$(mktemp -d /tmp/ef-xt.XXXXXX)

[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
command -v dpdk-testpmd >/dev/null || { echo "no dpdk-testpmd"; exit 77; }

cleanup() {
    [ -n "${TESTPMD_PID:-}" ] && kill -INT "$TESTPMD_PID" 2>/dev/null || true
    [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null || true
    ip netns del "$NS_A" 2>/dev/null || true
    ip netns del "$NS_B" 2>/dev/null || true
    rm -rf "$WORK" "/var/run/dpdk/ef-xt-$$"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; echo "--- testpmd log"; tail -40 "$WORK/testpmd.log" || true; exit 1; }

ip netns add "$NS_A"
ip netns add "$NS_B"
ip link add ef-xt0 netns "$NS_A" type veth peer name ef-xt1 netns "$NS_B"
# B sends nothing on its own (no router solicitations, no DAD), so that every
# ICMP frame A receives is one this script sent.
ip netns exec "$NS_B" sysctl -qw net.ipv6.conf.ef-xt1.router_solicitations=0 net.ipv6.conf.ef-xt1.accept_dad=0
ip -n "$NS_A" addr add 10.99.1.1/24 dev ef-xt0
ip -n "$NS_B" addr add 10.99.1.2/24 dev ef-xt1
ip -n "$NS_A" addr add 2001:db8:99::1/64 dev ef-xt0 nodad
ip -n "$NS_B" addr add 2001:db8:99::2/64 dev ef-xt1 nodad
ip -n "$NS_A" link set ef-xt0 up
ip -n "$NS_B" link set ef-xt1 up
# Neighbour discovery is ICMPv6 and would go to testpmd: use a static entry.
MAC_A=$(ip netns exec "$NS_A" cat /sys/class/net/ef-xt0/address)
ip -n "$NS_B" neigh replace 2001:db8:99::1 lladdr "$MAC_A" dev ef-xt1 nud permanent
# Tagged frames are written raw on B's side of the veth (this kernel may
# lack 8021q, so no VLAN devices): echo requests in one 802.1Q tag, and in
# 802.1ad + 802.1Q. XDP sees the tags in the frame data.
send_tagged() {  # count outer-tpid ...
    ip netns exec "$NS_B" /usr/bin/python3 -c '
import sys
from scapy.all import Ether, Dot1Q, Dot1AD, IP, ICMP, sendp, conf
conf.verb = 0
count, mac, outer = int(sys.argv[1]), sys.argv[2], sys.argv[3]
l3 = IP(src="10.99.1.2", dst="10.99.1.1") / ICMP(id=0x4546, seq=1) / (b"tagged" * 8)
if outer == "8100":
    frame = Ether(dst=mac) / Dot1Q(vlan=100) / l3
else:
    frame = Ether(dst=mac) / Dot1AD(vlan=10) / Dot1Q(vlan=20) / l3
sendp(frame, iface="ef-xt1", count=count, inter=0.1)' "$1" "$MAC_A" "$2"
}
echo "set verbose 1" >"$WORK/testpmd.cmds"  # one line per received frame, with its EtherType
sleep 3  # MLD reports sent at link-up are over before testpmd starts

ip netns exec "$NS_A" dpdk-testpmd --file-prefix "ef-xt-$$" --no-pci --no-huge -m 1024 --lcores 0@0,1@0 \
    --vdev "net_af_xdp0,iface=ef-xt0,start_queue=0,queue_count=1,xdp_prog=$OBJ" \
    -- --forward-mode=rxonly --stats-period 1 --cmdline-file="$WORK/testpmd.cmds" >"$WORK/testpmd.log" 2>&1 &
TESTPMD_PID=$!
for _ in $(seq 1 100); do
    ip netns exec "$NS_A" "$CTL" ef-xt0 counters >/dev/null 2>&1 && break
    sleep 0.2
done
ip netns exec "$NS_A" "$CTL" ef-xt0 counters >/dev/null || fail "icmp_steer not attached by testpmd"

ip netns exec "$NS_A" python3 -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.99.1.1", 5001)); s.listen(1)
c, _ = s.accept(); n = 0
while True:
    b = c.recv(65536)
    if not b: break
    n += len(b)
open(sys.argv[1], "w").write(str(n))' "$WORK/tcp_received" &
SERVER_PID=$!
sleep 0.5

# Echo requests go to testpmd, so no replies come back: ping's exit status
# is not the check, the counts below are.
ip netns exec "$NS_B" ping -q -c "$PINGS_V4" -i 0.2 -W 1 10.99.1.1 >/dev/null || true
ip netns exec "$NS_B" ping -6 -q -c "$PINGS_V6" -i 0.2 -W 1 2001:db8:99::1 >/dev/null || true
send_tagged "$PINGS_VLAN" 8100
send_tagged "$PINGS_QINQ" 88a8
ip netns exec "$NS_B" python3 -c '
import socket, sys
s = socket.create_connection(("10.99.1.1", 5001)); s.sendall(b"x" * int(sys.argv[1])); s.close()' "$TCP_BYTES"
wait "$SERVER_PID"; SERVER_PID=
sleep 1.5  # testpmd's lcore has polled the last frames

COUNTERS=$(ip netns exec "$NS_A" "$CTL" ef-xt0 counters)
echo "icmp_steer counters: $COUNTERS"
kill -INT "$TESTPMD_PID"
wait "$TESTPMD_PID" || fail "testpmd exited with $?"
TESTPMD_PID=

RX=$(grep -a -A3 "Accumulated forward statistics" "$WORK/testpmd.log" | grep -a -o "RX-packets: *[0-9]*" | grep -o "[0-9]*$")
echo "testpmd RX-packets: $RX"
field() { echo "$COUNTERS" | grep -o "\"$1\":[0-9]*" | cut -d: -f2; }
EXPECTED_ICMP=$((PINGS_V4 + PINGS_V6 + PINGS_VLAN + PINGS_QINQ))
# testpmd's verbose line names the outer EtherType of each frame.
OUTER_8100=$(grep -a -c "type=0x8100" "$WORK/testpmd.log" || true)
OUTER_88A8=$(grep -a -c "type=0x88a8" "$WORK/testpmd.log" || true)
echo "testpmd frames with outer tag 0x8100: $OUTER_8100, 0x88a8: $OUTER_88A8"
MIN_TCP_FRAMES=$((TCP_BYTES / 1500))

[ "$(cat "$WORK/tcp_received")" = "$TCP_BYTES" ] || fail "TCP transfer incomplete: $(cat "$WORK/tcp_received")"
[ "$RX" = "$EXPECTED_ICMP" ] || fail "testpmd received $RX frames, expected the $EXPECTED_ICMP echo requests"
[ "$(field xdp_redirected)" = "$EXPECTED_ICMP" ] || fail "xdp_redirected != $EXPECTED_ICMP"
[ "$OUTER_8100" = "$PINGS_VLAN" ] || fail "expected $PINGS_VLAN frames with one 802.1Q tag at testpmd"
[ "$OUTER_88A8" = "$PINGS_QINQ" ] || fail "expected $PINGS_QINQ frames with 802.1ad + 802.1Q tags at testpmd"
[ "$(field xdp_passed)" -ge "$MIN_TCP_FRAMES" ] || fail "xdp_passed < $MIN_TCP_FRAMES (the TCP segments)"
[ "$(field xdp_no_socket)" = 0 ] || fail "ICMP found no socket"
[ "$(field xdp_dropped)" = 0 ] || fail "frames dropped"
if ip netns exec "$NS_A" "$CTL" ef-xt0 counters >/dev/null 2>&1; then
    fail "icmp_steer still attached after testpmd exited"
fi
echo "PASS: testpmd got exactly the $EXPECTED_ICMP ICMP frames, TCP passed in the kernel, program detached at exit"
