"""Summary and paper comparison of the cost benchmark (:mod:`imcpnn.repro.dstd_cost`; arXiv 2412.09010v1
Fig. 3c-f, Table 1): scaling exponents, ratios, the RC-Spike ratios at the paper's size, and the REPRODUCTION.md rows
with their verdicts (:func:`ratio_verdict`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from imcpnn.repro import paper as P
from imcpnn.repro.report import comparison_row

__all__ = [
    "METHODS",
    "TARGETS",
    "find_record",
    "fit_exponent",
    "floor_ratio",
    "summarize",
    "ratio_verdict",
    "paper_comparison",
    "fused_rows",
    "format_summary",
]

METHODS = ("exact", "dstd", "ode")


def fit_exponent(x, y) -> float | None:
    """Slope of log y against log x (least squares); None for fewer than two usable points."""
    pts = [(a, b) for a, b in zip(x, y, strict=True) if a and b and b > 0]
    if len(pts) < 2:
        return None
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(lx, ly, 1)[0])


def find_record(records: list[dict], model: str, method: str, n_in: int) -> dict | None:
    for r in records:
        if r["model"] == model and r["method"] == method and r["n_in"] == n_in:
            return r
    return None


def floor_ratio(dstd: dict, floor: dict) -> float:
    """DSTD step time over its matmul floor, each the FASTEST of its interleaved repeats: both steps are short
    (0.1 s at N_in = 1000), so on a shared CPU a median still carries other processes' time slices, and the
    minimum is the least-disturbed estimate of each side's own cost (the convention of Python's timeit)."""
    return min(dstd.get("times_s") or [dstd["time_s"]]) / min(floor.get("times_s") or [floor["time_s"]])


def _targets(rc: dict, cfg: Any) -> dict:
    """RC-Spike ratios at the paper's size ``cfg.target`` (N_in = N_out = 1000, batch 100; Fig. 3d)."""
    recs = rc["records"]
    n_t, o_t, b_t = cfg.target
    d, f = find_record(recs, "rc_spike", "dstd", n_t), find_record(recs, "rc_spike", "floor", n_t)
    e, o = find_record(recs, "rc_spike", "exact", n_t), find_record(recs, "rc_spike", "ode", n_t)
    tg: dict = {"n_in": n_t, "n_out": o_t, "batch": b_t, "steps": cfg.m_rc}
    if d and e:
        tg["exact_over_dstd_time"] = {"value": e["time_s"] / d["time_s"], "measured": True}
        if e["peak_bytes"] and d["peak_bytes"]:
            tg["exact_over_dstd_memory"] = {"value": e["peak_bytes"] / d["peak_bytes"], "measured": True}
    if d and f:
        tg["dstd_over_floor_time"] = {
            "value": floor_ratio(d, f),
            "measured": True,
            "note": "fastest of the interleaved repeats on each side (see floor_ratio)",
        }
    ode_recs = [r for r in recs if r["method"] == "ode"]
    if d and o:
        tg["ode_over_dstd_time"] = {"value": o["time_s"] / d["time_s"], "measured": True}
    elif d and len(ode_recs) >= 2:
        ns = [r["n_in"] for r in ode_recs]
        k = fit_exponent(ns, [r["time_s"] for r in ode_recs])
        last = ode_recs[-1]
        est = last["time_s"] * (n_t / last["n_in"]) ** k
        tg["ode_over_dstd_time"] = {
            "value": est / d["time_s"],
            "measured": False,
            "note": f"EXTRAPOLATION: ODE step time extrapolated from N_in = {ns} with the fitted exponent {k:.2f} "
            f"to {est:.3g} s at N_in = {n_t}",
        }
    return tg


