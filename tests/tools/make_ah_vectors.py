#!/usr/bin/python3
"""Writes the AH and IPCOMP known-answer vectors in tests/data/ah/. Run by hand (not by the
tests) with the Debian python3-scapy, which /usr/bin/python3 imports:

    /usr/bin/python3 tests/tools/make_ah_vectors.py ah > tests/data/ah/scapy_vectors.txt
    /usr/bin/python3 tests/tools/make_ah_vectors.py ipcomp > tests/data/ah/ipcomp_vectors.txt
    /usr/bin/python3 tests/tools/make_ah_vectors.py group > tests/data/ah/group_vectors.txt

Everything is fixed (keys, sequence numbers, packets), so the output is reproducible.

AH: scapy's AH with SecurityAssociation, an implementation independent of ours, builds every
packet, in tunnel mode (scapy's tunnel_header) and transport mode, over IPv4 (with a mutable
and an immutable option) and IPv6 (with hop-by-hop and destination options whose data may and
may not change en route), with the mutable header fields set so that zeroing them matters.
Each vector is checked again with scapy's verify, and its ICV recomputed here straight from
RFC 4302 (3.3.3: mutable fields and ICV zeroed; 2.5.1/3.3.3.2.2: with ESN the high 32 bits of
the sequence number appended after the packet). With ESN the RFC computation is the one
written out (icv_by = script); the script asserts scapy 2.5 agrees for AH (it does; its ESN bug
is ESP's).

ESP+AH groups: scapy's ESP (AES-GCM-16, the IV being the sequence number as ours is) and then
its AH over the result, in transport mode and around a tunnel header, as a KLIPS esp+ah or
tun+esp+ah group sends them.

IPCOMP: scapy 2.5 has no IPComp layer, so the IP packets come from scapy and the IPCOMP header
(RFC 3173 3) and raw DEFLATE payload (RFC 2394) are built here with Python's zlib: window 2^11
as Linux sends, and one that needs the 2^15 window a peer with a larger window may use.
"""

import hashlib
import hmac
import struct
import sys
import zlib

from scapy.all import ICMP, IP, IPv6, UDP, Raw, bind_layers, raw, split_layers
from scapy.layers.inet import IPOption_Router_Alert, IPOption_RR
from scapy.layers.inet6 import HBHOptUnknown, IPv6ExtHdrDestOpt, IPv6ExtHdrHopByHop, PadN
from scapy.layers.ipsec import AH, ESP, SecurityAssociation

# (--ah name, scapy auth algo, hashlib name, key bytes, ICV bytes)
ALGOS = [
    ("hmac-md5-96", "HMAC-MD5-96", "md5", 16, 12),
    ("hmac-sha1-96", "HMAC-SHA1-96", "sha1", 20, 12),
    ("hmac-sha2_256-128", "SHA2-256-128", "sha256", 32, 16),
]

IMMUTABLE_IPV4_OPTIONS = (0, 1, 130, 133, 134, 148, 149)  # RFC 4302 Appendix A.1


def fixed_bytes(label, n):
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(("%s/%d" % (label, counter)).encode()).digest()
        counter += 1
    return out[:n]


def packets():
    """(label, packet, tunnel header or None)."""
    yield ("tunnel ipv4 icmp",
           IP(src="198.51.100.7", dst="203.0.113.9", id=4242, ttl=63)
           / ICMP(type=8, id=0x1234, seq=7) / Raw(b"ipsecfs" * 5),
           IP(src="192.0.2.1", dst="192.0.2.2", id=0, ttl=64))
    yield ("tunnel ipv6 udp",
           IPv6(src="2001:db8:1::7", dst="2001:db8:2::9", hlim=63)
           / UDP(sport=5353, dport=53) / Raw(b"scapy vector " * 3),
           IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=64))
    yield ("transport ipv4 udp tos df ttl",
           IP(src="192.0.2.1", dst="192.0.2.2", id=7, tos=0xb8, flags="DF", ttl=17)
           / UDP(sport=4000, dport=4001) / Raw(b"x" * 13), None)
    yield ("transport ipv4 options rr router-alert",
           IP(src="192.0.2.1", dst="192.0.2.2", id=9, ttl=5,
              options=[IPOption_RR(pointer=8, routers=["192.0.2.77"]), IPOption_Router_Alert()])
           / UDP(sport=4000, dport=4001) / Raw(b"options" * 3), None)
    yield ("transport ipv6 tc flow hbh destopts",
           IPv6(src="2001:db8::1", dst="2001:db8::2", tc=0xb8, fl=0x12345, hlim=9)
           / IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0x3e, optdata=b"chg!"),
                                         HBHOptUnknown(otype=0x1e, optdata=b"same")])
           / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x3e, optdata=b"en route"),
                                        PadN(optdata=b"\x00" * 4)])
           / UDP(sport=4000, dport=4001) / Raw(b"extension headers"), None)
    yield ("transport ipv6 empty udp",
           IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=4000, dport=4001), None)


