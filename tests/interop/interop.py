#!/usr/bin/python3
"""Interop: scapy's ESP against ipsec-mountd, both directions, for every suite scapy supports,
tunnel and transport mode, raw ESP and UDP 4500, IPv4 and IPv6 outer; besides, mixed inner
families, ESN across 2^32 and outer packets arriving in fragments.

Per case: the gateway gets its SAs through `ipsec` (a tun+esp group each way with eroute and
inbound policy for tunnel mode; a lone esp SA each way with an eroute for the peer's /32 or
/128 for transport mode). scapy encrypts ICMP echo requests to the gateway's address; the
gateway decrypts, its kernel answers, the gateway encrypts the reply; scapy sniffs the reply on
the wire, checks the outer headers, decrypts it with its own SA (ICV included) and checks the
payload, then an independent decryption with python3-cryptography checks the ESP trailer.
Afterwards the gateway's per-SA files must show what moved: packets, bytes, seq, bit, and no
errors.

AH cases (scapy's AH SecurityAssociation, every --ah algorithm): a lone ah SA each way with an
eroute for the peer's /32 or /128, tun+ah groups, and tun+esp+ah groups (scapy's ESP tunnel,
then its AH over the ESP packet). scapy verifies the reply's ICV (outer IPv4 ID included, which
must be non-zero and fresh per packet), then the per-SA files as for ESP.

Run by tests/integration/test_interop.sh inside the peer namespace.
"""

import argparse
import itertools
import re
import sys
import time
from dataclasses import dataclass

from scapy.all import IPv6ExtHdrFragment, Raw, bind_layers, fragment, fragment6, split_layers

from esp_peer import (AH_ALGOS, PROTO_AH, AH, ah_sa, seeded_key,
                      GW_IN4, GW_IN6, GW_NET4, GW_NET6, GW_WAN4, GW_WAN6, PEER_IN4, PEER_IN6,
                      PEER_NET4, PEER_NET6, PEER_WAN4, PEER_WAN6, ESP, IP, IPv6, SUITES, Failure,
                      Keys, Peer, Suite, check, hmac_icv, check_echo_reply, check_trailer, common_args,
                      echo_request, gateway_from, log, open_plaintext, raw, said_text,
                      scapy_encrypt, scapy_sa)

PINGS = 4  # small, medium, 1000 bytes, and exactly the MTU ipsec0 was given


@dataclass
class Case:
    suite: str
    mode: str      # tunnel | transport
    encap: str     # raw | udp
    outer: int     # 4 | 6
    inner: int     # 4 | 6 (transport: same as outer)
    esn: bool = False
    frag: bool = False  # scapy sends its ESP packets in outer IP fragments

    def __str__(self):
        fam = "v%d" % self.outer if self.mode == "transport" else "v%d-in-v%d" % (
            self.inner, self.outer)
        return "%s %s %s %s%s%s" % (self.suite, self.mode, self.encap, fam,
                                    " esn" if self.esn else "", " fragmented" if self.frag else "")


def cases(quick):
    names = list(SUITES)
    out = []
    # Every suite: tunnel and transport, raw and UDP 4500, IPv4 and IPv6 outer.
    for outer, mode, encap in itertools.product((4, 6), ("tunnel", "transport"), ("raw", "udp")):
        for s in names:
            out.append(Case(s, mode, encap, outer, outer))
    # Mixed families inside tunnels.
    for i, s in enumerate(names):
        out.append(Case(s, "tunnel", ("raw", "udp")[i % 2], 4, 6))
        out.append(Case(s, "tunnel", ("udp", "raw")[i % 2], 6, 4))
    # ESN across the 2^32 boundary. scapy puts seq-hi into AEAD nonces' AAD correctly but leaves
    # it out of HMAC ICVs: for HMAC suites scapy only encrypts and this script computes and
    # checks the ICV as RFC 4303 2.2.1 says.
    for s in names:
        out.append(Case(s, "tunnel", "raw", 4, 4, esn=True))
    for s in ("aes128gcm16", "chacha20poly1305", "aes256-sha2_256-128", "3des-md5-96"):
        out.append(Case(s, "transport", "udp", 6, 6, esn=True))
    # A peer behind a smaller path MTU: its ESP arrives in outer fragments (the gateway kernel
    # reassembles them before our sockets see them).
    for s in ("aes256gcm16", "aes128-sha2_256-128", "3des-sha1-96"):
        out.append(Case(s, "tunnel", "raw", 4, 4, frag=True))
        out.append(Case(s, "transport", "raw", 6, 6, frag=True))
        out.append(Case(s, "tunnel", "raw", 6, 4, frag=True))
    if quick:
        out = [c for c in out if c.suite in ("aes128gcm16", "aes128-sha1-96", "null-sha1-96")]
    # AH (scapy's AH SecurityAssociation): transport (IPv4 and IPv6 outer), tun+ah, and
    # tun+esp+ah with scapy's ESP and then its AH over it.
    for a in AH_ALGOS:
        out.append(AhCase(a, "transport", 4))
        out.append(AhCase(a, "transport", 6))
        out.append(AhCase(a, "tunnel", 4))
        if not quick:
            out.append(AhCase(a, "tunnel", 4, esp="aes128gcm16"))
    if not quick:
        out.append(AhCase("hmac-sha2_256-128", "tunnel", 4, esp="aes256-sha2_256-128"))
        out.append(AhCase("hmac-md5-96", "tunnel", 4, esp="3des-sha1-96"))
    return out


