# Two gateways joined by a veth "wire", each running ipsec-mountd (sourced after lib.sh).
#
#   left  (namespace $NS_L): wan 192.0.2.1/24 2001:db8::1/64, inner 198.51.100.1 2001:db8:1::1
#   right (namespace $NS_R): wan 192.0.2.2/24 2001:db8::2/64, inner 203.0.113.1 2001:db8:2::1
#
# Inner addresses sit on lo; traffic between the inner networks is routed into ipsec0 once the
# daemons run. Each daemon's mount is $WORK/left.mnt or $WORK/right.mnt.

LEFT_WAN4=192.0.2.1 RIGHT_WAN4=192.0.2.2
LEFT_WAN6=2001:db8::1 RIGHT_WAN6=2001:db8::2
LEFT_IN4=198.51.100.1 RIGHT_IN4=203.0.113.1
LEFT_IN6=2001:db8:1::1 RIGHT_IN6=2001:db8:2::1
LEFT_NET4=198.51.100.0/24 RIGHT_NET4=203.0.113.0/24
LEFT_NET6=2001:db8:1::/48 RIGHT_NET6=2001:db8:2::/48

# make_two_hosts: the two namespaces and the wire between them.
make_two_hosts() {
    NS_L="ipsecfs-$TEST_NAME-l-$$"
    NS_R="ipsecfs-$TEST_NAME-r-$$"
    local ns
    for ns in "$NS_L" "$NS_R"; do
        ip netns add "$ns"
        NAMESPACES+=("$ns")
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    done
    ip -n "$NS_L" link add wan type veth peer name wan netns "$NS_R"
    ip -n "$NS_L" addr add "$LEFT_WAN4/24" dev wan
    ip -n "$NS_R" addr add "$RIGHT_WAN4/24" dev wan
    ip -n "$NS_L" addr add "$LEFT_WAN6/64" dev wan nodad
    ip -n "$NS_R" addr add "$RIGHT_WAN6/64" dev wan nodad
    ip -n "$NS_L" addr add "$LEFT_IN4/32" dev lo
    ip -n "$NS_R" addr add "$RIGHT_IN4/32" dev lo
    ip -n "$NS_L" addr add "$LEFT_IN6/128" dev lo nodad
    ip -n "$NS_R" addr add "$RIGHT_IN6/128" dev lo nodad
    ip -n "$NS_L" link set wan up
    ip -n "$NS_R" link set wan up
}

# start_gateways [ipsec-mountd options…]: a daemon in each namespace (ipsec0 bound to wan) and
# the routes that send the other side's inner network into ipsec0. Sets PID_L/PID_R, MNT_L/MNT_R,
# SOCK_L/SOCK_R. Each daemon keeps its state in $WORK (never the host's default state file).
#
# ipsec0 gets no IPv6 link-local address (addr_gen_mode=1 as the namespace's default when the
# daemon creates it): the kernel then sends no router solicitations or MLD reports into the
# tunnel, so everything ipsec0 carries is the test's own traffic and its counters can be compared
# with the SAs' exactly.
start_gateways() {
    local ns
    for ns in "$NS_L" "$NS_R"; do
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.addr_gen_mode=1
    done
    start_daemon "$NS_L" left --tun ipsec0 --outer-dev wan --state "$WORK/left.state" "$@"
    PID_L=$DAEMON_PID MNT_L=$MNT SOCK_L=$SOCK
    start_daemon "$NS_R" right --tun ipsec0 --outer-dev wan --state "$WORK/right.state" "$@"
    PID_R=$DAEMON_PID MNT_R=$MNT SOCK_R=$SOCK
    ip -n "$NS_L" route add "$RIGHT_NET4" dev ipsec0 src "$LEFT_IN4"
    ip -n "$NS_R" route add "$LEFT_NET4" dev ipsec0 src "$RIGHT_IN4"
    ip -n "$NS_L" -6 route add "$RIGHT_NET6" dev ipsec0 src "$LEFT_IN6"
    ip -n "$NS_R" -6 route add "$LEFT_NET6" dev ipsec0 src "$RIGHT_IN6"
}

ipsec_l() { IPSEC_CONTROL=$SOCK_L "$IPSEC" "$@"; }
ipsec_r() { IPSEC_CONTROL=$SOCK_R "$IPSEC" "$@"; }

