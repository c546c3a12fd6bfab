#!/usr/bin/env python3
"""Tables of one tests/bench/tunnel run: summarize.py OUTDIR (Markdown on stdout).

Reads OUTDIR/meta.json and OUTDIR/r<round>/<system>/: tcp1.json, tcp4.json, udp.json (iperf3 -J),
drops-udp (datagrams the receiving iperf3's socket dropped), ping.txt, cpu-tcp1 ("ticks_before ticks_after ticks_per_second" of the tunnel daemons, both
ends), and for ipsecfs-gcm-udp tcp1-readers.json, reader-<i> ("passes failed") and counters.txt.
"""
import json
import os
import re
import statistics
import sys

IPSECFS = ["ipsecfs-gcm-udp", "ipsecfs-gcm-esp", "ipsecfs-chacha-udp"]
OTHERS = ["wireguard-go", "strongswan-gcm"]


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def tcp_result(path):
    """(receiver Gbit/s, bytes received) of an iperf3 TCP run, or (None, None)."""
    j = load_json(path)
    try:
        rx = j["end"]["sum_received"]
        return rx["bits_per_second"] / 1e9, rx["bytes"]
    except (TypeError, KeyError):
        return None, None


def measure_dir(d):
    r = {}
    r["tcp1"], tcp1_bytes = tcp_result(os.path.join(d, "tcp1.json"))
    r["tcp4"], _ = tcp_result(os.path.join(d, "tcp4.json"))
    r["tcp1_readers"], _ = tcp_result(os.path.join(d, "tcp1-readers.json"))
    udp = load_json(os.path.join(d, "udp.json"))
    try:
        rx = udp["end"]["sum_received"]
        r["udp_pps"] = rx["bytes"] / 64 / rx["seconds"]
        r["udp_loss"] = udp["end"]["sum"].get("lost_percent")
        drops = read_text(os.path.join(d, "drops-udp"))
        if drops is not None and drops.strip().isdigit():
            r["udp_delivered_pps"] = (rx["bytes"] / 64 + int(drops)) / rx["seconds"]
    except (TypeError, KeyError, ZeroDivisionError):
        pass
    ping = read_text(os.path.join(d, "ping.txt")) or ""
    m = re.search(r"= [\d.]+/([\d.]+)/[\d.]+/", ping)
    if m:
        r["rtt"] = float(m.group(1))
    cpu = read_text(os.path.join(d, "cpu-tcp1"))
    if cpu and tcp1_bytes:
        t0, t1, hz = (int(x) for x in cpu.split())
        if t1 > t0:
            r["cpu_per_gb"] = (t1 - t0) / hz / (tcp1_bytes / 1e9)
    passes = []
    i = 1
    while True:
        t = read_text(os.path.join(d, f"reader-{i}"))
        if t is None:
            break
        passes.append([int(x) for x in t.split()])
        i += 1
    if passes:
        r["reader_passes"] = sum(p[0] for p in passes)
        r["reader_failed"] = sum(p[1] for p in passes)
        r["readers"] = len(passes)
    c = read_text(os.path.join(d, "counters.txt"))
    if c is not None:
        r["counters"] = c.strip() or "(no verdict)"
    return r


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def cell(vals, fmt):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "—"
    m = statistics.median(vals)
    if len(vals) == 1:
        return fmt(m)
    return f"{fmt(m)} ({fmt(min(vals))}–{fmt(max(vals))})"


def gbit(v):
    return f"{v:.2f}"


def kpps(v):
    return f"{v / 1000:.0f} k"


def ms(v):
    return f"{v:.3f}"


def one(v):
    return f"{v:.1f}"


def times(v):
    return f"{v:.2f}×"


def percent(v):
    return f"{v * 100:.1f} %"


def ratio_cell(a, b, target=None, lower_is_better=False, fmt=times):
    """Ratio of the medians of a and b (per round lists), the per-round ratios' range, and whether
    the target (a ratio) is met."""
    ma, mb = med(a), med(b)
    if ma is None or mb is None or mb == 0:
        return "—"
    r = ma / mb
    per_round = [x / y for x, y in zip(a, b) if x is not None and y is not None and y != 0]
    s = fmt(r)
    if len(per_round) > 1:
        s += f" ({fmt(min(per_round))}–{fmt(max(per_round))})"
    if target is not None:
        ok = r <= target if lower_is_better else r >= target
        s += " ✓" if ok else " ✗"
    return s


