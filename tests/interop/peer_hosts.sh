# The interop topology (sourced after tests/integration/lib.sh): our daemon in a gateway
# namespace, scapy in a peer namespace, a veth "wan" between them.
#
#   gateway (namespace $NS_GW): wan 192.0.2.1/24 2001:db8::1/64, inner 198.51.100.1
#           2001:db8:1::1 on lo; ipsec-mountd with ipsec0 bound to wan
#   peer    (namespace $NS_PEER): wan 192.0.2.2/24 2001:db8::2/64; its inner addresses
#           203.0.113.1 2001:db8:2::1 exist only inside the packets scapy makes
#
# Routes in the gateway send the peer's inner networks (tunnel mode) and the peer's own
# addresses (transport mode) into ipsec0; the daemon's outer sockets are bound to wan, so its
# ESP still leaves through wan.

INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEER_PYTHON=/usr/bin/python3

require_interop_environment() {
    require_environment
    [ -c /dev/net/tun ] || skip "no /dev/net/tun"
    [ -x "$PEER_PYTHON" ] || skip "no $PEER_PYTHON"
    "$PEER_PYTHON" -c 'import scapy.layers.ipsec, cryptography.hazmat.primitives.ciphers.aead' \
        2>/dev/null || skip "scapy or python3-cryptography not importable by $PEER_PYTHON"
}

make_gw_and_peer() {
    NS_GW="ipsecfs-$TEST_NAME-gw-$$"
    NS_PEER="ipsecfs-$TEST_NAME-peer-$$"
    local ns
    for ns in "$NS_GW" "$NS_PEER"; do
        ip netns add "$ns"
        NAMESPACES+=("$ns")
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
            net.ipv4.conf.default.rp_filter=0
    done
    ip -n "$NS_GW" link add wan type veth peer name wan netns "$NS_PEER"
    ip -n "$NS_GW" addr add 192.0.2.1/24 dev wan
    ip -n "$NS_PEER" addr add 192.0.2.2/24 dev wan
    ip -n "$NS_GW" addr add 2001:db8::1/64 dev wan nodad
    ip -n "$NS_PEER" addr add 2001:db8::2/64 dev wan nodad
    ip -n "$NS_GW" addr add 198.51.100.1/32 dev lo
    ip -n "$NS_GW" addr add 2001:db8:1::1/128 dev lo nodad
    ip -n "$NS_GW" link set wan up
    ip -n "$NS_PEER" link set wan up
}

# start_gw [ipsec-mountd options…]: sets PID_GW, MNT_GW, SOCK_GW.
start_gw() {
    start_daemon "$NS_GW" gw --tun ipsec0 --outer-dev wan --state "$WORK/gw.state" "$@"
    PID_GW=$DAEMON_PID MNT_GW=$MNT SOCK_GW=$SOCK
    ip -n "$NS_GW" route add 203.0.113.0/24 dev ipsec0 src 198.51.100.1
    ip -n "$NS_GW" -6 route add 2001:db8:2::/48 dev ipsec0 src 2001:db8:1::1
    ip -n "$NS_GW" route add 192.0.2.2/32 dev ipsec0 src 192.0.2.1
    ip -n "$NS_GW" -6 route add 2001:db8::2/128 dev ipsec0 src 2001:db8::1
}

# run_peer SECONDS SCRIPT [args…]: a peer script in the peer namespace, bounded in time.
run_peer() {
    local seconds=$1 script=$2
    shift 2
    timeout --kill-after=10 "$seconds" ip netns exec "$NS_PEER" "$PEER_PYTHON" -B \
        "$INTEROP_DIR/$script" --gw-ns "$NS_GW" --mnt "$MNT_GW" --control "$SOCK_GW" \
        --ipsec "$IPSEC" --pid "$PID_GW" --iface wan "$@"
}