# esp_options SUITE SEED: --esp and its keys.
esp_options() {
    local suite=$1 seed=$2 enc=0 auth=0
    case $suite in
    aes128gcm16) enc=20 ;; aes256gcm16 | chacha20poly1305) enc=36 ;;
    aes128-sha1-96 | aes-sha1-96) enc=16 auth=20 ;; aes192-sha1-96) enc=24 auth=20 ;;
    aes256-sha1-96) enc=32 auth=20 ;; aes128-sha2_256-128) enc=16 auth=32 ;;
    aes256-sha2_256-128) enc=32 auth=32 ;; 3des-md5-96) enc=24 auth=16 ;;
    3des-sha1-96) enc=24 auth=20 ;; 3des) enc=24 ;; null-sha1-96) auth=20 ;;
    *) die "unknown suite $suite" ;;
    esac
    local out="--esp $suite"
    [ "$enc" -eq 0 ] || out+=" --enckey $(seeded_key "$enc" "$seed")"
    [ "$auth" -eq 0 ] || out+=" --authkey $(seeded_key "$auth" "$((seed + 1))")"
    echo "$out"
}

seeded_key() {
    local i out=0x byte
    for ((i = 0; i < $1; i++)); do
        printf -v byte '%02x' $(((i * 37 + $2 * 101 + 7) & 255))
        out+=$byte
    done
    echo "$out"
}

# tunnel_batch SIDE SUITE OUTER(4|6) INNER(4|6) [extra esp options…]: the batch lines for one
# gateway: an outbound tun+esp group with its eroute, an inbound one with its policy.
tunnel_batch() {
    local side=$1 suite=$2 outer=$3 inner=$4
    shift 4
    local extra="$*" self peer my_net peer_net sep ipn out_spi in_spi
    if [ "$outer" = 4 ]; then sep=. ipn=--ip4; else sep=: ipn=--ip6; fi
    if [ "$side" = left ]; then
        out_spi=1000 in_spi=2000
        if [ "$outer" = 4 ]; then self=$LEFT_WAN4 peer=$RIGHT_WAN4; else self=$LEFT_WAN6 peer=$RIGHT_WAN6; fi
        if [ "$inner" = 4 ]; then my_net=$LEFT_NET4 peer_net=$RIGHT_NET4; else my_net=$LEFT_NET6 peer_net=$RIGHT_NET6; fi
    else
        out_spi=2000 in_spi=1000
        if [ "$outer" = 4 ]; then self=$RIGHT_WAN4 peer=$LEFT_WAN4; else self=$RIGHT_WAN6 peer=$LEFT_WAN6; fi
        if [ "$inner" = 4 ]; then my_net=$RIGHT_NET4 peer_net=$LEFT_NET4; else my_net=$RIGHT_NET6 peer_net=$LEFT_NET6; fi
    fi
    local out_seed=1 in_seed=3
    [ "$side" = left ] || { out_seed=3 in_seed=1; }
    cat <<EOB
spi --said esp$sep$out_spi@$peer --src $self $(esp_options "$suite" "$out_seed") $extra
spi --said tun$sep${out_spi}1@$peer $ipn --src $self --dst $peer
spigrp --said tun$sep${out_spi}1@$peer esp$sep$out_spi@$peer
eroute --add --src $my_net --dst $peer_net --said tun$sep${out_spi}1@$peer
spi --said esp$sep$in_spi@$self --src $peer $(esp_options "$suite" "$in_seed") $extra
spi --said tun$sep${in_spi}1@$self $ipn --src $peer --dst $self
spigrp --said tun$sep${in_spi}1@$self esp$sep$in_spi@$self
eroute --addin --src $peer_net --dst $my_net --said tun$sep${in_spi}1@$self
EOB
}

# configure_tunnel SUITE OUTER INNER [extra esp options…]: clears both gateways and sets up the
# tunnel on both.
configure_tunnel() {
    local side
    for side in l r; do
        "ipsec_$side" spi --clear
        "ipsec_$side" eroute --clear
    done
    tunnel_batch left "$@" | ipsec_l --batch -
    tunnel_batch right "$@" | ipsec_r --batch -
}

# sa_file MNT SAID FILE: one field of one SA.
sa_file() { cat "$1/spi/$2/$3"; }

