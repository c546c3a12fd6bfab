#!/usr/bin/env bash
# The live views in a real terminal (tmux) and piped, against two gateways with an ESP tunnel:
#   - `ipsec top` on a terminal shows non-zero rates for the SAs that carry a ping flood
#     (`ping -c 200 -i 0.01`, about 2 s) and zero for the others; q and Ctrl-C end it with
#     status 0 and the terminal as it was (main screen, cursor shown, same stty modes);
#   - `ipsec top -b -n 2` and a piped `ipsec top` print plain frames, no escape codes, whose
#     counters equal the SAs' life/ files;
#   - `ipsec spi --watch` shows an SA within 2 s of `ipsec spi` adding it (the poll wake, with a
#     30 s interval) on a terminal and piped, and drops it once deleted; when the daemon stops,
#     it exits 1 with one line of error, the terminal restored.
# Prints the latency of each watch update.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/two_hosts.sh"
require_environment
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v tmux >/dev/null || skip "no tmux(1)"
command -v ping >/dev/null || skip "no ping(8)"

make_two_hosts
start_gateways
configure_tunnel aes128gcm16 4 4
tunnel_saids left 4
OUT_L=("${OUT_SAIDS[@]}") IN_L=("${IN_SAIDS[@]}")
ESC=$'\e'

# ---- refusals (before any traffic: expect_refusal compares the SAs' ages) -------------
expect_refusal "^ipsec top: --sort must be bytes, packets or errors, not 'cpu'$" "$IPSEC" top --sort cpu
expect_refusal "^ipsec top: cannot open /nonexistent/ipsec_spi: No such file or directory$" \
    "$IPSEC" top --mount /nonexistent
expect_refusal "^ipsec spi --watch: --watch takes only --interval and --mount, not '--del'$" \
    "$IPSEC" spi --watch --del

# ---- a terminal: tmux with a plain shell ------------------------------------------------------
TMUX_SOCK=$WORK/tmux.sock
tmx() { tmux -S "$TMUX_SOCK" -f /dev/null "$@"; }
tmx new-session -d -s live -x 180 -y 50 \
    "exec env -i PATH=$PATH HOME=$WORK TERM=screen PS1='$ ' bash --norc --noprofile -i"
TMUX_PID=$(tmx display-message -p -t live '#{pid}')
DAEMON_PIDS+=("$TMUX_PID")

pane() { tmx capture-pane -p -t live; }
pane_flag() { tmx display-message -p -t live "#{$1}"; }
type_line() { tmx send-keys -t live -l "$1" && tmx send-keys -t live Enter; }

now_us() { echo "${EPOCHREALTIME/./}"; }
# wait_until SECONDS COMMAND…: until COMMAND succeeds; fails once SECONDS have passed.
wait_until() {
    local deadline=$(($(now_us) + $1 * 1000000)) i
    shift
    for ((i = 0; i < 4000; i++)); do
        "$@" && return 0
        (($(now_us) < deadline)) || return 1
        sleep 0.05
    done
    return 1
}
pane_has() { pane | grep -qE -- "$1"; }
pane_lacks() { ! pane | grep -qE -- "$1"; }
# wait_pane SECONDS ERE: until a line of the pane matches.
wait_pane() { wait_until "$1" pane_has "$2"; }

# column SAID N: field N of that SA's line in the pane ("" when the SA is not shown).
column() { pane | awk -v s="$1" -v n="$2" '$1 == s {print $n; exit}'; }

# is_positive TEXT: a rate as top prints it ("0", "-", "12", "0.5", "12.3k") is above zero.
is_positive() { [[ "$1" =~ ^[0-9.]+[kMGT]?$ && ! "$1" =~ ^0(\.0)?$ ]]; }

type_line "stty -g > $WORK/stty.before; echo MARK-READY"
wait_pane 5 '^MARK-READY$' || die "the shell in tmux did not start: $(pane)"

# ---- ipsec top with traffic -------------------------------------------------------------------
type_line "$IPSEC top --mount $MNT_L --interval 1; echo TOP-EXIT=\$?; stty -g > $WORK/stty.after"
wait_pane 5 '^SAID +XFORM +DIR +BYTES/S' || die "ipsec top drew no table: $(pane)"
[ "$(pane_flag alternate_on)" = 1 ] || die "ipsec top did not switch to the alternate screen"
[ "$(pane_flag cursor_flag)" = 0 ] || die "ipsec top left the cursor visible"
wait_pane 5 "^${OUT_L[1]} +ESP_AES_GCM_16 +out +0 " ||
    die "no rates of 0 before any traffic: $(pane)"

ip netns exec "$NS_L" ping -q -n -c 200 -i 0.01 -w 20 -I "$LEFT_IN4" "$RIGHT_IN4" \
    >"$WORK/ping.out" 2>&1 &
