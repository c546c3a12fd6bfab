#!/usr/bin/python3
"""Writes tests/data/esp/scapy_vectors.txt: ESP packets built by scapy, an implementation
independent of ours, for every suite ipsecfs supports. Run by hand (not by the tests) with the
Debian python3-scapy, which /usr/bin/python3 imports:

    /usr/bin/python3 tests/tools/make_esp_vectors.py > tests/data/esp/scapy_vectors.txt

Everything is fixed (keys, IVs, sequence numbers, packets), so the output is reproducible.

scapy 2.5 quirks worked around here, never copied into ipsecfs:
  * with ESN and an HMAC it leaves the high 32 bits of the sequence number out of the ICV;
    RFC 4303 2.2.1 puts them in, so for those vectors scapy only encrypts and this script
    computes the ICV itself as the RFC says (HMAC over the ESP packet || seq_hi);
  * its AES-GCM ICV is always 16 bytes (fine: we only do AES-GCM-16);
  * decrypt() modifies the packet it is given, so it only ever sees copies.
"""

import hashlib
import hmac
import struct
import sys

from scapy.all import ICMP, IP, IPv6, UDP, Raw, raw
from scapy.layers.ipsec import ESP, SecurityAssociation, split_for_transport

# (--esp name, scapy crypt algo, cipher key bytes, salt bytes, scapy auth algo, hashlib name,
#  auth key bytes, ICV bytes)
SUITES = [
    ("aes128gcm16", "AES-GCM", 16, 4, None, None, 0, 0),
    ("aes256gcm16", "AES-GCM", 32, 4, None, None, 0, 0),
    ("chacha20poly1305", "CHACHA20-POLY1305", 32, 4, None, None, 0, 0),
    ("aes128-sha1-96", "AES-CBC", 16, 0, "HMAC-SHA1-96", "sha1", 20, 12),
    ("aes192-sha1-96", "AES-CBC", 24, 0, "HMAC-SHA1-96", "sha1", 20, 12),
    ("aes256-sha1-96", "AES-CBC", 32, 0, "HMAC-SHA1-96", "sha1", 20, 12),
    ("aes128-sha2_256-128", "AES-CBC", 16, 0, "SHA2-256-128", "sha256", 32, 16),
    ("aes256-sha2_256-128", "AES-CBC", 32, 0, "SHA2-256-128", "sha256", 32, 16),
    ("3des-md5-96", "3DES", 24, 0, "HMAC-MD5-96", "md5", 16, 12),
    ("3des-sha1-96", "3DES", 24, 0, "HMAC-SHA1-96", "sha1", 20, 12),
    ("3des", "3DES", 24, 0, None, None, 0, 0),
    ("null-sha1-96", "NULL", 0, 0, "HMAC-SHA1-96", "sha1", 20, 12),
]

AEAD = {"AES-GCM", "CHACHA20-POLY1305"}
IV_BYTES = {"AES-GCM": 8, "CHACHA20-POLY1305": 8, "AES-CBC": 16, "3DES": 8, "NULL": 0}


def fixed_bytes(label, n):
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(("%s/%d" % (label, counter)).encode()).digest()
        counter += 1
    return out[:n]


def packets():
    """(label, packet, tunnel mode?) — payload sizes chosen so every pad length shows up."""
    yield ("tunnel ipv4 icmp", IP(src="198.51.100.7", dst="203.0.113.9", id=4242, ttl=63)
           / ICMP(type=8, id=0x1234, seq=7) / Raw(b"ipsecfs" * 5), True)
    yield ("tunnel ipv6 udp", IPv6(src="2001:db8:1::7", dst="2001:db8:2::9", hlim=63)
           / UDP(sport=5353, dport=53) / Raw(b"scapy vector " * 3), True)
    yield ("transport udp", IP(src="192.0.2.1", dst="192.0.2.2", id=7)
           / UDP(sport=4000, dport=4001) / Raw(b"x" * 13), False)
    yield ("transport empty udp", IP(src="192.0.2.1", dst="192.0.2.2", id=8)
           / UDP(sport=4000, dport=4001), False)


def make_sa(suite, spi, esn_hi, with_auth=True):
    name, crypt, key_len, salt_len, auth, _, auth_len, _ = suite
    enc_key = fixed_bytes(name + "/enc", key_len + salt_len)
    auth_key = fixed_bytes(name + "/auth", auth_len)
    sa = SecurityAssociation(
        ESP, spi=spi,
        crypt_algo=crypt, crypt_key=enc_key if enc_key else None,
        auth_algo=auth if with_auth else None, auth_key=auth_key if (auth and with_auth) else None,
        tunnel_header=None, esn_en=esn_hi is not None, esn=esn_hi or 0)
    return sa, enc_key, auth_key


