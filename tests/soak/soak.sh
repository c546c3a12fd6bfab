#!/usr/bin/env bash
# Soak: two gateways (a daemon in each of two namespaces) with an ESP tunnel that carries a paced
# UDP stream of known size from left to right, while on both daemons
#   - a churn loop adds, replaces (--replace) and deletes hundreds of OTHER SAs, in batches and
#     one command at a time (the traffic SAs are never touched);
#   - four readers loop over the mounts: cat ipsec_spi; find spi -type f | xargs cat; ls -l spi/
#     with the root files; and one more find | xargs cat;
#   - `ipsec spi --watch` (woken by poll at every commit) and `ipsec top -b` keep running.
# Every loop is bounded by the deadline and an iteration count. Afterwards:
#   - both daemons are alive, exit 0 on SIGTERM, and logged no sanitizer report;
#   - readers saw no error but ENOENT (an SA deleted under them); the live views ran to the end;
#   - each SADB holds its four tunnel SAs again, nothing left over from the churn;
#   - the counters are exact: every datagram sent is counted once on left's outbound SAs (tun
#     and esp: packets = datagrams sent, bytes = datagrams x their IP size), right's inbound SAs
#     count what the receiver got, which is all that was sent, exactly once; the reverse SAs
#     carried nothing and no drop counter moved;
#   - RSS, sampled every SOAK_SAMPLE seconds, stays flat: the last third's maximum may exceed the
#     first third's by at most 20% + 2 MB.
# Prints the RSS series, the traffic and the work done.
#
# SOAK_SECONDS (default 180) bounds the run; SOAK_SAMPLE (3) the RSS period; SOAK_RATE (400)
# datagrams per second of SOAK_PAYLOAD (512) bytes; SOAK_CHURN (200) SAs per churn round.
# IPSECFS_BIN picks the binaries (an ASan build works: its reports fail the soak).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../integration/lib.sh"
source "$here/../integration/two_hosts.sh"
require_environment
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
[ -x "$PYTHON" ] || skip "no $PYTHON"

SOAK_SECONDS=${SOAK_SECONDS:-180}
SAMPLE=${SOAK_SAMPLE:-3}
RATE=${SOAK_RATE:-400}
PAYLOAD=${SOAK_PAYLOAD:-512}
CHURN=${SOAK_CHURN:-200}
PORT=5002
[ "$SOAK_SECONDS" -ge 15 ] || die "SOAK_SECONDS must be at least 15"
# An ASan build keeps freed memory in quarantine (256 MB by default): RSS would climb until it is
# full. A small quarantine still catches use-after-free in churn this fast, and keeps RSS a
# measure of what the daemon holds.
if ldd "$MOUNTD" 2>/dev/null | grep -q libasan; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=4:thread_local_quarantine_size_kb=64:detect_leaks=1}
    echo "ASan build: ASAN_OPTIONS=$ASAN_OPTIONS"
fi

make_two_hosts
start_gateways
configure_tunnel aes128gcm16 4 4
tunnel_saids left 4
OUT_L=("${OUT_SAIDS[@]}") IN_L=("${IN_SAIDS[@]}")
tunnel_saids right 4
OUT_R=("${OUT_SAIDS[@]}") IN_R=("${IN_SAIDS[@]}")
snapshot_counters

# ---- traffic: a paced UDP sender and a receiver that checks each datagram's number --------------
cat >"$WORK/udp_send.py" <<'PY'
# udp_send.py SRC DST PORT COUNT SIZE RATE SECONDS: COUNT datagrams of SIZE bytes, numbered, at
# RATE per second, for at most SECONDS. Prints "<sent> <send errors> <seconds>".
import socket, sys, time
src, dst, port, count, size, rate, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
pad = bytes(size - 8)
sent = errors = 0
t0 = time.monotonic()
for i in range(count):
    target = t0 + i / rate
    now = time.monotonic()
    if now - t0 > limit:
        break
    if target > now:
        time.sleep(target - now)
    try:
        s.sendto(i.to_bytes(8, "big") + pad, (dst, port))
        sent += 1
    except OSError:
        errors += 1
