#!/usr/bin/env bash
# Bad input: one clear line on stderr, a non-zero exit, and no change to the SADB. Each case is
# refused by the CLI's own parse; the daemon's second parse is exercised by a batch (the CLI
# checks it too) and by the cases only the daemon can judge (existing or missing SAs).
source "$(dirname "$0")/lib.sh"
require_environment

make_host a 192.0.2.1 2001:db8::1
start_daemon "$HOST_NS" a --tun=none

K16=$(hexkey 16) K20=$(hexkey 20) K24=$(hexkey 24)
ipsec spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey "$K20"
ipsec spi --said tun.1001@192.0.2.2 --ip4 --src 192.0.2.1 --dst 192.0.2.2
for i in 1 2 3 4; do
    ipsec spi --said "esp.200$i@192.0.2.2" --src 192.0.2.1 --esp aes128gcm16 --enckey "$K20"
done
ipsec spigrp --said tun.1001@192.0.2.2 esp.1000@192.0.2.2
ipsec eroute --add --eraf inet --src 198.51.100.0/24 --dst 203.0.113.0/24 --said tun.1001@192.0.2.2

esp() { ipsec spi --src 192.0.2.1 --esp aes128gcm16 "$@"; }     # the key is up to the caller
espk() { ipsec spi --src 192.0.2.1 --esp aes128gcm16 --enckey "$K20" "$@"; }

