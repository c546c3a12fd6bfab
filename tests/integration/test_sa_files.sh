#!/usr/bin/env bash
# SAs of every algorithm added with the CLI; every name=value of every ipsec_spi line equals the
# matching file under spi/<SAID>/; dir= follows the destination; deleted SAs' directories go.
source "$(dirname "$0")/lib.sh"
require_environment

make_host a 192.0.2.1 2001:db8::1
start_daemon "$HOST_NS" a "$(tun_option)"

# Inbound SAs are addressed to this host, outbound ones to its peer.
LOCAL4=192.0.2.1 PEER4=192.0.2.2 LOCAL6=2001:db8::1 PEER6=2001:db8::2
spi=0x1000
next_spi() { spi=$(printf '0x%x' $((spi + 1))); }

# name enc-key-bytes auth-key-bytes
esp_algs=(
    "3des 24 0" "3des-md5-96 24 16" "3des-sha1-96 24 20"
    "aes-sha1-96 16 20" "aes128-sha1-96 16 20" "aes192-sha1-96 24 20" "aes256-sha1-96 32 20"
    "aes-sha2_256-128 16 32" "aes128-sha2_256-128 16 32" "aes256-sha2_256-128 32 32"
    "null-sha1-96 0 20" "aes128gcm16 20 0" "aes256gcm16 36 0" "chacha20poly1305 36 0"
)
ah_algs=("hmac-md5-96 16" "hmac-sha1-96 20" "hmac-sha2_256-128 32")

for alg in "${esp_algs[@]}"; do
    read -r name ek ak <<<"$alg"
    keys=()
    [ "$ek" -gt 0 ] && keys+=(--enckey "$(hexkey "$ek")")
    [ "$ak" -gt 0 ] && keys+=(--authkey "$(hexkey "$ak")")
    ipsec spi --said "esp.${spi#0x}@$LOCAL4" --src $PEER4 --esp "$name" "${keys[@]}"
    next_spi
    ipsec spi --af inet6 --edst $PEER6 --spi "$spi" --proto esp --src $LOCAL6 --esp "$name" "${keys[@]}"
    next_spi
done
for alg in "${ah_algs[@]}"; do
    read -r name ak <<<"$alg"
    ipsec spi --said "ah.${spi#0x}@$PEER4" --src $LOCAL4 --ah "$name" --authkey "$(hexkey "$ak")"
    next_spi
    ipsec spi --said "ah:${spi#0x}@$LOCAL6" --src $PEER6 --ah "$name" --authkey "$(hexkey "$ak")" \
        --replay_window 64
    next_spi
done
ipsec spi --said "comp.${spi#0x}@$PEER4" --src $LOCAL4 --comp deflate
next_spi
ipsec spi --said "tun.${spi#0x}@$PEER4" --ip4 --src $LOCAL4 --dst $PEER4
next_spi
ipsec spi --said "tun.${spi#0x}@$LOCAL4" --ip4 --src $PEER4 --dst $LOCAL4 \
    --policy 203.0.113.0/24-\>198.51.100.0/24
next_spi
ipsec spi --said "tun:${spi#0x}@$PEER6" --ip6 --src $LOCAL6 --dst $PEER6
next_spi
ipsec spi --said "esp.${spi#0x}@$LOCAL4" --src $PEER4 --esp aes128gcm16 --enckey "$(hexkey 20)" \
    --iv 0x0011223344556677 --life soft-bytes=1000,hard-addtime=3600,soft-allocations=2
