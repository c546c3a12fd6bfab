# shellcheck shell=bash disable=SC2034  # SYSTEM_TARGET, SYSTEM_PIDS: read by tests/bench/tunnel
# ipsecfs between the benchmark's two namespaces (sourced by tests/bench/tunnel after
# tests/integration/lib.sh and two_hosts.sh): two_hosts.sh's gateways (a daemon in each
# namespace with a temporary mount, control socket and state file under $WORK) and its
# configure_tunnel, inner 198.51.100.1 <-> 203.0.113.1.

# ipsecfs_up SUITE raw|udp: fresh daemons (extra options from $IPSECFS_OPTS), the tunnel
# configured and a ping through it answered. Sets SYSTEM_TARGET and SYSTEM_PIDS, and OUT_L, IN_L,
# OUT_R, IN_R for the counter check.
ipsecfs_up() {
    local suite=$1 encap=$2
    local -a extra=() opts=()
    rm -f "$WORK/left.state" "$WORK/right.state"
    : >"$WORK/left.log"
    : >"$WORK/right.log"
    read -r -a opts <<<"${IPSECFS_OPTS:-}"
    start_gateways "${opts[@]}"
    [ "$encap" = raw ] || extra=(--natt nonesp --sport 4500 --dport 4500)
    IPSECFS_TUNNEL=("$suite" 4 4 "${extra[@]}")
    configure_tunnel "${IPSECFS_TUNNEL[@]}" >/dev/null || return 1
    tunnel_saids left 4
    OUT_L=("${OUT_SAIDS[@]}") IN_L=("${IN_SAIDS[@]}")
    tunnel_saids right 4
    OUT_R=("${OUT_SAIDS[@]}") IN_R=("${IN_SAIDS[@]}")
    SYSTEM_TARGET=$RIGHT_IN4
    SYSTEM_PIDS=("$PID_L" "$PID_R")
    wait_ping "$RIGHT_IN4" || { echo "ipsecfs: no ping through the tunnel" >&2; return 1; }
    echo "ipsecfs up ($suite, $encap, $(ip -n "$NS_L" -o link show ipsec0 | grep -o 'mtu [0-9]*'))"
}

# ipsecfs_reconfigure: the same tunnel configured afresh (new SAs: every counter starts at zero,
# as counters_report expects of the SAs after snapshot_counters).
ipsecfs_reconfigure() {
    configure_tunnel "${IPSECFS_TUNNEL[@]}" >/dev/null
}

ipsecfs_down() {
    local pid m
    for pid in ${PID_L:+"$PID_L"} ${PID_R:+"$PID_R"}; do
        stop_pid "$pid"
        forget_pid "$pid"
    done
    PID_L='' PID_R=''
    for m in "$WORK/left.mnt" "$WORK/right.mnt"; do
        ! is_mounted "$m" || umount -l "$m" 2>/dev/null || true
    done
    return 0
}

# start_readers MNT N DIR: N processes that cat ipsec_spi, ipsec_spi.json, metrics and every
# per-SA file of MNT in a loop until DIR/stop exists (or 120 s pass); each writes its number of
# passes and failed passes to DIR/reader-I.
READER_PIDS=()
start_readers() {
    local mnt=$1 n=$2 dir=$3 i
    local -a files
    mapfile -t files < <(find "$mnt/spi" -type f | sort)
    files=("$mnt/ipsec_spi" "$mnt/ipsec_spi.json" "$mnt/metrics" "${files[@]}")
    printf '%s\n' "${files[@]}" >"$dir/reader-files"
    rm -f "$dir/stop"
    READER_PIDS=()
    for ((i = 1; i <= n; i++)); do
        (
            passes=0 failed=0 end=$((SECONDS + 120))
            while [ ! -e "$dir/stop" ] && [ "$SECONDS" -lt "$end" ]; do
                cat "${files[@]}" >/dev/null 2>&1 || failed=$((failed + 1))
                passes=$((passes + 1))
            done
            echo "$passes $failed" >"$dir/reader-$i"
        ) &
        READER_PIDS+=("$!")
        DAEMON_PIDS+=("$!")
    done
}