def summarize(sweeps: dict, cfg: Any) -> dict:
    """Scaling exponents, ratios at every N_in, and the RC-Spike ratios at the paper's size ``cfg.target``."""
    out: dict = {"exponents": {}, "ratios": {}, "targets": {}}
    for model, sweep in sweeps.items():
        recs = sweep["records"]
        out["exponents"][model] = {}
        for m in (*METHODS, "floor"):
            rs = [r for r in recs if r["method"] == m]
            if rs:
                ns = [r["n_in"] for r in rs]
                out["exponents"][model][m] = {
                    "time": fit_exponent(ns, [r["time_s"] for r in rs]),
                    "memory": fit_exponent(ns, [r["peak_bytes"] for r in rs]),
                    "n_in": ns,
                }
        rows = []
        for n in sorted({r["n_in"] for r in recs}):
            d, f = find_record(recs, model, "dstd", n), find_record(recs, model, "floor", n)
            row = {"n_in": n}
            for m in ("exact", "ode"):
                x = find_record(recs, model, m, n)
                if x and d:
                    row[f"{m}_over_dstd_time"] = x["time_s"] / d["time_s"]
                    if x["peak_bytes"] and d["peak_bytes"]:
                        row[f"{m}_over_dstd_memory"] = x["peak_bytes"] / d["peak_bytes"]
            if d and f:
                row["dstd_over_floor_time"] = floor_ratio(d, f)
            rows.append(row)
        out["ratios"][model] = rows
    if sweeps.get("rc_spike") and (cfg.n_out, cfg.batch) == cfg.target[1:]:
        out["targets"] = _targets(sweeps["rc_spike"], cfg)
    return out


def ratio_verdict(ours: float, paper: float) -> str:
    """``reproduced`` within a factor 2 of the paper's ratio; ``partially`` where DSTD is cheaper (ratio > 1) but
    the ratio differs by more than a factor 2; ``not reproduced`` where DSTD is not cheaper."""
    if not ours > 1.0:
        return "not reproduced"
    return "reproduced" if paper / 2 <= ours <= paper * 2 else "partially"


def _odd_note(ours: float, paper: float) -> str:
    if ours > 2 * paper:
        return "larger than the paper's ratio: "
    if ours < paper / 2:
        return "smaller than the paper's ratio: "
    return ""


