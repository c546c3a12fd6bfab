#!/usr/bin/env bash
# Hostile traffic from scapy against a working tunnel: replays, old and out-of-window numbers,
# forged bytes, wrong SPIs, truncated packets, bad padding and sizes under valid ICVs, IKE and
# keepalives on UDP 4500, garbage to each raw protocol. Each is dropped, counted in the right
# field, never reaches ipsec0; the daemon keeps running and good traffic keeps flowing.
# The peer side is tests/interop/hostile.py; ipsec0 is captured here besides.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../interop/peer_hosts.sh"
require_interop_environment
command -v tcpdump >/dev/null || skip "no tcpdump"

make_gw_and_peer
start_gw

# Everything the daemon writes into ipsec0 ("in" for the gateway kernel), for the whole run.
ip netns exec "$NS_GW" tcpdump -i ipsec0 -Q in -n -U -s 0 -w "$WORK/ipsec0.pcap" \
    2>"$WORK/tcpdump.log" &
TCPDUMP_PID=$!
DAEMON_PIDS+=("$TCPDUMP_PID") # stopped by PID on every exit path, like the daemons
for ((i = 0; i < 50; i++)); do
    grep -q 'listening on' "$WORK/tcpdump.log" 2>/dev/null && break
    kill -0 "$TCPDUMP_PID" 2>/dev/null || die "tcpdump on ipsec0 failed: $(cat "$WORK/tcpdump.log")"
    sleep 0.1
done

peer_status=0
run_peer 200 hostile.py --good-count "$WORK/good" || peer_status=$?
kill -0 "$PID_GW" 2>/dev/null || die "ipsec-mountd died"
sleep 0.3
stop_pid "$TCPDUMP_PID"
[ -s "$WORK/good" ] || die "hostile.py did not finish (status $peer_status)"

# The capture holds none of the hostile packets (checked even when a step failed, so one report
# shows both). Exactness is the per-step ipsec0 rx counters' job: tcpdump may miss a packet at
# its start, so the capture may hold fewer good packets than were delivered, never more.
capture_status=0
"$PEER_PYTHON" -B - "$WORK/ipsec0.pcap" "$(cat "$WORK/good")" <<'PY' || capture_status=$?
import sys
from scapy.all import rdpcap, raw
pkts = rdpcap(sys.argv[1])
good = int(sys.argv[2])
bad = [p for p in pkts if b"HOSTILE" in raw(p)]
print("ipsec0 capture: %d packets in, %d expected, %d with the hostile marker"
      % (len(pkts), good, len(bad)))
sys.exit(0 if not bad and len(pkts) <= good else 1)
PY
[ "$peer_status" -eq 0 ] || die "hostile traffic steps failed (see FAIL lines above)"
[ "$capture_status" -eq 0 ] || die "ipsec0 saw other packets than the good ones"
pass "ipsec0 saw only the good packets"
stop_daemon "$PID_GW"
pass "hostile traffic"