# SPI out of range, in every spelling.
expect_refusal 'SPI 0x10 .*range|0x100' espk --said esp.10@192.0.2.2
expect_refusal 'SPI .*0xff|range|0x100' espk --af inet --edst 192.0.2.2 --spi 0xff --proto esp
expect_refusal 'SPI|range|large' espk --af inet --edst 192.0.2.2 --spi 0x100000000 --proto esp
expect_refusal 'SPI|range|large' espk --said esp.123456789@192.0.2.2
# Unknown protocol or algorithm.
expect_refusal 'proto' espk --said foo.1000@192.0.2.2
expect_refusal 'proto' espk --af inet --edst 192.0.2.2 --spi 0x1000 --proto udp
expect_refusal "unknown --esp algorithm 'blowfish'" ipsec spi --said esp.3000@192.0.2.2 --esp blowfish --enckey "$K16"
expect_refusal "unknown --ah algorithm" ipsec spi --said ah.3000@192.0.2.2 --ah hmac-sha512 --authkey "$K16"
expect_refusal "unknown --comp algorithm 'lzs'" ipsec spi --said comp.3000@192.0.2.2 --comp lzs
# Keys of the wrong length name the expected length.
expect_refusal '--enckey for aes128gcm16 must be 20 bytes' esp --said esp.3000@192.0.2.2 --enckey "$K16"
expect_refusal '--enckey .* must be 24 bytes' ipsec spi --said esp.3000@192.0.2.2 --esp 3des-md5-96 --enckey "$K16" --authkey "$K16"
expect_refusal '--authkey .* must be 16 bytes' ipsec spi --said esp.3000@192.0.2.2 --esp 3des-md5-96 --enckey "$K24" --authkey "$K20"
expect_refusal '--authkey .* must be 32 bytes' ipsec spi --said ah.3000@192.0.2.2 --ah hmac-sha2_256-128 --authkey "$K20"
expect_refusal 'missing --enckey' ipsec spi --said esp.3000@192.0.2.2 --esp aes128gcm16
# Odd or non-hex digits; malformed base64 and text keys.
expect_refusal 'odd number of hex digits' esp --said esp.3000@192.0.2.2 --enckey 0x123
expect_refusal "'g' is not a hex digit" esp --said esp.3000@192.0.2.2 --enckey 0x00112233445566778899aabbccddeeff0011223g
expect_refusal 'base64' esp --said esp.3000@192.0.2.2 --enckey '0s!!!!'
expect_refusal 'base64' esp --said esp.3000@192.0.2.2 --enckey 0sAAA
expect_refusal 'no text after 0t' esp --said esp.3000@192.0.2.2 --enckey 0t
expect_refusal '0x .*0s .*0t' esp --said esp.3000@192.0.2.2 --enckey 00112233
# Bad addresses and prefixes.
expect_refusal "bad address '192.0.2.300'" espk --said esp.3000@192.0.2.300
expect_refusal "--src: bad address" ipsec spi --said esp.3000@192.0.2.2 --src 192.0.2 --esp aes128gcm16 --enckey "$K20"
expect_refusal "IPv6|':'" espk --said esp.3000@2001:db8::2
expect_refusal "bad prefix '198.51.100.0/33'" ipsec eroute --add --src 198.51.100.0/33 --dst 203.0.113.0/24 --said tun.1001@192.0.2.2
expect_refusal "host bits set" ipsec eroute --add --src 198.51.100.1/24 --dst 203.0.113.0/24 --said tun.1001@192.0.2.2
# --said mixed with the long form; two operations at once.
expect_refusal '--said cannot be combined with --af/--edst/--spi/--proto' espk --said esp.3000@192.0.2.2 --spi 0x3000
expect_refusal '--said cannot be combined' ipsec spi --said esp.1000@192.0.2.2 --af inet --del
expect_refusal 'only one of --ah, --esp' espk --said esp.3000@192.0.2.2 --del
expect_refusal 'only one of' ipsec spi --said tun.3000@192.0.2.2 --ip4 --ip6
expect_refusal 'only one of --add' ipsec eroute --add --del --src 198.51.100.0/24 --dst 203.0.113.0/24
# What only the daemon knows.
expect_refusal 'ipsec spi: SA esp.1000@192.0.2.2 already exists' espk --said esp.1000@192.0.2.2
expect_refusal 'ipsec spi: SA esp.3000@192.0.2.2 does not exist' ipsec spi --said esp.3000@192.0.2.2 --del
expect_refusal 'ipsec spigrp: SA esp.3000@192.0.2.2 does not exist' ipsec spigrp --said tun.1001@192.0.2.2 esp.3000@192.0.2.2
expect_refusal 'at most 4' ipsec spigrp --said tun.1001@192.0.2.2 esp.2001@192.0.2.2 esp.2002@192.0.2.2 esp.2003@192.0.2.2 esp.2004@192.0.2.2
expect_refusal 'ipsec eroute: SA tun.3000@192.0.2.2 does not exist' ipsec eroute --add --src 192.0.2.0/24 --dst 203.0.113.0/24 --said tun.3000@192.0.2.2
expect_refusal 'already exists' ipsec eroute --add --src 198.51.100.0/24 --dst 203.0.113.0/24 --said tun.1001@192.0.2.2
expect_refusal 'does not exist' ipsec eroute --del --src 192.0.2.0/24 --dst 203.0.113.0/24
# Commands and options the CLI does not know.
expect_refusal "unknown command 'frob'" ipsec frob
expect_refusal "unrecognised option|unrecognized option" ipsec spi --said esp.3000@192.0.2.2 --frob
expect_refusal "unknown option '--frob'" ipsec --frob spi

# A batch with one bad line applies nothing and names the line, whether the CLI or the daemon
# finds the fault.
{
    echo "# three good lines, then a bad SPI"
    for i in 1 2 3; do echo "spi --said esp.400$i@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey $K20"; done
    echo "spi --said esp.10@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey $K20"
} >"$WORK/parse.batch"
expect_refusal '^ipsec --batch .*: line 5: .*SPI' ipsec --batch "$WORK/parse.batch"
{
    for i in 1 2 3; do echo "ipsec spi --said esp.500$i@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey $K20"; done
    echo
    echo "ipsec spi --said esp.1000@192.0.2.2 --src 192.0.2.1 --esp aes128gcm16 --enckey $K20   # exists"
} >"$WORK/exists.batch"
expect_refusal '^ipsec --batch .*: line 5: SA esp.1000@192.0.2.2 already exists' ipsec --batch "$WORK/exists.batch"
printf 'spi --said esp.6001@192.0.2.2 --del\nspi\n' >"$WORK/show.batch"
expect_refusal 'line 2: .*changes only' ipsec --batch "$WORK/show.batch"
expect_refusal 'No such file or directory' ipsec --batch "$WORK/missing.batch"