print(sent, errors, f"{time.monotonic() - t0:.3f}")
PY
cat >"$WORK/udp_recv.py" <<'PY'
# udp_recv.py ADDR PORT COUNT READY STOP LIMIT: counts datagrams until STOP exists and nothing
# came for a second (or LIMIT seconds passed). Prints "<received> <bytes> <duplicates> <unknown>".
import os, socket, sys, time
addr, port, count, ready, stop, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4], sys.argv[5], float(sys.argv[6])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.bind((addr, port))
s.settimeout(0.25)
open(ready, "w").close()
seen = bytearray(count)
received = nbytes = dups = unknown = 0
t0 = last = time.monotonic()
while time.monotonic() - t0 < limit:
    try:
        data = s.recv(65536)
    except socket.timeout:
        if os.path.exists(stop) and time.monotonic() - last > 1.0:
            break
        continue
    last = time.monotonic()
    received += 1
    nbytes += len(data)
    n = int.from_bytes(data[:8], "big")
    if n >= count:
        unknown += 1
    elif seen[n]:
        dups += 1
    else:
        seen[n] = 1
print(received, nbytes, dups, unknown)
PY

COUNT=$((RATE * SOAK_SECONDS))
ip netns exec "$NS_R" "$PYTHON" "$WORK/udp_recv.py" "$RIGHT_IN4" "$PORT" "$COUNT" \
    "$WORK/recv.ready" "$WORK/recv.stop" $((SOAK_SECONDS + 60)) >"$WORK/recv.out" 2>"$WORK/recv.err" &
RECV_PID=$!
DAEMON_PIDS+=("$RECV_PID")
for ((i = 0; i < 200; i++)); do
    [ -e "$WORK/recv.ready" ] && break
    sleep 0.05
done
[ -e "$WORK/recv.ready" ] || die "the UDP receiver did not start: $(cat "$WORK/recv.err")"

START=$SECONDS
END=$((START + SOAK_SECONDS))
ip netns exec "$NS_L" "$PYTHON" "$WORK/udp_send.py" "$LEFT_IN4" "$RIGHT_IN4" "$PORT" "$COUNT" \
    "$PAYLOAD" "$RATE" "$SOAK_SECONDS" >"$WORK/send.out" 2>"$WORK/send.err" &
SEND_PID=$!
DAEMON_PIDS+=("$SEND_PID")

# ---- churn: hundreds of other SAs added, replaced and deleted, rounds until the deadline ---------
# churn SIDE: SIDE is l or r. Outbound SPIs 0x100000+, inbound 0x200000+, never the tunnel's.
churn() {
    local side=$1 self peer rounds=0 commands=0 i spi add replace del half=$((CHURN / 2)) esp
    if [ "$side" = l ]; then self=$LEFT_WAN4 peer=$RIGHT_WAN4; else self=$RIGHT_WAN4 peer=$LEFT_WAN4; fi
    esp=$(esp_options aes128gcm16 11)
    while ((SECONDS < END && rounds < 100000)); do
        add='' replace='' del=''
        for ((i = 0; i < half; i++)); do
            printf -v spi '%x' $((0x100000 + i))
            add+="spi --said esp.$spi@$peer --src $self $esp"$'\n'
            del+="spi --said esp.$spi@$peer --del"$'\n'
            ((i % 2)) || replace+="spi --said esp.$spi@$peer --src $self $esp --replace"$'\n'
            printf -v spi '%x' $((0x200000 + i))
            add+="spi --said esp.$spi@$self --src $peer $esp"$'\n'
            ((i < 10)) || del+="spi --said esp.$spi@$self --del"$'\n'
        done
        "ipsec_$side" --batch - <<<"$add" >/dev/null || return 1
        "ipsec_$side" --batch - <<<"$replace" >/dev/null || return 1
        # One command, one commit: a wake for every poller each time.
        for ((i = 0; i < 10; i++)); do
            printf -v spi '%x' $((0x100000 + 2 * i + 1))
            # shellcheck disable=SC2086
            "ipsec_$side" spi --said "esp.$spi@$peer" --src "$self" $esp --replace || return 1
            printf -v spi '%x' $((0x200000 + i))
            "ipsec_$side" spi --said "esp.$spi@$self" --del || return 1
        done
        "ipsec_$side" --batch - <<<"$del" >/dev/null || return 1
        rounds=$((rounds + 1))
        commands=$((commands + CHURN + half / 2 + 20 + CHURN - 10))
    done
    echo "$rounds $commands"
}