# --- RFC 4302 3.3.3, written out independently of scapy -----------------------------------

def zero_ipv4(pkt, ihl):
    b = bytearray(pkt)
    b[1] = 0          # TOS
    b[6:8] = b"\0\0"  # flags, fragment offset
    b[8] = 0          # TTL
    b[10:12] = b"\0\0"  # checksum
    i = 20
    while i < ihl:
        t = b[i]
        if t == 0:
            break
        if t == 1:
            i += 1
            continue
        n = b[i + 1]
        if t not in IMMUTABLE_IPV4_OPTIONS:
            b[i:i + n] = b"\0" * n
        i += n
    return b


def zero_ipv6(pkt):
    """Zeroes the fixed header's mutable fields and mutable option data up to AH; returns
    (bytes, AH offset)."""
    b = bytearray(pkt)
    b[0] &= 0xF0
    b[1:4] = b"\0\0\0"
    b[7] = 0
    nh, pos = b[6], 40
    while nh in (0, 60):
        n = (b[pos + 1] + 1) * 8
        i = pos + 2
        while i < pos + n:
            t = b[i]
            if t == 0:
                i += 1
                continue
            ln = b[i + 1]
            if t & 0x20:
                b[i + 2:i + 2 + ln] = b"\0" * ln
            i += 2 + ln
        nh, pos = b[pos], pos + n
    assert nh == 51
    return b, pos


def rfc_icv(packet, hash_name, key, icv_len, seq_hi):
    if packet[0] >> 4 == 4:
        ihl = (packet[0] & 15) * 4
        b, off = zero_ipv4(packet, ihl), ihl
    else:
        b, off = zero_ipv6(packet)
    b[off + 12:off + 12 + icv_len] = b"\0" * icv_len
    data = bytes(b) + (struct.pack("!L", seq_hi) if seq_hi is not None else b"")
    return hmac.new(key, data, hash_name).digest()[:icv_len], off


def ah_vector(algo, spi, seq, esn, label, pkt, tunnel):
    name, scapy_name, hash_name, key_len, icv_len = algo
    key = fixed_bytes(name + "/auth", key_len)
    hi = seq >> 32 if esn else None
    lo = seq & 0xFFFFFFFF
    sa = SecurityAssociation(AH, spi=spi, auth_algo=scapy_name, auth_key=key,
                             tunnel_header=tunnel, esn_en=esn, esn=hi or 0)
    pkt = pkt.__class__(raw(pkt))
    if tunnel is not None:
        # What the tun SA hands AH: the outer header scapy builds around the packet.
        t = tunnel.copy()
        if t.version == 4:
            del t.proto, t.len, t.chksum
        else:
            del t.nh, t.plen
        before = raw(t.__class__(raw(t / pkt)))
    else:
        before = raw(pkt)
    out = raw(sa.encrypt(pkt, seq_num=lo, esn_en=esn, esn=hi or 0))
    # scapy's own check, on a copy.
    outer_cls = (tunnel if tunnel is not None else pkt).__class__
    sa.auth_algo.verify(outer_cls(out), key, esn_en=esn, esn=hi or 0)
    mine, off = rfc_icv(out, hash_name, key, icv_len, hi)
    assert out[off + 12:off + 12 + icv_len] == mine, "scapy and RFC 4302 disagree: " + label
    return {
        "name": "%s %s%s" % (name, label, " esn" if esn else ""),
        "auth": name,
        "spi": spi,
        "seq": seq,
        "esn": int(esn),
        "auth_key": key.hex(),
        "icv_by": "script (RFC 4302 2.5.1), scapy agrees" if esn else "scapy, RFC 4302 agrees",
        "input": before.hex(),
        "packet": out.hex(),
    }


