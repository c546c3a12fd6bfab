#!/usr/bin/env bash
# The Debian package, end to end: cpack builds it from the build directory ($IPSECFS_BIN/..);
# its control data (dependencies, conffiles, maintainer scripts) and contents are checked; dpkg
# installs it (diverting bash-completion's own ipsec completion, if there, while installed); the
# installed programs run, the man pages render without a warning, the unit
# passes systemd-analyze verify, bash completion works (SAIDs from a daemon's mount), the
# installed daemon reads the shipped configuration; dpkg -r keeps the configuration, dpkg -P
# leaves nothing behind.
#
# It installs into this very system, so it runs only where that is safe: as root, with no
# ipsecfs package installed and nothing at the paths the package owns (a copy installed by hand,
# strongSwan's /usr/sbin/ipsec, an /etc/ipsecfs or a /var/lib/ipsecfs a purge would delete).
source "$(dirname "$0")/lib.sh"
require_environment
for tool in dpkg dpkg-deb dpkg-query cpack systemd-analyze man groff; do
    command -v "$tool" >/dev/null || skip "no $tool"
done
BUILD=$(cd "$IPSECFS_BIN/.." && pwd)
[ -f "$BUILD/CPackConfig.cmake" ] || skip "no CPackConfig.cmake in $BUILD"
# installed, config-files, half-installed…; "" or not-installed when dpkg has no trace of it.
package_state() { dpkg-query -W -f='${db:Status-Status}' ipsecfs 2>/dev/null || true; }
case $(package_state) in
"" | not-installed) ;;
*) skip "the ipsecfs package is on this system already ($(package_state))" ;;
esac
owned=(/usr/sbin/ipsec /usr/sbin/ipsec-mountd /usr/lib/systemd/system/ipsec-mountd.service
    /lib/systemd/system/ipsec-mountd.service /etc/ipsecfs /var/lib/ipsecfs /usr/share/doc/ipsecfs
    /usr/share/bash-completion/completions/ipsec /usr/share/bash-completion/completions/ipsec-mountd
    /usr/share/man/man8/ipsec.8 /usr/share/man/man8/ipsec-mountd.8 /usr/share/man/man5/ipsec_spi.5)
# bash-completion's own ipsec completion may be there: the package diverts it while installed.
theirs_completion=/usr/share/bash-completion/completions/ipsec
theirs=""
if [ -e "$theirs_completion" ] && [ "$(dpkg-query -S "$theirs_completion" 2>/dev/null)" = \
    "bash-completion: $theirs_completion" ]; then
    theirs=$(sha256sum <"$theirs_completion")
fi
for path in "${owned[@]}"; do
    [ "$path" = "$theirs_completion" ] && [ -n "$theirs" ] && continue
    [ ! -e "$path" ] || skip "$path exists: installing and purging the package here is not safe"
done
[ -z "$(dpkg-divert --listpackage "$theirs_completion")" ] ||
    skip "$theirs_completion is diverted already: $(dpkg-divert --list "$theirs_completion")"

# From here on the package may be on the system: the EXIT trap purges it.
purge_package() {
    case $(package_state) in
    "" | not-installed) ;;
    *) dpkg -P ipsecfs >/dev/null 2>&1 || true ;;
    esac
}
trap 'status=$?; purge_package; (exit $status); cleanup' EXIT

# Build.
(cd "$BUILD" && cpack -G DEB -B "$WORK/cpack") >"$WORK/cpack.log" 2>&1 ||
    die "cpack failed: $(tail -n 20 "$WORK/cpack.log")"