# ---- readers: four loops over the mounts ----------------------------------------------------
# reader KIND MNT: loops until the deadline. Its stderr is checked afterwards: an SA deleted
# during a walk (ENOENT) is expected, anything else is a failure.
reader() {
    local kind=$1 mnt=$2 i=0
    while ((SECONDS < END && i < 1000000)); do
        case $kind in
        cat) cat "$mnt/ipsec_spi" >/dev/null || true ;;
        find) find "$mnt/spi" -type f -print0 | xargs -0 -r cat >/dev/null || true ;;
        ls) { ls -l "$mnt" "$mnt/spi" && cat "$mnt/ipsec_eroute" "$mnt/ipsec_spigrp" \
            "$mnt/stats" "$mnt/ipsec_tncfg"; } >/dev/null || true ;;
        esac
        i=$((i + 1))
    done
    echo "$i"
}

BG=()
churn l >"$WORK/churn.l" 2>"$WORK/churn.l.err" &
BG+=($!)
churn r >"$WORK/churn.r" 2>"$WORK/churn.r.err" &
BG+=($!)
reader cat "$MNT_L" >"$WORK/reader.1" 2>"$WORK/reader.1.err" &
BG+=($!)
reader find "$MNT_L" >"$WORK/reader.2" 2>"$WORK/reader.2.err" &
BG+=($!)
reader ls "$MNT_R" >"$WORK/reader.3" 2>"$WORK/reader.3.err" &
BG+=($!)
reader find "$MNT_R" >"$WORK/reader.4" 2>"$WORK/reader.4.err" &
BG+=($!)
DAEMON_PIDS+=("${BG[@]}")
# The live views write through a FIFO to a frame counter, not to a file that would grow by
# megabytes.
# live_view NAME HEADER_ERE ARGS…: sets VIEW_PID (the ipsec process) and COUNTER_PID.
live_view() {
    local name=$1 header=$2
    shift 2
    mkfifo "$WORK/$name.fifo"
    awk -v h="$header" '$0 ~ h {n++} END {print n + 0}' "$WORK/$name.fifo" >"$WORK/$name.frames" &
    COUNTER_PID=$!
    "$IPSEC" "$@" >"$WORK/$name.fifo" 2>"$WORK/$name.err" &
    VIEW_PID=$!
    DAEMON_PIDS+=("$COUNTER_PID" "$VIEW_PID")
}
live_view watch '^Every 1\.0s' spi --watch --interval 1 --mount "$MNT_L"
WATCH_PID=$VIEW_PID WATCH_COUNTER=$COUNTER_PID
live_view top '^ipsec top - ' top -b --interval 1 --mount "$MNT_R"
TOP_PID=$VIEW_PID TOP_COUNTER=$COUNTER_PID

# ---- RSS, sampled until the deadline --------------------------------------------------------
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
RSS_T=() RSS_L=() RSS_R=() SAS_L=()
next=$SECONDS
while ((SECONDS < END)); do
    if ((SECONDS >= next)); then
        kill -0 "$PID_L" 2>/dev/null || die "the left daemon died at $((SECONDS - START)) s: $(tail -5 "$WORK/left.log")"
        kill -0 "$PID_R" 2>/dev/null || die "the right daemon died at $((SECONDS - START)) s: $(tail -5 "$WORK/right.log")"
        RSS_T+=($((SECONDS - START))) RSS_L+=("$(rss_kb "$PID_L")") RSS_R+=("$(rss_kb "$PID_R")")
        n=0
        while IFS= read -r _; do n=$((n + 1)); done <"$MNT_L/ipsec_spi"
        SAS_L+=("$n")
        next=$((next + SAMPLE))
    fi
    sleep 0.2
done

# ---- the end: everything stops by itself; then the checks ------------------------------------
for pid in "${BG[@]}"; do
    status=0
    timeout_at=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < timeout_at)); do sleep 0.1; done
    wait "$pid" || status=$?
    forget_pid "$pid"
    [ "$status" = 0 ] || die "a churn or reader loop failed (status $status): $(cat "$WORK"/churn.*.err | head -5)"
