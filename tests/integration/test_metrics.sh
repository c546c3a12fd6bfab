#!/usr/bin/env bash
# The two machine-readable root files of a live daemon: `metrics` passes promtool's parser and
# linter and agrees with the per-SA files and `stats`; `ipsec_spi.json` is JSON with every SA in
# SAID order, every field of its directory typed, and values equal to the files.
source "$(dirname "$0")/lib.sh"

# Outside CI a missing checker skips the test; in CI it is a failure.
need_tool() {
    command -v "$1" >/dev/null && return 0
    [ "${CI:-}" = true ] && die "$1 is missing (Debian package $2)"
    skip "needs $1 (Debian package $2)"
}
need_tool promtool prometheus
need_tool jq jq
require_environment

make_host a 192.0.2.1 2001:db8::1
start_daemon "$HOST_NS" a "$(tun_option)"

ipsec spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16 --enckey "$(hexkey 20)"
ipsec spi --said esp.1001@192.0.2.2 --src 192.0.2.1 --esp aes128-sha1-96 --enckey "$(hexkey 16)" \
    --authkey "$(hexkey 20)" --life soft-bytes=1000,hard-addtime=3600
ipsec spi --said ah:1002@2001:db8::1 --src 2001:db8::2 --ah hmac-sha2_256-128 \
    --authkey "$(hexkey 32)" --replay_window 64
ipsec spi --said esp:1003@2001:db8::2 --src 2001:db8::1 --esp chacha20poly1305 \
    --enckey "$(hexkey 36)" --esn --seq 0x100000000
ipsec spi --said comp.1004@192.0.2.2 --src 192.0.2.1 --comp deflate
ipsec spi --said tun.1005@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2
ipsec spi --said tun.1006@192.0.2.1 --ip4 --src 192.0.2.2 --dst 192.0.2.1 \
    --policy 203.0.113.0/24-\>198.51.100.0/24
ipsec spi --said esp.1007@192.0.2.2 --src 192.0.2.1 --esp aes256gcm16 --enckey "$(hexkey 36)" \
    --iv 0x0011223344556677 --natt nonesp --sport 4500 --dport 4500
ipsec spigrp --said tun.1005@192.0.2.2 esp.1001@192.0.2.2
ipsec eroute --add --eraf inet --src 198.51.100.0/24 --dst 203.0.113.0/24 --said tun.1005@192.0.2.2
mapfile -t saids < <(cut -d' ' -f1 "$MNT/ipsec_spi")
[ "${#saids[@]}" -eq 8 ] || die "expected 8 SAs: $(cat "$MNT/ipsec_spi")"

# Both files are listed, read-only, with the mode of the other root files.
ls "$MNT" | grep -qx metrics || die "metrics not listed: $(ls "$MNT")"
ls "$MNT" | grep -qx ipsec_spi.json || die "ipsec_spi.json not listed: $(ls "$MNT")"
for f in metrics ipsec_spi.json; do
    [ "$(stat -c %a "$MNT/$f")" = "$(stat -c %a "$MNT/ipsec_spi")" ] || die "$f mode $(stat -c %a "$MNT/$f")"
    ! (echo x >"$MNT/$f") 2>/dev/null || die "$f is writable"
done
pass "metrics and ipsec_spi.json are read-only root files"

# --- metrics ---
cp "$MNT/metrics" "$WORK/metrics"
promtool check metrics <"$WORK/metrics" >"$WORK/promtool.out" 2>&1 ||
    die "promtool check metrics: $(cat "$WORK/promtool.out")"
pass "promtool check metrics accepts the file ($(wc -l <"$WORK/metrics") lines)"

# metric NAME LABELS: the value of the sample with exactly these labels ("absent" if none).
metric() {
    awk -v want="$1{$2}" '$1 == want {print $2; found = 1} END {if (!found) print "absent"}' \
        "$WORK/metrics"
}
grep -qx 'ipsec_sas 8' "$WORK/metrics" || die "ipsec_sas: $(grep '^ipsec_sas' "$WORK/metrics")"
grep -qx 'ipsec_eroutes 1' "$WORK/metrics" || die "ipsec_eroutes: $(grep '^ipsec_eroutes' "$WORK/metrics")"
grep -qx 'ipsec_groups 1' "$WORK/metrics" || die "ipsec_groups: $(grep '^ipsec_groups' "$WORK/metrics")"