# tunnel_saids SIDE OUTER(4|6): the SAIDs tunnel_batch gives SIDE, outermost last, in OUT_SAIDS
# (outbound group: tun, esp) and IN_SAIDS (inbound group).
tunnel_saids() {
    local side=$1 outer=$2 sep self peer out_spi in_spi
    if [ "$outer" = 4 ]; then sep=.; else sep=:; fi
    if [ "$side" = left ]; then
        out_spi=1000 in_spi=2000
        if [ "$outer" = 4 ]; then self=$LEFT_WAN4 peer=$RIGHT_WAN4; else self=$LEFT_WAN6 peer=$RIGHT_WAN6; fi
    else
        out_spi=2000 in_spi=1000
        if [ "$outer" = 4 ]; then self=$RIGHT_WAN4 peer=$LEFT_WAN4; else self=$RIGHT_WAN6 peer=$LEFT_WAN6; fi
    fi
    OUT_SAIDS=("tun$sep${out_spi}1@$peer" "esp$sep$out_spi@$peer")
    IN_SAIDS=("tun$sep${in_spi}1@$self" "esp$sep$in_spi@$self")
}

# transport_batch SIDE SUITE FAMILY(4|6) [extra esp options…]: the batch lines for transport mode
# between the gateways' own wan addresses: one outbound esp SA with the eroute self/32 -> peer/32
# (or /128), one inbound esp SA. SPIs 3000 (left to right) and 4000 (right to left).
transport_batch() {
    local side=$1 suite=$2 family=$3
    shift 3
    local extra="$*" sep bits self peer out_spi in_spi out_seed in_seed
    if [ "$family" = 4 ]; then sep=. bits=32; else sep=: bits=128; fi
    if [ "$side" = left ]; then
        out_spi=3000 in_spi=4000 out_seed=5 in_seed=7
        if [ "$family" = 4 ]; then self=$LEFT_WAN4 peer=$RIGHT_WAN4; else self=$LEFT_WAN6 peer=$RIGHT_WAN6; fi
    else
        out_spi=4000 in_spi=3000 out_seed=7 in_seed=5
        if [ "$family" = 4 ]; then self=$RIGHT_WAN4 peer=$LEFT_WAN4; else self=$RIGHT_WAN6 peer=$LEFT_WAN6; fi
    fi
    cat <<EOB
spi --said esp$sep$out_spi@$peer --src $self $(esp_options "$suite" "$out_seed") $extra
eroute --add --src $self/$bits --dst $peer/$bits --said esp$sep$out_spi@$peer
spi --said esp$sep$in_spi@$self --src $peer $(esp_options "$suite" "$in_seed") $extra
EOB
}

# transport_saids SIDE FAMILY: OUT_SAIDS and IN_SAIDS (one esp SA each) of transport_batch.
transport_saids() {
    local side=$1 family=$2 sep self peer out_spi in_spi
    if [ "$family" = 4 ]; then sep=.; else sep=:; fi
    if [ "$side" = left ]; then
        out_spi=3000 in_spi=4000
        if [ "$family" = 4 ]; then self=$LEFT_WAN4 peer=$RIGHT_WAN4; else self=$LEFT_WAN6 peer=$RIGHT_WAN6; fi
    else
        out_spi=4000 in_spi=3000
        if [ "$family" = 4 ]; then self=$RIGHT_WAN4 peer=$LEFT_WAN4; else self=$RIGHT_WAN6 peer=$LEFT_WAN6; fi
    fi
    OUT_SAIDS=("esp$sep$out_spi@$peer")
    IN_SAIDS=("esp$sep$in_spi@$self")
}

# configure_transport SUITE FAMILY [extra esp options…]: clears both gateways and sets up
# transport mode between them.
configure_transport() {
    local side
    for side in l r; do
        "ipsec_$side" spi --clear
        "ipsec_$side" eroute --clear
    done
    transport_batch left "$@" | ipsec_l --batch -
    transport_batch right "$@" | ipsec_r --batch -
}

# ---- traffic and counters --------------------------------------------------------------------
# The counter checks read the daemons' files with bash builtins (no process per file): they run
# dozens of times per test, on machines that may be busy.

PYTHON=/usr/bin/python3

# tun_stats NS: "tx_bytes tx_packets rx_bytes rx_packets" of NS's ipsec0, as the kernel counts
# them (tx: what the kernel handed the daemon to protect; rx: what the daemon delivered).
tun_stats() {
    ip netns exec "$1" sh -c 'cd /sys/class/net/ipsec0/statistics &&
        echo $(cat tx_bytes tx_packets rx_bytes rx_packets)'
}

