#!/usr/bin/env bash
# SA groups of four transforms between two gateways (a daemon in each of two namespaces): each
# way a tun+comp+esp+ah group (IPv4 outer and inner; IPCOMP deflate, ESP aes128gcm16, AH
# hmac-sha1-96) with its inbound policy. Pings both ways, then TCP transfers from left to right of
# ~2 MB of compressible text and of 2 MB of random data, sha256 compared at both ends. Afterwards
# the counters must agree exactly (every SA of the sender's outbound group and of the receiver's
# inbound group counted what ipsec0 carried, life/ files and ipsec_spi line; no drop counter
# moved), the comp SA's `ratio` file reads U:C with U > C > 0 and its ipsec_spi line shows
# ratio=, no SA counted auth or replay errors, and ipsec_spigrp lists both groups.
# TRANSFORMS (default "comp esp ah", inner to outer) may name a smaller group, e.g. "comp esp".
# Then the receiver's inbound esp SA is deleted: traffic from left to right fails and the
# receiver's `stats` counts the drops; re-added with the same keys, traffic flows again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/two_hosts.sh"
require_environment
# The daemons run without TUN offloads here (the other traffic tests use them): the plain path
# stays tested, and with one frame per packet the SAs must count exactly what ipsec0 carried.
export IPSECFS_TUN_OFFLOAD=0
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
[ -x "$PYTHON" ] || skip "no $PYTHON"
command -v ping >/dev/null || skip "no ping(8)"

started=$SECONDS
make_two_hosts
start_gateways

# TRANSFORMS (default "comp esp ah") are the transforms grouped inside the tun SA, inner to
# outer; it must contain esp (the counter checks follow the esp SA) and comp.
TRANSFORMS=${TRANSFORMS:-comp esp ah}
[[ " $TRANSFORMS " == *" esp "* && " $TRANSFORMS " == *" comp "* ]] || die "TRANSFORMS must hold comp and esp"

# SPIs, left to right: tun 0x10001, comp CPI 0x1002, esp 0x1000, ah 0x1001; right to left the
# same with 2. Keys: esp from seed 1 (left to right) or 11, ah from seed 6 or 16.
# group_saids N DST: the group's SAIDs, inner to outer, in GROUP.
group_saids() {
    local t
    GROUP=("tun.${1}0001@$2")
    for t in $TRANSFORMS; do
        case $t in
        comp) GROUP+=("comp.${1}002@$2") ;;
        esp) GROUP+=("esp.${1}000@$2") ;;
        ah) GROUP+=("ah.${1}001@$2") ;;
        *) die "unknown transform $t" ;;
        esac
    done
}
# sa_lines N SRC DST: the spi lines of the group's SAs.
sa_lines() {
    local n=$1 src=$2 dst=$3 seed=1 t
    [ "$n" = 1 ] || seed=11
    for t in $TRANSFORMS; do
        case $t in
        comp) echo "spi --said comp.${n}002@$dst --src $src --comp deflate" ;;
        esp) echo "spi --said esp.${n}000@$dst --src $src $(esp_options aes128gcm16 "$seed")" ;;
        ah) echo "spi --said ah.${n}001@$dst --src $src --ah hmac-sha1-96 --authkey $(seeded_key 20 $((seed + 5)))" ;;
        esac
    done
    echo "spi --said tun.${n}0001@$dst --ip4 --src $src --dst $dst"
}
# group_batch SIDE: the batch lines of one gateway: outbound group and eroute, inbound group and
# its policy.
group_batch() {
    local self peer my_net peer_net o i
    if [ "$1" = left ]; then
        self=$LEFT_WAN4 peer=$RIGHT_WAN4 my_net=$LEFT_NET4 peer_net=$RIGHT_NET4 o=1 i=2
    else
        self=$RIGHT_WAN4 peer=$LEFT_WAN4 my_net=$RIGHT_NET4 peer_net=$LEFT_NET4 o=2 i=1
    fi
    sa_lines "$o" "$self" "$peer"
    group_saids "$o" "$peer"
    echo "spigrp --said ${GROUP[*]}"
    echo "eroute --add --src $my_net --dst $peer_net --said ${GROUP[0]}"
    sa_lines "$i" "$peer" "$self"
    group_saids "$i" "$self"
    echo "spigrp --said ${GROUP[*]}"
    echo "eroute --addin --src $peer_net --dst $my_net --said ${GROUP[0]}"
}
group_batch left | ipsec_l --batch - || die "left configuration refused"
group_batch right | ipsec_r --batch - || die "right configuration refused"