expected=$((2 * ${#esp_algs[@]} + 2 * ${#ah_algs[@]} + 5))

[ "$(wc -l <"$MNT/ipsec_spi")" -eq "$expected" ] || die "expected $expected SAs: $(cat "$MNT/ipsec_spi")"
[ "$(ls "$MNT/spi" | wc -l)" -eq "$expected" ] || die "spi/ does not hold $expected directories"
ages() { sed -E 's/add\([0-9]+,/add(N,/'; }
[ "$(ipsec spi | ages)" = "$(ages <"$MNT/ipsec_spi")" ] || die "ipsec spi differs from ipsec_spi"
pass "$expected SAs of every algorithm added"

# Files a line may leave out, and what they read then.
optional_numbers=(ooowin ooo_errs seq max_seq_diff alen aklen auth_errs eklen encr_size_errs
    encr_pad_errs idle iv_bits)
life_items=(alloc bytes add use packets)

# field FILE: the file's first line, read without forking (these are many reads).
field() {
    REPLY=
    IFS= read -r REPLY <"$1" || true
}

# check_line LINE: prints the first mismatch, if any.
check_line() {
    local line=$1 said xform word name value item seen=" "
    read -r said xform _ <<<"$line"
    local dir=$MNT/spi/$said
    field "$dir/said"
    [ "$REPLY" = "$said" ] || { echo "$said: said file reads '$REPLY'"; return; }
    field "$dir/xform"
    [ "$REPLY" = "${xform%:}" ] || { echo "$said: xform file reads '$REPLY'"; return; }
    for word in $line; do
        case $word in
        life\(c,s,h\)=*)
            for item in $(grep -oE '[a-z]+\([0-9]+,[0-9]+,[0-9]+\)' <<<"${word#*=}"); do
                name=${item%%(*}
                value=${item#*(}
                value=${value%)}
                field "$dir/life/$name"
                [ "$REPLY" = "$value" ] || { echo "$said: life/$name reads '$REPLY', line has $value"; return; }
                seen+="life/$name "
            done
            ;;
        *=*)
            name=${word%%=*}
            value=${word#*=}
            field "$dir/$name"
            [ "$REPLY" = "$value" ] || { echo "$said: $name reads '$REPLY', line has $value"; return; }
            seen+="$name "
            ;;
        esac
    done
    for name in "${optional_numbers[@]}" flags bit ratio; do
        [[ $seen == *" $name "* ]] && continue
        field "$dir/$name"
        [ "$REPLY" = 0 ] || { echo "$said: $name is not on the line but reads '$REPLY'"; return; }
    done
    for name in policy iv; do
        [[ $seen == *" $name "* ]] && continue
        field "$dir/$name"
        [ -z "$REPLY" ] || { echo "$said: $name is not on the line but reads '$REPLY'"; return; }
    done
    for item in "${life_items[@]}"; do
        [[ $seen == *" life/$item "* ]] && continue
        field "$dir/life/$item"
        [ "$REPLY" = 0,0,0 ] || { echo "$said: life/$item is not on the line but reads '$REPLY'"; return; }
    done
    case $line in *" dir=in "* | *" dir=out "*) ;; *) echo "$said: no dir= on '$line'" ;; esac
}

while read -r line; do
    said=${line%% *}
    # A clock tick between reading the line and a file shows as an age mismatch: read again.
    for attempt in 1 2 3; do
        problem=$(check_line "$(grep -F "$said " "$MNT/ipsec_spi")")
        [ -z "$problem" ] && break
    done
    [ -z "$problem" ] || die "$problem"
    dst=${said#*@}
    case $dst in $LOCAL4 | $LOCAL6) want=in ;; *) want=out ;; esac
    field "$MNT/spi/$said/dir"
    [ "$REPLY" = "$want" ] || die "$said: dir=$REPLY, expected $want"
done <"$MNT/ipsec_spi"
pass "every name=value equals its file; dir= follows the destination"

grep -q '^esp.1000@192.0.2.1 ESP_3DES: dir=in src=192.0.2.2 ooowin=32 eklen=192 life(c,s,h)=add(' \
    "$MNT/ipsec_spi" || die "3DES line: $(grep esp.1000@ "$MNT/ipsec_spi")"
grep -qE '^ah:[0-9a-f]+@2001:db8::1 AH_HMAC_SHA2_256: dir=in src=2001:db8::2 ooowin=64 alen=256 aklen=256 ' \
    "$MNT/ipsec_spi" || die "AH SHA2 line missing"
grep -qE "^tun\.[0-9a-f]+@$LOCAL4 IPIP: dir=in src=$PEER4 policy=203.0.113.0/24->198.51.100.0/24 " \
    "$MNT/ipsec_spi" || die "policy line missing"
