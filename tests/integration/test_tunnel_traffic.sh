#!/usr/bin/env bash
# Real ESP tunnels between two gateways (a daemon in each of two namespaces), for every ESP suite
# over IPv4 raw ESP and UDP 4500, and for IPv6 outer/inner mixes: ping both ways, then a TCP
# transfer of random data from left's inner address to right's with the sha256 compared at both
# ends. Afterwards the counters must agree exactly: the bytes and packets of every outbound SA
# (tun and esp, life/ files and ipsec_spi line) equal what the sender's ipsec0 handed its daemon,
# those of every inbound SA on the receiver equal what the receiver's ipsec0 got, the receiver's
# esp seq equals the sender's, use( and idle= show, and no drop counter moved. One line per
# configuration with the transfer time and rate. Then bursts of small UDP datagrams, which must
# all arrive, and with USO cross the receiver's ipsec0 as UDP super-packets.
#
# TRAFFIC_MB (default 4) sets the transfer size; the slow 3DES suites send half of it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/two_hosts.sh"
require_environment
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
[ -x "$PYTHON" ] || skip "no $PYTHON"
command -v ping >/dev/null || skip "no ping(8)"

make_two_hosts
start_gateways

MB=${TRAFFIC_MB:-4}
head -c $((MB << 20)) /dev/urandom >"$WORK/data.big"
head -c $(((MB << 20) / 2)) /dev/urandom >"$WORK/data.small"

# inner_addrs INNER: the left and right inner addresses of that family.
inner_addrs() {
    if [ "$1" = 4 ]; then SRC=$LEFT_IN4 DST=$RIGHT_IN4; else SRC=$LEFT_IN6 DST=$RIGHT_IN6; fi
}

NATT=(--natt nonesp --sport 4500 --dport 4500)
configs=0
started=$SECONDS

# run_config SUITE OUTER INNER raw|udp
run_config() {
    local suite=$1 outer=$2 inner=$3 encap=$4 label file mb rate
    label=$(printf '%-20s outer v%s inner v%s %-3s' "$suite" "$outer" "$inner" "$encap")
    if [ "$encap" = udp ]; then
        configure_tunnel "$suite" "$outer" "$inner" "${NATT[@]}"
    else
        configure_tunnel "$suite" "$outer" "$inner"
    fi
    tunnel_saids left "$outer"
    OUT_L=("${OUT_SAIDS[@]}") IN_L=("${IN_SAIDS[@]}")
    tunnel_saids right "$outer"
    OUT_R=("${OUT_SAIDS[@]}") IN_R=("${IN_SAIDS[@]}")
    if [ "$encap" = udp ]; then
        [ "$(cat "$MNT_L/spi/${OUT_L[-1]}/natencap")" = nonesp ] || die "$label: natencap not set"
    fi
    snapshot_counters

    inner_addrs "$inner"
    ping_ok "$NS_L" "$SRC" "$DST"
    ping_ok "$NS_R" "$DST" "$SRC"
    file=$WORK/data.big
    case $suite in 3des*) file=$WORK/data.small ;; esac
    tcp_transfer "$NS_L" "$NS_R" "$SRC" "$DST" "$file"
    check_counters "$label"

    mb=$(awk -v b="$(stat -c %s "$file")" 'BEGIN {printf "%.1f", b / 1048576}')
    rate=$(awk -v b="$(stat -c %s "$file")" -v t="$TRANSFER_SECONDS" \
        'BEGIN {printf "%.1f", (t > 0 ? b / 1048576 / t : 0)}')
    printf 'ok - %s  ping both ways, %s MB in %6.2f s = %6.1f MB/s, counters agree\n' \
        "$label" "$mb" "$TRANSFER_SECONDS" "$rate"
    configs=$((configs + 1))
}

suites=(aes128gcm16 aes256gcm16 chacha20poly1305 aes128-sha1-96 aes192-sha1-96 aes256-sha1-96
    aes128-sha2_256-128 aes256-sha2_256-128 3des-md5-96 3des-sha1-96 null-sha1-96)
for suite in "${suites[@]}"; do
    for encap in raw udp; do
        run_config "$suite" 4 4 "$encap"
    done
done
for suite in aes128gcm16 aes128-sha1-96; do
    for mix in "6 6" "6 4" "4 6"; do
        for encap in raw udp; do
            # shellcheck disable=SC2086
            run_config "$suite" $mix "$encap"
        done
    done
done

# The TCP transfers (left to right) crossed ipsec0 as super-packets at both ends (TUN offloads):
# the left daemon read fewer frames than it protected segments, the right one wrote fewer frames
# than it took in.
stat_of() { awk -F= -v n="$2" '$1 == n {print $2}' "$1/stats"; }
if [ "${IPSECFS_TUN_OFFLOAD:-1}" != 0 ]; then
    [ "$(stat_of "$MNT_L" tun_read_frames)" -lt "$(stat_of "$MNT_L" packets_out)" ] &&
        [ "$(stat_of "$MNT_R" tun_write_frames)" -lt "$(stat_of "$MNT_R" packets_in)" ] ||
        die "no TCP super-packets crossed ipsec0: left $(tr '\n' ' ' <"$MNT_L/stats"), right $(tr '\n' ' ' <"$MNT_R/stats")"
    pass "TCP crossed ipsec0 as super-packets: $(stat_of "$MNT_L" packets_out) segments in $(stat_of "$MNT_L" tun_read_frames) frames read, $(stat_of "$MNT_R" packets_in) in $(stat_of "$MNT_R" tun_write_frames) frames written"