def paper_comparison(payload: dict) -> list[dict]:
    """Rows for REPRODUCTION.md (:func:`imcpnn.repro.report.comparison_row`), with verdicts by :func:`ratio_verdict`."""
    summ, cfg = payload["summary"], payload["config"]
    tg, ex = summ["targets"], summ["exponents"]
    load = payload.get("load_average_max")
    cpus = payload.get("cpu_count") or (payload.get("machine") or {}).get("cpu_count")
    busy = f", load average up to {load:g} on {cpus} CPUs while measuring" if load is not None and cpus else ""
    mach = f"{payload['device_name']} ({payload['device']}, {payload['threads']} thread(s){busy})"
    base = "our exact solver is a vectorised O(B N_in N_out) closed form, a stronger baseline than Table 1's"
    rows = []
    if tg:
        where = f"N_in = N_out = {tg['n_in']}, batch {tg['batch']}, M = {tg['steps']}, E = {cfg['e_rev']:g}, {mach}"
        for key, pkey, what in (
            ("exact_over_dstd_time", "rc_exact_over_dstd_time", "time per training step"),
            ("exact_over_dstd_memory", "rc_exact_over_dstd_memory", "peak memory"),
        ):
            if key in tg:
                ref, v = P.DSTD_COST[pkey], tg[key]["value"]
                rows.append(
                    comparison_row(
                        "Fig. 3d",
                        f"exact / DSTD {what}, RC-Spike",
                        f"~{ref.value:g}x",
                        f"{v:.3g}x",
                        ratio_verdict(v, float(ref.value)),
                        where,
                        ref.setting,
                        note=f"{_odd_note(v, float(ref.value))}{base}; CPU, not a V100",
                    )
                )
        if "dstd_over_floor_time" in tg:
            rows.append(
                comparison_row(
                    "(ours)",
                    "DSTD time / its matmul floor (2M GEMMs fwd + bwd), RC-Spike",
                    "n/a",
                    f"{tg['dstd_over_floor_time']['value']:.2f}x",
                    "beyond the paper",
                    where,
                    note="our implementation's target is <= 2x; notebook 02 checks it (quick / paper)",
                )
            )
        if "ode_over_dstd_time" in tg:
            o, acc = tg["ode_over_dstd_time"], payload["accuracy_match"]
            mt = acc["match"]
            tried = ", ".join(f"{r['rtol']:g}" for r in acc["ode"])
            how = (
                f"ODE rtol {mt['rtol']:.3g} ({mt['kind']}): ODE error {mt['err']:.2g} vs DSTD {acc['dstd_err']:.2g} "
                f"(tried rtol {tried})"
            )
            ours = f"{o['value']:.3g}x" + ("" if o["measured"] else " (EXTRAPOLATED, not measured)")
            rows.append(
                comparison_row(
                    "(ours)",
                    "ODE solver (torchdiffeq dopri5) / DSTD time at matched accuracy, RC-Spike",
                    "n/a",
                    ours,
                    "beyond the paper",
                    where,
                    note=f"{how}. {o.get('note', '')}".strip(),
                )
            )
        elif payload["sweeps"].get("rc_spike"):
            sw = payload["sweeps"]["rc_spike"]
            ns = [r["n_in"] for r in sw["records"] if r["method"] == "ode"]
            rows.append(
                comparison_row(
                    "(ours)",
                    "ODE solver (torchdiffeq dopri5) / DSTD time at matched accuracy, RC-Spike",
                    "n/a",
                    "not resolved at this budget",
                    "beyond the paper",
                    where,
                    note=f"ODE measured at N_in = {ns} only ({sw['stopped'].get('ode', '')}): too few points to "
                    f"extrapolate to N_in = {tg['n_in']}",
                )
            )
    rc = ex.get("rc_spike", {})
    if rc.get("exact") and rc.get("dstd") and rc["exact"]["time"] is not None and rc["dstd"]["time"] is not None:
        ns = f"N_in {rc['dstd']['n_in'][0]}-{rc['dstd']['n_in'][-1]}, N_out = {cfg['n_out']}, batch {cfg['batch']}"
        rows.append(
            comparison_row(
                "Table 1",
                "RC-Spike exact solver: time exponent in N_in",
                P.DSTD_COST["complexity_rc"],
                f"{rc['exact']['time']:.2f}",
                f"not comparable (different setting: {base})",
                f"{ns}, {mach}",
            )
        )
        k = rc["dstd"]["time"]
        rows.append(
            comparison_row(
                "Table 1",
                "RC-Spike DSTD: time exponent in N_in (Table 1: linear)",
                P.DSTD_COST["complexity_rc"],
                f"{k:.2f}",
                "reproduced" if k < 1.5 else "not reproduced",
                f"{ns}, M = {cfg['m_rc']}, {mach}",
                note="reproduced = closer to linear than to quadratic (exponent < 1.5); small N_in is overhead-bound",
            )
        )
    ttfs = [r for r in summ["ratios"].get("ttfs", []) if "exact_over_dstd_time" in r]
    if ttfs:
        r = ttfs[-1]
        stop = payload["sweeps"]["ttfs"]["stopped"].get("exact")
        why = f"exact TTFS stopped: {stop}" if stop else "the largest N_in of the sweep"
        where = (
            f"N_in = {r['n_in']} ONLY ({why}), N_out = {cfg['n_out']}, batch {cfg['batch']}, "
            f"M = {cfg['m_ttfs']}, {mach}"
        )
        for key, pkey, what in (
            ("exact_over_dstd_time", "ttfs_exact_over_dstd_time", "time"),
            ("exact_over_dstd_memory", "ttfs_exact_over_dstd_memory", "peak memory"),
        ):
            if key in r:
                ref, v = P.DSTD_COST[pkey], r[key]
                rows.append(
                    comparison_row(
                        "Fig. 3f",
                        f"TTFS exact / DSTD {what} at N_in = {r['n_in']}",
                        f"~{ref.value:g}x",
                        f"{v:.3g}x",
                        ratio_verdict(v, float(ref.value)),
                        where,
                        ref.setting,
                        note=f"{_odd_note(v, float(ref.value))}{base} (TTFS: O(N_in^3 N_out) in Table 1); CPU",
                    )
                )
    rows += fused_rows(payload, mach, base)
    return rows


