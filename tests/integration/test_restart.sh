#!/usr/bin/env bash
# Restarts lose no SA and reuse no sequence number (and so no AES-GCM nonce) under one key:
#   - the sender is SIGKILLed with no traffic and restarted: its SAs, groups, eroutes and counters
#     are back in the mount, each outbound SA continues above its reserved sequence numbers, and
#     traffic flows again;
#   - the sender is SIGKILLed in the middle of a UDP flood and restarted: no sequence number
#     appears twice for one SPI in the ESP captured on the wire across both kills; prints the time
#     from the restart to the first ESP packet it sends;
#   - ESP captured at the receiver is replayed after the receiver restarted (SIGTERM, and SIGKILL
#     after the periodic write): every packet is counted in ooo_errs, none is delivered;
#   - a truncated, corrupt (one flipped byte) or unknown-version state file refuses the start with
#     one line naming the file and the problem; --discard-state starts empty and moves it aside.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/two_hosts.sh"
require_environment
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
[ -x "$PYTHON" ] || skip "no $PYTHON"
command -v ping >/dev/null || skip "no ping(8)"
command -v tcpdump >/dev/null || skip "no tcpdump(8)"

make_two_hosts
start_gateways
configure_tunnel aes128gcm16 4 4
tunnel_saids left 4
OUT_L=("${OUT_SAIDS[@]}") IN_L=("${IN_SAIDS[@]}")
tunnel_saids right 4
OUT_R=("${OUT_SAIDS[@]}") IN_R=("${IN_SAIDS[@]}")
ESP_OUT=${OUT_L[-1]} # esp.1000@192.0.2.2: left's outbound ESP, right's inbound
PERIODIC_WAIT=2.6     # the daemon writes moved counters within 2 s (+ one 20 ms look)
BLOCK=65536           # the smallest reservation

cat >"$WORK/esp.py" <<'PY'
# esp.py seqs PCAP SRC T0 | replay PCAP SRC DST
#   seqs:   the ESP packets from SRC in an Ethernet pcap: "packets duplicates first_after_t0
#           max_seq_before_t0 min_seq_after_t0 spis" (first_after_t0: seconds from T0 to the
#           first packet after it, -1 when none)
#   replay: sends the ESP packets from SRC to DST again through a raw socket; prints how many
import socket, struct, sys

def esp_packets(path, src):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    order = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
    if struct.unpack(order + "I", data[20:24])[0] != 1:
        sys.exit("not an Ethernet capture")
    at = 24
    while at + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(order + "IIII", data[at:at + 16])
        frame = data[at + 16:at + 16 + incl]
        at += 16 + incl
        if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 50 or socket.inet_ntoa(ip[12:16]) != src:
            continue
        total = struct.unpack(">H", ip[2:4])[0]
        spi, seq = struct.unpack(">II", ip[ihl:ihl + 8])
        yield sec + frac / (1e9 if nano else 1e6), spi, seq, bytes(ip[:total])

mode, path, src = sys.argv[1:4]
if mode == "seqs":
    t0 = float(sys.argv[4])
    seen, dups, first, before, after, n = set(), 0, -1.0, 0, None, 0
    for ts, spi, seq, _ in esp_packets(path, src):
        n += 1
        dups += (spi, seq) in seen
        seen.add((spi, seq))
        if ts < t0:
            before = max(before, seq)
        else:
            if first < 0:
                first = ts - t0
            after = seq if after is None else min(after, seq)
    print(n, dups, "%.3f" % first, before, -1 if after is None else after,
          len({spi for spi, _ in seen}))
