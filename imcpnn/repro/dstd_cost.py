"""Cost of training the PNN: DSTD vs the exact sorted solution vs a generic ODE solver (arXiv 2412.09010v1
Fig. 3c-f and Table 1), plus the DSTD matmul floor and the VGG7 CNN (:func:`imcpnn.models.vgg7`).

What is measured, per model (RC-Spike at M = ``m_rc``, TTFS at M = ``m_ttfs``) and number of input spikes N_in:
one training step (forward + backward of one layer of ``n_out`` neurons on a mini-batch of ``batch`` samples,
input spike times uniform on [0, 1], gradient w.r.t. the weights) for

* ``exact``: :func:`imcpnn.functional.rc_spike` / ``ttfs`` with ``method="exact"``: one sort per sample, one gather
  and cumsum of the weight columns, closed-form interval kernels; O(B N_in N_out) time and memory;
* ``dstd``: the same functions with ``method="dstd"``; O(B M (N_in + N_out) + N_in N_out) memory;
* ``ode``: ``method="ode"`` (torchdiffeq dopri5, a step boundary at every input spike; backprop through the solver)
  at the tolerance whose error equals DSTD's (:func:`match_tolerance`);
* ``floor``: the dense GEMMs DSTD cannot avoid: f~ and g~ on M grid points (one [B*M, N_in] x [N_in, 2*N_out]
  product forward, and its weight-gradient product backward).

Time: median over ``repeats`` interleaved repeats (methods alternate inside every repeat); peak memory: see
:mod:`imcpnn.repro._measure`. Slow or big methods stop at a time cap or at a predicted memory cap; where they stop
is recorded. Every part (accuracy match, each sweep, the CNN) goes through :func:`imcpnn.repro.cache.compute_or_load`,
keyed by the config, the machine, the device and the code fingerprint; ``smoke`` always recomputes.

Run: ``python -m imcpnn.repro.dstd_cost --profile {smoke,quick,paper} [--rerun]`` (``make bench``) writes
``dstd_cost.json`` and the figures; ``--replot`` (``make figures-from-results``) only re-plots a stored file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from imcpnn import functional as F
from imcpnn.repro import cache
from imcpnn.repro._measure import memory_method, peak_memory, progress
from imcpnn.repro.dstd_cost_conv import conv_nets, run_conv, run_conv_layers
from imcpnn.repro.dstd_cost_summary import METHODS, fit_exponent, paper_comparison, summarize
from imcpnn.repro.dstd_cost_ttfs import run_ttfs_dense, run_ttfs_point
from imcpnn.repro.profiles import check_profile, machine_info, output_dirs, write_json

__all__ = [
    "BenchConfig",
    "config_for",
    "make_layer_step",
    "make_floor_step",
    "run_layer_sweep",
    "match_tolerance",
    "accuracy_match",
    "conv_nets",
    "run_conv",
    "run_conv_layers",
    "run_ttfs_dense",
    "run_ttfs_point",
    "run",
    "results_path",
    "main",
    "METHODS",
    "fit_exponent",
    "summarize",
    "paper_comparison",
]

SCHEMA_VERSION = 3


@dataclass(frozen=True)
class BenchConfig:
    """Sizes, caps and repeats of one benchmark profile."""

    n_in: tuple[int, ...]
    n_out: int = 1000
    batch: int = 100
    samples: int = 1000  # one epoch = samples / batch steps (the paper's 1000 samples, batch 100; Fig. 3c)
    m_rc: int = 10
    m_ttfs: int = 20
    e_rev: float = 2.0
    repeats: int = 3
    time_cap_s: float = 30.0  # a method stops after a step slower than this
    mem_cap_bytes: float = 6e9  # ... or when its next step is predicted to need more than this
    ode_n_in_max: int = 300
    ode_rtols: tuple[float, ...] = (1.0, 1e-1, 1e-2, 1e-4)
    accuracy_size: tuple[int, int, int] = (20, 200, 100)  # batch, n_in, n_out of the accuracy match
    target: tuple[int, int, int] = (1000, 1000, 100)  # n_in, n_out, batch of the paper's ratios (Fig. 3d)
    conv_batch: int = 32  # the VGG7 training step of the CNN issue: batch 32, M = 4
    conv_steps: int = 4
    conv_repeats: int = 3
    conv_width: float = 1.0  # width multiplier of imcpnn.models.vgg7
    conv_image: int = 32
    ttfs_conv_batch: int = 32  # the TTFS CNN of App. C (imcpnn.models.ttfs_cnn), its conv layers at M = m_ttfs
    ttfs_conv_width: float = 1.0
    ttfs_conv_image: int = 28
    ttfs_conv_repeats: int = 2
    ttfs_point: tuple[int, int, int] = (1000, 1000, 100)  # n_in, n_out, batch of the measured exact / DSTD TTFS point
    ttfs_point_repeats: int = 2
    threads: int = 1
    dtype: str = "float32"
    seed: int = 0
    models: tuple[str, ...] = ("rc_spike", "ttfs")
    extras: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))


def config_for(profile: str) -> BenchConfig:
    """The benchmark sizes of a run profile (``smoke`` seconds, ``quick`` a few minutes on 2 CPU cores, ``paper``:
    the GPU sizes, with the ODE solver measured up to N_in = 1000)."""
    check_profile(profile)
    if profile == "smoke":
        return BenchConfig(
            n_in=(16, 32, 64),
            n_out=32,
            batch=8,
            samples=16,
            repeats=2,
            time_cap_s=5.0,
            mem_cap_bytes=1e9,
            ode_n_in_max=32,
            ode_rtols=(1.0, 1e-2, 1e-4),
            accuracy_size=(4, 32, 8),
            target=(64, 32, 8),
            conv_batch=2,
            conv_steps=4,
            conv_repeats=1,
            conv_width=1 / 16,
            conv_image=16,
            ttfs_conv_batch=2,
            ttfs_conv_width=0.25,
            ttfs_conv_image=8,
            ttfs_conv_repeats=1,
            ttfs_point=(64, 32, 4),
            ttfs_point_repeats=1,
        )
    if profile == "quick":
        return BenchConfig(
            n_in=(100, 200, 300, 500, 1000, 2000, 3000),
            repeats=5,
            time_cap_s=25.0,
            mem_cap_bytes=6e9,
            ode_n_in_max=200,
            conv_batch=32,
            conv_repeats=3,
            ttfs_point=(1000, 1000, 10),
        )
    return BenchConfig(
        n_in=(100, 200, 300, 500, 1000, 1500, 2000, 3000, 4000, 6000),
        repeats=5,
        time_cap_s=600.0,
        mem_cap_bytes=14e9,
        ode_n_in_max=1000,
        conv_batch=32,
        conv_repeats=5,
        ttfs_conv_repeats=5,
        threads=0,
    )


# ----------------------------------------------------------------------------- one layer


def _ttfs_weight(n_out: int, n_in: int, e_rev: float, gen: torch.Generator) -> torch.Tensor:
    """App. C initialisation (Eq. 107, one layer, t_ref = 1, w* = 2): w ~ U[0, w_max / N_in]."""
    beta = 1.0 / e_rev
    w_max = -4.0 * 2.0 * math.log(1.0 - beta) / beta if beta < 1 else 8.0
    return torch.rand(n_out, n_in, generator=gen) * (w_max / n_in)


def _layer_data(model: str, n_in: int, n_out: int, batch: int, cfg: BenchConfig, device, seed: int):
    gen = torch.Generator().manual_seed(seed)
    dtype = getattr(torch, cfg.dtype)
    t = torch.rand(batch, n_in, generator=gen)
    if model == "rc_spike":
        bound = math.sqrt(6.0 / n_in)  # the He bound of imcpnn.layers.he_uniform_ (gain 1)
        w = (torch.rand(n_out, n_in, generator=gen) * 2 - 1) * bound
    else:
        w = _ttfs_weight(n_out, n_in, cfg.e_rev, gen)
    return t.to(device, dtype), w.to(device, dtype).requires_grad_(True)


def make_layer_step(
    model: str, method: str, t: torch.Tensor, w: torch.Tensor, cfg: BenchConfig, ode_options: dict | None = None
) -> Callable[[], None]:
    """One training step of a single layer: forward, a scalar loss on the output times, backward to ``w``."""
    steps = cfg.m_rc if model == "rc_spike" else cfg.m_ttfs
    kw: dict = {}
    if method == "dstd":
        kw = {"steps": steps, "offset": "random"}
    elif method == "ode":
        kw = {"ode_options": ode_options or {}}

    def step() -> None:
        w.grad = None
        if model == "rc_spike":
            out = F.rc_spike(t, w, cfg.e_rev, method=method, **kw)
        else:
            out = F.ttfs(t, w, cfg.e_rev, method=method, **kw)
            out = torch.where(torch.isfinite(out), out, torch.zeros_like(out))
        out.sum().backward()

    return step


def make_floor_step(n_in: int, n_out: int, batch: int, steps: int, device, dtype) -> Callable[[], None]:
    """The DSTD matmul floor: f~ and g~ for M grid points as ONE [B*M, N_in] x [N_in, 2 N_out] GEMM forward and
    its weight-gradient GEMM backward (2M matmuls of a [B, N_in] x [N_in, N_out] layer, batched)."""
    s = torch.rand(batch * steps, n_in, device=device, dtype=dtype)
    w = torch.randn(2 * n_out, n_in, device=device, dtype=dtype, requires_grad=True)

    def step() -> None:
        w.grad = None
        (s @ w.t()).sum().backward()

    return step


def _predict(ns: list[int], vals: list[float], n_next: int) -> float:
    """Power-law extrapolation from the measured points (exponent from the last two; 1 if only one)."""
    if not vals:
        return 0.0
    k = fit_exponent(ns[-2:], vals[-2:]) if len(vals) >= 2 else 1.0
    return vals[-1] * (n_next / ns[-1]) ** max(k or 1.0, 0.5)


def _skip_reason(m: str, n_in: int, cfg: BenchConfig, hist: tuple[list, list, list]) -> str | None:
    ns, ts, ms = hist
    if m == "ode" and n_in > cfg.ode_n_in_max:
        return f"N_in > ode_n_in_max = {cfg.ode_n_in_max} (profile limit)"
    if ts and _predict(ns, ts, n_in) > 4 * cfg.time_cap_s:
        return f"predicted step time {_predict(ns, ts, n_in):.0f} s > 4 x cap at N_in = {n_in}"
    if ms and _predict(ns, ms, n_in) > cfg.mem_cap_bytes:
        return f"predicted peak memory {_predict(ns, ms, n_in) / 1e9:.1f} GB > cap at N_in = {n_in}"
    return None


def run_layer_sweep(
    model: str, cfg: BenchConfig, device: torch.device, ode_options: dict | None = None, methods=METHODS
) -> dict:
    """Time and peak memory of one training step against N_in for every method (interleaved repeats)."""
    steps = cfg.m_rc if model == "rc_spike" else cfg.m_ttfs
    dtype = getattr(torch, cfg.dtype)
    records: list[dict] = []
    stopped: dict[str, str] = {}
    history: dict[str, tuple[list[int], list[float], list[float]]] = {m: ([], [], []) for m in (*methods, "floor")}
    bar = progress(len(cfg.n_in), f"{model} sweep")
    for n_in in cfg.n_in:
        active = []
        for m in methods:
            if m not in stopped and (why := _skip_reason(m, n_in, cfg, history[m])) is not None:
                stopped[m] = why
            if m not in stopped:
                active.append(m)
        t, w = _layer_data(model, n_in, cfg.n_out, cfg.batch, cfg, device, cfg.seed + n_in)
        fns = {m: make_layer_step(model, m, t, w, cfg, ode_options) for m in active}
        fns["floor"] = make_floor_step(n_in, cfg.n_out, cfg.batch, steps, device, dtype)
        times: dict[str, list[float]] = {m: [] for m in fns}
        mems: dict[str, list[float]] = {m: [] for m in fns}
        slow = {m for m in fns if history[m][1] and history[m][1][-1] > 2.0}
        for m in fns:  # warm-up (skipped for slow methods: one-off costs are negligible there)
            if m not in slow:
                fns[m]()
        for r in range(cfg.repeats):
            for m, fn in fns.items():
                if m in slow and r > 0:
                    continue
                dt, mem = peak_memory(fn, device)
                times[m].append(dt)
                if mem is not None:
                    mems[m].append(mem)
        for m in fns:
            tm = statistics.median(times[m])
            mem = min(mems[m]) if mems[m] else None
            history[m][0].append(n_in)
            history[m][1].append(tm)
            history[m][2].append(mem or 0.0)
            records.append(
                {
                    "model": model,
                    "method": m,
                    "n_in": n_in,
                    "n_out": cfg.n_out,
                    "batch": cfg.batch,
                    "steps": steps if m in ("dstd", "floor") else None,
                    "time_s": tm,
                    "times_s": times[m],
                    "epoch_s": tm * cfg.samples / cfg.batch,
                    "peak_bytes": mem,
                }
            )
            if m != "floor" and tm > cfg.time_cap_s and m not in stopped:
                stopped[m] = f"step time {tm:.1f} s > cap {cfg.time_cap_s:g} s at N_in = {n_in}"
        del fns, t, w
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return {"records": records, "stopped": stopped}


# ----------------------------------------------------------------------------- ODE at matched accuracy


def match_tolerance(ode: list[dict], dstd_err: float) -> dict:
    """The ODE tolerance whose error in v(1) equals DSTD's: log-log interpolation of rtol against error between
    the two tried tolerances that bracket ``dstd_err``. Where no pair brackets it, the nearest end is used and
    ``kind`` says so (``"ode more accurate at every tolerance"`` or ``"ode less accurate at every tolerance"``)."""
    if not ode:
        raise ValueError("ode must hold at least one {'rtol', 'err'} record")
    if not dstd_err > 0:
        raise ValueError(f"dstd_err must be > 0, got {dstd_err!r}")
    pts = sorted(ode, key=lambda r: r["rtol"])  # tight -> loose
    for a, b in zip(pts[:-1], pts[1:]):
        lo, hi = min(a["err"], b["err"]), max(a["err"], b["err"])
        if 0 < lo <= dstd_err <= hi and hi > lo:
            f = (math.log(dstd_err) - math.log(a["err"])) / (math.log(b["err"]) - math.log(a["err"]))
            rtol = math.exp(math.log(a["rtol"]) + f * (math.log(b["rtol"]) - math.log(a["rtol"])))
            return {"rtol": rtol, "atol": rtol / 100, "kind": "interpolated to equal error"}
    if all(r["err"] < dstd_err for r in pts):
        r = pts[-1]
        return {"rtol": r["rtol"], "atol": r["atol"], "kind": "ode more accurate at every tolerance"}
    r = pts[0]
    return {"rtol": r["rtol"], "atol": r["atol"], "kind": "ode less accurate at every tolerance"}


def accuracy_match(cfg: BenchConfig, device: torch.device) -> dict:
    """Mean |v(1) - v_exact(1)| (float64 reference) of DSTD (M = m_rc, random offset, seeded) and of the ODE solver
    at each rtol (atol = rtol / 100), float32, on ``accuracy_size``; then the matched tolerance
    (:func:`match_tolerance`) and the ODE error measured there."""
    b, n, o = cfg.accuracy_size
    gen = torch.Generator().manual_seed(cfg.seed + 7)
    t = torch.rand(b, n, generator=gen)
    w = (torch.rand(o, n, generator=gen) * 2 - 1) * math.sqrt(6.0 / n)
    ref = F.rc_spike_potential(t.double(), w.double(), cfg.e_rev, method="exact")
    t, w = t.to(device), w.to(device)

    def err_of(v: torch.Tensor) -> float:
        return float((v.double().cpu() - ref).abs().mean())

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 11)
        dstd_err = err_of(F.rc_spike_potential(t, w, cfg.e_rev, method="dstd", steps=cfg.m_rc, offset="random"))
    exact_err = err_of(F.rc_spike_potential(t, w, cfg.e_rev, method="exact"))
    ode = []
    for rtol in cfg.ode_rtols:
        opts = {"rtol": rtol, "atol": rtol / 100}
        ode.append({**opts, "err": err_of(F.rc_spike_potential(t, w, cfg.e_rev, method="ode", ode_options=opts))})
    match = match_tolerance(ode, dstd_err)
    opts = {"rtol": match["rtol"], "atol": match["atol"]}
    match["err"] = err_of(F.rc_spike_potential(t, w, cfg.e_rev, method="ode", ode_options=opts))
    return {
        "size": {"batch": b, "n_in": n, "n_out": o},
        "e_rev": cfg.e_rev,
        "steps": cfg.m_rc,
        "dstd_err": dstd_err,
        "exact_float32_err": exact_err,
        "ode": ode,
        "match": match,
        "ode_options": opts,
    }


def _load_average() -> float | None:
    """The 1-minute load average (other processes competing for the CPU while we measure), None where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def _machine_key() -> dict:
    m = machine_info()
    return {k: m[k] for k in ("platform", "processor", "cpu_count", "cuda")}


