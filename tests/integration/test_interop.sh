#!/usr/bin/env bash
# Interop: scapy's ESP (python3-scapy, an independent implementation) as the peer of our daemon,
# both directions, every suite scapy supports, tunnel and transport mode, raw ESP and UDP 4500,
# IPv4 and IPv6 outer; the gateway's per-SA files must show what moved. Then the AES-GCM cases
# again with the daemon on OpenSSL's AES-GCM (IPSECFS_AES_GCM=openssl) and, where the CPU has
# VAES and AVX2, on its 256-bit VAES code (IPSECFS_AES_GCM=vaes256), so that each of its
# implementations this CPU runs meets scapy, whichever is the default here.
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

# gcm_again BACKEND: the AES-GCM cases with IPSECFS_AES_GCM=BACKEND.
gcm_again() {
    rm -f "$WORK/gw.state"
    IPSECFS_AES_GCM=$1 start_gw
    run_peer 100 interop.py --only gcm16 || die "scapy interop with IPSECFS_AES_GCM=$1 failed (see above)"
    kill -0 "$PID_GW" 2>/dev/null || die "ipsec-mountd died"
    stop_daemon "$PID_GW"
}
gcm_again openssl
tested="default, openssl"
cpu_flags=$(grep -m1 '^flags' /proc/cpuinfo)
if [[ " $cpu_flags " == *" vaes "* && " $cpu_flags " == *" vpclmulqdq "* && " $cpu_flags " == *" avx2 "* ]]; then
    gcm_again vaes256
    tested+=", vaes256"
fi
pass "scapy interop (AES-GCM: $tested)"