group_saids 1 "$RIGHT_WAN4"
OUT_L=("${GROUP[@]}") IN_R=("${GROUP[@]}")
group_saids 2 "$LEFT_WAN4"
OUT_R=("${GROUP[@]}") IN_L=("${GROUP[@]}")

# Both groups in each daemon's ipsec_spigrp.
for side in L R; do
    mnt_var=MNT_$side
    grp=$(cat "${!mnt_var}/ipsec_spigrp")
    for said in "${OUT_L[@]}" "${OUT_R[@]}"; do
        [[ "$grp" == *"$said"* ]] || die "$side ipsec_spigrp lacks $said: $grp"
    done
    [ "$(grep -c . <<<"$grp")" -ge 2 ] || die "$side ipsec_spigrp lists fewer than 2 groups: $grp"
done
echo "ok - both tun+${TRANSFORMS// /+} groups configured and listed in ipsec_spigrp on both gateways"

# ~2 MB of compressible text and 2 MB of random data.
"$PYTHON" - "$WORK/data.text" <<'PY'
import sys
line = "The quick brown fox jumps over the lazy dog; ipsecfs tun+comp+esp+ah %07d\n"
with open(sys.argv[1], "w") as f:
    n = 0
    i = 0
    while n < 2 << 20:
        s = line % i
        f.write(s)
        n += len(s)
        i += 1
PY
head -c $((2 << 20)) /dev/urandom >"$WORK/data.random"

# nonzero_drops MNT: the drop_ counters of MNT's stats that are not zero.
nonzero_drops() { grep '^drop_' "$1/stats" | grep -v '=0$' | tr '\n' ' ' || true; }

snapshot_counters
for dir in L R; do
    if [ $dir = L ]; then ns=$NS_L src=$LEFT_IN4 dst=$RIGHT_IN4 rmnt=$MNT_R; else ns=$NS_R src=$RIGHT_IN4 dst=$LEFT_IN4 rmnt=$MNT_L; fi
    ip netns exec "$ns" ping -q -n -c 3 -i 0.2 -w 5 -I "$src" "$dst" >"$WORK/ping.out" 2>&1 ||
        die "ping $src -> $dst failed; the receiver's drops: $(nonzero_drops "$rmnt")"
done
echo "ok - ping both ways through the groups"
tcp_transfer "$NS_L" "$NS_R" "$LEFT_IN4" "$RIGHT_IN4" "$WORK/data.text"
echo "ok - $(stat -c %s "$WORK/data.text") bytes of text left -> right in $TRANSFER_SECONDS s, sha256 agrees"
tcp_transfer "$NS_L" "$NS_R" "$LEFT_IN4" "$RIGHT_IN4" "$WORK/data.random"
echo "ok - $(stat -c %s "$WORK/data.random") random bytes left -> right in $TRANSFER_SECONDS s, sha256 agrees"
check_counters "tun+${TRANSFORMS// /+}"
echo "ok - every SA of both groups, both directions, counted what ipsec0 carried; no drops"

ratios=()
# ratio, errors.
for side in L R; do
    mnt_var=MNT_$side
    mnt=${!mnt_var}
    for said in "${OUT_L[@]}" "${OUT_R[@]}"; do
        line=$(spi_line "$mnt" "$said")
        [ -n "$line" ] || die "$side: no ipsec_spi line for $said"
        for f in auth_errs ooo_errs; do
            if [ -e "$mnt/spi/$said/$f" ]; then
                read_file "$mnt/spi/$said/$f"
                [ "$REPLY" = 0 ] || die "$side $said: $f=$REPLY"
            fi
        done
        if [[ "$line" =~ (auth_errs|ooo_errs)=([0-9]+) ]] && [ "${BASH_REMATCH[2]}" != 0 ]; then
            die "$side $said: ${BASH_REMATCH[0]} in line: $line"
        fi
    done
