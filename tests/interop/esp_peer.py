#!/usr/bin/python3
"""An independent ESP peer built on scapy, for the interop and hostile-traffic tests.

Runs inside the peer's network namespace (`ip netns exec NS /usr/bin/python3 …`, the Debian
python3-scapy and python3-cryptography), against one ipsec-mountd running in the gateway's
namespace. The gateway is driven through its `ipsec` command (control socket paths work
across network namespaces) and observed through its FUSE mount and `ip -n GW`.

  gateway  192.0.2.1   2001:db8::1    inner 198.51.100.1 2001:db8:1::1 (on lo)
  peer     192.0.2.2   2001:db8::2    inner 203.0.113.1  2001:db8:2::1 (made up by scapy)

scapy 2.5 quirks worked around here, never to be copied into ipsecfs (DESIGN.md):
  * NAT-T over IPv4 gets a UDP length of 8: UDP-encapsulated ESP is sent through a kernel
    UDP socket (its IPv6 NAT-T header also carries a zero checksum, so v6 goes the same way);
  * with ESN and an HMAC the high sequence bits are left out of the ICV: ESN is only tested
    with AEAD suites here;
  * its AES-GCM ICV is always 16 bytes (ours too);
  * decrypt() modifies the packet it is given: it is only ever given a freshly built one;
  * its `seq_num or self.seq_num` / `esn or self.esn` treat 0 as "not given": the SA's own
    fields are set instead of passing a zero;
  * decrypt() neither checks nor returns the padding correctly: the trailer is checked here
    with python3-cryptography directly (`open_plaintext`).
"""

import hmac
import json
import logging
import os
import select
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Optional

from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from scapy.all import (ICMP, IP, UDP, ICMPv6EchoReply, ICMPv6EchoRequest, IPv6, Raw, conf,
                       raw)
from scapy.layers.inet import Ether
from scapy.layers.ipsec import AH, ESP, SecurityAssociation

conf.verb = 0
# scapy warns when it resolves the gateway's IPv6 neighbour through a multicast solicitation.
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

GW_WAN4, PEER_WAN4 = "192.0.2.1", "192.0.2.2"
GW_WAN6, PEER_WAN6 = "2001:db8::1", "2001:db8::2"
GW_IN4, PEER_IN4 = "198.51.100.1", "203.0.113.1"
GW_IN6, PEER_IN6 = "2001:db8:1::1", "2001:db8:2::1"
GW_NET4, PEER_NET4 = "198.51.100.0/24", "203.0.113.0/24"
GW_NET6, PEER_NET6 = "2001:db8:1::/48", "2001:db8:2::/48"
NATT_PORT = 4500
PROTO_ESP, PROTO_AH, PROTO_IPCOMP = 50, 51, 108


class Failure(Exception):
    """A check failed: the message says what was expected and what was seen."""


def check(cond, what):
    if not cond:
        raise Failure(what)


# ---- suites -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Suite:
    name: str          # the --esp name
    crypt: str         # scapy's crypt_algo
    enc_len: int       # key bytes as given to --enckey (AEAD: with the 4-byte salt)
    auth: Optional[str]  # scapy's auth_algo
    hash_name: Optional[str]
    auth_len: int
    icv: int           # ICV bytes on the wire
    iv: int            # IV bytes on the wire
    block: int         # ciphertext alignment our receiver requires

    @property
    def aead(self):
        return self.crypt in ("AES-GCM", "CHACHA20-POLY1305")


SUITES = {s.name: s for s in [
    Suite("aes128gcm16", "AES-GCM", 20, None, None, 0, 16, 8, 4),
    Suite("aes256gcm16", "AES-GCM", 36, None, None, 0, 16, 8, 4),
    Suite("chacha20poly1305", "CHACHA20-POLY1305", 36, None, None, 0, 16, 8, 4),
    Suite("aes128-sha1-96", "AES-CBC", 16, "HMAC-SHA1-96", "sha1", 20, 12, 16, 16),
    Suite("aes192-sha1-96", "AES-CBC", 24, "HMAC-SHA1-96", "sha1", 20, 12, 16, 16),
    Suite("aes256-sha1-96", "AES-CBC", 32, "HMAC-SHA1-96", "sha1", 20, 12, 16, 16),
    Suite("aes128-sha2_256-128", "AES-CBC", 16, "SHA2-256-128", "sha256", 32, 16, 16, 16),
    Suite("aes256-sha2_256-128", "AES-CBC", 32, "SHA2-256-128", "sha256", 32, 16, 16, 16),
    Suite("3des-md5-96", "3DES", 24, "HMAC-MD5-96", "md5", 16, 12, 8, 8),
    Suite("3des-sha1-96", "3DES", 24, "HMAC-SHA1-96", "sha1", 20, 12, 8, 8),
    Suite("3des", "3DES", 24, None, None, 0, 0, 8, 8),
    Suite("null-sha1-96", "NULL", 0, "HMAC-SHA1-96", "sha1", 20, 12, 0, 4),
]}