def write_ah(out):
    import scapy
    out.write("# AH packets built by scapy, independently of ipsecfs, for every AH algorithm.\n")
    out.write("# Made by tests/tools/make_ah_vectors.py with scapy %s; do not edit by hand.\n"
              % scapy.__version__)
    out.write("# One vector per block of `key = value` lines; blocks are separated by blank lines.\n"
              "#   name      free text\n"
              "#   auth      the --ah name (parse_ah_name)\n"
              "#   spi, seq  decimal; seq is the full 64-bit sequence number\n"
              "#   esn       1 if the SA uses extended sequence numbers (RFC 4304)\n"
              "#   auth_key  hex\n"
              "#   icv_by    who computed the ICV, and who agreed\n"
              "#   input     hex, the IP packet AH is inserted into (tunnel: with its outer header)\n"
              "#   packet    hex, the same packet with AH after the IP header\n")
    spi = 0x3000
    for algo in ALGOS:
        seq = 1
        for label, pkt, tunnel in packets():
            v = ah_vector(algo, spi, seq, False, label, pkt, tunnel)
            out.write("\n" + "".join("%s = %s\n" % kv for kv in v.items()))
            seq += 1000
        for label, pkt, tunnel in list(packets())[:2]:
            v = ah_vector(algo, spi, (0x1234 << 32) | 0xFFFFFFF0, True, label, pkt, tunnel)
            out.write("\n" + "".join("%s = %s\n" % kv for kv in v.items()))
        spi += 1


# --- IPCOMP ---------------------------------------------------------------------------------