# Daemon totals equal stats; every drop reason is there.
cp "$MNT/stats" "$WORK/stats"
reasons=0
while IFS='=' read -r name value; do
    case $name in
    drop_*) labels="reason=\"${name#drop_}\"" family=ipsec_drops_total reasons=$((reasons + 1)) ;;
    packets_out) labels='direction="out"' family=ipsec_packets_total ;;
    packets_in) labels='direction="in"' family=ipsec_packets_total ;;
    esp_out) labels='direction="out"' family=ipsec_protected_packets_total ;;
    esp_in) labels='direction="in"' family=ipsec_protected_packets_total ;;
    tun_read_frames) labels='direction="out"' family=ipsec_tun_frames_total ;;
    tun_write_frames) labels='direction="in"' family=ipsec_tun_frames_total ;;
    tun_read_bytes) labels='direction="out"' family=ipsec_tun_bytes_total ;;
    tun_write_bytes) labels='direction="in"' family=ipsec_tun_bytes_total ;;
    *) die "unexpected stats line $name=$value" ;;
    esac
    [ "$(metric "$family" "$labels")" = "$value" ] || die "$family{$labels} is $(metric "$family" "$labels"), stats has $value"
done <"$WORK/stats"
[ "$reasons" -ge 19 ] || die "only $reasons drop reasons in stats"
[ "$(grep -c '^ipsec_drops_total{' "$WORK/metrics")" -eq "$reasons" ] || die "ipsec_drops_total lacks reasons"
pass "daemon totals equal stats ($reasons drop reasons)"

# Per SA: labels from the SA's files; bytes, packets, age equal life/bytes, life/packets, life/add.
field() {
    REPLY=
    IFS= read -r REPLY <"$MNT/spi/$1/$2" || true
}
for said in "${saids[@]}"; do
    field "$said" dir
    dir=$REPLY
    field "$said" xform
    labels="said=\"$said\",direction=\"$dir\",protocol=\"${said%%[.:]*}\",transform=\"$REPLY\""
    for attempt in 1 2 3; do
        problem=
        cp "$MNT/metrics" "$WORK/metrics"
        for pair in bytes_total:bytes packets_total:packets age_seconds:add; do
            field "$said" "life/${pair#*:}"
            value=$(metric "ipsec_sa_${pair%:*}" "$labels")
            [ "$value" = "${REPLY%%,*}" ] || problem="ipsec_sa_${pair%:*}{$labels} is $value, life/${pair#*:} reads $REPLY"
        done
        [ -z "$problem" ] && break
    done
    [ -z "$problem" ] || die "$problem"
    [ "$(metric ipsec_sa_idle_seconds "$labels")" = absent ] || die "$said: idle before any packet"
done
pass "every SA has bytes, packets and age equal to its files, labelled from its files"

esp_out='said="esp.1001@192.0.2.2",direction="out",protocol="esp",transform="ESP_AES_HMAC_SHA1"'
[ "$(metric ipsec_sa_lifetime_limit "$esp_out,kind=\"bytes\",limit=\"soft\"")" = 1000 ] || die "soft bytes limit"
[ "$(metric ipsec_sa_lifetime_limit "$esp_out,kind=\"addtime\",limit=\"hard\"")" = 3600 ] || die "hard addtime limit"
[ "$(grep -c '^ipsec_sa_lifetime_limit{' "$WORK/metrics")" -eq 2 ] || die "limits that are not set are shown"
[ "$(metric ipsec_sa_replay_window 'said="esp.1000@192.0.2.1",direction="in",protocol="esp",transform="ESP_AES_GCM_16"')" = 32 ] ||
    die "replay window of esp.1000"
[ "$(metric ipsec_sa_replay_window 'said="ah:1002@2001:db8::1",direction="in",protocol="ah",transform="AH_HMAC_SHA2_256"')" = 64 ] ||
    die "replay window of ah:1002"