# The daemon parses again: a client that skips the CLI's checks gets the same answers.
/usr/bin/python3 - "$SOCK" "$K20" >"$WORK/raw" <<'PY'
import socket, struct, sys
path, key = sys.argv[1], sys.argv[2]
def request(kind, lines):
    body = struct.pack(">BBI", 1, kind, len(lines))
    for number, words in lines:
        body += struct.pack(">II", number, len(words))
        for w in words:
            b = w.encode()
            body += struct.pack(">I", len(b)) + b
    return struct.pack(">I", len(body)) + body
def call(data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(data)
    chunks = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        chunks += c
    if not chunks:
        return "CLOSED"
    return chunks[6:].decode() if len(chunks) >= 6 and chunks[5] == 1 else "OK " + chunks[6:].decode()
good = ["spi", "--said", "esp.7001@192.0.2.2", "--esp", "aes128gcm16", "--enckey", key]
print(call(request(1, [(0, ["spi", "--said", "esp.10@192.0.2.2", "--esp", "aes128gcm16", "--enckey", key])])))
print(call(request(2, [(1, good), (2, ["spi", "--said", "esp.7002@192.0.2.2", "--esp", "blowfish"])])))
print(call(request(1, [(0, ["rm", "-rf", "/"])])))
print(call(b"\x00\x00\x00\x05hello"))
print(call(struct.pack(">I", 1 << 30)))
PY
mapfile -t raw <"$WORK/raw"
[[ ${raw[0]} == *"SPI 0x10"* ]] || die "raw bad SPI: ${raw[0]}"
[[ ${raw[1]} == "line 2: "*"blowfish"* ]] || die "raw batch: ${raw[1]}"
[[ ${raw[2]} == *"unknown command 'rm'"* ]] || die "raw unknown command: ${raw[2]}"
[[ ${raw[3]} == *"malformed request"* || ${raw[3]} == *"unsupported protocol"* ]] || die "raw garbage: ${raw[3]}"
[[ ${raw[4]} == CLOSED ]] || die "an oversized frame was answered: ${raw[4]}"
! grep -q esp.7001 "$MNT/ipsec_spi" || die "a refused raw batch applied a line"
kill -0 "$DAEMON_PID" || die "the daemon died of a hostile client"
pass "the daemon refuses what a raw client sends: ${raw[*]}"

# A client that is not root.
if command -v setpriv >/dev/null; then
    chmod 755 "$WORK"  # let uid 65534 reach the socket's directory; the socket itself is 0600
    expect_refusal 'permission denied|Permission denied' \
        setpriv --reuid=65534 --regid=65534 --clear-groups env IPSEC_CONTROL="$SOCK" "$IPSEC" spi --said esp.1000@192.0.2.2 --del
    expect_refusal 'permission denied|Permission denied' \
        setpriv --reuid=65534 --regid=65534 --clear-groups env IPSEC_CONTROL="$SOCK" "$IPSEC" spi
    # Even with the file mode opened up, SO_PEERCRED keeps a non-root client out.
    chmod 666 "$SOCK"
    expect_refusal "permission denied: only root may use $SOCK" \
        setpriv --reuid=65534 --regid=65534 --clear-groups env IPSEC_CONTROL="$SOCK" "$IPSEC" spi --said esp.1000@192.0.2.2 --del
    chmod 600 "$SOCK"
fi

# No daemon behind the socket.
expect_refusal "cannot reach ipsec-mountd at $WORK/none.sock: No such file or directory" \
    env IPSEC_CONTROL="$WORK/none.sock" "$IPSEC" spi --said esp.1000@192.0.2.2 --del
