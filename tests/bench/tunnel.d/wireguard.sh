# shellcheck shell=bash disable=SC2034  # SYSTEM_TARGET, SYSTEM_PIDS: read by tests/bench/tunnel
# wireguard-go between the benchmark's two namespaces (sourced by tests/bench/tunnel after
# tests/integration/lib.sh and two_hosts.sh). One wireguard-go per namespace, keys made here,
# configured with `wg set`. Inner addresses 198.51.100.33 <-> 203.0.113.33 on the TUN itself.
#
# The UAPI socket (/var/run/wireguard/IF.sock) lives in the shared file system, so the interface
# names carry this run's PID and differ per side.

WG_IN_L=198.51.100.33 WG_IN_R=203.0.113.33
WG_PORT=51820
WG_IF_L=bwg$$l WG_IF_R=bwg$$r
WG_PIDS=()

wg_missing_packages() {
    local missing=()
    command -v wireguard-go >/dev/null || missing+=(wireguard-go)
    command -v wg >/dev/null || missing+=(wireguard-tools)
    echo "${missing[*]}"
}

# wg_up: both ends running and a ping through the tunnel answered. Sets WG_PIDS and
# SYSTEM_TARGET. Returns 1 (with a message on stderr) when anything fails.
wg_up() {
    local d=$WORK/wg side ns ifn pid i
    mkdir -p "$d"
    (umask 077 && wg genkey >"$d/l.key" && wg genkey >"$d/r.key") || return 1
    wg pubkey <"$d/l.key" >"$d/l.pub" && wg pubkey <"$d/r.key" >"$d/r.pub" || return 1
    WG_PIDS=()
    for side in l r; do
        if [ $side = l ]; then ns=$NS_L ifn=$WG_IF_L; else ns=$NS_R ifn=$WG_IF_R; fi
        ip netns exec "$ns" env LOG_LEVEL=error wireguard-go -f "$ifn" >"$d/$side.log" 2>&1 &
        pid=$!
        WG_PIDS+=("$pid")
        DAEMON_PIDS+=("$pid")
    done
    for ifn in "$WG_IF_L" "$WG_IF_R"; do
        for ((i = 0; i < 50; i++)); do
            [ -S "/var/run/wireguard/$ifn.sock" ] && break
            sleep 0.1
        done
        [ -S "/var/run/wireguard/$ifn.sock" ] || {
            echo "wireguard-go $ifn: no UAPI socket: $(cat "$d"/*.log)" >&2
            return 1
        }
    done
    ip netns exec "$NS_L" wg set "$WG_IF_L" private-key "$d/l.key" listen-port "$WG_PORT" \
        peer "$(cat "$d/r.pub")" endpoint "$RIGHT_WAN4:$WG_PORT" allowed-ips "$WG_IN_R/32" || return 1
    ip netns exec "$NS_R" wg set "$WG_IF_R" private-key "$d/r.key" listen-port "$WG_PORT" \
        peer "$(cat "$d/l.pub")" endpoint "$LEFT_WAN4:$WG_PORT" allowed-ips "$WG_IN_L/32" || return 1
    ip -n "$NS_L" addr add "$WG_IN_L/32" peer "$WG_IN_R/32" dev "$WG_IF_L" || return 1
    ip -n "$NS_R" addr add "$WG_IN_R/32" peer "$WG_IN_L/32" dev "$WG_IF_R" || return 1
    ip -n "$NS_L" link set "$WG_IF_L" up && ip -n "$NS_R" link set "$WG_IF_R" up || return 1
    SYSTEM_TARGET=$WG_IN_R
    SYSTEM_PIDS=("${WG_PIDS[@]}")
    wait_ping "$WG_IN_R" || { echo "wireguard-go: no ping through the tunnel" >&2; return 1; }
    echo "wireguard-go up ($(ip -n "$NS_L" -o link show "$WG_IF_L" | grep -o 'mtu [0-9]*'))"
}

# wg_down: ends both wireguard-go processes (they remove their TUN and socket on SIGTERM).
wg_down() {
    local pid ifn
    for pid in "${WG_PIDS[@]}"; do
        stop_pid "$pid"
        forget_pid "$pid"
    done
    WG_PIDS=()
    for ifn in "$WG_IF_L" "$WG_IF_R"; do rm -f "/var/run/wireguard/$ifn.sock"; done
}