stop_readers() {
    local dir=$1 pid i
    touch "$dir/stop"
    for pid in "${READER_PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        stop_pid "$pid"
        forget_pid "$pid"
    done
    READER_PIDS=()
}

# counters_verdict: after snapshot_counters and traffic, one line: "OK" when two_hosts.sh's
# counters_report agrees (retried for 3 s while the last packets are in flight). Loss on the wire
# (a receiver's socket full under load) or a drop counter moving fails that check without any
# counter being wrong, so then each side is checked on its own: its daemon's tun_* counters equal
# what its ipsec0 counted (frames and bytes, both ways); its outbound SAs counted the segments it
# protected (packets_out) and its inbound SAs those it decrypted (packets_in), each group's SAs the
# same bytes, and without super-packets exactly ipsec0's bytes. "OK per side, but: <why the
# strict check failed>" when all of that holds, else "MISMATCH: <the first disagreement> (strict
# check: <why it failed>)".
counters_verdict() {
    local i side mnt base said key bytes
    local -a now was outs ins
    for ((i = 0; i < 30; i++)); do
        counters_report
        [ "$REPORT" != ok ] || { echo OK; return 0; }
        sleep 0.1
    done
    local strict=$REPORT
    for side in left right; do
        if [ $side = left ]; then
            read -r -a now <<<"$(tun_stats "$NS_L")"
            read -r -a was <<<"$BASE_TUN_L"
            mnt=$MNT_L base=$BASE_STATS_L outs=("${OUT_L[@]}") ins=("${IN_L[@]}")
        else
            read -r -a now <<<"$(tun_stats "$NS_R")"
            read -r -a was <<<"$BASE_TUN_R"
            mnt=$MNT_R base=$BASE_STATS_R outs=("${OUT_R[@]}") ins=("${IN_R[@]}")
        fi
        local tx_b=$((now[0] - was[0])) tx_f=$((now[1] - was[1]))
        local rx_b=$((now[2] - was[2])) rx_f=$((now[3] - was[3]))
        local -A MOVED
        stats_moved "$base" "$mnt"
        if [ "${MOVED[tun_read_frames]:-0}" != "$tx_f" ] || [ "${MOVED[tun_read_bytes]:-0}" != "$tx_b" ] ||
            [ "${MOVED[tun_write_frames]:-0}" != "$rx_f" ] || [ "${MOVED[tun_write_bytes]:-0}" != "$rx_b" ]; then
            echo "MISMATCH: $side ipsec0 tx $tx_b bytes $tx_f frames, rx $rx_b bytes $rx_f frames; its daemon read ${MOVED[tun_read_bytes]:-?} bytes ${MOVED[tun_read_frames]:-?} frames, wrote ${MOVED[tun_write_bytes]:-?} bytes ${MOVED[tun_write_frames]:-?} frames (strict check: $strict)"
            return 0
        fi
        for key in out in; do
            local -a group
            local segs=${MOVED[packets_$key]:-0} frames=$tx_f frame_bytes=$tx_b
            if [ $key = out ]; then group=("${outs[@]}"); else group=("${ins[@]}") frames=$rx_f frame_bytes=$rx_b; fi
            read_file "$mnt/spi/${group[0]}/life/bytes"
            bytes=${REPLY%%,*}
            [ "$segs" != "$frames" ] || bytes=$frame_bytes
            for said in "${group[@]}"; do
                sa_counts_report "$side ${key}bound (packets_$key $segs)" "$mnt" "$said" "$bytes" "$segs"
                [ -z "$REPORT" ] || { echo "MISMATCH: $REPORT (strict check: $strict)"; return 0; }
            done
        done
    done
    echo "OK per side, but: $strict"
}
