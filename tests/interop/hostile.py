#!/usr/bin/python3
"""Hostile traffic from scapy against a working ipsec-mountd tunnel.

Every hostile packet must be dropped, counted in the right per-SA field or daemon-wide `stats`
line, and never reach ipsec0 (the gateway kernel's rx counters of ipsec0 stay put; the wrapper
also captures ipsec0 and looks for the HOSTILE marker); afterwards good traffic still flows and
the daemon still runs.

Each step snapshots every counter (the `stats` file, every inbound SA's error fields, drops
file and packets, the outbound SA's packets, ipsec0 rx), sends, waits until the counters it
expects have moved, and then requires the whole delta to be exactly what it expects: the
right counter by the right amount and nothing else.

Run by tests/integration/test_hostile.sh inside the peer namespace.
"""

import argparse
import os
import struct
import sys
import time

from esp_peer import (GW_IN4, GW_NET4, GW_WAN4, GW_WAN6, PEER_IN4, PEER_NET4, PEER_WAN4,
                      PEER_WAN6, ESP, ICMP, IP, IPv6, ICMPv6EchoReply, SUITES, Failure, Keys, Peer, Raw,
                      check, check_echo_reply, common_args, echo_request, gateway_from, log,
                      raw, said_text, scapy_encrypt, scapy_sa, seal_raw, with_trailer, PROTO_AH,
                      PROTO_ESP, PROTO_IPCOMP)

HOSTILE = b"HOSTILE!"   # in every hostile inner packet; the wrapper greps ipsec0 for it
GOOD = b"GOOD...."

CBC = SUITES["aes128-sha1-96"]      # the tunnel
NULL = SUITES["null-sha1-96"]       # lone transport SA, for crafted padding
GCM = SUITES["aes128gcm16"]         # lone transport SA over UDP 4500
CBC6 = SUITES["3des-sha1-96"]       # lone transport SA over IPv6

SPI_TUN_IN, SPI_TUN_OUT = 0x3000, 0x4000
SPI_NULL, SPI_UDP, SPI_V6 = 0x3100, 0x3200, 0x3300
SPI_UNKNOWN = 0x3999

ESP_IN = said_text("esp", SPI_TUN_IN, GW_WAN4)
TUN_IN = said_text("tun", SPI_TUN_IN + 1, GW_WAN4)
ESP_OUT = said_text("esp", SPI_TUN_OUT, PEER_WAN4)
TUN_OUT = said_text("tun", SPI_TUN_OUT + 1, PEER_WAN4)
ESP_NULL = said_text("esp", SPI_NULL, GW_WAN4)
ESP_UDP = said_text("esp", SPI_UDP, GW_WAN4)
ESP_V6 = said_text("esp", SPI_V6, GW_WAN6)
INBOUND = [ESP_IN, TUN_IN, ESP_NULL, ESP_UDP, ESP_V6]
OUTBOUND = [ESP_OUT, TUN_OUT]
# Daemon-wide lines that inbound packets move. Outbound lines (no_eroute, packets_out, ...) are
# left out: the gateway kernel may send things of its own into ipsec0 at any time.
IN_STATS = ["packets_in", "drop_malformed", "drop_no_sa", "drop_group_incomplete", "drop_replay",
            "drop_out_of_window", "drop_auth_failed", "drop_bad_size", "drop_bad_padding",
            "drop_policy_mismatch", "drop_tunnel_mismatch", "drop_unsupported", "drop_not_esp",
            "drop_encap_mismatch", "drop_life_expired", "drop_decompress_failed"]
SA_FIELDS = ["auth_errs", "ooo_errs", "encr_size_errs", "encr_pad_errs"]


