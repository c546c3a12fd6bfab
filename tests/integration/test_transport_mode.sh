#!/usr/bin/env bash
# ESP transport mode between the two gateways themselves: esp SAs only, eroutes
# 192.0.2.1/32 -> 192.0.2.2/32 and the reverse (2001:db8::1/128 <-> 2001:db8::2/128 for IPv6),
# the peer's wan address routed into ipsec0. The daemons' outer sockets are bound to wan
# (--outer-dev wan), so the ESP packets leave by wan although the kernel routes the peer into
# ipsec0. Ping both ways and a TCP transfer with its sha256 compared at both ends, raw ESP and
# UDP 4500, then the same counter checks as the tunnel test; and no clear packet between the
# gateways crosses the wire while the SAs are in place.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/two_hosts.sh"
require_environment
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
[ -x "$PYTHON" ] || skip "no $PYTHON"
command -v ping >/dev/null || skip "no ping(8)"

make_two_hosts
start_gateways

MB=${TRAFFIC_MB:-2}
head -c $((MB << 20)) /dev/urandom >"$WORK/data"

# The peer's own address goes into ipsec0 (more specific than the wan prefix).
ip -n "$NS_L" route add "$RIGHT_WAN4/32" dev ipsec0 src "$LEFT_WAN4"
ip -n "$NS_R" route add "$LEFT_WAN4/32" dev ipsec0 src "$RIGHT_WAN4"
ip -n "$NS_L" -6 route add "$RIGHT_WAN6/128" dev ipsec0 src "$LEFT_WAN6"
ip -n "$NS_R" -6 route add "$LEFT_WAN6/128" dev ipsec0 src "$RIGHT_WAN6"
ip -n "$NS_L" -4 route get "$RIGHT_WAN4" | grep -q 'dev ipsec0' || die "route to $RIGHT_WAN4 misses ipsec0"
ip -n "$NS_L" -6 route get "$RIGHT_WAN6" | grep -q 'dev ipsec0' || die "route to $RIGHT_WAN6 misses ipsec0"

# wan_rx_packets NS: packets NS's wan device received; stat_value MNT NAME: one `stats` counter.
wan_rx_packets() { ip netns exec "$1" cat /sys/class/net/wan/statistics/rx_packets; }
stat_value() { awk -F= -v n="$2" '$1 == n {print $2}' "$1/stats"; }

NATT=(--natt nonesp --sport 4500 --dport 4500)
configs=0
started=$SECONDS

# run_config SUITE FAMILY raw|udp
run_config() {
    local suite=$1 family=$2 encap=$3 label src dst side ns mnt rate
    local -A wan_before esp_before
    label=$(printf '%-20s transport v%s %-3s' "$suite" "$family" "$encap")
    if [ "$encap" = udp ]; then
        configure_transport "$suite" "$family" "${NATT[@]}"
    else
        configure_transport "$suite" "$family"
    fi
    transport_saids left "$family"
    OUT_L=("${OUT_SAIDS[@]}") IN_L=("${IN_SAIDS[@]}")
    transport_saids right "$family"
    OUT_R=("${OUT_SAIDS[@]}") IN_R=("${IN_SAIDS[@]}")
    if [ "$(cat "$MNT_L/spi/${OUT_L[0]}/dir")" != out ] || [ "$(cat "$MNT_L/spi/${IN_L[0]}/dir")" != in ]; then
        die "$label: SA directions wrong: $(cat "$MNT_L/ipsec_spi")"
    fi
    if [ "$family" = 4 ]; then src=$LEFT_WAN4 dst=$RIGHT_WAN4; else src=$LEFT_WAN6 dst=$RIGHT_WAN6; fi
    snapshot_counters
    for side in L R; do
        ns=NS_$side mnt=MNT_$side
        wan_before[$side]=$(wan_rx_packets "${!ns}") esp_before[$side]=$(stat_value "${!mnt}" esp_in)
    done

    ping_ok "$NS_L" "$src" "$dst"
    ping_ok "$NS_R" "$dst" "$src"
    tcp_transfer "$NS_L" "$NS_R" "$src" "$dst" "$WORK/data"
    check_counters "$label"

    # What each wan received was ESP its daemon took in: no clear packet between the gateways
    # bypassed the SAs. ARP or neighbour discovery on the wire may add a few packets.
    local wan_delta esp_delta
    for side in L R; do
        ns=NS_$side mnt=MNT_$side
        wan_delta=$(($(wan_rx_packets "${!ns}") - wan_before[$side]))
        esp_delta=$(($(stat_value "${!mnt}" esp_in) - esp_before[$side]))
        if [ "$esp_delta" -le 0 ] || [ "$((wan_delta - esp_delta))" -gt 6 ]; then
            die "$label: wan of ${!ns} received $wan_delta packets, of them only $esp_delta ESP"
        fi
    done

    rate=$(awk -v b="$(stat -c %s "$WORK/data")" -v t="$TRANSFER_SECONDS" \
        'BEGIN {printf "%.1f", (t > 0 ? b / 1048576 / t : 0)}')
    printf 'ok - %s  ping both ways, %s MB in %6.2f s = %6.1f MB/s, counters agree\n' \
        "$label" "$MB" "$TRANSFER_SECONDS" "$rate"
    configs=$((configs + 1))
}

for family in 4 6; do
    for suite in aes128gcm16 aes256-sha2_256-128; do
        for encap in raw udp; do
            run_config "$suite" "$family" "$encap"
        done
    done
done

# Without SAs the routes into ipsec0 lead nowhere: packets are dropped (no_eroute), never sent
# in the clear.
for side in l r; do
    "ipsec_$side" spi --clear
    "ipsec_$side" eroute --clear
done
before=$(stat_value "$MNT_L" drop_no_eroute)
ip netns exec "$NS_L" ping -q -n -c 2 -i 0.2 -w 2 -I "$LEFT_WAN4" "$RIGHT_WAN4" >/dev/null 2>&1 &&
    die "ping to $RIGHT_WAN4 answered without SAs"
after=$(stat_value "$MNT_L" drop_no_eroute)
[ "$((after - before))" -ge 2 ] || die "no_eroute drops went from $before to $after, expected +2"
pass "without SAs the packets are dropped and counted (drop_no_eroute +$((after - before)))"

stop_daemon "$PID_L"
stop_daemon "$PID_R"
forget_pid "$PID_L"
forget_pid "$PID_R"
pass "$configs configurations in $((SECONDS - started)) s"