fi

# Bursts of small UDP datagrams, left to right: every one arrives once and intact, the counters
# agree, and where the kernel has UDP super-packets on TUN (USO, Linux 6.2+) the left daemon read
# each burst as one and the right daemon wrote runs of datagrams to ipsec0 as fewer frames.
cat >"$WORK/udp_burst.py" <<'PY'
import socket, sys, time
role, src, dst, port, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
def payload(i):
    return i.to_bytes(4, "big") + bytes((i * 7 + k) & 0xFF for k in range(44 + i // 64 % 3 * 8))
if role == "send":
    # Bursts of 64 same-size datagrams, each burst one send with UDP_SEGMENT where the kernel has
    # it (so that ipsec0 with USO hands the daemon one UDP super-packet), else one by one.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.connect((dst, port))
    for first in range(0, count, 64):
        burst = [payload(i) for i in range(first, min(first + 64, count))]
        try:
            s.setsockopt(socket.SOL_UDP, 103, len(burst[0]))  # UDP_SEGMENT
            s.send(b"".join(burst))
        except OSError:
            for p in burst:
                s.send(p)
        time.sleep(0.003)  # room for the receiver to drain
    sys.exit(0)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: a burst never overflows it
s.bind((dst, port))
open(sys.argv[6], "w").close()
s.settimeout(3)
seen, bad, dups = set(), 0, 0
deadline = time.monotonic() + 30
while len(seen) < count and time.monotonic() < deadline:
    try:
        data = s.recv(2048)
    except socket.timeout:
        break
    i = int.from_bytes(data[:4], "big")
    if i >= count or data != payload(i):
        bad += 1
    elif i in seen:
        dups += 1
    else:
        seen.add(i)
print(len(seen), bad, dups)
PY
configure_tunnel aes128gcm16 4 4 "${NATT[@]}"
snapshot_counters
ping_ok "$NS_R" "$RIGHT_IN4" "$LEFT_IN4"  # the counter check wants traffic both ways
frames0=$(stat_of "$MNT_R" tun_write_frames) in0=$(stat_of "$MNT_R" packets_in)
read0=$(stat_of "$MNT_L" tun_read_frames) out0=$(stat_of "$MNT_L" packets_out)
BURST=3000
rm -f "$WORK/burst.ready"
ip netns exec "$NS_R" timeout 40 "$PYTHON" "$WORK/udp_burst.py" recv "$LEFT_IN4" "$RIGHT_IN4" 5300 \
    "$BURST" "$WORK/burst.ready" >"$WORK/burst.out" 2>"$WORK/burst.err" &
burst_pid=$!
DAEMON_PIDS+=("$burst_pid")
for ((i = 0; i < 200; i++)); do
    [ -e "$WORK/burst.ready" ] && break
    sleep 0.05
done
[ -e "$WORK/burst.ready" ] || die "UDP burst receiver did not start: $(cat "$WORK/burst.err")"
ip netns exec "$NS_L" timeout 30 "$PYTHON" "$WORK/udp_burst.py" send "$LEFT_IN4" "$RIGHT_IN4" \
    5300 "$BURST" || die "UDP burst sender failed"
wait "$burst_pid" || die "UDP burst receiver failed: $(cat "$WORK/burst.err")"
forget_pid "$burst_pid"
read -r got bad dups <"$WORK/burst.out"
[ "$got" = "$BURST" ] && [ "$bad" = 0 ] && [ "$dups" = 0 ] ||
    die "UDP bursts: $got of $BURST datagrams arrived, $bad damaged, $dups twice"
check_counters "UDP bursts"
frames=$(($(stat_of "$MNT_R" tun_write_frames) - frames0))
datagrams=$(($(stat_of "$MNT_R" packets_in) - in0))
read=$(($(stat_of "$MNT_L" tun_read_frames) - read0))
sent=$(($(stat_of "$MNT_L" packets_out) - out0))
kernel=$(uname -r)
IFS=. read -r major minor _ <<<"$kernel"
if [ "${IPSECFS_TUN_OFFLOAD:-1}" != 0 ] && [ "${IPSECFS_TUN_OFFLOAD:-1}" != tcp ] &&
    ((major > 6 || (major == 6 && minor >= 2))); then
    [ "$read" -lt "$sent" ] ||
        die "no UDP super-packets: the left daemon read $read frames for $sent datagrams"
    [ "$frames" -lt "$datagrams" ] ||
        die "no UDP super-packets: the right daemon wrote $frames frames for $datagrams datagrams"
fi
pass "UDP bursts: $BURST datagrams arrived once and intact; ipsec0 frames: $read read for $sent datagrams at left, $frames written for $datagrams at right (Linux $kernel)"

# Both daemons are still healthy and stop cleanly.
stop_daemon "$PID_L"
stop_daemon "$PID_R"
forget_pid "$PID_L"
forget_pid "$PID_R"
pass "$configs configurations in $((SECONDS - started)) s"
