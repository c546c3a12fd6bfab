# Shared helpers for the integration tests (sourced, never run).
#
# Every host is a network namespace made here; every daemon runs with a temporary mount point and
# control socket; the EXIT trap stops what was started (by PID), unmounts, removes the namespaces
# and the temporary directory. Exit status 77 means "skipped" to ctest.

set -euo pipefail

IPSECFS_BIN=${IPSECFS_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build/mountd" 2>/dev/null && pwd)}
IPSEC=$IPSECFS_BIN/ipsec
MOUNTD=$IPSECFS_BIN/ipsec-mountd
TEST_NAME=$(basename "$0" .sh)

skip() {
    echo "SKIP $TEST_NAME: $*"
    exit 77
}
die() {
    echo "FAIL $TEST_NAME: $*" >&2
    exit 1
}
pass() { echo "ok - $*"; }

require_environment() {
    [ "$(id -u)" -eq 0 ] || skip "needs root"
    [ -c /dev/fuse ] || skip "no /dev/fuse"
    command -v ip >/dev/null || skip "no ip(8)"
    command -v nsenter >/dev/null || skip "no nsenter(1)"
    [ -x "$IPSEC" ] && [ -x "$MOUNTD" ] || die "binaries not found in IPSECFS_BIN=$IPSECFS_BIN"
    ip netns add "ipsecfs-probe-$$" 2>/dev/null || skip "cannot create network namespaces"
    ip netns del "ipsecfs-probe-$$"
}

# The packet engine needs TUN; tests that do not move packets can do without it.
tun_option() {
    if [ -c /dev/net/tun ]; then echo "--tun=ipsec0"; else echo "--tun=none"; fi
}

WORK=$(mktemp -d "/tmp/ipsecfs-$TEST_NAME.XXXXXX")
NAMESPACES=()
DAEMON_PIDS=()
MOUNTS=()

# Ends a daemon by PID: SIGTERM, a bounded wait, then SIGKILL.
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

is_mounted() { awk -v m="$1" '$2 == m {found = 1} END {exit !found}' /proc/self/mounts; }

cleanup() {
    local status=$? pid m ns
    set +e
    for pid in "${DAEMON_PIDS[@]}"; do stop_pid "$pid"; done
    for m in "${MOUNTS[@]}"; do
        for _ in 1 2 3; do is_mounted "$m" && umount -l "$m" 2>/dev/null; done
    done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf --one-file-system "$WORK"  # never into a mount left in it (a chroot's /proc)
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# make_host NAME IPV4 [IPV6]: a namespace with lo up and a veth pair whose first end holds the
# addresses (/24 and /64). Prints the namespace name.
make_host() {
    local ns="ipsecfs-$TEST_NAME-$1-$$"
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
    ip -n "$ns" link add veth0 type veth peer name veth1
    ip -n "$ns" addr add "$2/24" dev veth0
    if [ -n "${3:-}" ]; then ip -n "$ns" addr add "$3/64" dev veth0 nodad; fi
    ip -n "$ns" link set veth0 up
    ip -n "$ns" link set veth1 up
    HOST_NS=$ns
}

# start_daemon NS NAME [ipsec-mountd options…]: a foreground daemon in NS's network namespace
# (the mount stays visible here) on $WORK/NAME.mnt and $WORK/NAME.sock, with its state in
# $WORK/NAME.state unless the options name one. Sets DAEMON_PID, MNT, SOCK; waits until the mount
# answers and the control socket exists.
start_daemon() {
    local ns=$1 name=$2 arg
    shift 2
    MNT=$WORK/$name.mnt
    SOCK=$WORK/$name.sock
    mkdir -p "$MNT"
    MOUNTS+=("$MNT")
    local state=(--state "$WORK/$name.state")
    for arg in "$@"; do [[ "$arg" != --state* ]] || state=(); done
    nsenter --net="/run/netns/$ns" "$MOUNTD" --foreground --mount "$MNT" --control "$SOCK" \
        "${state[@]}" "$@" 2>>"$WORK/$name.log" &
    DAEMON_PID=$!
    DAEMON_PIDS+=("$DAEMON_PID")
    await_daemon "$name" env IPSEC_CONTROL="$SOCK" "$IPSEC" eroute
}

# await_daemon NAME COMMAND…: waits until the daemon $DAEMON_PID (log $WORK/NAME.log) answers on
# $MNT and COMMAND, a request through its control socket, succeeds. Both must answer: a dead
# mount or socket left by a killed daemon may still exist. Fails if it exits or takes 10 s.
await_daemon() {
    local name=$1 i
    shift
    for ((i = 0; i < 100; i++)); do
        kill -0 "$DAEMON_PID" 2>/dev/null || die "ipsec-mountd exited: $(cat "$WORK/$name.log")"
        if grep -q '^ipsecfs version' "$MNT/ipsec_version" 2>/dev/null && "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    die "ipsec-mountd did not come up within 10 s: $(cat "$WORK/$name.log")"
}

# stop_daemon PID: SIGTERM and wait; fails if it does not exit cleanly.
stop_daemon() {
    local pid=$1 i status
    kill -TERM "$pid"
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && die "ipsec-mountd $pid ignored SIGTERM for 10 s"
    status=0
    wait "$pid" || status=$?
    [ "$status" -eq 0 ] || die "ipsec-mountd $pid exited with status $status after SIGTERM"
}

# The ipsec command against the current daemon.
ipsec() { IPSEC_CONTROL=$SOCK "$IPSEC" "$@"; }

# hexkey N: N bytes as 0x… hex.
hexkey() {
    local i byte out=0x
    for ((i = 0; i < $1; i++)); do
        printf -v byte '%02x' $(((i * 37 + 11) & 255))
        out+=$byte
    done
    echo "$out"
}

# What must not change when a command fails: the SAs (ages masked), eroutes and groups.
sadb_state() {
    sed -E 's/add\([0-9]+,/add(N,/' "$MNT/ipsec_spi"
    echo --
    cat "$MNT/ipsec_eroute" "$MNT/ipsec_spigrp"
}

# expect_refusal PATTERN COMMAND…: the command fails with exactly one line on stderr that
# matches the extended regex PATTERN, prints nothing on stdout, and changes nothing.
expect_refusal() {
    local pattern=$1 status=0 before after
    shift
    before=$(sadb_state)
    "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
    after=$(sadb_state)
    [ "$status" -ne 0 ] || die "succeeded but should have failed: $*"
    [ "$(wc -l <"$WORK/err")" -eq 1 ] || die "expected one line on stderr from '$*', got: $(cat "$WORK/err")"
    grep -qE -- "$pattern" "$WORK/err" || die "'$*' said '$(cat "$WORK/err")', expected /$pattern/"
    [ ! -s "$WORK/out" ] || die "'$*' printed on stdout: $(cat "$WORK/out")"
    [ "$before" = "$after" ] || die "'$*' failed but changed the SADB"
    echo "ok - refused: $(cat "$WORK/err")"
}
