#!/usr/bin/env bash
# Lifetimes with traffic between two namespaced daemons:
#   1. a soft packet limit: each SA says so exactly once, on `ipsec monitor` and through the
#      --on-expire hook; its state file reads dying; traffic goes on;
#   2. a hard byte limit: the packet that reaches it passes, nothing after it does (bytes counted
#      never exceed the limit), the SA and its group vanish, later traffic is dropped and counted;
#   3. a hard addtime limit removes the SA on time (at most a second late);
#   4. a hook that sleeps, then one that fails, do not slow traffic down.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/two_hosts.sh"
require_environment
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ping >/dev/null || skip "no ping(8)"

# The hook logs "<pid> <event> <said> <limit> <current> <dir>", then sleeps or fails when told.
cat >"$WORK/hook.sh" <<EOS
#!/bin/sh
echo "\$PPID \$IPSEC_EVENT \$IPSEC_SAID \$IPSEC_LIMIT \$IPSEC_CURRENT \$IPSEC_DIR" >>"$WORK/hook.log"
[ -f "$WORK/hook.slow" ] && sleep 8
[ -f "$WORK/hook.fail" ] && exit 3
exit 0
EOS
chmod +x "$WORK/hook.sh"
: >"$WORK/hook.log"

make_two_hosts
start_gateways --on-expire "$WORK/hook.sh" --on-expire-timeout 30

tunnel_saids left 4
OUT_L=("${OUT_SAIDS[@]}") IN_L=("${IN_SAIDS[@]}")

# monitor_start: `ipsec monitor` on the left daemon, into $WORK/monitor.out.
monitor_start() {
    : >"$WORK/monitor.out"
    IPSEC_CONTROL=$SOCK_L "$IPSEC" monitor >"$WORK/monitor.out" 2>&1 &
    MONITOR_PID=$!
    DAEMON_PIDS+=("$MONITOR_PID")
    sleep 0.3  # connected before the traffic starts
}
monitor_stop() {
    kill "$MONITOR_PID" 2>/dev/null || true
    wait "$MONITOR_PID" 2>/dev/null || true
    forget_pid "$MONITOR_PID"
}
# wait_for TEST-COMMAND…: up to 5 s.
wait_for() {
    local i
    for ((i = 0; i < 50; i++)); do
        "$@" && return 0
        sleep 0.1
    done
    return 1
}
lines_matching() { grep -c -- "$1" "$2" || true; }

# ---- 1. soft packet limit ---------------------------------------------------------------------
configure_tunnel aes128gcm16 4 4 --life soft-packets=5
monitor_start
ip netns exec "$NS_L" ping -q -n -c 10 -i 0.05 -w 5 -I "$LEFT_IN4" "$RIGHT_IN4" >"$WORK/ping.out" ||
    die "ping under a soft limit failed: $(cat "$WORK/ping.out")"
wait_for test "$(lines_matching "^soft" "$WORK/monitor.out")" -ge 2 ||
    die "no soft events on ipsec monitor: $(cat "$WORK/monitor.out")"
sleep 0.6  # one more watcher pass: nothing may be announced twice
monitor_stop
[ "$(lines_matching "^soft ${OUT_L[1]} dir=out limit=packets current=5 soft=5 hard=0 " "$WORK/monitor.out")" = 1 ] ||
    die "outbound soft event not exactly once: $(cat "$WORK/monitor.out")"
[ "$(lines_matching "^soft ${IN_L[1]} dir=in limit=packets current=5 soft=5 hard=0 " "$WORK/monitor.out")" = 1 ] ||
    die "inbound soft event not exactly once: $(cat "$WORK/monitor.out")"
[ "$(wc -l <"$WORK/monitor.out")" = 2 ] || die "unexpected events: $(cat "$WORK/monitor.out")"
# (SAID, direction) names the daemon: left's outbound SA is right's inbound one.
wait_for test "$(lines_matching " soft ${OUT_L[1]} packets 5 out$" "$WORK/hook.log")" = 1 ||
    die "hook did not run once for ${OUT_L[1]}: $(cat "$WORK/hook.log")"
[ "$(lines_matching " soft ${IN_L[1]} packets 5 in$" "$WORK/hook.log")" = 1 ] ||
    die "hook did not run once for ${IN_L[1]}: $(cat "$WORK/hook.log")"
[ "$(cat "$MNT_L/spi/${OUT_L[1]}/state")" = dying ] || die "state is not dying"
[ "$(cat "$MNT_L/spi/${OUT_L[0]}/state")" = mature ] || die "the tun SA has no limit: mature"
ping_ok "$NS_L" "$LEFT_IN4" "$RIGHT_IN4"
pass "soft packet limit: one monitor line and one hook run per SA, state dying, traffic flows"

# ---- 2. hard byte limit -----------------------------------------------------------------------
# Each echo request and reply is 1000 bytes of clear IP: the 20th reaches 20000 exactly.
configure_tunnel aes128gcm16 4 4 --life hard-bytes=20000
monitor_start
stats_before=$(daemon_stats "$MNT_L")
ip netns exec "$NS_L" timeout 20 ping -q -n -c 30 -i 0.05 -W 1 -s 972 -I "$LEFT_IN4" "$RIGHT_IN4" \
    >"$WORK/ping.out" 2>&1 || true