# targets of our own implementation (the CNN and TTFS issues), stated before measuring
TARGETS = {"conv_layer_over_floor": 1.3, "vgg7_over_ann": 6.0, "ttfs_over_floor": 2.0}


def _target(v: float, limit: float) -> str:
    return f"{v:.2f}x (target <= {limit:g}x: {'met' if v <= limit else 'MISSED'})"


def _mib(x: float | None) -> str:
    return "n/a" if not x else f"{x / 2**20:.0f} MiB"


def fused_rows(payload: dict, mach: str, base: str) -> list[dict]:
    """REPRODUCTION.md rows of the conv / fused parts: VGG7 network and per-layer, TTFS fused / floor, and the
    exact / DSTD TTFS point (Fig. 3f) measured at its own N_in."""
    rows = []
    c = payload.get("conv")
    if c:
        r = c["results"]
        where = f"{c['architecture']}, M = {c['steps']}, batch {c['batch']}, training step (fwd + bwd), {mach}"
        rows.append(
            comparison_row(
                "(ours)",
                "VGG7 DSTD / plain ANN time per training step",
                "n/a",
                _target(c["dstd_over_ann"], TARGETS["vgg7_over_ann"]),
                "beyond the paper",
                where,
                note=f"the network floor (the ANN with 2x channels on M x the batch: DSTD's unavoidable convolutions) "
                f"is {c.get('floor_over_ann', float('nan')):.2f}x the ANN step; DSTD / floor "
                f"{c['dstd_over_floor']:.2f}x. Peak memory DSTD {_mib(r['dstd']['peak_bytes'])} vs ANN "
                f"{_mib(r['ann']['peak_bytes'])} (floor {_mib(r['floor']['peak_bytes'])})",
            )
        )
    for key, label in (("conv_layers", "RC-Spike conv"), ("ttfs_conv_layers", "TTFS conv")):
        cl = payload.get(key)
        if not cl:
            continue
        limit = TARGETS["conv_layer_over_floor"] if key == "conv_layers" else TARGETS["ttfs_over_floor"]
        per = "; ".join(
            f"L{x['layer']} {x['in_channels']}->{x['out_channels']}@{x['size']}: fused "
            f"{x['fused_over_floor']:.2f}x, plain {x['plain_over_floor']:.2f}x"
            for x in cl["layers"]
        )
        rows.append(
            comparison_row(
                "(ours)",
                f"{label} DSTD layer time / its floor (worst layer, fused)",
                "n/a",
                _target(cl["max_fused_over_floor"], limit),
                "beyond the paper",
                f"{cl['network']}, each conv layer alone, batch {cl['batch']}, M = {cl['steps']}, E = {cl['e_rev']:g}, "
                f"{mach}",
                note=f"floor: conv2d of S [B*M, C, H, W] with [beta*w ; w] fwd + bwd; plain = the unfused autograd "
                f"implementation, measured in the same run. {per}",
            )
        )
    td = payload.get("ttfs_dense")
    if td:
        r = td["results"]
        rows.append(
            comparison_row(
                "(ours)",
                "TTFS dense DSTD layer time / its matmul floor (fused)",
                "n/a",
                _target(td["fused_over_floor"], TARGETS["ttfs_over_floor"]),
                "beyond the paper",
                f"N_in = {td['n_in']}, N_out = {td['n_out']}, batch {td['batch']}, M = {td['steps']}, "
                f"E = {td['e_rev']:g}, "
                f"{mach}",
                note=f"plain-autograd DSTD: {td['plain_over_floor']:.2f}x the floor ({td['plain_over_fused']:.2f}x the "
                f"fused layer); peak memory fused {_mib(r['fused']['peak_bytes'])}, plain "
                f"{_mib(r['plain']['peak_bytes'])}; "
                f"{td['fired_fraction']:.0%} of the neurons fire",
            )
        )
    tp = payload.get("ttfs_point")
    if tp:
        where = (
            f"N_in = {tp['n_in']}, N_out = {tp['n_out']}, batch {tp['batch']}, M = {tp['steps']}, "
            f"E = {tp['e_rev']:g}, MEASURED at this single point, {mach}"
        )
        small = tp["batch"] < 100
        why = (
            f"batch {tp['batch']} instead of 100 (the exact solver's B N_in N_out tensors); DSTD's "
            "weight-sized buffers do not shrink with the batch, so this ratio is a lower bound of the batch-100 "
            "one; "
        )
        for key, pkey, what in (
            ("exact_over_dstd_time", "ttfs_exact_over_dstd_time", "time"),
            ("exact_over_dstd_memory", "ttfs_exact_over_dstd_memory", "peak memory"),
        ):
            if tp.get(key):
                ref, v = P.DSTD_COST[pkey], tp[key]
                rows.append(
                    comparison_row(
                        "Fig. 3f",
                        f"TTFS exact / DSTD {what} at N_in = {tp['n_in']} (measured)",
                        f"~{ref.value:g}x",
                        f"{v:.3g}x",
                        ratio_verdict(v, float(ref.value)),
                        where,
                        ref.setting,
                        note=f"{why if small else ''}{_odd_note(v, float(ref.value))}{base}; CPU",
                    )
                )
    return rows