# read_file FILE: sets REPLY to FILE's first line ("" when unreadable). Never fails.
read_file() {
    REPLY=
    IFS= read -r REPLY <"$1" 2>/dev/null || true
}

# daemon_stats MNT: the daemon's `stats` file as "name=value" words on one line.
daemon_stats() {
    local line out=
    while IFS= read -r line; do out+="$line "; done <"$1/stats"
    echo "${out% }"
}

# life_c MNT SAID ITEM: the c value of life/ITEM of one SA.
life_c() {
    read_file "$1/spi/$2/life/$3"
    echo "${REPLY%%,*}"
}

# spi_line MNT SAID: that SA's line of ipsec_spi.
spi_line() {
    local line
    while IFS= read -r line; do
        [ "${line%% *}" != "$2" ] || { echo "$line"; return 0; }
    done <"$1/ipsec_spi"
}

# Helper processes (TCP sink) are ended by PID through lib.sh's cleanup while they run, and
# forgotten once reaped so that a later reuse of their PID is never signalled.
forget_pid() {
    local pid=$1 i
    for i in "${!DAEMON_PIDS[@]}"; do
        [ "${DAEMON_PIDS[$i]}" != "$pid" ] || unset 'DAEMON_PIDS[i]'
    done
    DAEMON_PIDS=("${DAEMON_PIDS[@]}")
}

write_tcp_tools() {
    [ -f "$WORK/tcp_sink.py" ] && return 0
    cat >"$WORK/tcp_sink.py" <<'PY'
# tcp_sink.py ADDR PORT READY_FILE: accepts one connection, reads to EOF, answers
# "<bytes> <sha256>" on the same connection and prints "<bytes> <sha256> <peer address>".
import hashlib, socket, sys
addr, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(1)
s.settimeout(30)
open(ready, "w").close()
c, peer = s.accept()
c.settimeout(30)
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(1 << 18)
    if not b:
        break
    h.update(b)
    n += len(b)
c.sendall(f"{n} {h.hexdigest()}\n".encode())
c.close()
print(n, h.hexdigest(), peer[0])
PY
    cat >"$WORK/tcp_source.py" <<'PY'
# tcp_source.py SRC DST PORT FILE: sends FILE from SRC to DST:PORT, waits for the sink's answer,
# prints "<bytes sent> <sha256 sent> <sink's bytes> <sink's sha256> <seconds>".
import hashlib, socket, sys, time
src, dst, port, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
data = open(path, "rb").read()
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_STREAM)
s.bind((src, 0))
s.settimeout(30)
t0 = time.monotonic()
s.connect((dst, port))
s.sendall(data)
s.shutdown(socket.SHUT_WR)
answer = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    answer += b
t1 = time.monotonic()
s.close()
n, digest = answer.decode().split()
print(len(data), hashlib.sha256(data).hexdigest(), n, digest, f"{t1 - t0:.3f}")
PY
}