done
wait "$SEND_PID" || die "the UDP sender failed: $(cat "$WORK/send.err")"
forget_pid "$SEND_PID"
touch "$WORK/recv.stop"
wait "$RECV_PID" || die "the UDP receiver failed: $(cat "$WORK/recv.err")"
forget_pid "$RECV_PID"
ELAPSED=$((SECONDS - START))

kill -0 "$WATCH_PID" 2>/dev/null || die "ipsec spi --watch died: $(cat "$WORK/watch.err")"
kill -0 "$TOP_PID" 2>/dev/null || die "ipsec top -b died: $(cat "$WORK/top.err")"
for pid in "$WATCH_PID" "$TOP_PID" "$WATCH_COUNTER" "$TOP_COUNTER"; do
    [ "$pid" = "$WATCH_COUNTER" ] || [ "$pid" = "$TOP_COUNTER" ] || kill -TERM "$pid"
    status=0
    wait "$pid" || status=$?
    forget_pid "$pid"
    [ "$status" = 0 ] || die "a live view or its frame counter exited $status after SIGTERM"
done
watch_frames=$(cat "$WORK/watch.frames")
top_frames=$(cat "$WORK/top.frames")

# Readers: the only error allowed is an SA deleted under them. find(1) reports that in two ways:
# ENOENT, and, from findutils 4.9 (gnulib fts with FTS_TIGHT_CYCLE_CHECK), "File system loop
# detected" naming an SA directory as its own loop: right after opening a directory fts stats it
# again by name; when the SA was deleted in between, that stat fails, the zeroed dev/ino goes into
# its table of active directories and is never taken out (no post-order leave for a directory with
# an error), and the next directory that meets the same race matches it. The quiescent walk below
# proves there is no real loop.
sa_dir_race='File system loop detected; .*/spi/[a-z]+\.[0-9a-f]+@[0-9a-f.:]+.{0,3} is part of the same file system loop as'
errors=$(cat "$WORK"/reader.*.err | grep -v 'No such file or directory' | grep -vE "$sa_dir_race" |
    head -5 || true)
[ -z "$errors" ] || die "readers saw errors other than ENOENT: $errors"
enoent=$(cat "$WORK"/reader.*.err | grep -cE "No such file or directory|$sa_dir_race" || true)
for mnt in "$MNT_L" "$MNT_R"; do
    walk_err=$(find "$mnt" -type f 2>&1 >/dev/null | head -3)
    [ -z "$walk_err" ] || die "find over a quiet mount reported: $walk_err"
    n=$(find "$mnt" -type d -name '*@*' | wc -l)
    [ "$n" = 4 ] || die "find over a quiet mount saw $n SA directories, not the 4 tunnel SAs"
done

for side in l r; do
    if [ $side = l ]; then mnt=$MNT_L; else mnt=$MNT_R; fi
    left_over=$(grep -vcE '^(esp|tun)\.(1000|2000|10001|20001)@' "$mnt/ipsec_spi" || true)
    [ "$left_over" = 0 ] || die "$side: $left_over churn SAs left over: $(head -3 "$mnt/ipsec_spi")"
    [ "$(grep -c . "$mnt/ipsec_spi")" = 4 ] || die "$side: the tunnel SAs are not all there"
done

# Counters.
read -r sent send_errors send_seconds <"$WORK/send.out"
read -r received received_bytes duplicates unknown <"$WORK/recv.out"
ip_size=$((PAYLOAD + 28))
[ "$send_errors" = 0 ] || die "the sender had $send_errors send errors"
[ "$duplicates" = 0 ] && [ "$unknown" = 0 ] || die "the receiver got $duplicates duplicates, $unknown unknown datagrams"
[ "$received_bytes" = $((received * PAYLOAD)) ] || die "the receiver got $received_bytes bytes in $received datagrams"
[ "$received" = "$sent" ] ||
    die "sent $sent datagrams, received $received ($(kernel_rx_drops "$NS_R"))"