grep -qE "iv_bits=64bits iv=0x0011223344556677 .*life\(c,s,h\)=alloc\(0,2,0\)bytes\(0,1000,0\)add\([0-9]+,0,3600\)" \
    "$MNT/ipsec_spi" || die "iv/life line: $(tail -1 "$MNT/ipsec_spi")"
! grep -q "$(hexkey 20 | cut -c3-)" -r "$MNT" 2>/dev/null || die "a key is visible in the mount"
pass "spot checks of transforms, policy, iv and lifetimes; no key in the mount"

# Groups and eroutes.
tun_out=$(grep -oE "^tun\.[0-9a-f]+@$PEER4" "$MNT/ipsec_spi")
ipsec spi --said esp.7000@$PEER4 --src $LOCAL4 --esp aes128gcm16 --enckey "$(hexkey 20)"
ipsec spigrp --said "$tun_out" esp.7000@$PEER4
[ "$(cat "$MNT/ipsec_spigrp")" = "$tun_out esp.7000@$PEER4 " ] || die "ipsec_spigrp: '$(cat "$MNT/ipsec_spigrp")'"
ipsec eroute --add --eraf inet --src 198.51.100.0/24 --dst 203.0.113.0/24 --said "$tun_out"
grep -qE "198.51.100.0/24 +-> 203.0.113.0/24 +=> $tun_out" "$MNT/ipsec_eroute" || die "ipsec_eroute: $(cat "$MNT/ipsec_eroute")"
[ "$(ipsec eroute)" = "$(cat "$MNT/ipsec_eroute")" ] || die "ipsec eroute differs from ipsec_eroute"
[ "$(ipsec spigrp)" = "$(cat "$MNT/ipsec_spigrp")" ] || die "ipsec spigrp differs from ipsec_spigrp"
grep -qF "$tun_out" <<<"$(ipsec look)" || die "ipsec look does not show $tun_out"
pass "spigrp, eroute and look"

# Deleting an SA removes its directory; a cached lookup must not keep it alive.
ls "$MNT/spi/esp.7000@$PEER4/life" >/dev/null
ipsec spi --said esp.7000@$PEER4 --del
[ ! -e "$MNT/spi/esp.7000@$PEER4" ] || die "deleted SA's directory is still there"
! grep -qF esp.7000@ <<<"$(ls "$MNT/spi")" || die "deleted SA still listed"
! grep -qF esp.7000@ "$MNT/ipsec_spi" || die "deleted SA still in ipsec_spi"
pass "a deleted SA's directory is gone"

# A batch from stdin, with comments, a leading `ipsec` and blank lines; then --clear.
key=$(hexkey 20)
{
    echo "# replacement SAs"
    echo
    for i in $(seq 1 50); do
        printf 'ipsec spi --said esp.%x@%s --src %s --esp aes128gcm16 --enckey %s\n' $((0x9000 + i)) $PEER4 $LOCAL4 "$key"
    done
} | ipsec --batch -
[ "$(grep -c '^esp\.90' "$MNT/ipsec_spi")" -eq 50 ] || die "batch from stdin did not add 50 SAs"
ipsec spi --clear
[ ! -s "$MNT/ipsec_spi" ] && [ -z "$(ls "$MNT/spi")" ] || die "--clear left SAs"
pass "batch from stdin and --clear"

# The CLI's own conveniences.
grep -q -- '--enckey' <<<"$(ipsec spi --help)" || die "ipsec spi --help"
grep -q '^ipsec (ipsecfs) ' <<<"$(ipsec version)" || die "ipsec version"
grep -q '^ipsecfs version: ' <<<"$(ipsec version)" || die "ipsec version does not show the daemon's"
grep -q '^ipsec (ipsecfs) ' <<<"$(IPSEC_CONTROL=$WORK/nothing.sock "$IPSEC" version)" || die "ipsec version without a daemon"
pass "help and version"

stop_daemon "$DAEMON_PID"
is_mounted "$MNT" && die "still mounted after SIGTERM"
[ ! -e "$SOCK" ] || die "control socket left behind"
pass "SIGTERM unmounts and removes the socket"