[ "$(metric ipsec_sa_sequence_headroom "$esp_out")" = 4294967295 ] || die "headroom of esp.1001"
[ "$(metric ipsec_sa_sequence_headroom 'said="esp:1003@2001:db8::2",direction="out",protocol="esp",transform="ESP_CHACHA20_POLY1305"')" = 18446744069414584319 ] ||
    die "ESN headroom of esp:1003: $(grep 'headroom{said="esp:1003' "$WORK/metrics")"
[ "$(grep -c '^ipsec_sa_sequence_headroom{' "$WORK/metrics")" -eq 3 ] || die "headroom on SAs without a sequence"
pass "lifetime limits, replay windows and sequence headroom"

# --- ipsec_spi.json ---
cp "$MNT/ipsec_spi.json" "$WORK/spi.json"
jq -e . "$WORK/spi.json" >/dev/null || die "ipsec_spi.json is not JSON: $(head -c 300 "$WORK/spi.json")"
[ "$(jq '.version' "$WORK/spi.json")" = 1 ] || die "version"
generated=$(jq '.generated_at' "$WORK/spi.json")
[ "$(jq '.generated_at | type' "$WORK/spi.json")" = '"number"' ] || die "generated_at type"
((generated <= $(date +%s) && generated >= $(date +%s) - 10)) || die "generated_at $generated is not now"
[ "$(jq '.sas | length' "$WORK/spi.json")" -eq "${#saids[@]}" ] || die "JSON has $(jq '.sas | length' "$WORK/spi.json") SAs"
[ "$(jq -r '.sas[].said' "$WORK/spi.json")" = "$(printf '%s\n' "${saids[@]}")" ] || die "SAs not in SAID order"
pass "ipsec_spi.json is JSON: version 1, generated now, ${#saids[@]} SAs in SAID order"

# Every field has its type, and nothing but the files is there.
declare -A want_type
for f in said xform dir src policy iv natencap state; do want_type[$f]=string; done
for f in iv_bits ooowin ooo_errs seq bit max_seq_diff flags alen aklen auth_errs eklen \
    encr_size_errs encr_pad_errs idle natsport natdport add_time use_time; do want_type[$f]=number; done