# tcp_transfer FROM_NS TO_NS SRC DST FILE: sends FILE over TCP from SRC (in FROM_NS) to DST (in
# TO_NS); length and sha256 must agree at both ends and with the file's. Sets TRANSFER_SECONDS
# (connect to the sink's answer); fails the test otherwise. Every step has a timeout.
TCP_PORT=5001
tcp_transfer() {
    local from=$1 to=$2 src=$3 dst=$4 file=$5 i sink_pid size digest out
    local -a answer
    write_tcp_tools
    size=$(stat -c %s "$file")
    digest=$(sha256sum "$file")
    digest=${digest%% *}
    rm -f "$WORK/sink.ready" "$WORK/sink.out"
    ip netns exec "$to" timeout 60 "$PYTHON" "$WORK/tcp_sink.py" "$dst" "$TCP_PORT" \
        "$WORK/sink.ready" >"$WORK/sink.out" 2>"$WORK/sink.err" &
    sink_pid=$!
    DAEMON_PIDS+=("$sink_pid")
    for ((i = 0; i < 200; i++)); do
        [ -e "$WORK/sink.ready" ] && break
        kill -0 "$sink_pid" 2>/dev/null || break
        sleep 0.05
    done
    [ -e "$WORK/sink.ready" ] || die "TCP sink on $dst did not start: $(cat "$WORK/sink.err")"
    if ! out=$(ip netns exec "$from" timeout 60 "$PYTHON" "$WORK/tcp_source.py" "$src" "$dst" \
        "$TCP_PORT" "$file" 2>"$WORK/source.err"); then
        die "TCP transfer $src -> $dst failed: $(cat "$WORK/source.err")"
    fi
    wait "$sink_pid" || die "TCP sink on $dst failed: $(cat "$WORK/sink.err")"
    forget_pid "$sink_pid"
    read -r -a answer <<<"$out"
    [ "${answer[0]}" = "$size" ] && [ "${answer[1]}" = "$digest" ] ||
        die "TCP source $src sent ${answer[0]} bytes sha256 ${answer[1]}, file has $size $digest"
    [ "${answer[2]}" = "$size" ] && [ "${answer[3]}" = "$digest" ] ||
        die "TCP sink $dst got ${answer[2]} bytes sha256 ${answer[3]}, expected $size $digest"
    read -r -a answer <"$WORK/sink.out"
    [ "${answer[0]}" = "$size" ] && [ "${answer[1]}" = "$digest" ] && [ "${answer[2]}" = "$src" ] ||
        die "TCP sink $dst printed '${answer[*]}', expected '$size $digest $src'"
    TRANSFER_SECONDS=${out##* }
}

# ping_ok NS SRC DST [COUNT]: COUNT (3) echo requests from SRC, all answered within 5 s.
ping_ok() {
    ip netns exec "$1" ping -q -n -c "${4:-3}" -i 0.2 -w 5 -I "$2" "$3" >"$WORK/ping.out" 2>&1 ||
        die "ping $2 -> $3 failed: $(cat "$WORK/ping.out")"
}

# snapshot_counters: the kernel's ipsec0 counters and the daemons' stats on both gateways,
# the baseline of check_counters. Take it after configuring the SAs, before any traffic.
snapshot_counters() {
    BASE_TUN_L=$(tun_stats "$NS_L") BASE_TUN_R=$(tun_stats "$NS_R")
    BASE_STATS_L=$(daemon_stats "$MNT_L") BASE_STATS_R=$(daemon_stats "$MNT_R")
    BASE_TIME=$EPOCHREALTIME
}

# sa_counts_report WHO MNT SAID BYTES PACKETS: the SA's life/bytes and life/packets c values and
# the bytes( and packets( of its ipsec_spi line must be BYTES and PACKETS; the line must show
# use( and idle=, with add >= use >= 1 and idle <= use. Sets REPORT to the first mismatch ("" when
# all agree). Forks nothing.
sa_counts_report() {
    local who=$1 mnt=$2 said=$3 bytes=$4 packets=$5 b p line='' lb=0 lp=0 use add idle
    REPORT=
    read_file "$mnt/spi/$said/life/bytes"
    b=${REPLY%%,*}
    read_file "$mnt/spi/$said/life/packets"
    p=${REPLY%%,*}
    if [ "$b" != "$bytes" ] || [ "$p" != "$packets" ]; then
        REPORT="$who $said: life/bytes c=$b life/packets c=$p, ipsec0 carried $bytes bytes $packets packets"
        return 0
    fi
    while IFS= read -r REPLY; do
        [ "${REPLY%% *}" != "$said" ] || line=$REPLY
    done <"$mnt/ipsec_spi"
    if [[ "$line" =~ [=\)]bytes\(([0-9]+), ]]; then lb=${BASH_REMATCH[1]}; fi
    if [[ "$line" =~ \)packets\(([0-9]+), ]]; then lp=${BASH_REMATCH[1]}; fi
    if [ "$lb" != "$b" ] || [ "$lp" != "$p" ]; then
        REPORT="$who $said: ipsec_spi line disagrees with life/bytes=$b life/packets=$p: $line"
        return 0
    fi
    if [[ "$line" != *" idle="* || "$line" != *")use("* ]]; then
        REPORT="$who $said: carried traffic but its ipsec_spi line lacks use( or idle=: $line"
        return 0
    fi
    read_file "$mnt/spi/$said/life/use"
    use=${REPLY%%,*}
    read_file "$mnt/spi/$said/life/add"
    add=${REPLY%%,*}
    read_file "$mnt/spi/$said/idle"
    idle=$REPLY
    if ! [ "$use" -ge 1 ] 2>/dev/null || ! [ "$use" -le "$add" ] 2>/dev/null ||
        ! [ "$idle" -le "$use" ] 2>/dev/null; then
        REPORT="$who $said: life/use c=$use, life/add c=$add, idle=$idle (want add >= use >= 1, idle <= use)"
    fi
}

# kernel_rx_drops NS: what NS's kernel dropped before a daemon could read it: the drops of its raw
# sockets and UDP receive-buffer errors (for a failure message; a healthy run has none).
kernel_rx_drops() {
    ip netns exec "$1" sh -c '
        raw=$(cat /proc/net/raw /proc/net/raw6 | awk "NR > 1 && \$NF ~ /^[0-9]+\$/ {n += \$NF} END {print n + 0}")
        udp=$(awk "/^Udp:/ && \$6 ~ /^[0-9]+\$/ {print \$6}" /proc/net/snmp)
        udp6=$(awk "/^Udp6RcvbufErrors/ {print \$2}" /proc/net/snmp6)
        echo "kernel drops on the receiver: raw sockets $raw, UDP RcvbufErrors ${udp:-?}, Udp6RcvbufErrors ${udp6:-?}"'
}

# stats_moved BASE MNT: reads MNT's `stats` file into the associative array MOVED: each counter's
# change since BASE (a daemon_stats line).
stats_moved() {
    local word value
    local -A before=()
    for word in $1; do before[${word%%=*}]=${word#*=}; done
    MOVED=()
    while IFS='=' read -r word value; do
        [ -z "$word" ] || MOVED[$word]=$((value - ${before[$word]:-0}))
    done <"$2/stats"
}

# counters_report: since snapshot_counters, for each direction (left to right, right to left):
#   - each ipsec0 counted exactly the frames and bytes its daemon says it read (tx) and wrote (rx);
#   - every outbound SA of the sender (OUT_L or OUT_R, arrays, outermost last) counted exactly
#     the clear packets the sender's daemon protected (with no super-packet: what ipsec0 carried);
#   - every inbound SA of the receiver (IN_R or IN_L) counted the same bytes and packets
#     (nothing lost on the way);
#   - the receiver's esp seq equals the sender's, which equals the packets sent;
#   - the daemon-wide `stats` agree: packets_out and esp_out moved by the packets sent,
#     esp_in and packets_in by the packets received, and no drop_ counter of either daemon moved.
# Sets REPORT to "ok" when all agree, else to the first mismatch.
counters_report() {
    local -a tl tr bl br outs ins
    local -A moved_l moved_r
    local dir smnt rmnt s_b s_p r_b r_p said s_seq r_seq word drops key
    read -r -a tl <<<"$(tun_stats "$NS_L")"
    read -r -a tr <<<"$(tun_stats "$NS_R")"
    read -r -a bl <<<"$BASE_TUN_L"
    read -r -a br <<<"$BASE_TUN_R"
    local -A MOVED
    stats_moved "$BASE_STATS_L" "$MNT_L"
    for key in "${!MOVED[@]}"; do moved_l[$key]=${MOVED[$key]}; done
    stats_moved "$BASE_STATS_R" "$MNT_R"
    for key in "${!MOVED[@]}"; do moved_r[$key]=${MOVED[$key]}; done
    for dir in left right; do
        drops=
        for key in "${!moved_l[@]}" "${!moved_r[@]}"; do
            if [ $dir = left ]; then word=${moved_l[$key]:-0}; else word=${moved_r[$key]:-0}; fi
            if [[ "$key" == drop_* && "$word" != 0 && "$drops " != *" $key="* ]]; then
                drops+=" $key=+$word"
            fi
        done
        if [ -n "$drops" ]; then
            REPORT="the $dir daemon dropped packets:$drops"
            return 0
        fi
    done
    for dir in left-to-right right-to-left; do
        local s_out s_esp r_in r_esp
        if [ $dir = left-to-right ]; then
            smnt=$MNT_L rmnt=$MNT_R outs=("${OUT_L[@]}") ins=("${IN_R[@]}")
            s_b=$((tl[0] - bl[0])) s_p=$((tl[1] - bl[1])) r_b=$((tr[2] - br[2])) r_p=$((tr[3] - br[3]))
            s_out=${moved_l[packets_out]:-} s_esp=${moved_l[esp_out]:-}
            r_in=${moved_r[packets_in]:-} r_esp=${moved_r[esp_in]:-}
        else
            smnt=$MNT_R rmnt=$MNT_L outs=("${OUT_R[@]}") ins=("${IN_L[@]}")
            s_b=$((tr[0] - br[0])) s_p=$((tr[1] - br[1])) r_b=$((tl[2] - bl[2])) r_p=$((tl[3] - bl[3]))
            s_out=${moved_r[packets_out]:-} s_esp=${moved_r[esp_out]:-}
            r_in=${moved_l[packets_in]:-} r_esp=${moved_l[esp_in]:-}
        fi
        if [ "$s_p" -eq 0 ]; then
            REPORT="$dir: the sender's ipsec0 carried no packets"
            return 0
        fi
        # ipsec0's statistics count frames; with TUN offloads a frame may be a TCP or UDP
        # super-packet the sender's daemon cut into segments, or one the receiver's daemon joined.
        # So ipsec0 must agree with the daemons' tun_* counters, and the SAs count segments:
        # packets_out of the sender, packets_in of the receiver. Without a super-packet (frames
        # = segments) the SAs must also count exactly ipsec0's bytes.
        local s_f s_fb r_f r_fb seg_b seg_p
        if [ $dir = left-to-right ]; then
            s_f=${moved_l[tun_read_frames]:-} s_fb=${moved_l[tun_read_bytes]:-}
            r_f=${moved_r[tun_write_frames]:-} r_fb=${moved_r[tun_write_bytes]:-}
        else
            s_f=${moved_r[tun_read_frames]:-} s_fb=${moved_r[tun_read_bytes]:-}
            r_f=${moved_l[tun_write_frames]:-} r_fb=${moved_l[tun_write_bytes]:-}
        fi
        if [ "$s_f" != "$s_p" ] || [ "$s_fb" != "$s_b" ] || [ "$r_f" != "$r_p" ] ||
            [ "$r_fb" != "$r_b" ]; then
            REPORT="$dir: sender's ipsec0 tx $s_b bytes $s_p frames, its daemon read $s_fb bytes $s_f frames; receiver's ipsec0 rx $r_b bytes $r_p frames, its daemon wrote $r_fb bytes $r_f frames"
            return 0
        fi
        read_file "$smnt/spi/${outs[0]}/life/bytes"
        seg_b=${REPLY%%,*} seg_p=$s_out
        if [ "$s_out" = "$s_p" ] && [ "$seg_b" != "$s_b" ]; then
            REPORT="$dir: no super-packets, yet ${outs[0]} counted $seg_b bytes and ipsec0 carried $s_b"
            return 0
        fi
        for said in "${outs[@]}"; do
            sa_counts_report "$dir, sender's" "$smnt" "$said" "$seg_b" "$seg_p"
            [ -z "$REPORT" ] || return 0
        done
        for said in "${ins[@]}"; do
            sa_counts_report "$dir, receiver's" "$rmnt" "$said" "$seg_b" "$seg_p"
            if [ -n "$REPORT" ]; then
                REPORT+=" ($(kernel_rx_drops "$([ $dir = left-to-right ] && echo "$NS_R" || echo "$NS_L")"))"
                return 0
            fi
        done
        read_file "$smnt/spi/${outs[-1]}/seq"
        s_seq=$REPLY
        read_file "$rmnt/spi/${ins[-1]}/seq"
        r_seq=$REPLY
        if [ "$s_seq" != "$seg_p" ] || [ "$r_seq" != "$s_seq" ]; then
            REPORT="$dir: seq of ${outs[-1]} (sender) is $s_seq, of ${ins[-1]} (receiver) $r_seq, packets sent $seg_p"
            return 0
        fi
        if [ "$s_esp" != "$seg_p" ] || [ "$r_esp" != "$seg_p" ] || [ "$r_in" != "$seg_p" ]; then
            REPORT="$dir: stats moved by packets_out=$s_out esp_out=$s_esp (sender), esp_in=$r_esp packets_in=$r_in (receiver)"
            return 0
        fi
    done
    REPORT=ok
}

# check_counters LABEL: counters_report, retried for up to 3 s while the last packets of a
# connection may still be in flight; fails the test on a lasting mismatch. Starts no earlier than
# 1.2 s after snapshot_counters, so that use( shows on every SA that carried traffic.
check_counters() {
    local label=$1 i wait_us
    wait_us=$((${BASE_TIME/./} + 1200000 - ${EPOCHREALTIME/./}))
    [ "$wait_us" -le 0 ] || sleep "$(printf '%d.%06d' $((wait_us / 1000000)) $((wait_us % 1000000)))"
    for ((i = 0; i < 30; i++)); do
        counters_report
        [ "$REPORT" != ok ] || return 0
        sleep 0.1
    done
    die "$label: counters disagree: $REPORT"
}
