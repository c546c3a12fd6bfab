# shellcheck shell=bash disable=SC2034  # SYSTEM_TARGET, SYSTEM_PIDS: read by tests/bench/tunnel
# strongSwan 5.9 charon with kernel-libipsec (ESP in userspace behind the TUN ipsec0) between the
# benchmark's two namespaces (sourced by tests/bench/tunnel after tests/integration/lib.sh and
# two_hosts.sh). IKEv2 with a PSK, one CHILD_SA with aes128gcm16, inner 198.51.100.17 <->
# 203.0.113.17 (on lo; libipsec routes them into ipsec0 through table 220).
#
# Debian's 5.9.8 libipsec always encapsulates ESP in UDP 4500 (encap = yes makes charon fake a
# NAT). charon's pid file and stroke socket are compiled into /run, so each charon runs in a
# private mount namespace with its own /run under $WORK. The `kdf` plugin is needed by 5.9.8's
# key derivation; openssl is listed first so that it provides AES-GCM (AES-NI).

SW_IN_L=198.51.100.17 SW_IN_R=203.0.113.17
SW_CHARON=${SW_CHARON:-/usr/lib/ipsec/charon}
SW_PLUGINS="random nonce openssl aes sha1 sha2 hmac kdf gcm pem pkcs1 x509 curve25519 gmp \
kernel-libipsec kernel-netlink socket-default vici"
SW_PIDS=()

sw_missing_packages() {
    local missing=() p=/usr/lib/ipsec/plugins
    [ -x "$SW_CHARON" ] || missing+=(strongswan-charon)
    command -v swanctl >/dev/null || missing+=(strongswan-swanctl)
    [ -e $p/libstrongswan-kernel-libipsec.so ] || missing+=(libcharon-extra-plugins)
    [ -e $p/libstrongswan-openssl.so ] || missing+=(libstrongswan-standard-plugins)
    [ -e $p/libstrongswan-curve25519.so ] || missing+=(libstrongswan-extra-plugins)
    echo "${missing[*]}"
}

# sw_write_conf SIDE LOCAL_WAN REMOTE_WAN LOCAL_ID REMOTE_ID LOCAL_IN REMOTE_IN
sw_write_conf() {
    local d=$WORK/sw/$1
    mkdir -p "$d/run"
    cat >"$d/strongswan.conf" <<CONF
charon {
    load = $SW_PLUGINS
    syslog { daemon { default = -1 } }
    filelog {
        bench { path = $d/charon.log
                time_format = %T
                default = 1
                append = no
                flush_line = yes }
    }
    plugins {
        vici { socket = unix://$d/run/charon.vici }
    }
    install_routes = yes
    retransmit_tries = 3
}
CONF
    cat >"$d/swanctl.conf" <<CONF
connections {
    bench {
        version = 2
        local_addrs = $2
        remote_addrs = $3
        encap = yes
        proposals = aes128gcm16-prfsha256-x25519
        rekey_time = 0
        reauth_time = 0
        dpd_delay = 0
        local { auth = psk
                id = $4 }
        remote { auth = psk
                 id = $5 }
        children {
            gcm { local_ts = $6/32
                  remote_ts = $7/32
                  esp_proposals = aes128gcm16
                  rekey_time = 0
                  life_time = 0 }
        }
    }
}
secrets {
    ike-bench {
        id-l = bench-left
        id-r = bench-right
        secret = "ipsecfs-benchmark-psk-not-secret-0123456789"
    }
}
CONF
}

sw_ctl() {
    local side=$1 cmd=$2
    shift 2
    timeout 20 swanctl "$cmd" --uri "unix://$WORK/sw/$side/run/charon.vici" "$@"
}

# sw_up: both charons running, the CHILD_SA up and a ping through it answered. Sets SW_PIDS and
# SYSTEM_TARGET. Returns 1 (with a message on stderr) when anything fails.
sw_up() {
    local side ns d pid i
    sw_write_conf l "$LEFT_WAN4" "$RIGHT_WAN4" bench-left bench-right "$SW_IN_L" "$SW_IN_R"
    sw_write_conf r "$RIGHT_WAN4" "$LEFT_WAN4" bench-right bench-left "$SW_IN_R" "$SW_IN_L"
    ip -n "$NS_L" addr add "$SW_IN_L/32" dev lo || return 1
    ip -n "$NS_R" addr add "$SW_IN_R/32" dev lo || return 1
    SW_PIDS=()
    for side in l r; do
        if [ $side = l ]; then ns=$NS_L; else ns=$NS_R; fi
        d=$WORK/sw/$side
        rm -f "$d/run/"*
        ip netns exec "$ns" unshare --mount --propagation private sh -c \
            "mount --bind '$d/run' /run && STRONGSWAN_CONF='$d/strongswan.conf' exec '$SW_CHARON'" \
            >"$d/stdout.log" 2>&1 &
        pid=$!
        SW_PIDS+=("$pid")
        DAEMON_PIDS+=("$pid")
        for ((i = 0; i < 100; i++)); do
            [ -S "$d/run/charon.vici" ] && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        [ -S "$d/run/charon.vici" ] || {
            echo "strongswan: charon ($side) did not open its vici socket: $(tail -5 "$d/stdout.log")" >&2
            return 1
        }
    done
    for side in l r; do
        sw_ctl $side --load-all --file "$WORK/sw/$side/swanctl.conf" >"$WORK/sw/$side/load.log" 2>&1 || {
            echo "strongswan: swanctl --load-all ($side) failed: $(tail -5 "$WORK/sw/$side/load.log")" >&2
            return 1
        }
    done
    sw_ctl l --initiate --child gcm --timeout 10 >"$WORK/sw/l/initiate.log" 2>&1 || {
        echo "strongswan: initiate failed: $(tail -5 "$WORK/sw/l/initiate.log")" >&2
        return 1
    }
    SYSTEM_TARGET=$SW_IN_R
    SYSTEM_PIDS=("${SW_PIDS[@]}")
    wait_ping "$SW_IN_R" || { echo "strongswan: no ping through the CHILD_SA" >&2; return 1; }
    echo "strongswan-gcm up ($(sw_ctl l --list-sas 2>/dev/null | grep -m1 -o 'AES_GCM_16[^ ]*'), \
$(ip -n "$NS_L" -o link show ipsec0 | grep -o 'mtu [0-9]*'))"
}

# sw_down: ends both charons (each removes its TUN on SIGTERM) and the inner addresses.
sw_down() {
    local pid
    for pid in "${SW_PIDS[@]}"; do
        stop_pid "$pid"
        forget_pid "$pid"
    done
    SW_PIDS=()
    ip -n "$NS_L" addr del "$SW_IN_L/32" dev lo 2>/dev/null
    ip -n "$NS_R" addr del "$SW_IN_R/32" dev lo 2>/dev/null
    return 0
}