class Lab:
    def __init__(self, gw, peer):
        self.gw, self.peer = gw, peer
        self.keys = {
            "tun_in": Keys.make(CBC, 11), "tun_out": Keys.make(CBC, 21),
            "null": Keys.make(NULL, 31), "udp": Keys.make(GCM, 41), "v6": Keys.make(CBC6, 51)}
        tunnel_hdr = IP(src=PEER_WAN4, dst=GW_WAN4)
        self.tx = scapy_sa(CBC, self.keys["tun_in"], SPI_TUN_IN, tunnel_hdr)
        self.rx = scapy_sa(CBC, self.keys["tun_out"], SPI_TUN_OUT, IP(src=GW_WAN4, dst=PEER_WAN4))
        self.tx_null = scapy_sa(NULL, self.keys["null"], SPI_NULL)
        self.tx_udp = scapy_sa(GCM, self.keys["udp"], SPI_UDP, nat_t=True)
        self.tx_v6 = scapy_sa(CBC6, self.keys["v6"], SPI_V6)
        self.next_seq = {SPI_TUN_IN: 1, SPI_NULL: 1, SPI_UDP: 1, SPI_V6: 1}
        self.out_seq = 0       # replies seen from the gateway's outbound SA
        self.good_packets = 0  # decrypted packets the gateway should have written into ipsec0
        self.sent = {}         # tunnel seq -> the ESP bytes of the good ping sent with it
        self.steps = 0
        self.failures = []

    def configure(self):
        k = self.keys
        self.gw.batch(self.gw.CLEAR + [
            "spi --said %s --src %s %s" % (ESP_OUT, GW_WAN4, " ".join(k["tun_out"].cli(CBC))),
            "spi --said %s --ip4 --src %s --dst %s" % (TUN_OUT, GW_WAN4, PEER_WAN4),
            "spigrp --said %s %s" % (TUN_OUT, ESP_OUT),
            "eroute --add --src %s --dst %s --said %s" % (GW_NET4, PEER_NET4, TUN_OUT),
            "spi --said %s --src %s %s" % (ESP_IN, PEER_WAN4, " ".join(k["tun_in"].cli(CBC))),
            "spi --said %s --ip4 --src %s --dst %s" % (TUN_IN, PEER_WAN4, GW_WAN4),
            "spigrp --said %s %s" % (TUN_IN, ESP_IN),
            "eroute --addin --src %s --dst %s --said %s" % (PEER_NET4, GW_NET4, TUN_IN),
            "spi --said %s --src %s %s" % (ESP_NULL, PEER_WAN4, " ".join(k["null"].cli(NULL))),
            "spi --said %s --src %s %s --natt nonesp --sport 4500 --dport 4500"
            % (ESP_UDP, PEER_WAN4, " ".join(k["udp"].cli(GCM))),
            "spi --said %s --src %s %s" % (ESP_V6, PEER_WAN6, " ".join(k["v6"].cli(CBC6))),
        ])

    # ---- counters ----
    def snapshot(self):
        gw = self.gw
        snap = {}
        stats = gw.stats()
        for name in IN_STATS:
            snap["stats." + name] = stats.get(name, 0)
        for said in INBOUND:
            if not said.startswith("tun"):
                for f in SA_FIELDS:
                    snap["%s.%s" % (said, f)] = gw.number(said, f)
            for reason, n in gw.drops(said).items():
                snap["%s.drops.%s" % (said, reason)] = n
            snap[said + ".packets"] = gw.life(said, "packets")[0]
        for said in OUTBOUND:
            snap[said + ".packets"] = gw.life(said, "packets")[0]
        snap["ipsec0.rx"] = gw.tun_rx()[0]
        return snap

    def step(self, name, send, want, timeout=3.0, allow=()):
        """send(); then the counters must move by exactly want (name -> delta); counters named
        in allow may move too. A failed step is reported and the run goes on (each step
        compares fresh snapshots), unless the daemon is gone."""
        self.steps += 1
        try:
            self._step(name, send, want, timeout, allow)
        except Failure as e:
            log("not ok - %s" % e)
            self.failures.append(str(e))
            if not self.gw.alive():
                raise Failure("ipsec-mountd is gone after step '%s'" % name)

    def _step(self, name, send, want, timeout, allow):
        before = self.snapshot()
        missing = [k for k in want if k not in before]
        if missing:
            said = missing[0].split(".drops.")[0]
            seen = sorted(self.gw.drops(said)) if ".drops." in missing[0] else "-"
            raise Failure("%s: no counter %s (reasons in %s's drops file: %s)"
                          % (name, ", ".join(missing), said, seen))
        send()
        deadline = time.monotonic() + timeout
        while True:
            after = self.snapshot()
            if all(after[k] - before[k] >= v for k, v in want.items()):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        time.sleep(0.1 if want else 0.4)  # anything else the packets caused shows up now
        after = self.snapshot()
        delta = {k: after[k] - before[k] for k in after
                 if after[k] != before[k] and k not in allow}
        check(delta == want, "%s: counters moved by %s, expected %s" % (name, delta, want))
        check(self.gw.alive(), "%s: ipsec-mountd is gone" % name)
        log("ok - %s: %s" % (name, ", ".join("%s+%d" % kv for kv in sorted(want.items()))))

    # ---- packets ----
    def seq(self, spi):
        s = self.next_seq[spi]
        self.next_seq[spi] += 1
        return s

    def tunnel_packet(self, seq, marker=HOSTILE, icmp_type=0):
        """A valid ESP packet (bytes from the SPI on) of the tunnel with sequence number seq:
        an ICMP echo reply (type 0: the gateway kernel answers nothing) carrying marker."""
        inner = IP(src=PEER_IN4, dst=GW_IN4) / ICMP(type=icmp_type, id=0x4242, seq=seq & 0xFFFF) \
            / Raw(marker + b"%08d" % seq)
        return raw(scapy_encrypt(self.tx, IP(raw(inner)), seq)[ESP])

    def ping(self, name, count=1):
        """Good traffic: echo requests through the tunnel, each answered through the tunnel."""
        seqs = [self.seq(SPI_TUN_IN) for _ in range(count)]

        def send():
            self.peer.drain()
            for s in seqs:
                payload = GOOD + bytes(range(s % 50))
                req = echo_request(4, PEER_IN4, GW_IN4, 0x5151, s & 0xFFFF, payload)
                wire = raw(scapy_encrypt(self.tx, IP(raw(req)), s)[ESP])
                self.sent[s] = wire
                self.peer.send_esp(4, wire, False)
                got = self.peer.receive(SPI_TUN_OUT, 1, timeout=3.0)
                check(got, "%s: no reply to good ping seq %d" % (name, s))
                self.out_seq += 1
                check(got[0].seq == self.out_seq, "%s: reply seq %d, expected %d"
                      % (name, got[0].seq, self.out_seq))
                enc = IP(src=GW_WAN4, dst=PEER_WAN4, proto=50) / ESP(got[0].esp)
                try:
                    plain = self.rx.decrypt(IP(raw(enc)))
                except Exception as e:  # IPSecIntegrityError and friends
                    raise Failure("%s: scapy could not decrypt the reply: %r" % (name, e))
                check_echo_reply(plain, 4, GW_IN4, PEER_IN4, 0x5151, s & 0xFFFF, payload)

        self.step(name, send, self.good(ESP_IN, count, tunnel=True, replies=count))
        self.good_packets += count

    def good(self, said, n, tunnel=False, replies=0):
        want = {said + ".packets": n, "stats.packets_in": n, "ipsec0.rx": n}
        if tunnel:
            want[TUN_IN + ".packets"] = n
        if replies:
            want[ESP_OUT + ".packets"] = replies
            want[TUN_OUT + ".packets"] = replies
        return want