PING_PID=$!
DAEMON_PIDS+=("$PING_PID")
rates_seen=
for ((i = 0; i < 120; i++)); do
    esp_out=$(column "${OUT_L[1]}" 4) tun_out=$(column "${OUT_L[0]}" 4)
    esp_in=$(column "${IN_L[1]}" 5)
    if is_positive "$esp_out" && is_positive "$tun_out" && is_positive "$esp_in"; then
        rates_seen="${OUT_L[1]} $esp_out bytes/s, ${OUT_L[0]} $tun_out bytes/s, ${IN_L[1]} $esp_in packets/s"
        break
    fi
    sleep 0.05
done
[ -n "$rates_seen" ] || die "ipsec top showed no rates during the ping flood: $(pane)"
out_total=$(pane | awk '$1 == "out" {print $4; exit}')
is_positive "$out_total" || die "the header's outbound total is '$out_total': $(pane)"
wait "$PING_PID" || die "the ping flood failed: $(cat "$WORK/ping.out")"
forget_pid "$PING_PID"
pass "ipsec top on a terminal: $rates_seen during the flood, outbound total $out_total bytes/s"

# Rates fall back to 0 once the traffic stops.
wait_pane 6 "^${OUT_L[1]} +ESP_AES_GCM_16 +out +0 +0 +0 " ||
    die "rates did not fall back to 0 after the flood: $(pane)"

tmx send-keys -t live q
wait_pane 5 '^TOP-EXIT=0$' || die "ipsec top did not exit 0 on q: $(pane)"
[ "$(pane_flag alternate_on)" = 0 ] || die "the alternate screen is still on after q"
[ "$(pane_flag cursor_flag)" = 1 ] || die "the cursor is still hidden after q"
wait_pane 5 '^MARK-READY$' || die "the main screen did not come back after q: $(pane)"
! pane | grep -qE '^SAID +XFORM' || die "the table is still on the main screen: $(pane)"
for ((i = 0; i < 50; i++)); do [ -s "$WORK/stty.after" ] && break; sleep 0.05; done
cmp -s "$WORK/stty.before" "$WORK/stty.after" ||
    die "terminal modes changed: $(cat "$WORK/stty.before") -> $(cat "$WORK/stty.after")"
pass "ipsec top: q exits 0 and restores the screen, the cursor and the terminal modes"

rm -f "$WORK/stty.after"
type_line "clear; $IPSEC top --mount $MNT_L --interval 0.5 --sort packets; echo TOP-EXIT2=\$?; stty -g > $WORK/stty.after"
wait_pane 5 'sorted by packets/s' || die "ipsec top --sort packets drew no table: $(pane)"
tmx send-keys -t live C-c
wait_pane 5 '^TOP-EXIT2=0$' || die "ipsec top did not exit 0 on Ctrl-C: $(pane)"
[ "$(pane_flag alternate_on)" = 0 ] && [ "$(pane_flag cursor_flag)" = 1 ] ||
    die "Ctrl-C left the alternate screen on or the cursor hidden"
for ((i = 0; i < 50; i++)); do [ -s "$WORK/stty.after" ] && break; sleep 0.05; done
cmp -s "$WORK/stty.before" "$WORK/stty.after" || die "terminal modes changed after Ctrl-C"
pass "ipsec top: Ctrl-C exits 0 and restores the terminal"

# ---- piped and batch frames: plain text, counters exact ---------------------------------------
"$IPSEC" top -b -n 2 --interval 0.3 --mount "$MNT_L" >"$WORK/batch.out"
! grep -q "$ESC" "$WORK/batch.out" || die "batch output holds escape codes"
[ "$(grep -c '^ipsec top - ' "$WORK/batch.out")" = 2 ] || die "expected 2 frames: $(cat "$WORK/batch.out")"
sas=$(grep -c . "$MNT_L/ipsec_spi")
[ "$(grep -cE '^(esp|tun)[.:]' "$WORK/batch.out")" = $((2 * sas)) ] ||
    die "expected $sas SA lines per frame: $(cat "$WORK/batch.out")"
for said in "${OUT_L[@]}" "${IN_L[@]}"; do
    packets=$(life_c "$MNT_L" "$said" packets)
    shown=$(awk -v s="$said" '$1 == s {p = $8} END {print p}' "$WORK/batch.out")
    [ "$shown" = "$packets" ] || die "ipsec top -b shows $said with $shown packets, life/packets has $packets"
done
"$IPSEC" top -n 1 --interval 0.2 --mount "$MNT_L" | cat >"$WORK/piped.out"
! grep -q "$ESC" "$WORK/piped.out" || die "piped output holds escape codes"
[ "$(grep -c '^ipsec top - ' "$WORK/piped.out")" = 1 ] || die "expected 1 piped frame: $(cat "$WORK/piped.out")"
pass "ipsec top -b -n 2 and piped: plain frames, every SA, packets equal to life/packets ($packets on ${IN_L[1]})"

