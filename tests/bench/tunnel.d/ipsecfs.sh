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
# counters_report agrees (retried for 3 s while the last packets are in flight); otherwise
# whether each SA still counted exactly what its own ipsec0 carried (loss on the wire or a drop
# counter moving is not a counting error) or the first SA that did not ("MISMATCH").
counters_verdict() {
    local i dir said s_b s_p r_b r_p strict
    local -a tl tr bl br
    for ((i = 0; i < 30; i++)); do
        counters_report
        [ "$REPORT" != ok ] || { echo OK; return 0; }
        sleep 0.1
    done
    strict=$REPORT
    read -r -a tl <<<"$(tun_stats "$NS_L")"
    read -r -a tr <<<"$(tun_stats "$NS_R")"
    read -r -a bl <<<"$BASE_TUN_L"
    read -r -a br <<<"$BASE_TUN_R"
    for dir in l r; do
        if [ $dir = l ]; then
            s_b=$((tl[0] - bl[0])) s_p=$((tl[1] - bl[1])) r_b=$((tl[2] - bl[2])) r_p=$((tl[3] - bl[3]))
            for said in "${OUT_L[@]}"; do
                sa_counts_report "left outbound" "$MNT_L" "$said" "$s_b" "$s_p"
                [ -z "$REPORT" ] || { echo "MISMATCH: $REPORT"; return 0; }
            done
            for said in "${IN_L[@]}"; do
                sa_counts_report "left inbound" "$MNT_L" "$said" "$r_b" "$r_p"
                [ -z "$REPORT" ] || { echo "MISMATCH: $REPORT"; return 0; }
            done
        else
            s_b=$((tr[0] - br[0])) s_p=$((tr[1] - br[1])) r_b=$((tr[2] - br[2])) r_p=$((tr[3] - br[3]))
            for said in "${OUT_R[@]}"; do
                sa_counts_report "right outbound" "$MNT_R" "$said" "$s_b" "$s_p"
                [ -z "$REPORT" ] || { echo "MISMATCH: $REPORT"; return 0; }
            done
            for said in "${IN_R[@]}"; do
                sa_counts_report "right inbound" "$MNT_R" "$said" "$r_b" "$r_p"
                [ -z "$REPORT" ] || { echo "MISMATCH: $REPORT"; return 0; }
            done
        fi
    done
    echo "OK per SA (each equals its ipsec0), but: $strict"
}