else:
    dst = sys.argv[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    n = 0
    for _, _, _, pkt in esp_packets(path, src):
        if socket.inet_ntoa(pkt[16:20]) == dst:
            s.sendto(pkt, (dst, 0))
            n += 1
    print(n)
PY

cat >"$WORK/flood.py" <<'PY'
# flood.py SRC DST SECONDS STOPFILE: a UDP datagram from SRC to DST:9 every 2 ms until SECONDS
# passed or STOPFILE exists; send errors (no route while ipsec0 is gone) are ignored.
import os, socket, sys, time
src, dst, seconds, stop = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
end = time.monotonic() + seconds
while time.monotonic() < end and not os.path.exists(stop):
    try:
        s.sendto(b"x" * 64, (dst, 9))
    except OSError:
        pass
    time.sleep(0.002)
PY

# capture NS NAME: ESP on NS's wan into $WORK/NAME.pcap, from now until stop_capture. Sets
# CAPTURE_PID.
capture() {
    local i
    ip netns exec "$1" tcpdump -i wan -nn -U --immediate-mode -s 256 -w "$WORK/$2.pcap" 'ip proto 50' \
        2>"$WORK/$2.tcpdump" &
    CAPTURE_PID=$!
    DAEMON_PIDS+=("$CAPTURE_PID")
    for ((i = 0; i < 100; i++)); do
        grep -q 'listening on' "$WORK/$2.tcpdump" 2>/dev/null && return 0
        sleep 0.05
    done
    die "tcpdump did not start: $(cat "$WORK/$2.tcpdump")"
}
stop_capture() {
    kill -INT "$1"
    wait "$1" 2>/dev/null || true
    forget_pid "$1"
}

# restart_left [ipsec-mountd options…]: starts left's daemon again as start_gateways did, and
# routes the right's inner network into ipsec0 the moment the device exists.
restart_left() {
    local i
    rm -f "$WORK/routed.at"
    (for ((i = 0; i < 2000; i++)); do
        if ip -n "$NS_L" route add "$RIGHT_NET4" dev ipsec0 src "$LEFT_IN4" 2>/dev/null; then
            echo "$EPOCHREALTIME" >"$WORK/routed.at"
            exit 0
        fi
        sleep 0.005
    done) &
    local router=$!
    start_daemon "$NS_L" left --tun ipsec0 --outer-dev wan --state "$WORK/left.state" "$@"
    PID_L=$DAEMON_PID MNT_L=$MNT SOCK_L=$SOCK
    wait "$router" || die "ipsec0 did not come back in $NS_L"
}
restart_right() {
    start_daemon "$NS_R" right --tun ipsec0 --outer-dev wan --state "$WORK/right.state" "$@"
    PID_R=$DAEMON_PID MNT_R=$MNT SOCK_R=$SOCK
    ip -n "$NS_R" route add "$LEFT_NET4" dev ipsec0 src "$RIGHT_IN4"
}
kill_pid() {
    kill -KILL "$1"
    wait "$1" 2>/dev/null || true
    forget_pid "$1"
}

# stat_of MNT NAME: one counter of the daemon's stats file.
stat_of() {
    local line
    while IFS= read -r line; do
        [ "${line%%=*}" != "$2" ] || { echo "${line#*=}"; return 0; }
    done <"$1/stats"
    echo 0
}

# sa_snapshot MNT: each SA's ipsec_spi line without its ages, then eroutes and groups.
sa_snapshot() {
    sed -E 's/(add|use)\([0-9]+,/\1(N,/g; s/ idle=[0-9]+//' "$1/ipsec_spi"
    cat "$1/ipsec_eroute" "$1/ipsec_spigrp"
}

capture "$NS_L" wire
started=$SECONDS

# ---- 1. SIGKILL of the sender, no traffic running ------------------------------------------
ping_ok "$NS_L" "$LEFT_IN4" "$RIGHT_IN4" 10
sleep "$PERIODIC_WAIT"
before=$(sa_snapshot "$MNT_L")
seq_before=$(cat "$MNT_L/spi/$ESP_OUT/seq")
[ "$seq_before" -eq 10 ] || die "left sent $seq_before ESP packets, expected 10"
kill_pid "$PID_L"
restart_left
grep -q "restored 4 SAs, 2 groups, 1 eroutes from $WORK/left.state (not saved at a clean stop" \
    "$WORK/left.log" || die "no restore line in the log: $(cat "$WORK/left.log")"
after=$(sa_snapshot "$MNT_L")
# Everything as it was but the outbound ESP SA's seq, which continues above its reservation.
expected=$(sed -E "s/^($ESP_OUT .* seq=)$seq_before /\1$BLOCK /" <<<"$before")
[ "$after" = "$expected" ] || die "SAs after the restart differ:
--- before (seq $seq_before → $BLOCK)
$expected
--- after
$after"
[ "$(stat -c %a "$WORK/left.state")" = 600 ] || die "state file mode $(stat -c %a "$WORK/left.state")"
ping_ok "$NS_L" "$LEFT_IN4" "$RIGHT_IN4" 5
[ "$(cat "$MNT_L/spi/$ESP_OUT/seq")" -eq $((BLOCK + 5)) ] || die "seq after restart: $(cat "$MNT_L/spi/$ESP_OUT/seq")"
[ "$(life_c "$MNT_L" "$ESP_OUT" packets)" -eq 15 ] || die "packets: $(life_c "$MNT_L" "$ESP_OUT" packets)"
pass "SIGKILL + restart of the sender: 4 SAs, groups, eroute and counters back; seq continues at $((BLOCK + 1))"

# ---- 2. SIGKILL in the middle of a flood ----------------------------------------------------
rm -f "$WORK/flood.stop"
ip netns exec "$NS_L" timeout 30 "$PYTHON" "$WORK/flood.py" "$LEFT_IN4" "$RIGHT_IN4" 25 \
    "$WORK/flood.stop" &
FLOOD_PID=$!
DAEMON_PIDS+=("$FLOOD_PID")
sleep 1.5
kill_pid "$PID_L"
sleep 0.3
t0=$EPOCHREALTIME
restart_left
ready=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.0f", (b - a) * 1000}')
routed=$(awk -v a="$t0" -v b="$(cat "$WORK/routed.at")" 'BEGIN {printf "%.0f", (b - a) * 1000}')
sleep 1.5
touch "$WORK/flood.stop"
wait "$FLOOD_PID" || true
forget_pid "$FLOOD_PID"
sleep 0.3
[ "$(stat_of "$MNT_L" drop_seq_unreserved)" = 0 ] || die "packets dropped as seq_unreserved: $(stat_of "$MNT_L" drop_seq_unreserved)"
stop_capture "$CAPTURE_PID"
read -r n dups first before_max after_min spis <<<"$("$PYTHON" "$WORK/esp.py" seqs "$WORK/wire.pcap" "$LEFT_WAN4" "$t0")"
[ "$n" -gt 500 ] || die "only $n ESP packets from left captured"
[ "$dups" -eq 0 ] || die "$dups sequence numbers appear twice for one SPI in $n packets"
[ "$spis" -eq 1 ] || die "ESP from left under $spis SPIs"
[ "$after_min" -gt "$before_max" ] || die "after the restart seq $after_min, before it up to $before_max"
awk -v f="$first" 'BEGIN {exit !(f > 0 && f < 5)}' || die "first ESP packet after the restart: $first s"
pass "SIGKILL during a flood: $n ESP packets captured across both kills, no sequence number twice; before the kill up to $before_max, after from $after_min"
printf 'ok - restart to first forwarded packet: %.0f ms (ipsec0 up and routed by the test: %s ms; mount and control socket seen up: %s ms)\n' \
    "$(awk -v f="$first" 'BEGIN {print f * 1000}')" "$routed" "$ready"

# ---- 3. replays at a restarted receiver ------------------------------------------------------
# replay_after HOW: captures ping traffic at right, restarts right (HOW: term or kill), replays
# the capture from left and checks every replayed packet is refused and counted.
replay_after() {
    local how=$1 sent ooo0 rx0 pk0 ooo1 rx1 pk1 i
    capture "$NS_R" "in-$how"
    ping_ok "$NS_L" "$LEFT_IN4" "$RIGHT_IN4" 10
    sleep 0.2
    stop_capture "$CAPTURE_PID"
    if [ "$how" = term ]; then
        stop_daemon "$PID_R"
        forget_pid "$PID_R"
    else
        sleep "$PERIODIC_WAIT"
        kill_pid "$PID_R"
    fi
    restart_right
    ooo0=$(cat "$MNT_R/spi/$ESP_OUT/ooo_errs")
    pk0=$(life_c "$MNT_R" "$ESP_OUT" packets)
    read -r _ _ rx0 _ <<<"$(tun_stats "$NS_R")"
    sent=$(ip netns exec "$NS_L" "$PYTHON" "$WORK/esp.py" replay "$WORK/in-$how.pcap" "$LEFT_WAN4" "$RIGHT_WAN4")
    [ "$sent" -ge 10 ] || die "$how: only $sent packets to replay: $(cat "$WORK/in-$how.tcpdump"; tcpdump -nn -r "$WORK/in-$how.pcap" 2>&1)"
    for ((i = 0; i < 30; i++)); do
        ooo1=$(cat "$MNT_R/spi/$ESP_OUT/ooo_errs")
        [ "$((ooo1 - ooo0))" -lt "$sent" ] || break
        sleep 0.1
    done
    pk1=$(life_c "$MNT_R" "$ESP_OUT" packets)
    read -r _ _ rx1 _ <<<"$(tun_stats "$NS_R")"
    [ "$((ooo1 - ooo0))" -eq "$sent" ] || die "$how: $sent replayed, ooo_errs moved by $((ooo1 - ooo0))"
    [ "$pk1" = "$pk0" ] && [ "$rx1" = "$rx0" ] ||
        die "$how: replayed packets delivered (SA packets $pk0 → $pk1, ipsec0 rx $rx0 → $rx1)"
    pass "receiver restarted ($how): $sent replayed packets all counted in ooo_errs, none delivered"
}
replay_after term
replay_after kill

# ---- 4. damaged state files ------------------------------------------------------------------
stop_daemon "$PID_L"
forget_pid "$PID_L"
STATE=$WORK/left.state
cp "$STATE" "$WORK/good.state"
size=$(stat -c %s "$STATE")

# refuse PATTERN: ipsec-mountd exits 1 with one line on stderr matching PATTERN and leaves the
# file as it was.
refuse() {
    local pattern=$1 status=0
    cp "$STATE" "$WORK/damaged.state"
    timeout 20 nsenter --net="/run/netns/$NS_L" "$MOUNTD" --foreground --mount "$WORK/left.mnt" \
        --control "$WORK/left.sock" --tun ipsec0 --outer-dev wan --state "$STATE" \
        >"$WORK/out" 2>"$WORK/err" || status=$?
    [ "$status" -eq 1 ] || die "started with a damaged state file (status $status): $(cat "$WORK/err")"
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || die "expected one line, got: $(cat "$WORK/err")"
    grep -qE -- "$pattern" "$WORK/err" || die "said '$(cat "$WORK/err")', expected /$pattern/"
    cmp -s "$STATE" "$WORK/damaged.state" || die "a refused start changed the state file"
    echo "ok - refused: $(cat "$WORK/err")"
}
head -c 100 "$WORK/good.state" >"$STATE"
refuse "^ipsec-mountd: state file $STATE: truncated: 100 bytes, the header announces $size; --discard-state moves it aside\$"
cp "$WORK/good.state" "$STATE"
printf '\xff' | dd of="$STATE" bs=1 seek=$((size / 2)) conv=notrunc status=none
refuse "^ipsec-mountd: state file $STATE: corrupt: checksum mismatch; --discard-state"
cp "$WORK/good.state" "$STATE"
printf '\x09' | dd of="$STATE" bs=1 seek=11 conv=notrunc status=none
refuse "^ipsec-mountd: state file $STATE: unknown format version 9 \(this ipsec-mountd reads version 1\)"

cp "$STATE" "$WORK/damaged.state"
restart_left --discard-state
[ -z "$(cat "$MNT_L/ipsec_spi")" ] || die "--discard-state kept SAs: $(cat "$MNT_L/ipsec_spi")"
moved=("$STATE".bad-*)
[ -f "${moved[0]}" ] && cmp -s "${moved[0]}" "$WORK/damaged.state" || die "the damaged file was not moved aside"
[ ! -e "$STATE" ] || die "the damaged file is still there"
grep -q "discarded it (moved to ${moved[0]}), starting with no SAs" "$WORK/left.log" ||
    die "no discard line in the log: $(cat "$WORK/left.log")"
pass "--discard-state: started empty, the file moved to ${moved[0]##*/}"
stop_daemon "$PID_L"
forget_pid "$PID_L"
stop_daemon "$PID_R"
forget_pid "$PID_R"
pass "restarts in $((SECONDS - started)) s"