@dataclass
class AhCase:
    algo: str      # the --ah name
    mode: str      # tunnel | transport
    outer: int     # 4 | 6 (inner: the same family)
    esp: str = ""  # tunnel mode: an --esp suite for a tun+esp+ah group

    def __str__(self):
        what = "ah" if not self.esp else "esp+ah %s" % self.esp
        fam = "v%d" % self.outer if self.mode == "transport" else "v%d-in-v%d" % (
            self.outer, self.outer)
        return "%s %s %s %s" % (what, self.algo, self.mode, fam)


ESN_START = 0xFFFFFFFE  # --seq: the last number sent / the highest received before the test


def send_fragments(peer, family, src, dst, esp, ident, size=512):
    """The ESP packet in outer fragments of at most size bytes."""
    if family == 4:
        frags = fragment(IP(src=src, dst=dst, proto=50, id=ident) / Raw(esp), fragsize=size - 20)
    else:
        frags = fragment6(IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(id=ident, nh=50)
                          / Raw(esp), size)
    for f in frags:  # small pings fit one "fragment": a whole packet
        peer.send_ip(f)


def tun_mtu(gw):
    """ipsec0's MTU from ipsec_tncfg: `ipsec0 -> wan mtu=1438(1438) -> 1500`."""
    text = gw.read("ipsec_tncfg")
    m = re.search(r"\bmtu=(\d+)\(", text)
    check(m, "no mtu= in ipsec_tncfg: %r" % text)
    return int(m.group(1))