for f in soft_time_left hard_time_left; do want_type[$f]=number/null; done
for f in life drops ratio; do want_type[$f]=object; done
jq -r '.sas[] | .said as $s | to_entries[] | "\($s) \(.key) \(.value | type)"' "$WORK/spi.json" >"$WORK/types"
while read -r said key type; do
    want=${want_type[$key]:-string/number/null/boolean/object}
    [[ /$want/ == */$type/* ]] || die "$said .$key is a $type, expected $want"
done <"$WORK/types"
jq -e 'all(.sas[].life[]; keys_unsorted == ["current", "soft", "hard"] and all(.[]; type == "number"))' \
    "$WORK/spi.json" >/dev/null || die "a life item is not {current, soft, hard} numbers"
jq -e --argjson n "$reasons" 'all(.sas[].drops; length == $n and all(.[]; type == "number"))' \
    "$WORK/spi.json" >/dev/null || die "drops do not hold a number for each of the $reasons reasons"
for said in "${saids[@]}"; do
    files=$( (
        cd "$MNT/spi/$said"
        ls | grep -vx life
        ls life | sed 's|^|life/|'
    ) | sort)
    keys=$(jq -r --arg s "$said" '.sas[] | select(.said == $s) | to_entries[] |
        if .key == "life" then (.value | keys[] | "life/\(.)") else .key end' "$WORK/spi.json" | sort)
    [ "$files" = "$keys" ] || die "$said: JSON keys differ from its files: $(diff <(echo "$files") <(echo "$keys"))"
done
pass "every field of every SA directory is in the JSON with its type, and nothing else"

# Values: the JSON turned back into file text equals the files (hex and `64bits` read as
# numbers). Ages tick while the files are read, so a value may also lie between the JSON read
# before and the one read after.
as_files='.sas[] | .said as $s | to_entries[] |
    if .key == "life" then (.value | to_entries[] |
        "\($s)|life/\(.key)|object|\(.value.current),\(.value.soft),\(.value.hard)")
    elif .key == "drops" then "\($s)|drops|object|\(.value | to_entries | map("\(.key)=\(.value)") | join(";"))"
    elif .key == "ratio" then "\($s)|ratio|object|\(if .value.uncompressed == 0 and .value.compressed == 0
        then "0" else "\(.value.uncompressed):\(.value.compressed)" end)"
    else "\($s)|\(.key)|\(.value | type)|\(.value // "")" end'
# between A B X: each comma-separated number of X lies between those of A and B.
between() {
    local -a a b x
    local i
    IFS=, read -ra a <<<"$1"
    IFS=, read -ra b <<<"$2"
    IFS=, read -ra x <<<"$3"
    [ "${#x[@]}" -eq "${#a[@]}" ] && [ "${#x[@]}" -eq "${#b[@]}" ] || return 1
    for i in "${!x[@]}"; do
        [[ ${a[i]} =~ ^[0-9]+$ && ${b[i]} =~ ^[0-9]+$ && ${x[i]} =~ ^[0-9]+$ ]] || return 1
        ((x[i] >= a[i] && x[i] <= b[i])) || ((x[i] <= a[i] && x[i] >= b[i])) || return 1
    done
}
cp "$MNT/ipsec_spi.json" "$WORK/spi.json"
jq -r "$as_files" "$WORK/spi.json" >"$WORK/before"
file_texts=()
while IFS='|' read -r said key type value; do
    mapfile -t lines <"$MNT/spi/$said/$key"
    printf -v text '%s;' "${lines[@]}"
    text=${text%;}
    if [ "$type" = number ]; then
        text=${text%bits}
        text=${text%<>}
        [[ $text == 0x* ]] && printf -v text '%u' "$text"
    fi
    file_texts+=("$text")
done <"$WORK/before"
jq -r "$as_files" "$MNT/ipsec_spi.json" >"$WORK/after"
[ "$(wc -l <"$WORK/after")" -eq "${#file_texts[@]}" ] || die "the JSON changed shape while reading"
i=0
while IFS='|' read -r said key type before _ _ _ after; do
    text=${file_texts[i]}
    i=$((i + 1))
    [ "$text" = "$before" ] || [ "$text" = "$after" ] || between "$before" "$after" "$text" ||
        die "$said $key: file '$text', JSON '$before' (then '$after')"
done < <(paste -d'|' "$WORK/before" "$WORK/after")
[ "$i" -eq "${#file_texts[@]}" ] && [ "$i" -gt 200 ] || die "compared only $i values"
[ "$(jq -r '.sas[] | select(.said == "tun.1006@192.0.2.1") | "\(.flags) \(.policy)"' "$WORK/spi.json")" = \
    "8 203.0.113.0/24->198.51.100.0/24" ] || die "flags/policy of tun.1006"
[ "$(jq -r '.sas[] | select(.said == "esp.1007@192.0.2.2") | "\(.iv_bits) \(.iv) \(.natsport)"' "$WORK/spi.json")" = \
    "64 0x0011223344556677 4500" ] || die "iv/natt of esp.1007"
[ "$(jq '.sas[] | select(.said == "esp.1001@192.0.2.2") | .life.bytes.soft' "$WORK/spi.json")" = 1000 ] ||
    die "life.bytes.soft of esp.1001"
pass "every JSON value equals its file"

# Deleting an SA takes it out of both files.
ipsec spi --said comp.1004@192.0.2.2 --del
! grep -q 'said="comp.1004@' "$MNT/metrics" || die "deleted SA still in metrics"
[ "$(jq '[.sas[] | select(.said == "comp.1004@192.0.2.2")] | length' "$MNT/ipsec_spi.json")" = 0 ] ||
    die "deleted SA still in ipsec_spi.json"
ipsec spi --clear
promtool check metrics <"$MNT/metrics" >/dev/null 2>&1 || die "promtool rejects the metrics of an empty SADB"
[ "$(jq '.sas | length' "$MNT/ipsec_spi.json")" = 0 ] || die "SAs left in ipsec_spi.json after --clear"
pass "deleted SAs leave both files; an empty SADB still gives valid files"

stop_daemon "$DAEMON_PID"