@dataclass(frozen=True)
class AhAlgo:
    name: str          # the --ah name
    scapy: str         # scapy's auth_algo
    key_len: int
    icv: int


AH_ALGOS = {a.name: a for a in [
    AhAlgo("hmac-md5-96", "HMAC-MD5-96", 16, 12),
    AhAlgo("hmac-sha1-96", "HMAC-SHA1-96", 20, 12),
    AhAlgo("hmac-sha2_256-128", "SHA2-256-128", 32, 16),
]}


def ah_sa(algo, key, spi, tunnel_header=None):
    return SecurityAssociation(AH, spi=spi, auth_algo=algo.scapy, auth_key=key,
                               tunnel_header=tunnel_header)


def seeded_key(n, seed):
    """The key bytes tests/integration/two_hosts.sh's seeded_key makes."""
    return bytes((i * 37 + seed * 101 + 7) & 255 for i in range(n))


@dataclass
class Keys:
    enc: bytes
    auth: bytes

    @staticmethod
    def make(suite, seed):
        return Keys(seeded_key(suite.enc_len, seed), seeded_key(suite.auth_len, seed + 1))

    def cli(self, suite):
        out = ["--esp", suite.name]
        if self.enc:
            out += ["--enckey", "0x" + self.enc.hex()]
        if self.auth:
            out += ["--authkey", "0x" + self.auth.hex()]
        return out


def scapy_sa(suite, keys, spi, tunnel_header=None, nat_t=False, esn=False):
    return SecurityAssociation(
        ESP, spi=spi, crypt_algo=suite.crypt, crypt_key=keys.enc or None,
        auth_algo=suite.auth, auth_key=(keys.auth or None) if suite.auth else None,
        tunnel_header=tunnel_header,
        nat_t_header=UDP(sport=NATT_PORT, dport=NATT_PORT) if nat_t else None, esn_en=esn)


def scapy_encrypt(sa, pkt, seq, iv=None):
    """ESP-wraps pkt with the full (64-bit with ESN) sequence number seq."""
    sa.seq_num = seq & 0xFFFFFFFF  # set, not passed: scapy takes a passed 0 for "none"
    sa.esn = seq >> 32
    return sa.encrypt(pkt, iv=iv)


def esp_header(spi, seq):
    return struct.pack("!LL", spi, seq & 0xFFFFFFFF)


def hmac_icv(suite, keys, data, seq_hi=None):
    extra = struct.pack("!L", seq_hi) if seq_hi is not None else b""
    return hmac.new(keys.auth, data + extra, suite.hash_name).digest()[:suite.icv]


def _cbc(suite, keys, iv):
    algo = algorithms.AES(keys.enc) if suite.crypt == "AES-CBC" else algorithms.TripleDES(keys.enc)
    return Cipher(algo, modes.CBC(iv), default_backend())


def seal_raw(suite, keys, spi, seq, plaintext, iv=None, esn=False):
    """An ESP packet around plaintext exactly as given (payload, padding, pad length, next
    header already in it), with a valid ICV: for crafting packets scapy refuses to make."""
    hdr = esp_header(spi, seq)
    if suite.aead:
        iv = iv if iv is not None else struct.pack("!Q", seq)
        nonce = keys.enc[-4:] + iv
        aad = struct.pack("!LLL", spi, seq >> 32, seq & 0xFFFFFFFF) if esn else hdr
        key = keys.enc[:-4]
        aead = AESGCM(key) if suite.crypt == "AES-GCM" else ChaCha20Poly1305(key)
        return hdr + iv + aead.encrypt(nonce, plaintext, aad)
    if suite.crypt == "NULL":
        iv, ct = b"", plaintext
    else:
        iv = iv if iv is not None else os.urandom(suite.iv)
        enc = _cbc(suite, keys, iv).encryptor()
        ct = enc.update(plaintext) + enc.finalize()
    body = hdr + iv + ct
    return body + (hmac_icv(suite, keys, body, seq >> 32 if esn else None) if suite.auth else b"")