def vector(suite, spi, seq, esn, pkt, tunnel, label):
    name, crypt, _, _, auth, hash_name, _, icv_len = suite
    hi = seq >> 32 if esn else None
    lo = seq & 0xFFFFFFFF
    # AEAD: we send the 64-bit sequence number as the IV (RFC 4106 3.1); scapy is told the same.
    # CBC: any fixed IV (the real one is random); the test fixes ours to match.
    if crypt in AEAD:
        iv = struct.pack("!Q", seq)
    else:
        iv = fixed_bytes("%s/iv/%d" % (name, seq), IV_BYTES[crypt])
    hmac_by_script = esn and auth is not None
    sa, enc_key, auth_key = make_sa(suite, spi, hi, with_auth=not hmac_by_script)
    if tunnel:
        sa.tunnel_header = IP(src="192.0.2.1", dst="192.0.2.2")
    pkt = pkt.__class__(raw(pkt))
    if tunnel:
        plaintext, next_header = raw(pkt), 4 if pkt.version == 4 else 41
    else:
        _, next_header, payload = split_for_transport(pkt.copy(), 50)
        plaintext = raw(payload)
    outer = sa.encrypt(pkt, seq_num=lo, iv=iv if iv else None, esn_en=esn, esn=hi or 0)
    esp = raw(outer[ESP])
    if hmac_by_script:
        # RFC 4303 2.2.1: with ESN the ICV also covers the (unsent) high 32 bits.
        mac = hmac.new(auth_key, esp + struct.pack("!L", hi), hash_name).digest()
        esp += mac[:icv_len]
        ok_sa, _, _ = make_sa(suite, spi, hi, with_auth=False)
        check = ESP(esp[: len(esp) - icv_len])
    else:
        ok_sa = sa
        check = ESP(esp)
    # Decrypt a copy with scapy and make sure it gives back what went in.
    plain = ok_sa.crypt_algo.decrypt(
        ok_sa, check, ok_sa.crypt_key,
        ok_sa.crypt_algo.icv_size or (0 if hmac_by_script else ok_sa.auth_algo.icv_size),
        esn_en=esn, esn=hi or 0)
    assert raw(plain.data) == plaintext, label
    assert plain.nh == next_header, label
    if not hmac_by_script and auth is not None:
        ok_sa.auth_algo.verify(ESP(esp), ok_sa.auth_key)
    return {
        "name": "%s %s%s" % (name, label, " esn" if esn else ""),
        "suite": name,
        "spi": spi,
        "seq": seq,
        "esn": int(esn),
        "enc_key": enc_key.hex(),
        "auth_key": auth_key.hex(),
        "iv": iv.hex(),
        "icv_by": "script (RFC 4303 2.2.1)" if hmac_by_script else "scapy",
        "next_header": next_header,
        "plaintext": plaintext.hex(),
        "packet": esp.hex(),
    }


def main():
    out = sys.stdout
    import scapy
    out.write("# ESP packets built by scapy, independently of ipsecfs, for every suite we support.\n")
    out.write("# Made by tests/tools/make_esp_vectors.py with scapy %s; do not edit by hand.\n"
              % scapy.__version__)
    out.write("# One vector per block of `key = value` lines; blocks are separated by blank lines.\n"
              "#   name         free text\n"
              "#   suite        the --esp name (parse_esp_name)\n"
              "#   spi, seq     decimal; seq is the full 64-bit sequence number\n"
              "#   esn          1 if the SA uses extended sequence numbers (RFC 4304)\n"
              "#   enc_key      hex; AEAD keys end with their 4-byte salt\n"
              "#   auth_key     hex (empty for AEAD and 3DES alone)\n"
              "#   iv           hex, the IV on the wire (AEAD: the sequence number)\n"
              "#   icv_by       scapy, or script where scapy gets ESN wrong\n"
              "#   next_header  decimal (4 IPv4, 41 IPv6, 17 UDP)\n"
              "#   plaintext    hex, the ESP payload before padding\n"
              "#   packet       hex, the ESP packet: SPI, sequence number, IV, ciphertext, ICV\n")
    spi = 0x1000
    for suite in SUITES:
        seq = 1
        for label, pkt, tunnel in packets():
            v = vector(suite, spi, seq, False, pkt, tunnel, label)
            out.write("\n" + "".join("%s = %s\n" % kv for kv in v.items()))
            seq += 41
        label, pkt, tunnel = next(packets())
        v = vector(suite, spi, (0x1234 << 32) | 0xFFFFFFF0, True, pkt, tunnel, label)
        out.write("\n" + "".join("%s = %s\n" % kv for kv in v.items()))
        spi += 1


if __name__ == "__main__":
    main()