done
echo "ok - no auth_errs or ooo_errs on any SA"
for pair in "L:comp.1002@$RIGHT_WAN4" "R:comp.1002@$RIGHT_WAN4"; do
    side=${pair%%:*} said=${pair#*:}
    mnt_var=MNT_$side
    mnt=${!mnt_var}
    read_file "$mnt/spi/$said/ratio"
    ratio=$REPLY
    [[ "$ratio" =~ ^([0-9]+):([0-9]+)$ ]] || die "$side $said: ratio file reads '$ratio'"
    u=${BASH_REMATCH[1]} c=${BASH_REMATCH[2]}
    [ "$u" -gt "$c" ] && [ "$c" -gt 0 ] || die "$side $said: ratio $ratio, want U > C > 0"
    line=$(spi_line "$mnt" "$said")
    [[ "$line" == *" ratio=$ratio"* || "$line" == *"ratio=$ratio"* ]] ||
        die "$side $said: ipsec_spi line lacks ratio=$ratio: $line"
    echo "ok - $side $said ratio $ratio (also in its ipsec_spi line)"
    ratios+=("$ratio")
done
[ "${ratios[0]}" = "${ratios[1]}" ] || die "sender's comp ratio ${ratios[0]}, receiver's ${ratios[1]}"

# Delete the receiver's inbound esp SA: the group goes down, packets are dropped and counted.
stats_before=$(daemon_stats "$MNT_R")
ipsec_r spi --said "esp.1000@$RIGHT_WAN4" --del || die "deleting esp.1000@$RIGHT_WAN4 refused"
if ip netns exec "$NS_L" ping -q -n -c 3 -i 0.2 -w 2 -I "$LEFT_IN4" "$RIGHT_IN4" >"$WORK/ping.out" 2>&1; then
    die "ping got through with the receiver's esp SA deleted"
fi
local_drops=0
declare -A MOVED
stats_moved "$stats_before" "$MNT_R"
moved_list=
for key in "${!MOVED[@]}"; do
    if [[ "$key" == drop_* ]] && [ "${MOVED[$key]}" -gt 0 ]; then
        local_drops=$((local_drops + MOVED[$key]))
        moved_list+=" $key=+${MOVED[$key]}"
    fi
done
[ "$local_drops" -ge 3 ] || die "receiver's stats counted $local_drops drops for 3 pings: $(daemon_stats "$MNT_R")"
echo "ok - esp SA deleted on the receiver: ping fails, receiver's stats count the drops:$moved_list"

# Re-add it with the same keys (and regroup): traffic flows again.
{
    sa_lines 1 "$LEFT_WAN4" "$RIGHT_WAN4" | grep '^spi --said esp'
    echo "spigrp --said ${IN_R[*]}"
} | ipsec_r --batch - || die "re-adding esp.1000@$RIGHT_WAN4 refused"
grep -q "esp.1000@$RIGHT_WAN4" "$MNT_R/ipsec_spigrp" || die "group not rebuilt: $(cat "$MNT_R/ipsec_spigrp")"
ping_ok "$NS_L" "$LEFT_IN4" "$RIGHT_IN4"
tcp_transfer "$NS_L" "$NS_R" "$LEFT_IN4" "$RIGHT_IN4" "$WORK/data.text"
echo "ok - esp SA re-added: ping and a $(stat -c %s "$WORK/data.text")-byte transfer get through again"

stop_daemon "$PID_L"
stop_daemon "$PID_R"
forget_pid "$PID_L"
forget_pid "$PID_R"
pass "tun+${TRANSFORMS// /+} groups in $((SECONDS - started)) s"