def with_trailer(payload, next_header, block):
    """payload, RFC 4303 default padding to the block size, pad length, next header."""
    pad_len = -(len(payload) + 2) % block
    return payload + bytes(range(1, pad_len + 1)) + bytes([pad_len, next_header])


def open_plaintext(suite, keys, esp, seq_hi=None):
    """The decrypted ESP payload with its trailer (payload, padding, pad length, next header),
    checked with python3-cryptography alone; scapy's decrypt() drops the padding."""
    hdr, body = esp[:8], esp[8:]
    iv = body[:suite.iv]
    ct = body[suite.iv:len(body) - suite.icv]
    icv = body[len(body) - suite.icv:]
    if suite.aead:
        spi, lo = struct.unpack("!LL", hdr)
        aad = struct.pack("!LLL", spi, seq_hi, lo) if seq_hi is not None else hdr
        key = keys.enc[:-4]
        aead = AESGCM(key) if suite.crypt == "AES-GCM" else ChaCha20Poly1305(key)
        return aead.decrypt(keys.enc[-4:] + iv, ct + icv, aad)
    if suite.auth:
        check(hmac.compare_digest(icv, hmac_icv(suite, keys, esp[:len(esp) - suite.icv], seq_hi)),
              "ICV of the received packet does not verify")
    if suite.crypt == "NULL":
        return ct
    dec = _cbc(suite, keys, iv).decryptor()
    return dec.update(ct) + dec.finalize()


def check_trailer(suite, plaintext):
    """RFC 4303 §2.4: aligned, pad length in range, padding bytes 1, 2, 3, ..."""
    check(len(plaintext) >= 2, "ESP payload shorter than its trailer")
    check(len(plaintext) % suite.block == 0,
          "ciphertext of %d bytes is not a multiple of %d" % (len(plaintext), suite.block))
    pad_len = plaintext[-2]
    check(pad_len <= len(plaintext) - 2, "pad length %d too large" % pad_len)
    pad = plaintext[len(plaintext) - 2 - pad_len:-2]
    check(pad == bytes(range(1, pad_len + 1)), "padding is %s, not 1, 2, 3, ..." % pad.hex())
    return plaintext[-1]


# ---- the gateway (our daemon) -------------------------------------------------------------

class Gateway:
    """ipsec-mountd in namespace ns: its CLI, its mount and its ipsec0."""

    def __init__(self, ns, mnt, control, ipsec, pid, tun="ipsec0"):
        self.ns, self.mnt, self.control, self.ipsec, self.pid, self.tun = (
            ns, mnt, control, ipsec, pid, tun)

    def cli(self, *args, stdin=None):
        env = dict(os.environ, IPSEC_CONTROL=self.control)
        r = subprocess.run([self.ipsec, *args], input=stdin, env=env, capture_output=True,
                           text=True, timeout=20)
        if r.returncode != 0:
            raise Failure("ipsec %s failed (%d): %s%s" % (" ".join(args), r.returncode,
                                                          r.stderr.strip(), r.stdout.strip()))
        return r.stdout

    def batch(self, lines):
        return self.cli("--batch", "-", stdin="".join(line + "\n" for line in lines))

    CLEAR = ["eroute --clear", "spi --clear"]

    def clear(self):
        self.batch(self.CLEAR)

    def read(self, rel):
        with open(os.path.join(self.mnt, rel)) as f:
            return f.read()

    def field(self, said, name):
        return self.read("spi/%s/%s" % (said, name)).rstrip("\n")

    def number(self, said, name):
        text = self.field(said, name)
        return int(text, 16) if text.startswith("0x") else int(text)

    def life(self, said, name):
        return tuple(int(x) for x in self.field(said, "life/" + name).split(","))

    def drops(self, said):
        return _name_values(self.read("spi/%s/drops" % said))

    def stats(self):
        return _name_values(self.read("stats"))

    def spi_line(self, said):
        for line in self.read("ipsec_spi").splitlines():
            if line.split(" ", 1)[0] == said:
                return line
        return None

    def tun_rx(self):
        """(packets, bytes) the gateway kernel received from ipsec0, i.e. the daemon wrote into
        it. /proc/PID/net/dev shows the daemon's network namespace; `ip -n` as a fallback."""
        try:
            with open("/proc/%d/net/dev" % self.pid) as f:
                for line in f:
                    name, _, counters = line.partition(":")
                    if name.strip() == self.tun:
                        v = counters.split()
                        return int(v[1]), int(v[0])
        except OSError:
            pass
        r = subprocess.run(["ip", "-n", self.ns, "-s", "-j", "link", "show", "dev", self.tun],
                           capture_output=True, text=True, timeout=10, check=True)
        rx = json.loads(r.stdout)[0]["stats64"]["rx"]
        return rx["packets"], rx["bytes"]

    def alive(self):
        try:
            os.kill(self.pid, 0)
            return True
        except ProcessLookupError:
            return False


