#!/usr/bin/env bash
# Every way of writing to the mount fails with EROFS ("Read-only file system") and changes
# nothing; the SA database changes only through the control socket.
source "$(dirname "$0")/lib.sh"
require_environment

make_host a 192.0.2.1
start_daemon "$HOST_NS" a --tun=none
ipsec spi --said esp.1000@192.0.2.1 --src 192.0.2.2 --esp aes128gcm16 --enckey "$(hexkey 20)"
SA=$MNT/spi/esp.1000@192.0.2.1
before=$(sadb_state)

# erofs DESCRIPTION COMMAND…: fails, and says "Read-only file system".
erofs() {
    local what=$1 status=0
    shift
    "$@" >"$WORK/out" 2>&1 || status=$?
    [ "$status" -ne 0 ] || die "$what succeeded on the read-only mount"
    grep -q "Read-only file system" "$WORK/out" || die "$what: expected EROFS, got: $(cat "$WORK/out")"
    pass "$what: $(tail -1 "$WORK/out")"
}

erofs "write to a root file" sh -c "echo x > '$MNT/ipsec_spi'"
erofs "append to a field file" sh -c "echo 1 >> '$SA/life/bytes'"
erofs "truncate a field file" truncate -s 0 "$SA/seq"
erofs "touch an existing file" touch "$SA/dir"
erofs "create a file" touch "$MNT/new-file"
erofs "create a file in spi/" touch "$MNT/spi/esp.2000@192.0.2.1"
erofs "mkdir" mkdir "$MNT/spi/esp.2000@192.0.2.1"
erofs "rmdir an SA" rmdir "$SA/life"
erofs "rm a file" rm -f "$SA/said"
erofs "rm -r an SA" rm -rf "$SA"
erofs "chmod" chmod 666 "$MNT/ipsec_spi"
erofs "chown" chown 65534 "$MNT/ipsec_spi"
erofs "rename" mv "$SA/said" "$SA/said2"
erofs "symlink" ln -s /etc/passwd "$MNT/link"
erofs "hard link" ln "$MNT/ipsec_spi" "$MNT/ipsec_spi2"
erofs "set an xattr" /usr/bin/python3 -c "import os; os.setxattr('$MNT/ipsec_spi', 'user.x', b'1')"
erofs "open for writing (O_RDWR)" /usr/bin/python3 -c "import os; os.open('$SA/bit', os.O_RDWR)"

[ "$before" = "$(sadb_state)" ] || die "the SADB changed"
[ -d "$SA" ] && [ "$(cat "$SA/said")" = esp.1000@192.0.2.1 ] || die "the SA directory was harmed"
pass "nothing changed"

# Reads do work, and unknown names are ENOENT.
[ "$(cat "$SA/dir")" = in ] || die "dir reads '$(cat "$SA/dir")'"
status=0
cat "$MNT/spi/esp.1000@192.0.2.1/nonexistent" 2>"$WORK/err" || status=$?
[ "$status" -ne 0 ] && grep -q "No such file or directory" "$WORK/err" || die "unknown file: $(cat "$WORK/err")"
pass "reads work; unknown names are ENOENT"