debs=("$WORK"/cpack/ipsecfs_*_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || die "expected one ipsecfs_VERSION_ARCH.deb: ${debs[*]}"
deb=${debs[0]}
pass "cpack -G DEB: $(basename "$deb") ($(stat -c %s "$deb") bytes)"

# Control data.
depends=$(dpkg-deb -f "$deb" Depends)
for dep in fuse3 libfuse3-3 libssl3 libsodium23 libboost-program-options1.74.0 zlib1g; do
    grep -qE "(^|, )$dep( |,|$)" <<<"$depends" || die "Depends lacks $dep: $depends"
done
dpkg-deb -e "$deb" "$WORK/control"
[ "$(cat "$WORK/control/conffiles")" = $'/etc/ipsecfs/ipsec-mountd.conf\n/etc/ipsecfs/ipsec.startup' ] ||
    die "conffiles: $(cat "$WORK/control/conffiles")"
for script in preinst postinst prerm postrm; do
    [ -x "$WORK/control/$script" ] || die "$script is not executable"
    sh -n "$WORK/control/$script" || die "$script is not valid sh"
done
pass "Depends: $depends; conffiles; maintainer scripts"

# Contents: exactly these files.
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort >"$WORK/contents"
sort >"$WORK/expected" <<'EOF'
/etc/ipsecfs/ipsec-mountd.conf
/etc/ipsecfs/ipsec.startup
/usr/lib/systemd/system/ipsec-mountd.service
/usr/sbin/ipsec
/usr/sbin/ipsec-mountd
/usr/share/bash-completion/completions/ipsec
/usr/share/bash-completion/completions/ipsec-mountd
/usr/share/doc/ipsecfs/examples/ipsec-mountd.conf
/usr/share/doc/ipsecfs/examples/ipsec.startup
/usr/share/man/man5/ipsec_spi.5
/usr/share/man/man8/ipsec-mountd.8
/usr/share/man/man8/ipsec.8
EOF
diff -u "$WORK/expected" "$WORK/contents" >"$WORK/diff" || die "package contents differ: $(cat "$WORK/diff")"
pass "contents: $(wc -l <"$WORK/contents") files"

# Install. Directories the package brings that were not here before must go with the purge.
dpkg-deb -c "$deb" | awk '$1 ~ /^d/ { sub(/^\./, "", $6); sub(/\/$/, "", $6); print $6 }' |
    while read -r dir; do if [ -n "$dir" ] && [ ! -e "$dir" ]; then echo "$dir"; fi; done >"$WORK/new-dirs"
dpkg -i "$deb" >"$WORK/dpkg.log" 2>&1 || die "dpkg -i failed: $(cat "$WORK/dpkg.log")"
dpkg-query -L ipsecfs >"$WORK/installed"
grep -qx /usr/sbin/ipsec-mountd "$WORK/installed" || die "dpkg -L: $(cat "$WORK/installed")"
[ "$(stat -c %a /etc/ipsecfs/ipsec.startup)" = 600 ] || die "ipsec.startup must be 0600 (it takes keys)"
[ "$(dpkg-query -W -f='${Conffiles}' ipsecfs | awk 'NF {print $1}' | sort | tr '\n' ' ')" = \
    "/etc/ipsecfs/ipsec-mountd.conf /etc/ipsecfs/ipsec.startup " ] || die "conffiles not registered"
[ "$(dpkg-divert --listpackage "$theirs_completion")" = ipsecfs ] ||
    die "bash-completion's ipsec completion is not diverted: $(dpkg-divert --list ipsecfs)"
grep -q '_ipsec()' "$theirs_completion" || die "$theirs_completion is not ours"
if [ -n "$theirs" ]; then
    [ "$(sha256sum <"$theirs_completion.bash-completion")" = "$theirs" ] ||
        die "bash-completion's ipsec completion was not set aside intact"
fi
pass "dpkg -i: installed, conffiles registered, bash-completion's ipsec completion diverted"

# The programs.
grep -qx "ipsec-mountd (ipsecfs) $(dpkg-deb -f "$deb" Version)" <<<"$(/usr/sbin/ipsec-mountd --version)" ||
    die "ipsec-mountd --version: $(/usr/sbin/ipsec-mountd --version)"
IPSEC_CONTROL=$WORK/none.sock /usr/sbin/ipsec --version | head -n 1 | grep -q '^ipsec (ipsecfs) ' ||
    die "ipsec --version"
pass "installed programs run"

# The man pages: found by man, rendered without a warning.
[ "$(man -w 8 ipsec-mountd)" = /usr/share/man/man8/ipsec-mountd.8 ] || die "man -w 8 ipsec-mountd: $(man -w 8 ipsec-mountd)"
for page in $(grep -E '^/usr/share/man/man[1-8]/' "$WORK/installed"); do
    [ -f "$page" ] || continue
    MANWIDTH=80 man -l "$page" >"$WORK/man.out" 2>"$WORK/err" || die "man -l $page failed: $(cat "$WORK/err")"
    [ ! -s "$WORK/err" ] || die "man -l $page: $(cat "$WORK/err")"
    [ "$(wc -l <"$WORK/man.out")" -gt 20 ] || die "man -l $page rendered next to nothing"
    groff -ww -z -man "$page" 2>"$WORK/err" || die "groff $page failed"
    [ ! -s "$WORK/err" ] || die "groff -ww $page: $(cat "$WORK/err")"
done
pass "man pages render without warnings"

# The unit: systemd-analyze checks the syntax, the ExecStart binary and the Documentation= pages;
# it reports unknown settings on stderr with exit status 0, so any output is a failure.
unit=/usr/lib/systemd/system/ipsec-mountd.service
systemd-analyze verify "$unit" >"$WORK/verify" 2>&1 || die "systemd-analyze verify: $(cat "$WORK/verify")"
[ ! -s "$WORK/verify" ] || die "systemd-analyze verify: $(cat "$WORK/verify")"
grep -qx 'Type=notify' "$unit" && grep -qx 'ExecStart=/usr/sbin/ipsec-mountd --config /etc/ipsecfs/ipsec-mountd.conf' "$unit" ||
    die "unit: $(cat "$unit")"
pass "systemd-analyze verify $unit"

# The installed daemon with the shipped configuration (its startup file is all comments).
make_host a 192.0.2.1
MOUNTD=/usr/sbin/ipsec-mountd IPSEC=/usr/sbin/ipsec
start_daemon "$HOST_NS" conf --config /etc/ipsecfs/ipsec-mountd.conf --tun=none --state "$WORK/conf.state"
[ -z "$(cat "$MNT/ipsec_spi")" ] || die "SAs from the shipped startup file: $(cat "$MNT/ipsec_spi")"
stop_daemon "$DAEMON_PID"
# …and with the shipped example filled in, for completion to find SAIDs.
sed -E "s/^# (spi|spigrp|eroute) /\1 /; s/0x<20 bytes: key\+salt>/$(hexkey 20)/" \
    /usr/share/doc/ipsecfs/examples/ipsec.startup >"$WORK/ipsec.startup"
start_daemon "$HOST_NS" sas --tun=none --state "$WORK/sas.state" --startup "$WORK/ipsec.startup"
[ "$(wc -l <"$MNT/ipsec_spi")" -eq 4 ] || die "example SAs: $(cat "$MNT/ipsec_spi")"
pass "the installed daemon reads the shipped configuration and example"

# Bash completion: both files source cleanly and complete commands, options, values and SAIDs.
for cmd in ipsec ipsec-mountd; do
    out=$(bash -c "source /usr/share/bash-completion/completions/$cmd && complete -p $cmd" 2>&1) ||
        die "sourcing the $cmd completion: $out"
    [ "$out" = "complete -F _${cmd//-/_} $cmd" ] || die "completion for $cmd: $out"
done
# complete_words WORD…: what TAB offers after these words (the last one is being completed).
complete_words() {
    IPSECFS_MOUNT=$MNT bash -c '
        source /usr/share/bash-completion/completions/ipsec
        source /usr/share/bash-completion/completions/ipsec-mountd
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        if [ "$1" = /usr/sbin/ipsec-mountd ]; then _ipsec_mountd; else _ipsec; fi
        printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' complete "$@"
}
expect_completion() {
    local want=$1 got
    shift
    got=$(complete_words "$@")
    [ "$got" = "$want" ] || die "completing '$*': got '$got', expected '$want'"
}
expect_completion "spi spigrp " /usr/sbin/ipsec sp
expect_completion "--batch " /usr/sbin/ipsec --b
expect_completion "--esn --esp " /usr/sbin/ipsec spi --es
expect_completion "--addin " /usr/sbin/ipsec --control /x.sock eroute --addi
expect_completion "aes256-sha1-96 aes256-sha2_256-128 aes256gcm16 " /usr/sbin/ipsec spi --esp aes256
expect_completion "inet inet6 " /usr/sbin/ipsec eroute --eraf ""
expect_completion "esp.1000@192.0.2.2 esp.2000@192.0.2.1 " /usr/sbin/ipsec spi --said esp
expect_completion "tun.1001@192.0.2.2 tun.2001@192.0.2.1 " /usr/sbin/ipsec spigrp --said esp.1000@192.0.2.2 tun
expect_completion "--startup --state " /usr/sbin/ipsec-mountd --st
expect_completion "ipsec0 none " /usr/sbin/ipsec-mountd --tun ""
# Every option `ipsec spi --help` defines is offered.
help_count=$(/usr/sbin/ipsec spi --help | grep -cE '^  --')
offered=$(complete_words /usr/sbin/ipsec spi -- | wc -w)
[ "$offered" -ge "$help_count" ] || die "ipsec spi --<TAB> offers $offered options, --help lists $help_count"
stop_daemon "$DAEMON_PID"
pass "bash completion: commands, options, values, SAIDs from the mount"

# dpkg -r: the programs go, the configuration stays.
mkdir -p /var/lib/ipsecfs && echo state >/var/lib/ipsecfs/state  # as the service's daemon leaves it
dpkg -r ipsecfs >"$WORK/dpkg.log" 2>&1 || die "dpkg -r failed: $(cat "$WORK/dpkg.log")"
[ "$(package_state)" = config-files ] || die "after dpkg -r: $(package_state)"
[ ! -e /usr/sbin/ipsec-mountd ] && [ ! -e "$unit" ] || die "dpkg -r left the programs"
[ -f /etc/ipsecfs/ipsec-mountd.conf ] && [ -f /etc/ipsecfs/ipsec.startup ] || die "dpkg -r removed the configuration"
[ -z "$(dpkg-divert --listpackage "$theirs_completion")" ] ||
    die "dpkg -r left the diversion: $(dpkg-divert --list "$theirs_completion")"
[ ! -e "$theirs_completion.bash-completion" ] || die "dpkg -r left $theirs_completion.bash-completion"
if [ -n "$theirs" ]; then
    [ "$(sha256sum <"$theirs_completion")" = "$theirs" ] ||
        die "dpkg -r did not give bash-completion's ipsec completion back"
else
    [ ! -e "$theirs_completion" ] || die "dpkg -r left $theirs_completion"
fi
pass "dpkg -r: programs gone, configuration kept, the diversion undone"

# dpkg -P: nothing is left.
dpkg -P ipsecfs >"$WORK/dpkg.log" 2>&1 || die "dpkg -P failed: $(cat "$WORK/dpkg.log")"
case $(package_state) in
"" | not-installed) ;;
*) die "after dpkg -P: $(package_state)" ;;
esac
left=()
while read -r path; do
    [ -d "$path" ] && ! grep -qx -- "$path" "$WORK/new-dirs" && continue  # a directory shared with others
    [ "$path" = "$theirs_completion" ] && [ -n "$theirs" ] && continue     # bash-completion's again
    [ -e "$path" ] || [ -L "$path" ] && left+=("$path")
done <"$WORK/installed"
for path in /etc/ipsecfs /var/lib/ipsecfs; do [ ! -e "$path" ] || left+=("$path"); done
[ ${#left[@]} -eq 0 ] || die "left after dpkg -P: ${left[*]}"
pass "dpkg -P: $(wc -l <"$WORK/installed") paths listed before, none left"
