#!/usr/bin/env bash
# ipsec-mountd --startup FILE: the shipped example file (filled in) sets up SAs, groups and
# eroutes before the daemon reports ready (detached, and to systemd through NOTIFY_SOCKET); a bad
# line, or a line the SADB refuses, stops the start with the line number and leaves no mount and
# no socket; `startup = -FILE` in the config file makes the file optional.
source "$(dirname "$0")/lib.sh"
require_environment
SRC=${IPSECFS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

make_host a 192.0.2.1
NS=$HOST_NS

# refuse_start PATTERN ARGS…: ipsec-mountd exits 1 with one line on stderr matching PATTERN and
# leaves neither its mount nor its control socket.
refuse_start() {
    local pattern=$1 status=0
    shift
    mkdir -p "$WORK/r.mnt"
    MOUNTS+=("$WORK/r.mnt")
    timeout 20 nsenter --net="/run/netns/$NS" "$MOUNTD" --mount "$WORK/r.mnt" \
        --control "$WORK/r.sock" --state "$WORK/r.state" "$@" >"$WORK/out" 2>"$WORK/err" ||
        status=$?
    [ "$status" -eq 1 ] || die "ipsec-mountd $* exited $status, expected 1 ($(cat "$WORK/err"))"
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || die "expected one line, got: $(cat "$WORK/err")"
    grep -qE -- "$pattern" "$WORK/err" || die "said '$(cat "$WORK/err")', expected /$pattern/"
    ! is_mounted "$WORK/r.mnt" || die "a refused start left its mount: $*"
    [ ! -e "$WORK/r.sock" ] || die "a refused start left its control socket: $*"
    echo "ok - refused: $(cat "$WORK/err")"
}

# The example shipped in /etc/ipsecfs, its commands uncommented and given keys.
key=$(hexkey 20)
sed -E "s/^# (spi|spigrp|eroute) /\1 /; s/0x<20 bytes: key\+salt>/$key/" \
    "$SRC/dist/examples/ipsec.startup" >"$WORK/ipsec.startup"
[ "$(grep -c '^[a-z]' "$WORK/ipsec.startup")" -eq 8 ] || die "the example no longer has 8 commands"

# expect_example_sas MNT: what the example sets up, on host 192.0.2.1.
expect_example_sas() {
    local mnt=$1
    [ "$(wc -l <"$mnt/ipsec_spi")" -eq 4 ] || die "expected 4 SAs: $(cat "$mnt/ipsec_spi")"
    grep -q '^esp.1000@192.0.2.2 ESP_AES_GCM_16: dir=out src=192.0.2.1 ' "$mnt/ipsec_spi" &&
        grep -q '^esp.2000@192.0.2.1 ESP_AES_GCM_16: dir=in src=192.0.2.2 ' "$mnt/ipsec_spi" &&
        grep -q '^tun.2001@192.0.2.1 IPIP: dir=in src=192.0.2.2 policy=203.0.113.0/24->198.51.100.0/24 ' \
            "$mnt/ipsec_spi" || die "SAs: $(cat "$mnt/ipsec_spi")"
    [ "$(cat "$mnt/spi/tun.1001@192.0.2.2/dir")" = out ] || die "spi/tun.1001@192.0.2.2/dir"
    grep -qE '198\.51\.100\.0/24 +-> +203\.0\.113\.0/24 +=> +tun\.1001@192\.0\.2\.2$' \
        "$mnt/ipsec_eroute" ||
        die "eroute: $(cat "$mnt/ipsec_eroute")"
    grep -q '^tun.1001@192.0.2.2 esp.1000@192.0.2.2 $' "$mnt/ipsec_spigrp" &&
        grep -q '^tun.2001@192.0.2.1 esp.2000@192.0.2.1 $' "$mnt/ipsec_spigrp" ||
        die "groups: $(cat "$mnt/ipsec_spigrp")"
}

# In the foreground, from the command line.
start_daemon "$NS" a "$(tun_option)" --state "$WORK/a.state" --startup "$WORK/ipsec.startup"
expect_example_sas "$MNT"
grep -q 'kept as the state file restored it' "$WORK/a.log" && die "nothing was restored yet"
ipsec spi --said esp.1000@192.0.2.2 --del
stop_daemon "$DAEMON_PID"
pass "--startup: the example's SAs, groups and eroutes are there"

# A restart (as systemd does it): the state file brings the SAs back with their counters, and
# the startup file's lines for what is there already are skipped, the rest applied on top.
start_daemon "$NS" a "$(tun_option)" --state "$WORK/a.state" --startup "$WORK/ipsec.startup"
expect_example_sas "$MNT"
# Kept: lines 10 (tun.1001), 12 (its eroute), 14 and 15 (esp.2000, tun.2001), 17 (the policy).
[ "$(grep -c 'kept as the state file restored it' "$WORK/a.log")" -eq 5 ] ||
    die "expected 5 lines kept: $(cat "$WORK/a.log")"
grep -q "startup file $WORK/ipsec.startup: line 10: SA tun.1001@192.0.2.2 kept" "$WORK/a.log" &&
    grep -q "startup file $WORK/ipsec.startup: line 17: inbound policy of tun.2001@192.0.2.1 kept" \
        "$WORK/a.log" || die "log: $(cat "$WORK/a.log")"
stop_daemon "$DAEMON_PID"
pass "restart with a state file: restored SAs kept, the deleted one added again"

# Detached, from the config file: they are there when ipsec-mountd returns.
mkdir -p "$WORK/d.mnt"
MOUNTS+=("$WORK/d.mnt")
cat >"$WORK/d.conf" <<CONF
mount = $WORK/d.mnt
control = $WORK/d.sock
tun = none
state = $WORK/d.state
startup = $WORK/ipsec.startup
CONF
nsenter --net="/run/netns/$NS" "$MOUNTD" --config "$WORK/d.conf"
detached_pid=
for p in /proc/[0-9]*; do
    if [ "$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" = "$MOUNTD --config $WORK/d.conf " ]; then
        detached_pid=${p#/proc/}
    fi
done
[ -n "$detached_pid" ] || die "cannot find the detached daemon"
DAEMON_PIDS+=("$detached_pid")
expect_example_sas "$WORK/d.mnt"
stop_daemon_detached() {
    local pid=$1 i
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    ! kill -0 "$pid" 2>/dev/null || die "daemon $pid ignored SIGTERM for 10 s"
}
stop_daemon_detached "$detached_pid"
pass "startup = FILE in the config file: applied before a detached start returns"

# Under systemd (NOTIFY_SOCKET): no detaching, READY=1 once the SAs are in, STOPPING=1 at the end.
/usr/bin/python3 - "$WORK/notify" "$WORK/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "a") as log:
    while True:
        try:
            message = s.recv(4096).decode()
        except socket.timeout:
            break
        log.write(message.replace("\n", " ") + "\n")
        log.flush()
        if "STOPPING=1" in message:
            break
PY
receiver_pid=$!
DAEMON_PIDS+=("$receiver_pid")
for ((i = 0; i < 100; i++)); do [ -S "$WORK/notify" ] && break; sleep 0.1; done
[ -S "$WORK/notify" ] || die "the notification receiver did not start"
mkdir -p "$WORK/n.mnt"
MOUNTS+=("$WORK/n.mnt")
NOTIFY_SOCKET=$WORK/notify nsenter --net="/run/netns/$NS" "$MOUNTD" --tun=none \
    --mount "$WORK/n.mnt" --control "$WORK/n.sock" --state "$WORK/n.state" \
    --startup "$WORK/ipsec.startup" \
    2>>"$WORK/n.log" &
notify_pid=$!
DAEMON_PIDS+=("$notify_pid")
for ((i = 0; i < 100; i++)); do grep -q 'READY=1' "$WORK/notify.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^READY=1 STATUS=serving ' "$WORK/notify.log" ||
    die "no READY=1: $(cat "$WORK/notify.log" "$WORK/n.log" 2>/dev/null)"
kill -0 "$notify_pid" 2>/dev/null || die "with NOTIFY_SOCKET the started process must stay the daemon"
expect_example_sas "$WORK/n.mnt"
kill -TERM "$notify_pid"
status=0
wait "$notify_pid" || status=$?
[ "$status" -eq 0 ] || die "exit status $status after SIGTERM"
wait "$receiver_pid" || true
grep -q '^STOPPING=1' "$WORK/notify.log" || die "no STOPPING=1: $(cat "$WORK/notify.log")"
pass "NOTIFY_SOCKET: foreground, READY=1 after the startup file, STOPPING=1 at SIGTERM"

# Refusals: a line the grammar refuses (before anything starts) and one the SADB refuses (after
# the mount is up, which must go again). Detached too: the parent reports the child's error.
{
    head -n 1 "$WORK/ipsec.startup"
    echo "spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey $key"
    echo
    echo "spi --said esp.10@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey $key"
} >"$WORK/bad-line.startup"
refuse_start "^ipsec-mountd: startup file $WORK/bad-line.startup: line 4: .*SPI" --tun=none \
    --foreground --startup "$WORK/bad-line.startup"
refuse_start "^ipsec-mountd: startup file $WORK/bad-line.startup: line 4: " --tun=none \
    --startup "$WORK/bad-line.startup"
{
    echo "spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey $key"
    echo "# the same SA again"
    echo "spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey $key"
} >"$WORK/twice.startup"
refuse_start "^ipsec-mountd: startup file $WORK/twice.startup: line 3: .*exists" \
    "$(tun_option)" --foreground --startup "$WORK/twice.startup"
refuse_start "^ipsec-mountd: startup file $WORK/missing.startup: No such file or directory" \
    --tun=none --foreground --startup "$WORK/missing.startup"

# `-FILE`: a missing file is no error.
start_daemon "$NS" o --tun=none --state "$WORK/o.state" --startup "-$WORK/missing.startup"
[ -z "$(cat "$MNT/ipsec_spi")" ] || die "SAs from nowhere: $(cat "$MNT/ipsec_spi")"
stop_daemon "$DAEMON_PID"
pass "refusals name the line and leave nothing behind; -FILE may be missing"