def flip(b, i, mask=0x01):
    b = bytearray(b)
    b[i] ^= mask
    return bytes(b)


def run(lab):
    gw, peer = lab.gw, lab.peer
    send4 = lambda esp: peer.send_esp(4, esp, False)  # noqa: E731

    lab.configure()
    lab.ping("good traffic before", count=3)

    # -- anti-replay -------------------------------------------------------------------------
    replay = {ESP_IN + ".ooo_errs": 1, ESP_IN + ".drops.replay": 1, "stats.drop_replay": 1}
    lab.step("replayed packet (the third ping's bytes again)", lambda: send4(lab.sent[3]), replay)
    lab.step("seq 2 re-encrypted (fresh IV, valid ICV)",
             lambda: send4(lab.tunnel_packet(2, icmp_type=8)), replay)
    lab.step("sequence number 0", lambda: send4(lab.tunnel_packet(0)),
             {ESP_IN + ".ooo_errs": 1, ESP_IN + ".drops.out_of_window": 1,
              "stats.drop_out_of_window": 1})

    # Fill the window up to 100 with good packets (echo replies: nothing answers them), leaving
    # out 10 (then too old) and 90 (still inside the 32-wide window).
    fill = [s for s in range(4, 101) if s not in (10, 90)]
    packets = [lab.tunnel_packet(s, marker=GOOD) for s in fill]
    lab.next_seq[SPI_TUN_IN] = 101

    def send_fill():
        for esp in packets:
            send4(esp)
            time.sleep(0.0005)
    lab.step("seq 4..100 without 10 and 90", send_fill, lab.good(ESP_IN, len(fill), tunnel=True))
    lab.good_packets += len(fill)
    check(gw.number(ESP_IN, "seq") == 100, "seq=%s after 100" % gw.field(ESP_IN, "seq"))
    check(gw.number(ESP_IN, "bit") == 0xFFFFFBFF,
          "bit=%s with 90 missing, expected 0xfffffbff" % gw.field(ESP_IN, "bit"))
    late = lab.tunnel_packet(90, marker=GOOD)
    lab.step("late seq 90 inside the window (accepted)", lambda: send4(late),
             lab.good(ESP_IN, 1, tunnel=True))
    lab.good_packets += 1
    check(gw.number(ESP_IN, "bit") == 0xFFFFFFFF, "bit=%s" % gw.field(ESP_IN, "bit"))
    lab.step("never-seen seq 10, now left of the window",
             lambda: send4(lab.tunnel_packet(10)),
             {ESP_IN + ".ooo_errs": 1, ESP_IN + ".drops.out_of_window": 1,
              "stats.drop_out_of_window": 1})
    lab.step("old seq 1 again after the window moved", lambda: send4(lab.tunnel_packet(1)),
             {ESP_IN + ".ooo_errs": 1, ESP_IN + ".drops.out_of_window": 1,
              "stats.drop_out_of_window": 1})
    lab.step("seq 99 again, inside the window", lambda: send4(lab.tunnel_packet(99)),
             {ESP_IN + ".ooo_errs": 1, ESP_IN + ".drops.replay": 1, "stats.drop_replay": 1})
    check(gw.number(ESP_IN, "seq") == 100, "seq moved: %s" % gw.field(ESP_IN, "seq"))

    # -- integrity ---------------------------------------------------------------------------
    auth = {ESP_IN + ".auth_errs": 1, ESP_IN + ".drops.auth_failed": 1,
            "stats.drop_auth_failed": 1}
    s101 = lab.tunnel_packet(101)
    mid = 8 + CBC.iv + 5
    lab.step("flipped ciphertext byte", lambda: send4(flip(s101, mid)), auth)
    lab.step("flipped IV byte", lambda: send4(flip(s101, 8 + 3)), auth)
    lab.step("flipped ICV byte", lambda: send4(flip(s101, len(s101) - 1)), auth)
    # A forged sequence number far ahead must not move the window (updated after the ICV).
    lab.step("flipped sequence number (forged jump ahead)",
             lambda: send4(flip(s101, 5, 0x40)), auth)
    check(gw.number(ESP_IN, "seq") == 100, "a forged packet moved seq to %s"
          % gw.field(ESP_IN, "seq"))
    lab.step("swapped ciphertext blocks",
             lambda: send4(s101[:24] + s101[40:56] + s101[24:40] + s101[56:]), auth)
    lab.next_seq[SPI_TUN_IN] = 101
    lab.ping("the genuine seq 101 after the forgeries")

    # -- SPI, encapsulation ---------------------------------------------------------------------
    unknown = scapy_sa(CBC, lab.keys["tun_in"], SPI_UNKNOWN, IP(src=PEER_WAN4, dst=GW_WAN4))
    inner = IP(src=PEER_IN4, dst=GW_IN4) / ICMP(type=0) / Raw(HOSTILE)
    wrong_spi = raw(scapy_encrypt(unknown, IP(raw(inner)), 200)[ESP])
    lab.step("wrong SPI", lambda: send4(wrong_spi), {"stats.drop_no_sa": 1})
    lab.step("the outbound SA's SPI sent to us",
             lambda: send4(struct.pack("!L", SPI_TUN_OUT) + wrong_spi[4:]),
             {"stats.drop_no_sa": 1})
    s200 = lab.tunnel_packet(200)
    lab.step("raw-ESP SA's packet over UDP 4500", lambda: peer.send_esp(4, s200, True),
             {ESP_IN + ".drops.encap_mismatch": 1, "stats.drop_encap_mismatch": 1})
    udp1 = raw(scapy_encrypt(lab.tx_udp, IP(raw(IP(src=PEER_WAN4, dst=GW_WAN4) / ICMP(type=0)
                                                / Raw(HOSTILE))), 1)[ESP])
    lab.step("NAT-T SA's packet as raw ESP", lambda: send4(udp1),
             {ESP_UDP + ".drops.encap_mismatch": 1, "stats.drop_encap_mismatch": 1})

    # -- truncation ------------------------------------------------------------------------------
    # Prefixes of a valid packet with a fresh sequence number. Under 4 bytes there is no SPI
    # (daemon-wide malformed); 4..7 bytes name the SA but hold no sequence number (malformed on
    # the SA); from 8 bytes on the ESP header parses and the body is too short for IV + ICV +
    # trailer (encr_size_errs).
    s300 = lab.tunnel_packet(300)
    for n in (1, 7, 8, 12, 20, 30, len(s300) - 1):
        if n < 4:
            want = {"stats.drop_malformed": 1}
        elif n < 8:
            want = {ESP_IN + ".drops.malformed": 1, "stats.drop_malformed": 1}
        elif n < 8 + CBC.iv + CBC.icv + 2:
            want = {ESP_IN + ".encr_size_errs": 1, ESP_IN + ".drops.bad_size": 1,
                    "stats.drop_bad_size": 1}
        else:  # one byte short: the ciphertext is no longer a block multiple
            want = {ESP_IN + ".encr_size_errs": 1, ESP_IN + ".drops.bad_size": 1,
                    "stats.drop_bad_size": 1}
        lab.step("raw IPv4 ESP truncated to %d bytes" % n, lambda n=n: send4(s300[:n]), want)
    # The same over IPv6 (the daemon rebuilds the IPv6 header) and over UDP 4500.
    v6pkt = IPv6(raw(IPv6(src=PEER_WAN6, dst=GW_WAN6) / ICMPv6EchoReply(data=HOSTILE)))
    s6 = raw(scapy_encrypt(lab.tx_v6, v6pkt, 50)[ESP])
    for n in (1, 7, 8, 20, 30):
        if n < 4:
            want = {"stats.drop_malformed": 1}
        elif n < 8:
            want = {ESP_V6 + ".drops.malformed": 1, "stats.drop_malformed": 1}
        else:
            want = {ESP_V6 + ".encr_size_errs": 1, ESP_V6 + ".drops.bad_size": 1,
                    "stats.drop_bad_size": 1}
        lab.step("raw IPv6 ESP truncated to %d bytes" % n,
                 lambda n=n: peer.send_esp(6, s6[:n], False), want)
    u = raw(scapy_encrypt(lab.tx_udp, IP(raw(IP(src=PEER_WAN4, dst=GW_WAN4) / ICMP(type=0)
                                             / Raw(HOSTILE))), 50)[ESP])
    for n in (1, 7, 8, 12, 20, 30):
        if n < 8:  # RFC 3948: a UDP 4500 datagram this short is no ESP packet at all
            want = {"stats.drop_not_esp": 1}
        else:
            want = {ESP_UDP + ".encr_size_errs": 1, ESP_UDP + ".drops.bad_size": 1,
                    "stats.drop_bad_size": 1}
        lab.step("UDP 4500 ESP truncated to %d bytes" % n,
                 lambda n=n: peer.send_esp(4, u[:n], True), want)

    # -- authentic packets whose inside is wrong ------------------------------------------------
    # Valid ESP of the tunnel SA (so the window takes their numbers), refused by the tun SA.
    tk = lab.keys["tun_in"]

    def tunnel_raw(seq, payload, nh):
        return seal_raw(CBC, tk, SPI_TUN_IN, seq, with_trailer(payload, nh, CBC.block))

    def inner4(src, dst, marker=HOSTILE):
        return raw(IP(src=src, dst=dst) / ICMP(type=0) / Raw(marker))

    on_tun = lambda reason: {TUN_IN + ".drops." + reason: 1,  # noqa: E731
                             "stats.drop_" + reason: 1}
    lab.step("inner source outside the tunnel's policy",
             lambda: send4(tunnel_raw(320, inner4("192.0.2.99", GW_IN4), 4)),
             on_tun("policy_mismatch"))
    lab.step("inner destination outside the tunnel's policy",
             lambda: send4(tunnel_raw(321, inner4(PEER_IN4, GW_WAN4), 4)),
             on_tun("policy_mismatch"))
    v6_inner = raw(IPv6(src="2001:db8:2::1", dst="2001:db8:1::1") / ICMPv6EchoReply(data=HOSTILE))
    lab.step("IPv6 inside an IPv4-policy tunnel",
             lambda: send4(tunnel_raw(322, v6_inner, 41)), on_tun("policy_mismatch"))
    lab.step("transport payload (next header ICMP) on a tunnel SA",
             lambda: send4(tunnel_raw(323, raw(ICMP(type=0) / Raw(HOSTILE)), 1)),
             on_tun("group_incomplete"))
    lab.step("garbage inner header",
             lambda: send4(tunnel_raw(324, b"\x45" + HOSTILE * 3, 4)), on_tun("malformed"))
    long_inner = bytearray(inner4(PEER_IN4, GW_IN4))
    long_inner[2:4] = struct.pack("!H", 1400)
    lab.step("inner IPv4 length beyond the decrypted data",
             lambda: send4(tunnel_raw(325, bytes(long_inner), 4)), on_tun("malformed"))
    lab.step("IPv6 inner header under next header 4 (IPIP)",
             lambda: send4(tunnel_raw(326, v6_inner, 4)), on_tun("malformed"))
    lab.step("outer source not the tunnel's peer (spoofed 192.0.2.99)",
             lambda: peer.send_ip(IP(src="192.0.2.99", dst=GW_WAN4, proto=PROTO_ESP)
                                  / Raw(tunnel_raw(327, inner4(PEER_IN4, GW_IN4), 4))),
             on_tun("tunnel_mismatch"))
    lab.step("the same inner packet from the real peer (accepted)",
             lambda: send4(tunnel_raw(328, inner4(PEER_IN4, GW_IN4, GOOD), 4)),
             lab.good(ESP_IN, 1, tunnel=True))
    lab.good_packets += 1

    # RFC 4303 2.7: TFC padding after the inner packet is cut off by the inner length.
    tfc_inner = inner4(PEER_IN4, GW_IN4, GOOD)
    rx_bytes = gw.tun_rx()[1]
    lab.step("TFC padding after the inner packet (accepted)",
             lambda: send4(tunnel_raw(329, tfc_inner + b"\0" * 100, 4)),
             lab.good(ESP_IN, 1, tunnel=True))
    lab.good_packets += 1
    check(gw.tun_rx()[1] - rx_bytes == len(tfc_inner),
          "TFC-padded packet wrote %d bytes into ipsec0, the inner packet has %d"
          % (gw.tun_rx()[1] - rx_bytes, len(tfc_inner)))
    # RFC 4303 2.6: a dummy packet (next header 59) is authentic, and silently discarded: not
    # an error, and nothing for ipsec0.
    dummy_ok = [ESP_NULL + ".packets", ESP_IN + ".packets", TUN_IN + ".packets",
                "stats.packets_in"]
    nk = lab.keys["null"]
    lab.step("dummy packet (next header 59) on a transport SA",
             lambda: send4(seal_raw(NULL, nk, SPI_NULL, 5, with_trailer(HOSTILE, 59, 4))),
             {}, allow=dummy_ok)
    lab.step("dummy packet (next header 59) on a tunnel SA",
             lambda: send4(tunnel_raw(330, b"", 59)), {}, allow=dummy_ok)

    # -- crafted trailers with valid ICVs --------------------------------------------------------
    pad_errs = lambda said: {said + ".encr_pad_errs": 1, said + ".drops.bad_padding": 1,  # noqa
                             "stats.drop_bad_padding": 1}
    icmp = raw(ICMP(type=0, id=1, seq=1) / Raw(HOSTILE + b"pad"))  # 19 bytes
    nk = lab.keys["null"]
    # NULL cipher, 4-byte alignment: 19 + 1 pad byte + 2 = 22 -> 3 pad bytes to 24.
    good_trailer = icmp + b"\x01\x02\x03" + b"\x03\x01"
    check(len(good_trailer) % 4 == 0, "test bug: trailer alignment")
    lab.step("NULL: padding bytes 1, 2, 9 (valid ICV)",
             lambda: send4(seal_raw(NULL, nk, SPI_NULL, 11, icmp + b"\x01\x02\x09\x03\x01")),
             pad_errs(ESP_NULL))
    lab.step("NULL: zero padding bytes (valid ICV)",
             lambda: send4(seal_raw(NULL, nk, SPI_NULL, 12, icmp + b"\x00\x00\x00\x03\x01")),
             pad_errs(ESP_NULL))
    lab.step("NULL: pad length beyond the payload (valid ICV)",
             lambda: send4(seal_raw(NULL, nk, SPI_NULL, 13, icmp + b"\x01\x02\x03\xfe\x01")),
             pad_errs(ESP_NULL))
    lab.step("NULL: 21-byte payload, not a multiple of 4 (valid ICV)",
             lambda: send4(seal_raw(NULL, nk, SPI_NULL, 14, icmp + b"\x01\x02")),
             {ESP_NULL + ".encr_size_errs": 1, ESP_NULL + ".drops.bad_size": 1,
              "stats.drop_bad_size": 1})
    good_null = raw(ICMP(type=0, id=1, seq=2) / Raw(GOOD + b"pad")) + b"\x01\x02\x03\x03\x01"
    lab.step("NULL: correct padding (accepted)",
             lambda: send4(seal_raw(NULL, nk, SPI_NULL, 15, good_null)), lab.good(ESP_NULL, 1))
    lab.good_packets += 1
    # The padding failures did not consume their sequence numbers: 11 is still new.
    lab.step("NULL: seq 11 with correct padding (accepted)",
             lambda: send4(seal_raw(NULL, nk, SPI_NULL, 11, good_null)), lab.good(ESP_NULL, 1))
    lab.good_packets += 1

    # AES-CBC: the tunnel SA, an IPv4 packet as payload, wrong padding, valid HMAC.
    tk = lab.keys["tun_in"]
    inner = raw(IP(src=PEER_IN4, dst=GW_IN4) / ICMP(type=0) / Raw(HOSTILE * 2))  # 44 bytes
    # 44 + 2 = 46 -> 2 pad bytes to 48.
    lab.step("AES-CBC: padding bytes 2, 1 (valid ICV)",
             lambda: send4(seal_raw(CBC, tk, SPI_TUN_IN, 310, inner + b"\x02\x01\x02\x04")),
             pad_errs(ESP_IN))
    lab.step("AES-CBC: 17-byte ciphertext, not a block multiple (valid ICV)",
             lambda: send4(seal_raw_size(CBC, tk, SPI_TUN_IN, 311, 17)),
             {ESP_IN + ".encr_size_errs": 1, ESP_IN + ".drops.bad_size": 1,
              "stats.drop_bad_size": 1})
    lab.step("AES-CBC: 40-byte ciphertext (valid ICV)",
             lambda: send4(seal_raw_size(CBC, tk, SPI_TUN_IN, 312, 40)),
             {ESP_IN + ".encr_size_errs": 1, ESP_IN + ".drops.bad_size": 1,
              "stats.drop_bad_size": 1})
    # 3DES over IPv6: 8-byte blocks; wrong padding and a 12-byte ciphertext, valid HMAC.
    vk = lab.keys["v6"]
    icmp6 = raw(IPv6(src=PEER_WAN6, dst=GW_WAN6) / ICMPv6EchoReply(data=HOSTILE + b"ab"))[40:]
    check(len(icmp6) == 18, "test bug: 18 bytes + 2 -> 4 pad bytes to 24")
    lab.step("3DES over IPv6: padding 1, 2, 3, 5 (valid ICV)",
             lambda: peer.send_esp(6, seal_raw(CBC6, vk, SPI_V6, 60, icmp6
                                               + b"\x01\x02\x03\x05\x04\x3a"), False),
             pad_errs(ESP_V6))
    lab.step("3DES over IPv6: 12-byte ciphertext (valid ICV)",
             lambda: peer.send_esp(6, seal_raw_size(CBC6, vk, SPI_V6, 61, 12), False),
             {ESP_V6 + ".encr_size_errs": 1, ESP_V6 + ".drops.bad_size": 1,
              "stats.drop_bad_size": 1})
    # AES-GCM over UDP 4500: wrong padding under a valid tag.
    gk = lab.keys["udp"]
    icmp_g = raw(ICMP(type=0) / Raw(HOSTILE + b"abcd"))  # 20 bytes, +2 = 22 -> 2 pad bytes
    lab.step("AES-GCM over UDP 4500: padding 7, 7 (valid tag)",
             lambda: peer.send_esp(4, seal_raw(GCM, gk, SPI_UDP, 60, icmp_g
                                               + b"\x07\x07\x02\x01"), True),
             pad_errs(ESP_UDP))
    lab.step("AES-GCM over UDP 4500: flipped ciphertext byte",
             lambda: peer.send_esp(4, flip(seal_raw(GCM, gk, SPI_UDP, 61, icmp_g
                                                    + b"\x01\x02\x02\x01"), 20), True),
             {ESP_UDP + ".auth_errs": 1, ESP_UDP + ".drops.auth_failed": 1,
              "stats.drop_auth_failed": 1})

    # -- not ESP at all ------------------------------------------------------------------------
    ike = b"\x00\x00\x00\x00" + struct.pack("!8s8sBBBBLL", os.urandom(8), b"\x00" * 8, 33,
                                            0x20, 34, 0x08, 0, 28)
    lab.step("IKE message (non-ESP marker) to UDP 4500", lambda: peer.send_udp(4, ike),
             {"stats.drop_not_esp": 1})
    lab.step("IKE message (non-ESP marker) to UDP 4500 over IPv6", lambda: peer.send_udp(6, ike),
             {"stats.drop_not_esp": 1})
    lab.step("NAT keepalive (0xff) to UDP 4500", lambda: peer.send_udp(4, b"\xff"),
             {"stats.drop_not_esp": 1})
    lab.step("NAT keepalive (0xff) to UDP 4500 over IPv6", lambda: peer.send_udp(6, b"\xff"),
             {"stats.drop_not_esp": 1})
    garbage = b"\xde\xad\xbe\xef\xfe\xed\xfa\xce" + HOSTILE + bytes(range(40))
    lab.step("garbage to UDP 4500", lambda: peer.send_udp(4, garbage), {"stats.drop_no_sa": 1})
    # AH names its SPI only inside a header whose length field fits the packet: random bytes
    # (length byte 0xad: 700 bytes) are malformed; a well-formed header with an unknown SPI
    # (next header IPIP, 24 bytes with a 96-bit ICV) is no SA's.
    ah_unknown = struct.pack("!BBHLL", 4, 4, 0, 0xDEADBEEF, 1) + bytes(12) + garbage
    for family in (4, 6):
        lab.step("garbage (bad length field) to raw IPv%d AH" % family,
                 lambda f=family: peer.send_protocol(f, PROTO_AH, garbage),
                 {"stats.drop_malformed": 1})
        for proto, pname, body in ((PROTO_ESP, "ESP", garbage), (PROTO_AH, "AH", ah_unknown),
                                   (PROTO_IPCOMP, "IPCOMP", garbage)):
            lab.step("garbage with an unknown SPI to raw IPv%d %s" % (family, pname),
                     lambda f=family, p=proto, b=body: peer.send_protocol(f, p, b),
                     {"stats.drop_no_sa": 1})
            lab.step("3 bytes of garbage to raw IPv%d %s" % (family, pname),
                     lambda f=family, p=proto: peer.send_protocol(f, p, garbage[:3]),
                     {"stats.drop_malformed": 1})
            lab.step("empty raw IPv%d %s" % (family, pname),
                     lambda f=family, p=proto: peer.send_protocol(f, p, b""),
                     {"stats.drop_malformed": 1})

    # -- a burst of everything at once ---------------------------------------------------------
    burst = []
    for i in range(50):
        burst.append(flip(lab.tunnel_packet(400 + i), 30 + i % 20))
        burst.append(garbage[: i % 30])
    short = sum(1 for i in range(50) if i % 30 < 4)  # no room for an SPI: malformed
    lab.step("burst: 50 forged packets and 50 garbage ones", lambda: [send4(b) for b in burst],
             {ESP_IN + ".auth_errs": 50, ESP_IN + ".drops.auth_failed": 50,
              "stats.drop_auth_failed": 50, "stats.drop_malformed": short,
              "stats.drop_no_sa": 50 - short})

    # -- still working -------------------------------------------------------------------------
    lab.next_seq[SPI_TUN_IN] = 500
    lab.ping("good traffic after", count=3)
    good6 = IPv6(raw(IPv6(src=PEER_WAN6, dst=GW_WAN6) / ICMPv6EchoReply(data=GOOD)))
    lab.step("good IPv6 packet on the 3DES SA",
             lambda: peer.send_esp(6, raw(scapy_encrypt(lab.tx_v6, good6, 62)[ESP]), False),
             lab.good(ESP_V6, 1))
    lab.good_packets += 1
    goodu = IP(src=PEER_WAN4, dst=GW_WAN4) / ICMP(type=0) / Raw(GOOD)
    lab.step("good UDP 4500 packet on the AES-GCM SA",
             lambda: peer.send_esp(4, raw(scapy_encrypt(lab.tx_udp, IP(raw(goodu)), 62)[ESP]),
                                   True),
             lab.good(ESP_UDP, 1))
    lab.good_packets += 1
    check(gw.alive(), "ipsec-mountd is not running at the end")


def seal_raw_size(suite, keys, spi, seq, ct_len):
    """header, IV, ct_len random ciphertext bytes, and a valid HMAC over all of it."""
    from esp_peer import esp_header, hmac_icv
    body = esp_header(spi, seq) + os.urandom(suite.iv) + os.urandom(ct_len)
    return body + hmac_icv(suite, keys, body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common_args(ap)
    ap.add_argument("--good-count", help="write the number of good packets to this file")
    args = ap.parse_args()
    gw = gateway_from(args)
    peer = Peer(args.iface)
    lab = Lab(gw, peer)
    start = time.monotonic()
    try:
        run(lab)
    except Failure as e:
        lab.failures.append("step %d: %s" % (lab.steps, e))
    finally:
        peer.close()
    for f in lab.failures:
        print("FAIL " + f, file=sys.stderr)
    status = 1 if lab.failures else 0
    if args.good_count:
        with open(args.good_count, "w") as f:
            f.write("%d\n" % lab.good_packets)
    log("# %d steps in %.1f s; %d good packets into ipsec0; gateway stats: %s"
        % (lab.steps, time.monotonic() - start, lab.good_packets,
           {k: v for k, v in gw.stats().items() if v}))
    return status


if __name__ == "__main__":
    sys.exit(main())