def ipcomp_vector(label, pkt, cpi, wbits):
    pkt = pkt.__class__(raw(pkt))
    before = raw(pkt)
    if pkt.version == 4:
        ihl = pkt.ihl * 4
        nh = before[9]
    else:
        ihl = 40
        nh = before[6]
    payload = before[ihl:]
    c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -wbits)
    data = c.compress(payload) + c.flush(zlib.Z_FINISH)
    assert len(data) + 4 < len(payload), label
    assert zlib.decompressobj(-wbits).decompress(data) == payload
    if wbits > 11:
        small = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -11)
        assert len(small.compress(payload) + small.flush(zlib.Z_FINISH)) >= len(payload), label
    header = bytearray(before[:ihl])
    if pkt.version == 4:
        header[9] = 108
        total = ihl + 4 + len(data)
        header[2:4] = struct.pack("!H", total)
        header[10:12] = b"\0\0"
        s = sum(struct.unpack("!%dH" % (ihl // 2), bytes(header)))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        header[10:12] = struct.pack("!H", ~s & 0xFFFF)
    else:
        header[6] = 108
        header[4:6] = struct.pack("!H", 4 + len(data))
    after = bytes(header) + struct.pack("!BBH", nh, 0, cpi) + data
    parsed = pkt.__class__(after)  # scapy parses the result as a well-formed IP packet
    assert (parsed.proto if pkt.version == 4 else parsed.nh) == 108
    return {
        "name": "%s window 2^%d" % (label, wbits),
        "cpi": cpi,
        "window_bits": wbits,
        "input": before.hex(),
        "packet": after.hex(),
    }


def write_ipcomp(out):
    import scapy
    out.write("# IPCOMP (RFC 3173) packets with raw DEFLATE payloads (RFC 2394): IP packets from\n"
              "# scapy %s, IPCOMP header and payload from Python's zlib %s.\n"
              "# Made by tests/tools/make_ah_vectors.py; do not edit by hand.\n"
              "#   name         free text\n"
              "#   cpi          decimal\n"
              "#   window_bits  the deflate window the sender used (11: Linux)\n"
              "#   input        hex, the IP packet before compression\n"
              "#   packet       hex, the IP packet with IPCOMP header and compressed payload\n"
              % (scapy.__version__, zlib.ZLIB_VERSION))
    text = (b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nAccept: */*\r\n\r\n" * 12)
    far = fixed_bytes("ipcomp/far", 2500)  # repeats 2500 bytes back: only a 2^15 window finds them
    pkts = [
        ("tunnel ipv4 in ipv4 text",
         IP(src="192.0.2.1", dst="192.0.2.2", proto=4)
         / IP(src="198.51.100.7", dst="203.0.113.9") / UDP(sport=80, dport=4000) / Raw(text), 11),
        ("transport ipv4 udp",
         IP(src="192.0.2.1", dst="192.0.2.2", id=3) / UDP(sport=4000, dport=4001)
         / Raw(b"ipsecfs " * 64), 11),
        ("transport ipv6 udp",
         IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=4000, dport=4001)
         / Raw(bytes(range(256)) * 8), 11),
        ("transport ipv4 udp far repeats",
         IP(src="192.0.2.1", dst="192.0.2.2", id=4) / UDP(sport=4000, dport=4001)
         / Raw(far + far), 15),
    ]
    cpi = 0x4000
    for label, pkt, wbits in pkts:
        v = ipcomp_vector(label, pkt, cpi, wbits)
        out.write("\n" + "".join("%s = %s\n" % kv for kv in v.items()))
        cpi += 1


def group_vector(label, pkt, tunnel):
    esp_key = fixed_bytes("group/esp", 20)  # aes128gcm16: key and 4-byte salt
    ah_key = fixed_bytes("group/ah", 20)  # hmac-sha1-96
    pkt = pkt.__class__(raw(pkt))
    esp_sa = SecurityAssociation(ESP, spi=0x1003, crypt_algo="AES-GCM", crypt_key=esp_key,
                                 tunnel_header=tunnel)
    ah_sa = SecurityAssociation(AH, spi=0x1004, auth_algo="HMAC-SHA1-96", auth_key=ah_key)
    seq = 1
    esp = raw(esp_sa.encrypt(pkt, seq_num=seq, iv=struct.pack("!Q", seq)))
    # scapy 2.5 quirk: AH's sign() takes any packet holding an ESP layer for ESP and appends the
    # ICV to the ESP data, so while AH works the ESP bytes stay undissected.
    split_layers(IP, ESP, proto=50)
    try:
        out = raw(ah_sa.encrypt(IP(esp), seq_num=seq))
        back = raw(ah_sa.decrypt(IP(out)))
    finally:
        bind_layers(IP, ESP, proto=50)
    mine, _ = rfc_icv(out, "sha1", ah_key, 12, None)
    assert out[32:44] == mine, label
    clear = esp_sa.decrypt(IP(back))
    assert raw(clear) == raw(pkt), label
    return {
        "name": label,
        "tunnel": int(tunnel is not None),
        "seq": seq,
        "esp": "aes128gcm16",
        "esp_spi": 0x1003,
        "enc_key": esp_key.hex(),
        "ah": "hmac-sha1-96",
        "ah_spi": 0x1004,
        "auth_key": ah_key.hex(),
        "clear": raw(pkt).hex(),
        "packet": out.hex(),
    }


def write_group(out):
    import scapy
    out.write("# ESP then AH over it, both by scapy %s, as esp+ah and tun+esp+ah groups send them.\n"
              "# Made by tests/tools/make_ah_vectors.py; do not edit by hand.\n"
              "#   tunnel    1: tun+esp+ah from 192.0.2.1 to 192.0.2.2; 0: transport esp+ah\n"
              "#   esp, ah   the --esp and --ah names; *_spi decimal; keys hex\n"
              "#   clear     hex, the packet the group protects\n"
              "#   packet    hex, the packet on the wire\n" % scapy.__version__)
    vectors = [
        ("transport esp+ah ipv4 udp",
         IP(src="192.0.2.1", dst="192.0.2.2", id=11) / UDP(sport=4000, dport=4001)
         / Raw(b"esp and ah " * 4), None),
        ("tun+esp+ah ipv4 in ipv4 icmp",
         IP(src="198.51.100.7", dst="203.0.113.9", id=12) / ICMP(type=8, id=1, seq=2)
         / Raw(b"grouped " * 9), IP(src="192.0.2.1", dst="192.0.2.2", id=0x1234, ttl=64)),
    ]
    for label, pkt, tunnel in vectors:
        v = group_vector(label, pkt, tunnel)
        out.write("\n" + "".join("%s = %s\n" % kv for kv in v.items()))


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "ah"
    if what == "ah":
        write_ah(sys.stdout)
    elif what == "ipcomp":
        write_ipcomp(sys.stdout)
    elif what == "group":
        write_group(sys.stdout)
    else:
        sys.exit("usage: make_ah_vectors.py ah|ipcomp|group")


if __name__ == "__main__":
    main()
