#!/usr/bin/env bash
# Once set up, ipsec-mountd keeps only CAP_NET_ADMIN (TUN MTU) and CAP_SYS_ADMIN (the unmount) on
# every thread, in the effective, permitted and bounding sets, with no_new_privs; and what it
# still does works: SAs come and go, the tunnel MTU follows them, SIGTERM unmounts. The mount is
# root's alone by default and readable by one group with --read-group.
source "$(dirname "$0")/lib.sh"
require_environment
command -v setpriv >/dev/null || skip "no setpriv(1)"

CAP_NET_ADMIN=$((1 << 12))
CAP_SYS_ADMIN=$((1 << 21))
NOBODY=65534
READ_GROUP=4242

# check_caps PID MASK: every thread holds exactly MASK (effective, permitted, bounding), nothing
# inheritable or ambient, and no_new_privs.
check_caps() {
    local pid=$1 mask=$2 status name value threads=0
    for status in /proc/"$pid"/task/*/status; do
        threads=$((threads + 1))
        while read -r name value; do
            case $name in
                CapEff: | CapPrm: | CapBnd:)
                    [ $((16#$value)) -eq "$mask" ] ||
                        die "$status: $name $value, expected $(printf '%016x' "$mask")" ;;
                CapInh: | CapAmb:)
                    [ $((16#$value)) -eq 0 ] || die "$status: $name $value, expected none" ;;
                NoNewPrivs:)
                    [ "$value" = 1 ] || die "$status: NoNewPrivs $value" ;;
            esac
        done <"$status"
    done
    # Packet workers, control socket and signal threads at least: a drop done only on the main
    # thread would leave them with everything.
    [ "$threads" -ge 3 ] || die "only $threads threads in $pid"
    echo "$threads"
}

# as_nobody SETPRIV-OPTION COMMAND…: COMMAND as uid and gid 65534 with the groups the option gives.
as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY "$@"; }

make_host a 192.0.2.1
# The mount points live in $WORK (mktemp: 0700); let other users walk to them.
chmod 711 "$WORK"

TUN=$(tun_option)
start_daemon "$HOST_NS" a "$TUN"
PID=$DAEMON_PID
if [ "$TUN" = --tun=none ]; then want=$CAP_SYS_ADMIN; else want=$((CAP_NET_ADMIN | CAP_SYS_ADMIN)); fi
threads=$(check_caps "$PID" "$want")
pass "$threads threads keep only $(printf '%016x' "$want"), no_new_privs"

# Each thread says what it does (top -H, ps -L, perf) and runs at its documented nice: the
# packet workers at --worker-nice (-10) and --worker-policy (SCHED_BATCH, policy 3), the
# filesystem loop, the main thread, at --fs-nice (19).
declare -A nice_of=() policy_of=()
for stat in /proc/"$PID"/task/*/stat; do
    fields=$(<"$stat")
    name=${fields#*(} name=${name%)*}
    read -ra rest <<<"${fields##*) }"
    tid=${stat%/stat} tid=${tid##*/}
    [ "$tid" != "$PID" ] || name=main
    [ -z "${nice_of[$name]+set}" ] || [ "$name" = ipsec-mountd ] || die "two threads named $name"
    nice_of[$name]=${rest[16]} policy_of[$name]=${rest[38]}
done
[ "${nice_of[main]}" = 19 ] || die "main thread (filesystem loop) at nice ${nice_of[main]}, expected 19"
for name in ipsec-control ipsec-signals ipsec-lifetime ipsec-state; do
    [ -n "${nice_of[$name]+set}" ] || die "no thread named $name: ${!nice_of[*]}"
done
if [ "$TUN" != --tun=none ]; then
    for name in ipsec-packet1 ipsec-packet2; do
        [ "${nice_of[$name]:-missing}" = -10 ] || die "$name at nice ${nice_of[$name]:-missing}, expected -10"
        [ "${policy_of[$name]}" = 3 ] || die "$name has scheduling policy ${policy_of[$name]}, expected 3 (SCHED_BATCH)"
    done
fi
[ "${policy_of[main]}" = 0 ] || die "main thread has scheduling policy ${policy_of[main]}, expected 0 (SCHED_OTHER)"
pass "threads named (${!nice_of[*]}), packet workers at nice -10 and SCHED_BATCH, filesystem at 19"

# SAs still come and go.
SA=esp.1000@192.0.2.2
ipsec spi --said $SA --src 192.0.2.1 --esp aes128gcm16 --enckey "$(hexkey 20)"
[ -d "$MNT/spi/$SA" ] || die "$SA was not added: $(cat "$WORK/a.log")"

# The TUN MTU follows the outbound SAs' overhead: SIOCSIFMTU needs CAP_NET_ADMIN.
tun_mtu() { ip -n "$HOST_NS" -o link show ipsec0 | sed -E 's/.* mtu ([0-9]+) .*/\1/'; }
if [ "$TUN" != --tun=none ]; then
    with_sa=$(tun_mtu)
    ipsec spi --said $SA --del
    [ ! -e "$MNT/spi/$SA" ] || die "$SA was not deleted"
    without=$(tun_mtu)
    [ "$with_sa" != "$without" ] || die "TUN MTU $with_sa did not change when $SA went"
    grep -q "mtu=$without(" "$MNT/ipsec_tncfg" || die "ipsec_tncfg: $(cat "$MNT/ipsec_tncfg")"
    ipsec spi --said $SA --src 192.0.2.1 --esp aes128gcm16 --enckey "$(hexkey 20)"
    [ "$(tun_mtu)" = "$with_sa" ] || die "TUN MTU $(tun_mtu) after adding $SA again, expected $with_sa"
    pass "TUN MTU $without without the SA, $with_sa with it"
fi
ipsec spi --said $SA --del
[ ! -e "$MNT/spi/$SA" ] || die "$SA was not deleted"
pass "SA added and deleted"

# By default only root reads: files 0400, directories 0500, root:root.
[ "$(stat -c '%a %u %g' "$MNT/ipsec_spi")" = "400 0 0" ] || die "ipsec_spi: $(stat -c '%a %u %g' "$MNT/ipsec_spi")"
[ "$(stat -c '%a %u %g' "$MNT")" = "500 0 0" ] || die "mount root: $(stat -c '%a %u %g' "$MNT")"
grep -q '^ipsecfs version' "$MNT/ipsec_version" || die "root cannot read"
! as_nobody --clear-groups cat "$MNT/ipsec_version" >/dev/null 2>&1 || die "uid $NOBODY reads a root-only mount"
! as_nobody --groups=$READ_GROUP ls "$MNT/spi" >/dev/null 2>&1 || die "uid $NOBODY lists a root-only mount"
pass "root only by default"

# --read-group: its members read; others still do not.
start_daemon "$HOST_NS" g --tun=none --read-group=$READ_GROUP
check_caps "$DAEMON_PID" "$CAP_SYS_ADMIN" >/dev/null
[ "$(stat -c '%a %g' "$MNT/ipsec_spi")" = "440 $READ_GROUP" ] || die "read group: $(stat -c '%a %g' "$MNT/ipsec_spi")"
grep -q '^ipsecfs version' <<<"$(as_nobody --groups=$READ_GROUP cat "$MNT/ipsec_version")" ||
    die "group $READ_GROUP cannot read"
as_nobody --groups=$READ_GROUP ls "$MNT/spi" >/dev/null || die "group $READ_GROUP cannot list spi/"
! as_nobody --clear-groups cat "$MNT/ipsec_version" >/dev/null 2>&1 || die "others read with --read-group"
stop_daemon "$DAEMON_PID"
! is_mounted "$MNT" || die "--read-group daemon left its mount"
pass "--read-group=$READ_GROUP reads, others do not"

# SIGTERM still unmounts (umount2 needs the CAP_SYS_ADMIN that was kept) and removes the socket.
MNT=$WORK/a.mnt SOCK=$WORK/a.sock
stop_daemon "$PID"
! is_mounted "$MNT" || die "SIGTERM left the mount at $MNT: $(cat "$WORK/a.log")"
[ ! -e "$SOCK" ] || die "SIGTERM left the control socket"
! grep -q 'failed to unmount' "$WORK/a.log" || die "unmount failed: $(cat "$WORK/a.log")"
pass "SIGTERM unmounts and removes the socket"
