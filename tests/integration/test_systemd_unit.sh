#!/usr/bin/env bash
# dist/systemd/ipsec-mountd.service as it is in the source tree: systemd-analyze verify accepts
# it (with ExecStart pointing at the built daemon and the man pages of the tree on MANPATH, so
# no installation and no systemd as PID 1 are needed), and it keeps the daemon in the host's
# mount namespace, where its mount must be seen. test_package.sh verifies the installed copy.
source "$(dirname "$0")/lib.sh"
SRC=${IPSECFS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
command -v man >/dev/null || skip "no man"
[ -x "$MOUNTD" ] || die "ipsec-mountd not found in IPSECFS_BIN=$IPSECFS_BIN"
unit=$SRC/dist/systemd/ipsec-mountd.service

grep -qx 'ExecStart=/usr/sbin/ipsec-mountd --config /etc/ipsecfs/ipsec-mountd.conf' "$unit" ||
    die "ExecStart is not the packaged daemon with the packaged config"
grep -qx 'Type=notify' "$unit" || die "the daemon reports readiness with sd_notify: Type=notify"
mkdir -p "$WORK/system" "$WORK/man/man5" "$WORK/man/man8"
sed "s#^ExecStart=/usr/sbin/ipsec-mountd #ExecStart=$MOUNTD #" "$unit" >"$WORK/system/ipsec-mountd.service"
cp "$SRC"/man/*.5 "$WORK/man/man5/"
cp "$SRC"/man/*.8 "$WORK/man/man8/"
# Unknown settings and groups come as warnings with exit status 0: any output is a failure.
MANPATH=$WORK/man systemd-analyze verify "$WORK/system/ipsec-mountd.service" >"$WORK/verify" 2>&1 ||
    die "systemd-analyze verify: $(cat "$WORK/verify")"
[ ! -s "$WORK/verify" ] || die "systemd-analyze verify: $(cat "$WORK/verify")"
pass "systemd-analyze verify (ExecStart=$MOUNTD)"

# The check itself: a misspelt setting must be seen.
sed 's/^NoNewPrivileges=/NoNewPrivilege=/' "$WORK/system/ipsec-mountd.service" >"$WORK/system/bad.service"
MANPATH=$WORK/man systemd-analyze verify "$WORK/system/bad.service" >"$WORK/verify" 2>&1 || true
grep -q 'NoNewPrivilege' "$WORK/verify" || die "systemd-analyze did not report a misspelt setting"

# Every setting that gives the service a mount namespace of its own cuts mount propagation to the
# host (systemd.exec(5)), and /run/ipsec would exist only inside the service.
if grep -E '^(ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|ReadWritePaths|ReadOnlyPaths|InaccessiblePaths|ExecPaths|NoExecPaths|TemporaryFileSystem|BindPaths|BindReadOnlyPaths|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectProc|ProcSubset|MountAPIVFS|RootDirectory|RootImage|MountFlags)=' \
    "$unit" | grep -vE '=(no|false|shared)$'; then
    die "the unit gives the daemon a mount namespace of its own"
fi
grep -q '^PrivateNetwork=yes' "$unit" && die "the daemon must see the host's network"
pass "no mount namespace, no network namespace: the mount is the host's"
