#!/usr/bin/env bash
# The Debian package, end to end, on a fresh Debian 12: cpack builds it from the build directory
# ($IPSECFS_BIN/..); its control data (dependencies, conffiles, maintainer scripts) and contents
# are checked; mmdebstrap makes a new Debian 12 system in a directory (apt, bash-completion,
# man-db, systemd: what a server has) and, chrooted there, `apt-get install ./ipsecfs.deb` must
# bring every dependency from the archive by the declared names alone. There: the programs run,
# the man pages render without a warning, the unit passes systemd-analyze verify, bash completion
# works (SAIDs from a daemon's mount; bash-completion's own ipsec completion diverted while
# installed), the installed daemon runs with the shipped configuration; `apt-get remove` keeps the
# configuration, `apt-get purge --autoremove` leaves that system file for file as it was.
#
# Nothing is installed into this machine. The new system comes from the Debian 12 archives this
# machine's apt uses (IPSECFS_DEB_MIRROR to choose another); without them it skips, but not in CI
# (CI=true), where the package must be installed.
source "$(dirname "$0")/lib.sh"
require_environment
for tool in dpkg-deb cpack mmdebstrap chroot; do
    command -v "$tool" >/dev/null || skip "no $tool (apt-get install mmdebstrap)"
done
BUILD=$(cd "$IPSECFS_BIN/.." && pwd)
[ -f "$BUILD/CPackConfig.cmake" ] || skip "no CPackConfig.cmake in $BUILD"

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

# A fresh Debian 12 in $ROOT. Its package lists stay, so apt in there needs no update.
ROOT=$WORK/root
mmdebstrap_options=(--mode=root --variant=apt --include=bash-completion,man-db,systemd
    --skip=cleanup/apt/lists --aptopt='Acquire::Check-Valid-Until "false"')
# apt's proxy settings, if this machine has any, for the new system's apt too.
while read -r name value; do
    [ -n "$value" ] && mmdebstrap_options+=(--aptopt="$name $value")
done < <(apt-config dump 2>/dev/null | grep -E '^Acquire::(http|https)::Proxy ' || true)
# The Debian 12 archives this machine's apt uses (they work: scripts/setup installed from them);
# mmdebstrap's default (deb.debian.org) if there are none.
mirror=()
if [ -n "${IPSECFS_DEB_MIRROR:-}" ]; then
    mirror=("$IPSECFS_DEB_MIRROR")