def summarize(res):
    meta = load_json(os.path.join(res, "meta.json")) or {}
    systems = meta.get("systems", [])
    rounds = meta.get("rounds", 1)
    data = {s: [measure_dir(os.path.join(res, f"r{i}", s)) for i in range(1, rounds + 1)]
            for s in systems}

    def col(s, key):
        return [r.get(key) for r in data.get(s, [{}] * rounds)] if s in data else [None] * rounds

    base_rtt = col("baseline", "rtt")
    for s in systems:
        for r, b in zip(data[s], base_rtt):
            if r.get("rtt") is not None and b is not None:
                r["added_rtt"] = r["rtt"] - b

    out = [f"tests/bench/tunnel: {rounds} interleaved round(s), TCP {meta.get('tcp_seconds')} s, "
           f"UDP {meta.get('udp_seconds')} s; median (min–max over rounds). UDP delivered: the "
           "datagrams that reached the receiving iperf3's socket (received plus dropped there, its "
           "buffer full), i.e. what the tunnel carried to the receiver.", ""]
    out.append("| system | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | UDP 64 B rx pps | UDP loss % "
               "| UDP 64 B delivered pps | ping avg ms | added RTT ms "
               "| daemons' CPU s per GB (TCP 1 stream) |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for s in systems:
        added = cell(col(s, "added_rtt"), ms) if s != "baseline" else "—"
        cpu = cell(col(s, "cpu_per_gb"), one) if s != "baseline" else "—"
        out.append(f"| {s} | {cell(col(s, 'tcp1'), gbit)} | {cell(col(s, 'tcp4'), gbit)} | "
                   f"{cell(col(s, 'udp_pps'), kpps)} | {cell(col(s, 'udp_loss'), one)} | "
                   f"{cell(col(s, 'udp_delivered_pps'), kpps)} | "
                   f"{cell(col(s, 'rtt'), ms)} | {added} | {cpu} |")

    ours = [s for s in IPSECFS if s in systems]
    others = [s for s in OTHERS if s in systems]
    if ours and others:
        out += ["", "ipsecfs against the others: ratio of the medians (per-round ratios min–max); "
                "✓/✗ = issue 7's target.", ""]
        out.append("| ipsecfs | against | TCP 1 stream (≥ 10×) | UDP 64 B pps (≥ 3×) | "
                   "UDP 64 B delivered pps (no target) | "
                   "added RTT, ipsecfs/other (≤ 0.5× wireguard-go) | CPU per GB, ipsecfs/other (≤ 0.2×) |")
        out.append("|---|---|---|---|---|---|---|")
        for s in ours:
            for o in others:
                rtt_target = 0.5 if o == "wireguard-go" else None
                out.append(f"| {s} | {o} | {ratio_cell(col(s, 'tcp1'), col(o, 'tcp1'), 10)} | "
                           f"{ratio_cell(col(s, 'udp_pps'), col(o, 'udp_pps'), 3)} | "
                           f"{ratio_cell(col(s, 'udp_delivered_pps'), col(o, 'udp_delivered_pps'))} | "
                           f"{ratio_cell(col(s, 'added_rtt'), col(o, 'added_rtt'), rtt_target, True)} | "
                           f"{ratio_cell(col(s, 'cpu_per_gb'), col(o, 'cpu_per_gb'), 0.2, True)} |")

    if "baseline" in systems:
        rows = [s for s in systems if s != "baseline"]
        if rows:
            out += ["", "TCP 1 stream as % of the bare veth (target for ipsecfs: ≥ 30 %):", ""]
            out.append("| system | % of baseline (per-round min–max) |")
            out.append("|---|---|")
            base = col("baseline", "tcp1")
            for s in rows:
                target = 0.3 if s in IPSECFS else None
                c = ratio_cell(col(s, "tcp1"), base, target, fmt=percent)
                out.append(f"| {s} | {c} |")

    if "ipsecfs-gcm-udp" in systems:
        rs = data["ipsecfs-gcm-udp"]
        if any("tcp1_readers" in r or "counters" in r for r in rs):
            tcp_s = meta.get("tcp_seconds") or 1
            out += ["", f"ipsecfs-gcm-udp, TCP 1 stream while {meta.get('readers', 4)} readers cat "
                    "ipsec_spi, ipsec_spi.json, metrics and every per-SA file of the left (sending) "
                    "daemon's mount in a loop (target: cost < 5 %, counters exact):", ""]
            out.append("| round | without readers Gbit/s | with readers Gbit/s | cost % | "
                       "reader passes/s (all readers) | failed passes | counters afterwards |")
            out.append("|---|---|---|---|---|---|---|")
            costs = []
            for i, r in enumerate(rs, 1):
                a, b = r.get("tcp1"), r.get("tcp1_readers")
                cost = (1 - b / a) * 100 if a and b is not None else None
                costs.append(cost)
                passes = r.get("reader_passes")
                out.append(f"| {i} | {'—' if a is None else gbit(a)} | {'—' if b is None else gbit(b)} | "
                           f"{'—' if cost is None else one(cost)} | "
                           f"{'—' if passes is None else f'{passes / tcp_s:.0f}'} | "
                           f"{r.get('reader_failed', '—')} | {r.get('counters', '—')} |")
            mc = med(costs)
            if mc is not None:
                out += ["", f"Median throughput cost of the readers: {mc:.1f} % "
                        f"({'✓' if mc < 5 else '✗'} target < 5 %)."]

    if meta.get("skipped"):
        out += ["", "Skipped (missing packages): " + "; ".join(meta["skipped"]) + "."]
    return "\n".join(out)


if __name__ == "__main__":
    print(summarize(sys.argv[1]))