grep -q '^30 packets transmitted, 20 received,' "$WORK/ping.out" ||
    die "expected exactly 20 of 30 echoes through a 20000-byte SA: $(cat "$WORK/ping.out")"
wait_for test "$(lines_matching "^hard" "$WORK/monitor.out")" -ge 4 ||
    die "no hard events: $(cat "$WORK/monitor.out")"
monitor_stop
grep -q "^hard ${OUT_L[1]} dir=out limit=bytes current=20000 soft=0 hard=20000 " "$WORK/monitor.out" ||
    die "outbound hard event missing: $(cat "$WORK/monitor.out")"
grep -q "^hard ${OUT_L[0]} dir=out limit=group .* expired=${OUT_L[1]}$" "$WORK/monitor.out" ||
    die "the group's tun SA was not taken down with it: $(cat "$WORK/monitor.out")"
grep -q "^hard ${IN_L[1]} dir=in limit=bytes current=20000 " "$WORK/monitor.out" ||
    die "inbound hard event missing: $(cat "$WORK/monitor.out")"
for s in "${OUT_L[@]}" "${IN_L[@]}"; do
    [ ! -e "$MNT_L/spi/$s" ] || die "$s still has a directory after its hard limit"
    ! grep -q "^$s " "$MNT_L/ipsec_spi" || die "$s still has a line after its hard limit"
done
grep -q "${OUT_L[0]}" "$MNT_L/ipsec_spigrp" && die "the expired group is still listed"
stats_after=$(daemon_stats "$MNT_L")
stat_value() { local w; for w in $1; do [ "${w%%=*}" != "$2" ] || echo "${w#*=}"; done; }
dropped=$(($(stat_value "$stats_after" drop_life_expired) + $(stat_value "$stats_after" drop_no_sa) -
    $(stat_value "$stats_before" drop_life_expired) - $(stat_value "$stats_before" drop_no_sa)))
[ "$dropped" -eq 10 ] || die "10 echoes past the limit should be dropped and counted, got $dropped"
pass "hard byte limit: 20 of 30 packets pass, events at current=20000, group gone, 10 drops counted"

# ---- 3. hard addtime limit --------------------------------------------------------------------
before=$(date +%s.%N)
configure_tunnel aes128gcm16 4 4 --life hard-addtime=3
added=$(cat "$MNT_L/spi/${OUT_L[1]}/add_time")
[ "$(cat "$MNT_L/spi/${OUT_L[1]}/hard_time_left")" -le 3 ] || die "hard_time_left above 3"
for ((i = 0; i < 60; i++)); do
    [ -e "$MNT_L/spi/${OUT_L[1]}" ] || break
    sleep 0.1
done
gone=$(date +%s.%N)
[ ! -e "$MNT_L/spi/${OUT_L[1]}" ] || die "SA with hard-addtime=3 still there after 6 s"
# Never early (add_time is the whole second of the add), at most a watcher pass late (the SA was
# added after $before, by as long as configuring took).
awk -v g="$gone" -v a="$added" 'BEGIN {exit !(g >= a + 3)}' || die "removed before add_time + 3 s"
late=$(awk -v g="$gone" -v b="$before" 'BEGIN {printf "%.2f", g - b - 3}')
awk -v l="$late" 'BEGIN {exit !(l <= 1.5)}' || die "removed $late s after its hard addtime"
pass "hard addtime limit: removed at most ${late} s after add + 3 s"

# ---- 4. slow and failing hooks ------------------------------------------------------------------
touch "$WORK/hook.slow"
configure_tunnel aes128gcm16 4 4 --life soft-packets=1
start=$(date +%s.%N)
ip netns exec "$NS_L" ping -q -n -c 40 -i 0.02 -w 5 -I "$LEFT_IN4" "$RIGHT_IN4" >"$WORK/ping.out" ||
    die "traffic failed while a hook sleeps: $(cat "$WORK/ping.out")"
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')
# A hook that held traffic up would cost at least its 8 s.
awk -v t="$took" 'BEGIN {exit !(t < 6)}' || die "40 pings took $took s with a sleeping hook"
rm -f "$WORK/hook.slow"
touch "$WORK/hook.fail"
configure_tunnel aes128gcm16 4 4 --life soft-packets=1
ping_ok "$NS_L" "$LEFT_IN4" "$RIGHT_IN4" 10
for ((i = 0; i < 300; i++)); do  # behind the two sleeping hooks
    grep -q -- "--on-expire: exit status 3: soft" "$WORK/left.log" && break
    sleep 0.1
done
grep -q -- "--on-expire: exit status 3: soft" "$WORK/left.log" ||
    die "a failing hook is not logged: $(tail -5 "$WORK/left.log")"
pass "a sleeping hook (pings: $took s for 40) and a failing one do not hold traffic up"

stop_daemon "$PID_L"
stop_daemon "$PID_R"
forget_pid "$PID_L"
forget_pid "$PID_R"