def run_case(gw, peer, case, index):
    suite = SUITES[case.suite]
    v4 = case.outer == 4
    gw_wan, peer_wan = (GW_WAN4, PEER_WAN4) if v4 else (GW_WAN6, PEER_WAN6)
    if case.mode == "tunnel":
        gw_in, peer_in = (GW_IN4, PEER_IN4) if case.inner == 4 else (GW_IN6, PEER_IN6)
        gw_net, peer_net = (GW_NET4, PEER_NET4) if case.inner == 4 else (GW_NET6, PEER_NET6)
    else:
        gw_in, peer_in = gw_wan, peer_wan
        bits = "/32" if v4 else "/128"
        gw_net, peer_net = gw_wan + bits, peer_wan + bits
    udp = case.encap == "udp"
    # Fresh SPIs per case, so nothing left over from another case can match.
    in_spi = 0x10000 + 16 * index      # peer -> gateway
    out_spi = 0x20000 + 16 * index     # gateway -> peer
    in_keys = Keys.make(suite, 2 * index + 1)
    out_keys = Keys.make(suite, 2 * index + 40)

    esp_in = said_text("esp", in_spi, gw_wan)
    esp_out = said_text("esp", out_spi, peer_wan)
    tun_in = said_text("tun", in_spi + 1, gw_wan)
    tun_out = said_text("tun", out_spi + 1, peer_wan)
    extra = []
    if udp:
        extra += ["--natt", "nonesp", "--sport", "4500", "--dport", "4500"]
    if case.esn:
        extra += ["--esn", "--seq", str(ESN_START)]
    esp_out_line = " ".join(["spi", "--said", esp_out, "--src", gw_wan] + out_keys.cli(suite)
                            + extra)
    esp_in_line = " ".join(["spi", "--said", esp_in, "--src", peer_wan] + in_keys.cli(suite)
                           + extra)
    ipn = "--ip4" if v4 else "--ip6"
    if case.mode == "tunnel":
        lines = [
            esp_out_line,
            "spi --said %s %s --src %s --dst %s" % (tun_out, ipn, gw_wan, peer_wan),
            "spigrp --said %s %s" % (tun_out, esp_out),
            "eroute --add --src %s --dst %s --said %s" % (gw_net, peer_net, tun_out),
            esp_in_line,
            "spi --said %s %s --src %s --dst %s" % (tun_in, ipn, peer_wan, gw_wan),
            "spigrp --said %s %s" % (tun_in, esp_in),
            "eroute --addin --src %s --dst %s --said %s" % (peer_net, gw_net, tun_in),
        ]
    else:
        lines = [
            esp_out_line,
            "eroute --add --src %s --dst %s --said %s" % (gw_net, peer_net, esp_out),
            esp_in_line,
        ]
    gw.batch(gw.CLEAR + lines)

    outer_hdr = (IP(src=peer_wan, dst=gw_wan) if v4 else IPv6(src=peer_wan, dst=gw_wan))
    rx_hdr = (IP(src=gw_wan, dst=peer_wan) if v4 else IPv6(src=gw_wan, dst=peer_wan))
    tunnel = case.mode == "tunnel"
    # ESN with an HMAC: scapy gets an SA without the HMAC; the ICV is this script's.
    script_icv = case.esn and suite.auth is not None
    crypt_only = Suite(**{**suite.__dict__, "auth": None}) if script_icv else suite
    tx = scapy_sa(crypt_only, in_keys, in_spi, outer_hdr if tunnel else None, nat_t=udp,
                  esn=case.esn)
    rx = scapy_sa(crypt_only, out_keys, out_spi, rx_hdr if tunnel else None, nat_t=udp,
                  esn=case.esn)

    first_seq = ESN_START + 1 if case.esn else 1
    ident = 0x4000 + index
    # The last ping fills ipsec0's MTU: the reply must still fit the wire without fragments.
    mtu = tun_mtu(gw)
    hdr = (20 + 8) if case.inner == 4 else (40 + 8)
    sizes = [1 + index % 16, 40 + index % 23, 1000 + index % 8, mtu - hdr]
    clear_bytes = 0
    seen_ivs = set()
    peer.drain()
    for i in range(PINGS):
        seq = first_seq + i
        payload = bytes((index + i + k) & 0xFF for k in range(sizes[i]))
        req = echo_request(case.inner, peer_in, gw_in, ident, i + 1, payload)
        req = req.__class__(raw(req))
        clear_bytes += len(raw(req))
        esp = raw(scapy_encrypt(tx, req, seq)[ESP])
        if script_icv:
            esp += hmac_icv(suite, in_keys, esp, seq >> 32)
        if case.frag:
            send_fragments(peer, case.outer, peer_wan, gw_wan, esp, ident + i)
        else:
            peer.send_esp(case.outer, esp, udp)

        got = peer.receive(out_spi, 1, timeout=3.0)
        check(got, "no ESP reply with SPI %#x for ping %d within 3 s" % (out_spi, i + 1))
        r = got[0]
        check((r.src, r.dst) == (gw_wan, peer_wan), "reply outer %s -> %s" % (r.src, r.dst))
        check(r.udp == udp, "reply %s UDP-encapsulated" % ("is not" if udp else "is"))
        if udp:
            check((r.sport, r.dport) == (4500, 4500), "reply UDP ports %d -> %d"
                  % (r.sport, r.dport))
        check(r.seq == (seq & 0xFFFFFFFF), "reply ESP seq %#x, expected %#x" % (r.seq, seq))
        if i == PINGS - 1:
            # ipsec0's MTU leaves room for exactly this group's worst-case overhead: the
            # MTU-sized reply fits the 1500-byte wire, and not by much more than the padding.
            wire_len = (20 if v4 else 40) + (8 if udp else 0) + len(r.esp)
            check(1500 - 2 * suite.block - 4 <= wire_len <= 1500,
                  "MTU-sized reply is %d bytes on the wire (ipsec0 mtu %d)" % (wire_len, mtu))
        iv = r.esp[8:8 + suite.iv]
        if suite.iv:
            check(iv not in seen_ivs, "IV %s used twice" % iv.hex())
            seen_ivs.add(iv)
        # scapy decrypts (and verifies the ICV of) a freshly parsed copy: decrypt() mutates.
        hi = seq >> 32
        rx.esn = hi
        reply_esp = r.esp
        if script_icv:
            icv = reply_esp[-suite.icv:]
            reply_esp = reply_esp[:-suite.icv]
            check(icv == hmac_icv(suite, out_keys, reply_esp, hi),
                  "reply ICV is not HMAC(ESP || seq-hi) (RFC 4303 2.2.1)")
        enc = rx_hdr.__class__(raw(rx_hdr / ESP(reply_esp)))
        if v4:
            enc.proto = 50
        else:
            enc.nh = 50
        enc = enc.__class__(raw(enc))
        try:
            plain = rx.decrypt(enc)
        except Exception as e:  # IPSecIntegrityError and friends
            raise Failure("scapy could not decrypt the reply: %r" % e)
        if not tunnel:
            # Transport mode: scapy hands back the outer header with the decrypted payload.
            plain = plain.__class__(raw(plain))
        check_echo_reply(plain, case.inner, gw_in, peer_in, ident, i + 1, payload)
        nh = check_trailer(suite, open_plaintext(suite, out_keys, r.esp,
                                                 hi if case.esn else None))
        want_nh = (4 if case.inner == 4 else 41) if tunnel else (1 if v4 else 58)
        check(nh == want_nh, "reply next header %d, expected %d" % (nh, want_nh))

    # The gateway's files: every SA of both groups moved PINGS packets of clear_bytes.
    last = first_seq + PINGS - 1
    time.sleep(0.05)
    for said in [esp_in, esp_out] + ([tun_in, tun_out] if tunnel else []):
        packets = gw.life(said, "packets")[0]
        nbytes = gw.life(said, "bytes")[0]
        check(packets == PINGS, "%s life/packets c=%d, expected %d" % (said, packets, PINGS))
        check(nbytes == clear_bytes, "%s life/bytes c=%d, expected %d" % (said, nbytes,
                                                                           clear_bytes))
    for said in (esp_in, esp_out):
        check(gw.number(said, "seq") == last, "%s seq=%s, expected %d"
              % (said, gw.field(said, "seq"), last))
        for f in ("auth_errs", "ooo_errs", "encr_size_errs", "encr_pad_errs"):
            check(gw.number(said, f) == 0, "%s %s=%s" % (said, f, gw.field(said, f)))
        if udp:
            check(gw.field(said, "natencap") == "nonesp", "%s natencap=%s"
                  % (said, gw.field(said, "natencap")))
    if not case.esn:
        bit = gw.number(esp_in, "bit")
        check(bit == (1 << PINGS) - 1, "%s bit=%#x, expected %#x" % (esp_in, bit,
                                                                   (1 << PINGS) - 1))
    drops = {k: v for k, v in gw.drops(esp_in).items() if v}
    check(not drops, "%s drops: %s" % (esp_in, drops))
    return clear_bytes