def format_summary(payload: dict) -> str:
    """A few lines: the stated targets, the matched ODE tolerance and the exponents."""
    lines = [
        f"device: {payload['device_name']} ({payload['device']}, {payload['threads']} thread(s)); "
        f"memory: {payload['memory_method']}"
    ]
    for k, v in payload["summary"]["targets"].items():
        if isinstance(v, dict):
            label = "" if v.get("measured", True) else f" [EXTRAPOLATED, not measured; nothing checks it] {v['note']}"
            lines.append(f"  {k} at N_in = {payload['summary']['targets']['n_in']}: {v['value']:.3g}{label}")
    acc = payload["accuracy_match"]
    lines.append(f"  ODE tolerance at DSTD's accuracy: {acc['match']}")
    for model, ex in payload["summary"]["exponents"].items():
        for m, e in ex.items():
            tx = "n/a" if e["time"] is None else f"{e['time']:.2f}"
            mx = "n/a" if e["memory"] is None else f"{e['memory']:.2f}"
            lines.append(f"  {model:8s} {m:5s} time ~ N^{tx}, memory ~ N^{mx}  (N_in {e['n_in'][0]}..{e['n_in'][-1]})")
    if payload.get("conv"):
        c = payload["conv"]
        lines.append(
            f"  conv: DSTD {c['results']['dstd']['per_image_s'] * 1e3:.1f} ms/image, ANN "
            f"{c['results']['ann']['per_image_s'] * 1e3:.1f} ms/image, DSTD/ANN {c['dstd_over_ann']:.2f}, "
            f"DSTD/floor {c['dstd_over_floor']:.2f}"
        )
    for key in ("conv_layers", "ttfs_conv_layers"):
        for x in (payload.get(key) or {}).get("layers", []):
            lines.append(
                f"  {key} L{x['layer']}: fused/floor {x['fused_over_floor']:.2f}, plain/floor "
                f"{x['plain_over_floor']:.2f}"
            )
    if payload.get("ttfs_dense"):
        td = payload["ttfs_dense"]
        lines.append(
            f"  ttfs dense: fused/floor {td['fused_over_floor']:.2f}, plain/floor {td['plain_over_floor']:.2f}"
        )
    if payload.get("ttfs_point"):
        tp = payload["ttfs_point"]
        mem = tp["exact_over_dstd_memory"]
        lines.append(
            f"  ttfs exact/DSTD at N_in = {tp['n_in']} (batch {tp['batch']}): time "
            f"{tp['exact_over_dstd_time']:.3g}x, memory {'n/a' if mem is None else f'{mem:.3g}x'}"
        )
    return "\n".join(lines)
