#!/usr/bin/env bash
# ipsec-mountd start-up and shutdown: refusals with one line and exit 1 (missing mount point,
# mount point already mounted, control socket held by a live daemon, bad options), detaching
# only once ready, the config file, clean SIGTERM/SIGINT, and recovery after SIGKILL.
source "$(dirname "$0")/lib.sh"
require_environment

make_host a 192.0.2.1
NS=$HOST_NS

# refuse_start PATTERN ARGS…: ipsec-mountd exits 1 with one line on stderr matching PATTERN.
refuse_start() {
    local pattern=$1 status=0
    shift
    timeout 20 nsenter --net="/run/netns/$NS" "$MOUNTD" "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
    [ "$status" -eq 1 ] || die "ipsec-mountd $* exited $status, expected 1 ($(cat "$WORK/err"))"
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || die "expected one line, got: $(cat "$WORK/err")"
    grep -qE -- "$pattern" "$WORK/err" || die "said '$(cat "$WORK/err")', expected /$pattern/"
    echo "ok - refused: $(cat "$WORK/err")"
}

# Options.
refuse_start 'unrecognised option|unrecognized option' --frobnicate
refuse_start '--replay-window must be 1..4096' --replay-window 0 --foreground
refuse_start 'cannot read config file' --config "$WORK/missing.conf"
grep -q -- '--tun' <<<"$("$MOUNTD" --help)" || die "--help"
grep -q '^ipsec-mountd (ipsecfs) ' <<<"$("$MOUNTD" --version)" || die "--version"
pass "--help and --version"

# A missing mount point, in the foreground and detached (the parent reports the child's error).
refuse_start "mount point $WORK/nowhere" --mount "$WORK/nowhere" --control "$WORK/x.sock" --tun=none --foreground
refuse_start "mount point $WORK/nowhere" --mount "$WORK/nowhere" --control "$WORK/x.sock" --tun=none
[ ! -e "$WORK/x.sock" ] || die "a failed start left its control socket"

# A running daemon; then a second one on its mount point, and a third on its socket.
start_daemon "$NS" a --tun=none
first_pid=$DAEMON_PID first_mnt=$MNT first_sock=$SOCK
mkdir -p "$WORK/other.mnt"
refuse_start "already mounted" --mount "$first_mnt" --control "$WORK/other.sock" --tun=none --foreground
refuse_start "control socket $first_sock is in use by another ipsec-mountd" \
    --mount "$WORK/other.mnt" --control "$first_sock" --tun=none --foreground
ipsec spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16 --enckey "$(hexkey 20)"
[ "$(wc -l <"$first_mnt/ipsec_spi")" -eq 1 ] || die "the first daemon was disturbed"
pass "the first daemon still serves"

# SIGTERM: clean unmount, socket removed, exit 0.
stop_daemon "$first_pid"
! is_mounted "$first_mnt" || die "mount left after SIGTERM"
[ ! -e "$first_sock" ] || die "socket left after SIGTERM"
pass "SIGTERM: no mount, no socket, exit 0"

# SIGINT does the same.
start_daemon "$NS" b --tun=none
kill -INT "$DAEMON_PID"
for ((i = 0; i < 100; i++)); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
status=0
wait "$DAEMON_PID" || status=$?
[ "$status" -eq 0 ] && ! is_mounted "$MNT" && [ ! -e "$SOCK" ] || die "SIGINT: status $status"
pass "SIGINT: no mount, no socket, exit 0"

# --read-group: that group may read the mount, others may not.
refuse_start "no group named 'no-such-group-ipsecfs'" --read-group no-such-group-ipsecfs \
    --mount "$WORK/other.mnt" --control "$WORK/g.sock" --tun=none --foreground
start_daemon "$NS" g --tun=none --read-group 65534
chmod 755 "$WORK"
[ "$(stat -c '%g %a' "$MNT/ipsec_spi")" = "65534 440" ] || die "read group: $(stat -c '%g %a' "$MNT/ipsec_spi")"
grep -q '^ipsecfs version' <<<"$(setpriv --reuid=65534 --regid=65534 --clear-groups cat "$MNT/ipsec_version")" ||
    die "the read group cannot read"
! setpriv --reuid=65534 --regid=1 --clear-groups cat "$MNT/ipsec_version" 2>/dev/null || die "others can read"
stop_daemon "$DAEMON_PID"
pass "--read-group"

# SIGKILL leaves a dead mount and a dead socket; the next start recovers both, and its SAs from
# the state file (tests/integration/test_restart.sh tests that in depth).
start_daemon "$NS" c --tun=none
ipsec spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16 --enckey "$(hexkey 20)"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null || true
is_mounted "$MNT" || die "expected a dead mount after SIGKILL"
[ -S "$SOCK" ] || die "expected a dead socket after SIGKILL"
dead_mnt=$MNT
start_daemon "$NS" c --tun=none
[ "$MNT" = "$dead_mnt" ] || die "test bug"
grep -q '^esp.1000@192.0.2.1 ' "$MNT/ipsec_spi" || die "the SA did not come back from the state file"
[ "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)" -eq 1 ] || die "mounts are stacked"
ipsec spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16 --enckey "$(hexkey 20)" --replace
stop_daemon "$DAEMON_PID"
! is_mounted "$MNT" || die "mount left after SIGTERM"
pass "a SIGKILLed daemon's mount and socket are recovered by the next start"

# Detached start with a config file: the parent exits 0 only once the mount and socket are up.
cat >"$WORK/mountd.conf" <<CONF
# ipsec-mountd test configuration
mount = $WORK/d.mnt
control = $WORK/d.sock
state = $WORK/d.state
tun = none
replay-window = 100
CONF
mkdir -p "$WORK/d.mnt"
MOUNTS+=("$WORK/d.mnt")
nsenter --net="/run/netns/$NS" "$MOUNTD" --config "$WORK/mountd.conf"
# Ready means ready: no waiting here.
[ -S "$WORK/d.sock" ] && is_mounted "$WORK/d.mnt" || die "the parent exited before the daemon was ready"
detached_pid=
for p in /proc/[0-9]*; do
    if [ "$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null)" = "$MOUNTD --config $WORK/mountd.conf " ]; then
        detached_pid=${p#/proc/}
    fi
done
[ -n "$detached_pid" ] || die "cannot find the detached daemon"
DAEMON_PIDS+=("$detached_pid")
SOCK=$WORK/d.sock MNT=$WORK/d.mnt
ipsec spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16 --enckey "$(hexkey 20)"
grep -q ' ooowin=100 ' "$MNT/ipsec_spi" || die "replay-window from the config file not applied: $(cat "$MNT/ipsec_spi")"
kill -TERM "$detached_pid"
for ((i = 0; i < 100; i++)); do kill -0 "$detached_pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$detached_pid" 2>/dev/null && ! is_mounted "$MNT" && [ ! -e "$SOCK" ] || die "detached daemon did not stop cleanly"
pass "detached start with a config file; ready means ready"