def run(
    profile: str = "quick",
    *,
    device: str | None = None,
    conv: bool = True,
    ttfs: bool = True,
    models=None,
    recompute: bool | None = None,
    cfg: BenchConfig | None = None,
) -> dict:
    """The whole benchmark of ``profile`` (each part computed or loaded through :mod:`imcpnn.repro.cache`);
    returns the payload (not written). ``recompute`` defaults to True in ``smoke``, else to the cache's rule.
    ``conv``: the VGG7 network and per-layer parts (and the TTFS CNN layers with ``ttfs``); ``ttfs``: the fused
    TTFS parts (dense fused / plain / floor, the exact / DSTD point)."""
    cfg = cfg or config_for(profile)
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if recompute is None and profile == "smoke":
        recompute = True
    base = {"schema": SCHEMA_VERSION, "bench": cfg.as_dict(), "device": str(dev), "machine": _machine_key()}

    def part(name: str, compute: Callable[[], dict], **extra) -> dict:
        def timed() -> dict:
            t0, load0 = time.perf_counter(), _load_average()
            res = compute()
            return {
                **res,
                "wall_s": time.perf_counter() - t0,
                "measured_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                "load_average": [load0, _load_average()],
            }

        config = {**base, "part": name, **extra}
        return cache.compute_or_load("dstd_cost", config, timed, profile=profile, device=dev.type, recompute=recompute)

    old_threads = torch.get_num_threads()
    if cfg.threads and dev.type == "cpu":
        torch.set_num_threads(cfg.threads)
    try:
        acc = part("accuracy_match", lambda: accuracy_match(cfg, dev))
        sweeps = {
            model: part(
                "sweep",
                lambda m=model: run_layer_sweep(m, cfg, dev, acc["ode_options"]),
                model=model,
                ode_options=acc["ode_options"],
            )
            for model in (models or cfg.models)
        }
        conv_res = part("conv", lambda: run_conv(cfg, dev)) if conv else None
        extra = {}
        if conv:
            extra["conv_layers"] = part("conv_layers", lambda: run_conv_layers("rc_spike", cfg, dev))
        if ttfs:
            extra["ttfs_dense"] = part("ttfs_dense", lambda: run_ttfs_dense(cfg, dev))
            extra["ttfs_point"] = part("ttfs_point", lambda: run_ttfs_point(cfg, dev))
            if conv:
                extra["ttfs_conv_layers"] = part("ttfs_conv_layers", lambda: run_conv_layers("ttfs", cfg, dev))
        payload = {
            "schema": SCHEMA_VERSION,
            "profile": profile,  # also in the written file (write_json); here for figure titles before writing
            "title": "DSTD cost: exact vs DSTD vs ODE solver (Fig. 3c-f, Table 1)",
            "config": cfg.as_dict(),
            "device": str(dev),
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else machine_info()["processor"],
            "threads": torch.get_num_threads(),
            "memory_method": memory_method(dev),
            "accuracy_match": acc,
            "sweeps": sweeps,
            "conv": conv_res,
            **extra,
            "summary": summarize(sweeps, cfg),
        }
        parts = [acc, *sweeps.values(), *([conv_res] if conv_res else []), *extra.values()]
        payload["wall_s"] = sum(p["wall_s"] for p in parts)
        loads = [x for p in parts for x in p.get("load_average", []) if x is not None]
        payload["load_average_max"] = max(loads) if loads else None
        payload["cpu_count"] = os.cpu_count()
        payload["paper_comparison"] = paper_comparison(payload)
    finally:
        torch.set_num_threads(old_threads)
    return payload


def results_path(profile: str) -> Path:
    return output_dirs(profile).results / "dstd_cost.json"


def main(argv: list[str] | None = None) -> int:
    from imcpnn.repro.dstd_cost_plots import plot
    from imcpnn.repro.dstd_cost_summary import format_summary

    parser = argparse.ArgumentParser(prog="python -m imcpnn.repro.dstd_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--rerun", action="store_true", help="measure again even where the cache holds a result")
    parser.add_argument("--replot", action="store_true", help="only re-plot the stored results file (labelled)")
    args = parser.parse_args(argv)
    dirs = output_dirs(args.profile)
    if args.replot:
        payload = json.loads(results_path(args.profile).read_text())
        plot(payload, dirs.figures, replot=True)
        print(f"RE-PLOTTED {results_path(args.profile)} (profile {payload.get('profile')}): {dirs.figures}/*_replot")
        return 0
    payload = run(args.profile, device=args.device, recompute=True if args.rerun else None)
    write_json(results_path(args.profile), payload, profile=args.profile)
    plot(payload, dirs.figures)
    print(format_summary(payload))
    print(f"wrote {results_path(args.profile)} and figures in {dirs.figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
