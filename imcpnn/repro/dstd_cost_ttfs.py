"""TTFS parts of the cost benchmark (:mod:`imcpnn.repro.dstd_cost`; arXiv 2412.09010v1 Fig. 3e-f, Table 1).

* :func:`run_ttfs_dense`: one dense TTFS layer at the paper's size (``cfg.target``: N_in = N_out = 1000, batch 100)
  and M = ``m_ttfs``: the fused DSTD layer (:func:`imcpnn.functional.ttfs`, :mod:`imcpnn._impl.dstd_fused`), the
  plain-autograd reference (:func:`imcpnn.reference.ttfs`) and the matmul floor (the f~, g~ GEMM on M grid points
  forward and its weight-gradient GEMM backward, as in the sweeps).
* :func:`run_ttfs_point`: the exact solver against fused DSTD at ONE dedicated point ``cfg.ttfs_point`` = (N_in,
  N_out, batch), measured, not extrapolated. The exact TTFS solver keeps ~35 tensors of B N_in N_out floats (2.8 GB
  at N_in = 200, batch 100), so on a CPU the quick profile measures N_in = 1000 at a smaller batch; both solvers
  then pay less for the batch-sized tensors while DSTD keeps its weight-sized ones, so the ratios there are a
  LOWER bound of the ratios at batch 100 (memory: exact ~ B, DSTD ~ a B + c).

Ratios use the fastest of the interleaved repeats of each side (:func:`imcpnn.repro._measure.interleaved`).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from imcpnn import functional as F
from imcpnn import reference as dstd
from imcpnn.repro._measure import interleaved, peak_memory

__all__ = ["ttfs_layer_data", "run_ttfs_dense", "run_ttfs_point"]


def ttfs_layer_data(n_in: int, n_out: int, batch: int, e_rev: float, device, dtype, seed: int):
    """Input spike times U[0, 1] and App. C weights (Eq. 107, one layer, w* = 2): w ~ U[0, w_max / N_in]."""
    gen = torch.Generator().manual_seed(seed)
    beta = 1.0 / e_rev
    w_max = -4.0 * 2.0 * math.log(1.0 - beta) / beta if beta < 1 else 8.0
    t = torch.rand(batch, n_in, generator=gen)
    w = torch.rand(n_out, n_in, generator=gen) * (w_max / n_in)
    return t.to(device, dtype), w.to(device, dtype).requires_grad_(True)


def _step(fn, w: torch.Tensor):
    def step() -> None:
        w.grad = None
        out = fn()
        torch.where(torch.isfinite(out), out, torch.zeros_like(out)).sum().backward()

    return step


def run_ttfs_dense(cfg: Any, device: torch.device) -> dict:
    """Fused vs plain DSTD vs floor, one dense TTFS layer at ``cfg.target`` and M = ``cfg.m_ttfs``."""
    n_in, n_out, batch = cfg.target
    m, e = cfg.m_ttfs, cfg.e_rev
    dtype = getattr(torch, cfg.dtype)
    t, w = ttfs_layer_data(n_in, n_out, batch, e, device, dtype, cfg.seed + 101)

    def plain() -> torch.Tensor:
        off = torch.rand((), device=device, dtype=dtype) / (m - 1)
        return dstd.ttfs(t, w, F.beta_weight(w, e), 1.0, m, off)

    s = torch.rand(batch * m, n_in, device=device, dtype=dtype)
    w2 = torch.randn(2 * n_out, n_in, device=device, dtype=dtype, requires_grad=True)

    def floor() -> None:
        w2.grad = None
        (s @ w2.t()).sum().backward()

    fns = {
        "fused": _step(lambda: F.ttfs(t, w, e, method="dstd", steps=m, offset="random"), w),
        "plain": _step(plain, w),
        "floor": floor,
    }
    res = interleaved(fns, cfg.repeats, device, "TTFS dense fused / plain / floor")
    fired = float(torch.isfinite(F.ttfs(t, w.detach(), e, method="dstd", steps=m, offset="fixed")).double().mean())
    return {
        "n_in": n_in,
        "n_out": n_out,
        "batch": batch,
        "steps": m,
        "e_rev": e,
        "results": res,
        "fired_fraction": fired,
        "fused_over_floor": res["fused"]["time_s"] / res["floor"]["time_s"],
        "plain_over_floor": res["plain"]["time_s"] / res["floor"]["time_s"],
        "plain_over_fused": res["plain"]["time_s"] / res["fused"]["time_s"],
        "timing": "fastest of the interleaved repeats of each side",
    }


def run_ttfs_point(cfg: Any, device: torch.device) -> dict:
    """Exact vs fused DSTD TTFS at the single point ``cfg.ttfs_point`` (time and peak memory, measured). The exact
    solver runs ``cfg.ttfs_point_repeats`` times (each at most a few tens of seconds on a CPU), DSTD ``cfg.repeats``."""
    n_in, n_out, batch = cfg.ttfs_point
    m, e = cfg.m_ttfs, cfg.e_rev
    dtype = getattr(torch, cfg.dtype)
    t, w = ttfs_layer_data(n_in, n_out, batch, e, device, dtype, cfg.seed + 202)
    exact = _step(lambda: F.ttfs(t, w, e, method="exact"), w)
    dstd_step = _step(lambda: F.ttfs(t, w, e, method="dstd", steps=m, offset="random"), w)
    res = interleaved({"dstd": dstd_step}, cfg.repeats, device, "TTFS point: DSTD")
    ex_times, ex_mems = [], []
    for _ in range(cfg.ttfs_point_repeats):  # no warm-up: one-off costs are negligible next to its step
        dt, mem = peak_memory(exact, device)
        ex_times.append(dt)
        if mem is not None:
            ex_mems.append(mem)
    res["exact"] = {
        "times_s": ex_times,
        "time_s": min(ex_times),
        "median_s": sorted(ex_times)[len(ex_times) // 2],
        "peak_bytes": min(ex_mems) if ex_mems else None,
    }
    d, x = res["dstd"], res["exact"]
    return {
        "n_in": n_in,
        "n_out": n_out,
        "batch": batch,
        "steps": m,
        "e_rev": e,
        "results": res,
        "exact_over_dstd_time": x["time_s"] / d["time_s"],
        "exact_over_dstd_memory": x["peak_bytes"] / d["peak_bytes"] if x["peak_bytes"] and d["peak_bytes"] else None,
        "timing": "fastest of the repeats of each side",
    }