# ---- ipsec spi --watch ------------------------------------------------------------------------
NEW_SAID=esp.7777@$RIGHT_WAN4
# shellcheck disable=SC2046 # esp_options prints several words
add_new() { ipsec_l spi --said "$NEW_SAID" --src "$LEFT_WAN4" $(esp_options aes128gcm16 9); }
del_new() { ipsec_l spi --said "$NEW_SAID" --del; }
ms_since() { echo $((($(now_us) - ${1/./}) / 1000)); }

type_line "clear; $IPSEC spi --watch --interval 30 --mount $MNT_L; echo WATCH-EXIT=\$?"
wait_pane 5 '^Every 30\.0s: .*, 4 SAs, ' || die "ipsec spi --watch drew nothing: $(pane)"
[ "$(pane_flag alternate_on)" = 1 ] || die "ipsec spi --watch did not switch to the alternate screen"
add_new
t0=$EPOCHREALTIME
wait_pane 2 "^$NEW_SAID ESP_AES_GCM_16: dir=out" || die "the new SA did not show within 2 s: $(pane)"
added_ms=$(ms_since "$t0")
del_new
t0=$EPOCHREALTIME
wait_until 2 pane_lacks "^$NEW_SAID " || die "the deleted SA still shows after 2 s: $(pane)"
deleted_ms=$(ms_since "$t0")
tmx send-keys -t live q
wait_pane 5 '^WATCH-EXIT=0$' || die "ipsec spi --watch did not exit 0 on q: $(pane)"
[ "$(pane_flag alternate_on)" = 0 ] && [ "$(pane_flag cursor_flag)" = 1 ] ||
    die "q left the alternate screen on or the cursor hidden"
pass "ipsec spi --watch on a terminal: an SA added shows in ${added_ms} ms, deleted goes in ${deleted_ms} ms (interval 30 s); q restores the terminal"

"$IPSEC" spi --watch --interval 30 --mount "$MNT_L" >"$WORK/watch.out" 2>&1 &
WATCH_PID=$!
DAEMON_PIDS+=("$WATCH_PID")
frames() { [ "$(grep -c '^Every 30\.0s' "$WORK/watch.out")" -ge "$1" ]; }
wait_until 5 frames 1 || die "piped watch: no first frame: $(cat "$WORK/watch.out")"
add_new
t0=$EPOCHREALTIME
wait_until 2 grep -q "^$NEW_SAID " "$WORK/watch.out" ||
    die "piped watch: the new SA did not show within 2 s"
added_ms=$(ms_since "$t0")
del_new
wait_until 2 frames 3 || true
[ "$(grep -c '^Every 30\.0s' "$WORK/watch.out")" = 3 ] ||
    die "piped watch: expected 3 frames (start, added, deleted): $(cat "$WORK/watch.out")"
! tail -n 6 "$WORK/watch.out" | grep -q "^$NEW_SAID " || die "piped watch: the last frame still has the deleted SA"
! grep -q "$ESC" "$WORK/watch.out" || die "piped watch output holds escape codes"
kill -TERM "$WATCH_PID"
status=0
wait "$WATCH_PID" || status=$?
forget_pid "$WATCH_PID"
[ "$status" = 0 ] || die "ipsec spi --watch exited $status on SIGTERM"
pass "ipsec spi --watch piped: the new SA in ${added_ms} ms, one frame per change, exit 0 on SIGTERM"

# The daemon goes away under a watch: one line of error once the terminal is back, status 1.
type_line "clear; $IPSEC spi --watch --interval 30 --mount $MNT_R; echo WATCH-EXIT=\$?"
wait_pane 5 '^Every 30\.0s: ' || die "ipsec spi --watch drew nothing: $(pane)"
stop_daemon "$PID_R"
forget_pid "$PID_R"
wait_pane 5 '^WATCH-EXIT=1$' || die "ipsec spi --watch did not fail when the daemon stopped: $(pane)"
pane | grep -qE "^ipsec spi --watch: cannot read $MNT_R/ipsec_spi: " ||
    die "no error line on the main screen: $(pane)"
[ "$(pane_flag alternate_on)" = 0 ] && [ "$(pane_flag cursor_flag)" = 1 ] ||
    die "the failure left the alternate screen on or the cursor hidden"
pass "ipsec spi --watch: the daemon stopped: $(pane | grep -m1 '^ipsec spi --watch: '), status 1, terminal restored"

tmx kill-server
forget_pid "$TMUX_PID"
stop_daemon "$PID_L"
forget_pid "$PID_L"
pass "live views"