expect() { # expect WHO MNT SAID PACKETS: life/packets and life/bytes of that SA
    local p b
    p=$(life_c "$2" "$3" packets) b=$(life_c "$2" "$3" bytes)
    [ "$p" = "$4" ] && [ "$b" = $(($4 * ip_size)) ] ||
        die "$1 $3: life/packets $p life/bytes $b, expected $4 packets, $(($4 * ip_size)) bytes"
}
for said in "${OUT_L[@]}"; do expect "left outbound" "$MNT_L" "$said" "$sent"; done
for said in "${IN_R[@]}"; do expect "right inbound" "$MNT_R" "$said" "$received"; done
for said in "${OUT_R[@]}"; do expect "right outbound" "$MNT_R" "$said" 0; done
for said in "${IN_L[@]}"; do expect "left inbound" "$MNT_L" "$said" 0; done
read_file "$MNT_L/spi/${OUT_L[-1]}/seq"
[ "$REPLY" = "$sent" ] || die "left's esp seq is $REPLY, $sent datagrams sent"
read_file "$MNT_R/spi/${IN_R[-1]}/seq"
[ "$REPLY" = "$sent" ] || die "right's esp seq is $REPLY, $sent datagrams sent"
for side in L R; do
    if [ $side = L ]; then base=$BASE_STATS_L mnt=$MNT_L; else base=$BASE_STATS_R mnt=$MNT_R; fi
    declare -A MOVED
    stats_moved "$base" "$mnt"
    for key in "${!MOVED[@]}"; do
        [[ "$key" != drop_* || "${MOVED[$key]}" = 0 ]] || die "$side: $key moved by ${MOVED[$key]}"
    done
done

# Both daemons still serve, stop cleanly, and logged no sanitizer report.
kill -0 "$PID_L" && kill -0 "$PID_R" || die "a daemon died"
RSS_T+=("$ELAPSED") RSS_L+=("$(rss_kb "$PID_L")") RSS_R+=("$(rss_kb "$PID_R")") SAS_L+=(4)
stop_daemon "$PID_L"
stop_daemon "$PID_R"
forget_pid "$PID_L"
forget_pid "$PID_R"
for name in left right; do
    ! grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|WARNING: ThreadSanitizer' \
        "$WORK/$name.log" || die "$name daemon: sanitizer report: $(grep -m3 -E 'Sanitizer|runtime error' "$WORK/$name.log")"
done

# RSS: the series, and the last third's peak against the first third's.
echo "RSS (kB), every $SAMPLE s: t left right (SAs on left)"
for i in "${!RSS_T[@]}"; do
    printf '  %4s s %8s %8s  (%s)\n' "${RSS_T[$i]}" "${RSS_L[$i]}" "${RSS_R[$i]}" "${SAS_L[$i]}"
done
rss_verdict() { # rss_verdict NAME VALUES…: sets VERDICT; fails on growth
    local name=$1 n third first=0 last=0 i limit
    shift
    local -a v_all=("$@")
    n=${#v_all[@]}
    third=$((n / 3))
    ((third >= 1)) || die "too few RSS samples ($n) for a verdict"
    for ((i = 0; i < third; i++)); do ((v_all[i] > first)) && first=${v_all[i]}; done
    for ((i = n - third; i < n; i++)); do ((v_all[i] > last)) && last=${v_all[i]}; done
    limit=$((first * 120 / 100 + 2048))
    VERDICT="$name: first third max $first kB, last third max $last kB (limit $limit kB)"
    ((last <= limit)) || die "RSS grew: $VERDICT"
}
rss_verdict left "${RSS_L[@]}"
verdict_l=$VERDICT
rss_verdict right "${RSS_R[@]}"
verdict_r=$VERDICT

read -r rounds_l commands_l <"$WORK/churn.l"
read -r rounds_r commands_r <"$WORK/churn.r"
readers=$(cat "$WORK"/reader.[1-4] | tr '\n' ' ')
pass "RSS stable: $verdict_l; $verdict_r"
pass "traffic: $sent datagrams of $PAYLOAD bytes in $send_seconds s ($(awk -v n="$sent" -v t="$send_seconds" 'BEGIN {printf "%.1f", n / t}') /s), all received once, counters exact on 8 SAs"
pass "churn: left $rounds_l rounds ($commands_l SA commands), right $rounds_r rounds ($commands_r); readers (cat, find, ls, find): $readers iterations, $enoent ENOENT races; spi --watch $watch_frames frames, top -b $top_frames frames"
pass "soak of $ELAPSED s: daemons alive, clean exit, no sanitizer report"