else
    mapfile -t mirror < <(apt-get indextargets --format '$(TARGET_OF) $(REPO_URI) $(RELEASE) $(COMPONENT)' \
        'Identifier: Packages' 2>/dev/null | awk '$1 == "deb" && $3 ~ /^bookworm(-updates|-security)?$/ &&
        $4 == "main" { print "deb " $2 " " $3 " main" }' | sort -u)
fi
mkdir "$ROOT"
if ! mmdebstrap "${mmdebstrap_options[@]}" bookworm "$ROOT" "${mirror[@]}" >"$WORK/mmdebstrap.log" 2>&1; then
    [ "${CI:-}" != true ] || die "mmdebstrap failed: $(tail -n 20 "$WORK/mmdebstrap.log")"
    skip "no Debian 12 system to install into (mmdebstrap: $(grep -m 1 "^E:" "$WORK/mmdebstrap.log"))"
fi
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 "$@"; }
in_root_apt() { in_root DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@"; }
# installed, config-files…; "" or not-installed when dpkg there has no trace of it.
package_state() { in_root dpkg-query -W -f='${db:Status-Status}' ipsecfs 2>/dev/null || true; }

# What `apt-get purge --autoremove` must bring back: every path (type, mode, owner, link, file
# hash) but the package database, caches, logs, and what is made at run time.
snapshot() {
    local prune=(-path ./proc -o -path ./dev -o -path ./run -o -path ./tmp -o -path ./var/cache -o
        -path ./var/lib/apt -o -path ./var/lib/dpkg -o -path ./var/log -o -path ./etc/ld.so.cache)
    (
        cd "$ROOT"
        join -t $'\t' -a 1 \
            <(find . -xdev \( "${prune[@]}" \) -prune -o -printf '%p\t%y %m %u:%g %l\n' | LC_ALL=C sort) \
            <(find . -xdev \( "${prune[@]}" \) -prune -o -type f -print0 | xargs -0r sha256sum |
                sed -E 's/^([0-9a-f]+)  (.*)$/\2\t\1/' | LC_ALL=C sort)
    )
}
snapshot >"$WORK/before"
theirs_completion=/usr/share/bash-completion/completions/ipsec
theirs=$(sha256sum <"$ROOT$theirs_completion") || die "bash-completion has no $theirs_completion any more"
pass "a fresh Debian 12 ($(wc -l <"$WORK/before") paths, bash-completion's own ipsec completion)"

# Install: apt finds every dependency by the names the package declares.
cp "$deb" "$ROOT/tmp/"
in_root_apt install "/tmp/$(basename "$deb")" >"$WORK/apt.log" 2>&1 ||
    die "apt-get install failed: $(tail -n 30 "$WORK/apt.log")"
[ "$(package_state)" = installed ] || die "not installed ($(package_state)): $(tail "$WORK/apt.log")"
in_root dpkg-query -L ipsecfs >"$WORK/installed"
[ "$(stat -c %a "$ROOT/etc/ipsecfs/ipsec.startup")" = 600 ] || die "ipsec.startup must be 0600 (it takes keys)"
[ "$(in_root dpkg-query -W -f='${Conffiles}' ipsecfs | awk 'NF {print $1}' | sort | tr '\n' ' ')" = \
    "/etc/ipsecfs/ipsec-mountd.conf /etc/ipsecfs/ipsec.startup " ] || die "conffiles not registered"
[ "$(in_root dpkg-divert --listpackage "$theirs_completion")" = ipsecfs ] ||
    die "bash-completion's ipsec completion is not diverted: $(in_root dpkg-divert --list ipsecfs)"
grep -q '_ipsec()' "$ROOT$theirs_completion" || die "$theirs_completion is not ours"
[ "$(sha256sum <"$ROOT$theirs_completion.bash-completion")" = "$theirs" ] ||
    die "bash-completion's ipsec completion was not set aside intact"
in_root ldd /usr/sbin/ipsec-mountd /usr/sbin/ipsec >"$WORK/ldd" 2>&1 || die "ldd: $(cat "$WORK/ldd")"
! grep -q 'not found' "$WORK/ldd" || die "unresolved libraries: $(grep 'not found' "$WORK/ldd")"
pass "apt-get install: $(grep -c '^Setting up' "$WORK/apt.log") packages set up, conffiles registered, bash-completion's ipsec completion diverted"

# The programs.
version=$(in_root ipsec-mountd --version)
[ "$version" = "ipsec-mountd (ipsecfs) $(dpkg-deb -f "$deb" Version)" ] || die "ipsec-mountd --version: $version"
in_root IPSEC_CONTROL=/none.sock ipsec --version | head -n 1 | grep -q '^ipsec (ipsecfs) ' || die "ipsec --version"
pass "installed programs run"

# The man pages: found by man, rendered without a warning.
[ "$(in_root man -w 8 ipsec-mountd)" = /usr/share/man/man8/ipsec-mountd.8 ] ||
    die "man -w 8 ipsec-mountd: $(in_root man -w 8 ipsec-mountd)"
pages=0
for page in $(grep -E '^/usr/share/man/man[1-8]/' "$WORK/installed"); do
    [ -f "$ROOT$page" ] || continue
    in_root MANWIDTH=80 man -l "$page" >"$WORK/man.out" 2>"$WORK/err" || die "man -l $page failed: $(cat "$WORK/err")"
    [ ! -s "$WORK/err" ] || die "man -l $page: $(cat "$WORK/err")"
    [ "$(wc -l <"$WORK/man.out")" -gt 20 ] || die "man -l $page rendered next to nothing"
    in_root groff -ww -z -man "$page" 2>"$WORK/err" || die "groff $page failed"
    [ ! -s "$WORK/err" ] || die "groff -ww $page: $(cat "$WORK/err")"
    pages=$((pages + 1))
done
[ "$pages" -eq 3 ] || die "$pages man pages installed, expected 3"
pass "man pages render without warnings"

# The unit: systemd-analyze checks the syntax, the ExecStart binary and the Documentation= pages;
# it reports unknown settings on stderr with exit status 0, so any output is a failure.
unit=/usr/lib/systemd/system/ipsec-mountd.service
in_root systemd-analyze verify "$unit" >"$WORK/verify" 2>&1 || die "systemd-analyze verify: $(cat "$WORK/verify")"
[ ! -s "$WORK/verify" ] || die "systemd-analyze verify: $(cat "$WORK/verify")"
grep -qx 'Type=notify' "$ROOT$unit" &&
    grep -qx 'ExecStart=/usr/sbin/ipsec-mountd --config /etc/ipsecfs/ipsec-mountd.conf' "$ROOT$unit" ||
    die "unit: $(cat "$ROOT$unit")"
pass "systemd-analyze verify $unit"

# The installed daemon, in a network namespace, chrooted, as the unit starts it: the shipped
# configuration, its default mount point, control socket and state file.
mount -t proc proc "$ROOT/proc"
MOUNTS+=("$ROOT/run/ipsec" "$ROOT/proc")
[ -e "$ROOT/dev/fuse" ] || mknod -m 666 "$ROOT/dev/fuse" c 10 229
make_host a 192.0.2.1
# start_root_daemon NAME ARG…: the daemon in $ROOT; $MNT is its mount seen from here.
start_root_daemon() {
    local name=$1
    shift
    mkdir -p "$ROOT/run/ipsec"
    MNT=$ROOT/run/ipsec
    nsenter --net="/run/netns/$HOST_NS" chroot "$ROOT" /usr/sbin/ipsec-mountd --foreground "$@" \
        2>>"$WORK/$name.log" &
    DAEMON_PID=$!
    DAEMON_PIDS+=("$DAEMON_PID")
    await_daemon "$name" in_root ipsec eroute
}
start_root_daemon conf --config /etc/ipsecfs/ipsec-mountd.conf --tun=none
[ -z "$(cat "$MNT/ipsec_spi")" ] || die "SAs from the shipped startup file: $(cat "$MNT/ipsec_spi")"
in_root ipsec spi --said esp.3000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey "$(hexkey 20)" ||
    die "ipsec spi through the installed programs"
grep -q '^esp.3000@192.0.2.2 ' "$MNT/ipsec_spi" || die "ipsec_spi: $(cat "$MNT/ipsec_spi")"
stop_daemon "$DAEMON_PID"
[ -s "$ROOT/var/lib/ipsecfs/state" ] || die "no state file at /var/lib/ipsecfs/state"
# …and with the shipped example filled in, for completion to find SAIDs.
sed -E "s/^# (spi|spigrp|eroute) /\1 /; s/0x<20 bytes: key\+salt>/$(hexkey 20)/" \
    "$ROOT/usr/share/doc/ipsecfs/examples/ipsec.startup" >"$ROOT/tmp/ipsec.startup"
start_root_daemon sas --tun=none --state /tmp/sas.state --startup /tmp/ipsec.startup
[ "$(wc -l <"$MNT/ipsec_spi")" -eq 4 ] || die "example SAs: $(cat "$MNT/ipsec_spi")"
pass "the installed daemon runs with the shipped configuration and example"

# Bash completion as a login shell has it (bash-completion loads ours on demand): commands,
# options, values and SAIDs.
for cmd in ipsec ipsec-mountd; do
    # _completion_loader returns 124 ("try again") once it has loaded one.
    out=$(in_root bash -c "source /usr/share/bash-completion/bash_completion && { _completion_loader $cmd || :; } &&
        complete -p $cmd" 2>&1) || die "loading the $cmd completion: $out"
    [ "$out" = "complete -F _${cmd//-/_} $cmd" ] || die "completion for $cmd: $out"
done
# complete_words WORD…: what TAB offers after these words (the last one is being completed).
complete_words() {
    in_root IPSECFS_MOUNT=/run/ipsec bash -c '
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
help_count=$(in_root ipsec spi --help | grep -cE '^  --')
offered=$(complete_words /usr/sbin/ipsec spi -- | wc -w)
[ "$offered" -ge "$help_count" ] || die "ipsec spi --<TAB> offers $offered options, --help lists $help_count"
stop_daemon "$DAEMON_PID"
umount "$ROOT/proc"
rm -f "$ROOT/tmp/ipsec.startup" "$ROOT/tmp/sas.state"*
pass "bash completion: commands, options, values, SAIDs from the mount"

# apt-get remove: the programs go, the configuration and state stay, the diversion is undone.
in_root_apt remove ipsecfs >"$WORK/apt.log" 2>&1 || die "apt-get remove failed: $(tail -n 30 "$WORK/apt.log")"
[ "$(package_state)" = config-files ] || die "after apt-get remove: $(package_state)"
[ ! -e "$ROOT/usr/sbin/ipsec-mountd" ] && [ ! -e "$ROOT$unit" ] || die "apt-get remove left the programs"
[ -f "$ROOT/etc/ipsecfs/ipsec-mountd.conf" ] && [ -f "$ROOT/etc/ipsecfs/ipsec.startup" ] ||
    die "apt-get remove removed the configuration"
[ -s "$ROOT/var/lib/ipsecfs/state" ] || die "apt-get remove removed the state"
[ -z "$(in_root dpkg-divert --listpackage "$theirs_completion")" ] ||
    die "apt-get remove left the diversion: $(in_root dpkg-divert --list "$theirs_completion")"
[ "$(sha256sum <"$ROOT$theirs_completion")" = "$theirs" ] ||
    die "apt-get remove did not give bash-completion's ipsec completion back"
pass "apt-get remove: programs gone, configuration and state kept, the diversion undone"

# apt-get purge --autoremove: the system as it was before, path for path and byte for byte.
rm -f "$ROOT/tmp/$(basename "$deb")"
in_root_apt purge --autoremove ipsecfs >"$WORK/apt.log" 2>&1 || die "apt-get purge failed: $(tail -n 30 "$WORK/apt.log")"
case $(package_state) in
"" | not-installed) ;;
*) die "after apt-get purge: $(package_state)" ;;
esac
rmdir "$ROOT/run/ipsec"
snapshot >"$WORK/after"
diff "$WORK/before" "$WORK/after" >"$WORK/diff" || die "apt-get purge --autoremove left the system changed: $(head -n 20 "$WORK/diff")"
pass "apt-get purge --autoremove: $(wc -l <"$WORK/installed") paths installed, the system back as it was"