def esp_free(pkt_bytes, fn):
    """scapy 2.5 quirk: AH's sign()/verify() treat a packet holding an ESP layer as ESP and
    put the ICV at the ESP data's end; while AH works, IP's ESP payload stays undissected."""
    split_layers(IP, ESP, proto=50)
    try:
        return raw(fn(IP(pkt_bytes)))
    finally:
        bind_layers(IP, ESP, proto=50)


def run_ah_case(gw, peer, case, index):
    """AH (alone in transport mode, tun+ah or tun+esp+ah in tunnel mode) against scapy's AH."""
    algo = AH_ALGOS[case.algo]
    suite = SUITES[case.esp] if case.esp else None
    v4 = case.outer == 4
    tunnel = case.mode == "tunnel"
    gw_wan, peer_wan = (GW_WAN4, PEER_WAN4) if v4 else (GW_WAN6, PEER_WAN6)
    if tunnel:
        gw_in, peer_in = (GW_IN4, PEER_IN4) if v4 else (GW_IN6, PEER_IN6)
        gw_net, peer_net = (GW_NET4, PEER_NET4) if v4 else (GW_NET6, PEER_NET6)
    else:
        gw_in, peer_in = gw_wan, peer_wan
        bits = "/32" if v4 else "/128"
        gw_net, peer_net = gw_wan + bits, peer_wan + bits
    in_spi = 0x30000 + 16 * index      # peer -> gateway
    out_spi = 0x40000 + 16 * index     # gateway -> peer
    in_key = seeded_key(algo.key_len, 2 * index + 3)
    out_key = seeded_key(algo.key_len, 2 * index + 50)
    ah_in = said_text("ah", in_spi, gw_wan)
    ah_out = said_text("ah", out_spi, peer_wan)
    esp_in = said_text("esp", in_spi + 2, gw_wan)
    esp_out = said_text("esp", out_spi + 2, peer_wan)
    tun_in = said_text("tun", in_spi + 1, gw_wan)
    tun_out = said_text("tun", out_spi + 1, peer_wan)
    ipn = "--ip4" if v4 else "--ip6"
    ah_out_line = "spi --said %s --src %s --ah %s --authkey 0x%s" % (ah_out, gw_wan, algo.name,
                                                                      out_key.hex())
    ah_in_line = "spi --said %s --src %s --ah %s --authkey 0x%s" % (ah_in, peer_wan, algo.name,
                                                                     in_key.hex())
    if suite:
        esp_in_keys = Keys.make(suite, 2 * index + 5)
        esp_out_keys = Keys.make(suite, 2 * index + 60)
    if tunnel:
        lines = [ah_out_line]
        grp_out, grp_in = [tun_out], [tun_in]
        if suite:
            lines.append(" ".join(["spi", "--said", esp_out, "--src", gw_wan]
                                  + esp_out_keys.cli(suite)))
            lines.append(" ".join(["spi", "--said", esp_in, "--src", peer_wan]
                                  + esp_in_keys.cli(suite)))
            grp_out.append(esp_out)
            grp_in.append(esp_in)
        grp_out.append(ah_out)
        grp_in.append(ah_in)
        lines += [
            "spi --said %s %s --src %s --dst %s" % (tun_out, ipn, gw_wan, peer_wan),
            "spigrp --said %s" % " ".join(grp_out),
            "eroute --add --src %s --dst %s --said %s" % (gw_net, peer_net, tun_out),
            ah_in_line,
            "spi --said %s %s --src %s --dst %s" % (tun_in, ipn, peer_wan, gw_wan),
            "spigrp --said %s" % " ".join(grp_in),
            "eroute --addin --src %s --dst %s --said %s" % (peer_net, gw_net, tun_in),
        ]
    else:
        lines = [
            ah_out_line,
            "eroute --add --src %s --dst %s --said %s" % (gw_net, peer_net, ah_out),
            ah_in_line,
        ]
    gw.batch(gw.CLEAR + lines)

    outer_cls = IP if v4 else IPv6
    tx_hdr = IP(src=peer_wan, dst=gw_wan) if v4 else IPv6(src=peer_wan, dst=gw_wan)
    rx_hdr = IP(src=gw_wan, dst=peer_wan) if v4 else IPv6(src=gw_wan, dst=peer_wan)
    if suite:
        # ESP does the tunnel; AH goes over the ESP packet in transport mode.
        tx_esp = scapy_sa(suite, esp_in_keys, in_spi + 2, tx_hdr)
        rx_esp = scapy_sa(suite, esp_out_keys, out_spi + 2, rx_hdr)
        tx = ah_sa(algo, in_key, in_spi)
        rx = ah_sa(algo, out_key, out_spi)
    else:
        tx = ah_sa(algo, in_key, in_spi, tx_hdr if tunnel else None)
        rx = ah_sa(algo, out_key, out_spi, rx_hdr if tunnel else None)

    ident = 0x5000 + index
    mtu = tun_mtu(gw)
    hdr = (20 + 8) if v4 else (40 + 8)
    sizes = [1 + index % 16, 40 + index % 23, 1000 + index % 8, mtu - hdr]
    clear_bytes = 0
    ids = set()
    peer.drain()
    for i in range(PINGS):
        seq = i + 1
        payload = bytes((index + i + k) & 0xFF for k in range(sizes[i]))
        req = echo_request(case.outer, peer_in, gw_in, ident, i + 1, payload)
        req = req.__class__(raw(req))
        clear_bytes += len(raw(req))
        if suite:
            tx_esp.seq_num = seq
            esp_pkt = raw(tx_esp.encrypt(req))
            tx.seq_num = seq
            wire = esp_free(esp_pkt, tx.encrypt)
        else:
            tx.seq_num = seq
            wire = raw(tx.encrypt(req))
        peer.send_ip(outer_cls(wire))

        got = peer.receive(out_spi, 1, timeout=3.0, proto=PROTO_AH)
        check(got, "no AH reply with SPI %#x for ping %d within 3 s" % (out_spi, i + 1))
        r = got[0]
        check((r.src, r.dst) == (gw_wan, peer_wan), "reply outer %s -> %s" % (r.src, r.dst))
        check(r.seq == seq, "reply AH seq %#x, expected %#x" % (r.seq, seq))
        ah_len = (r.esp[1] + 2) * 4
        check(ah_len == 12 + algo.icv + (-(12 + algo.icv) % (4 if v4 else 8)),
              "reply AH length %d bytes for a %d-byte ICV" % (ah_len, algo.icv))
        want_nh = 50 if suite else ((4 if v4 else 41) if tunnel else (1 if v4 else 58))
        check(r.esp[0] == want_nh, "reply AH next header %d, expected %d"
              % (r.esp[0], want_nh))
        if v4:
            rid = outer_cls(r.packet).id
            check(rid != 0, "reply outer IPv4 ID is 0")
            ids.add(rid)
        if i == PINGS - 1:
            check(len(r.packet) <= 1500, "MTU-sized reply is %d bytes on the wire (ipsec0 mtu"
                  " %d)" % (len(r.packet), mtu))
        # scapy verifies the ICV (and drops AH) on a freshly parsed copy.
        try:
            if suite:
                inner = esp_free(r.packet, rx.decrypt)
                plain = rx_esp.decrypt(outer_cls(inner))
            else:
                plain = rx.decrypt(outer_cls(r.packet))
        except Exception as e:  # IPSecIntegrityError and friends
            raise Failure("scapy could not verify the AH reply: %r" % e)
        # scapy hands back tunnel mode's inner packet undissected (Raw): parse it again.
        plain = (outer_cls if tunnel else plain.__class__)(raw(plain))
        check_echo_reply(plain, case.outer, gw_in, peer_in, ident, i + 1, payload)
    if v4:
        check(len(ids) == PINGS, "reply outer IPv4 IDs repeat: %s" % sorted(ids))

    time.sleep(0.05)
    saids = [ah_in, ah_out] + ([tun_in, tun_out] if tunnel else []) + (
        [esp_in, esp_out] if suite else [])
    for said in saids:
        packets = gw.life(said, "packets")[0]
        nbytes = gw.life(said, "bytes")[0]
        check(packets == PINGS, "%s life/packets c=%d, expected %d" % (said, packets, PINGS))
        check(nbytes == clear_bytes, "%s life/bytes c=%d, expected %d" % (said, nbytes,
                                                                           clear_bytes))
    for said in [ah_in, ah_out] + ([esp_in, esp_out] if suite else []):
        check(gw.number(said, "seq") == PINGS, "%s seq=%s, expected %d"
              % (said, gw.field(said, "seq"), PINGS))
        for f in ("auth_errs", "ooo_errs"):
            check(gw.number(said, f) == 0, "%s %s=%s" % (said, f, gw.field(said, f)))
    for said in [ah_in] + ([esp_in] if suite else []):
        bit = gw.number(said, "bit")
        check(bit == (1 << PINGS) - 1, "%s bit=%#x, expected %#x" % (said, bit,
                                                                   (1 << PINGS) - 1))
        drops = {k: v for k, v in gw.drops(said).items() if v}
        check(not drops, "%s drops: %s" % (said, drops))
    return clear_bytes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(ap)
    ap.add_argument("--quick", action="store_true", help="three suites only")
    ap.add_argument("--only", help="run the cases whose name contains this text")
    ap.add_argument("--budget", type=float, default=170.0, help="seconds for all cases")
    args = ap.parse_args()
    gw = gateway_from(args)
    peer = Peer(args.iface)
    todo = [c for c in cases(args.quick) if not args.only or args.only in str(c)]
    start = time.monotonic()
    failed = []
    done = 0
    try:
        for index, case in enumerate(todo):
            if time.monotonic() - start > args.budget:
                failed.append("time budget of %.0f s used up before '%s'" % (args.budget, case))
                break
            t0 = time.monotonic()
            try:
                (run_ah_case if isinstance(case, AhCase) else run_case)(gw, peer, case, index)
                log("ok - %s (%.2f s)" % (case, time.monotonic() - t0))
            except Failure as e:
                log("not ok - %s: %s" % (case, e))
                failed.append("%s: %s" % (case, e))
                if not gw.alive():
                    failed.append("ipsec-mountd is gone")
                    break
            done += 1
    finally:
        peer.close()
    stats = {k: v for k, v in gw.stats().items() if v}
    log("# %d cases in %.1f s, %d failed; gateway stats: %s"
        % (done, time.monotonic() - start, len(failed), stats))
    if not gw.alive():
        failed.append("ipsec-mountd is not running at the end")
    for f in failed:
        print("FAIL " + f, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