def _name_values(text):
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = int(v)
    return out


def said_text(proto, spi, dst):
    return "%s%s%x@%s" % (proto, ":" if ":" in dst else ".", spi, dst)


# ---- the peer's sockets -------------------------------------------------------------------

@dataclass
class Received:
    family: int        # 4 or 6
    src: str
    dst: str
    udp: bool
    sport: int
    dport: int
    esp: bytes         # from the SPI on (AH: the AH header on)
    proto: int = PROTO_ESP
    packet: bytes = b""  # the whole IP packet (AH: what the ICV covers)

    @property
    def spi(self):
        off = 4 if self.proto == PROTO_AH else 0
        return struct.unpack("!L", self.esp[off:off + 4])[0] if len(self.esp) >= off + 4 else None

    @property
    def seq(self):
        off = 8 if self.proto == PROTO_AH else 4
        return struct.unpack("!L", self.esp[off:off + 4])[0]


class Peer:
    """The scapy side: sends at layer 3 (scapy L3 sockets; NAT-T through kernel UDP sockets)
    and sniffs the wire device at layer 2."""

    def __init__(self, iface):
        self.iface = iface
        # One PF_PACKET layer-3 socket sends both families (conf.L3socket6 would want a BPF
        # filter compiled by tcpdump; nothing is ever read from this one).
        self.l3 = conf.L3socket(iface=iface)
        self.udp = {}
        for fam, af, addr in ((4, socket.AF_INET, PEER_WAN4), (6, socket.AF_INET6, PEER_WAN6)):
            s = socket.socket(af, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, NATT_PORT))
            s.setblocking(False)
            self.udp[fam] = s
        # Listening raw ESP/AH/IPCOMP sockets keep this kernel (which has no ESP) from answering
        # the gateway's packets with "protocol unreachable"; nothing is read from them but junk.
        self.sinks = list(self.udp.values())
        for af in (socket.AF_INET, socket.AF_INET6):
            for proto in (PROTO_ESP, PROTO_AH, PROTO_IPCOMP):
                s = socket.socket(af, socket.SOCK_RAW, proto)
                s.setblocking(False)
                self.sinks.append(s)
        self.sniffer = conf.L2listen(iface=iface)
        self.mac = None

    def close(self):
        for s in [self.l3] + self.sinks + [self.sniffer]:
            s.close()

    # sending
    def send_ip(self, pkt):
        """A whole IP/IPv6 packet built with scapy."""
        self.l3.send(pkt)

    def send_protocol(self, family, proto, payload):
        """payload as the body of an IP packet of protocol proto, peer → gateway."""
        if family == 4:
            self.send_ip(IP(src=PEER_WAN4, dst=GW_WAN4, proto=proto) / Raw(payload))
        else:
            self.send_ip(IPv6(src=PEER_WAN6, dst=GW_WAN6, nh=proto) / Raw(payload))

    def send_udp(self, family, payload, dport=NATT_PORT):
        self.udp[family].sendto(payload, (GW_WAN4 if family == 4 else GW_WAN6, dport))

    def send_esp(self, family, esp, udp):
        if udp:
            self.send_udp(family, esp)
        else:
            self.send_protocol(family, PROTO_ESP, esp)

    # receiving
    def drain(self):
        for s in self.sinks + [self.sniffer]:
            for _ in range(10000):
                if not select.select([s], [], [], 0)[0]:
                    break
                try:
                    s.recv() if s is self.sniffer else s.recv(65535)
                except (BlockingIOError, OSError):
                    break

    def _parse(self, frame):
        if frame is None or Ether not in frame:
            return None
        if IP in frame:
            ip = frame[IP]
            b = raw(ip)[:ip.len]
            if ip.src not in (GW_WAN4,) or ip.dst != PEER_WAN4:
                return None
            fam, src, dst, proto, body = 4, ip.src, ip.dst, ip.proto, b[ip.ihl * 4:]
        elif IPv6 in frame:
            ip = frame[IPv6]
            b = raw(ip)[:40 + ip.plen]
            if ip.src != GW_WAN6 or ip.dst != PEER_WAN6:
                return None
            fam, src, dst, proto, body = 6, ip.src, ip.dst, ip.nh, b[40:]
        else:
            return None
        if proto == PROTO_ESP:
            return Received(fam, src, dst, False, 0, 0, body)
        if proto == PROTO_AH:
            return Received(fam, src, dst, False, 0, 0, body, PROTO_AH, b)
        if proto == 17 and len(body) >= 8:
            sport, dport, ulen, _ = struct.unpack("!HHHH", body[:8])
            if dport != NATT_PORT:
                return None
            check(ulen == len(body), "UDP length %d on a %d-byte datagram" % (ulen, len(body)))
            return Received(fam, src, dst, True, sport, dport, body[8:])
        return None

    def receive(self, spi, count=1, timeout=3.0, proto=PROTO_ESP):
        """Up to count ESP (or AH) packets with this SPI that the gateway sent, within
        timeout."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not select.select([self.sniffer], [], [], left)[0]:
                continue
            r = self._parse(self.sniffer.recv())
            if r is not None and r.proto == proto and r.spi == spi:
                got.append(r)
        return got


# ---- inner packets ------------------------------------------------------------------------

def echo_request(family, src, dst, ident, seq, payload):
    if family == 4:
        return IP(src=src, dst=dst, ttl=64, id=(ident + seq) & 0xFFFF) / ICMP(
            type=8, id=ident, seq=seq) / Raw(payload)
    return IPv6(src=src, dst=dst, hlim=64) / ICMPv6EchoRequest(id=ident, seq=seq, data=payload)


def check_echo_reply(pkt, family, src, dst, ident, seq, payload):
    """pkt: what scapy decrypted; it must answer echo_request(family, dst, src, ...)."""
    if family == 4:
        check(IP in pkt and ICMP in pkt, "decrypted reply is not IPv4/ICMP: %r" % pkt)
        ip, icmp = pkt[IP], pkt[ICMP]
        check((ip.src, ip.dst) == (src, dst), "reply %s -> %s, expected %s -> %s"
              % (ip.src, ip.dst, src, dst))
        check(icmp.type == 0 and icmp.id == ident and icmp.seq == seq,
              "reply ICMP type %d id %#x seq %d, expected echo reply id %#x seq %d"
              % (icmp.type, icmp.id, icmp.seq, ident, seq))
        check(raw(icmp.payload) == payload, "reply payload differs from the request's")
        check(len(raw(ip)) == ip.len, "reply IP length %d, %d bytes decrypted" % (
            ip.len, len(raw(ip))))
    else:
        check(IPv6 in pkt and ICMPv6EchoReply in pkt,
              "decrypted reply is not IPv6/ICMPv6 echo reply: %r" % pkt)
        ip, icmp = pkt[IPv6], pkt[ICMPv6EchoReply]
        check((ip.src, ip.dst) == (src, dst), "reply %s -> %s, expected %s -> %s"
              % (ip.src, ip.dst, src, dst))
        check(icmp.id == ident and icmp.seq == seq, "reply id %#x seq %d, expected %#x %d"
              % (icmp.id, icmp.seq, ident, seq))
        check(bytes(icmp.data) == payload, "reply payload differs from the request's")


def log(msg):
    print(msg, flush=True)


def common_args(parser):
    parser.add_argument("--gw-ns", required=True)
    parser.add_argument("--mnt", required=True)
    parser.add_argument("--control", required=True)
    parser.add_argument("--ipsec", required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--iface", default="wan")


def gateway_from(args):
    return Gateway(args.gw_ns, args.mnt, args.control, args.ipsec, args.pid)


if __name__ == "__main__":
    sys.exit("esp_peer.py is a library; run interop.py or hostile.py")
