#!/usr/bin/env bash
# Interop: scapy's ESP (python3-scapy, an independent implementation) as the peer of our daemon,
# both directions, every suite scapy supports, tunnel and transport mode, raw ESP and UDP 4500,
# IPv4 and IPv6 outer; the gateway's per-SA files must show what moved. Then the AES-GCM cases
# again with the daemon on OpenSSL's AES-GCM (IPSECFS_AES_GCM=openssl), so that both of its
# implementations meet scapy whichever this CPU runs by default.
# The peer side is tests/interop/interop.py; INTEROP_ARGS passes options to it (--quick, --only).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../interop/peer_hosts.sh"
require_interop_environment

make_gw_and_peer
start_gw
# shellcheck disable=SC2086
run_peer 200 interop.py ${INTEROP_ARGS:-} || die "scapy interop failed (see above)"
kill -0 "$PID_GW" 2>/dev/null || die "ipsec-mountd died"
stop_daemon "$PID_GW"

rm -f "$WORK/gw.state"
IPSECFS_AES_GCM=openssl start_gw
run_peer 100 interop.py --only gcm16 || die "scapy interop with OpenSSL's AES-GCM failed (see above)"
kill -0 "$PID_GW" 2>/dev/null || die "ipsec-mountd died"
stop_daemon "$PID_GW"
pass "scapy interop"
