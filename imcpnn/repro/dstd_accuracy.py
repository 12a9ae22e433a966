"""DSTD discretisation error against the exact solution (PAPER.md §2.3, §3.1; Fig. 2c-d, 3a-b).

Theorem 1: |v(1) - v^(1)| = O(M^-2 |E|^-1). These helpers build the paper's untrained random layer and measure
the mean absolute error over neurons and samples, batched so that memory stays bounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from tqdm.auto import tqdm

from imcpnn import functional as F


def random_layer(
    batch: int, n_in: int, n_out: int, *, weight_std: float = 2.0, seed: int = 0, dtype=torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Input spikes uniform on [0, 1] and Gaussian weights with std ``weight_std / sqrt(n_in)`` (our choice;
    the paper says only "random weights"), so that the ideal v(1) has a spread of order one."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(batch, n_in, generator=g, dtype=dtype)
    w = torch.randn(n_out, n_in, generator=g, dtype=dtype) * (weight_std / math.sqrt(n_in))
    return t, w


def _chunks(n: int, size: int) -> Iterable[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def dstd_error_grid(
    t: torch.Tensor,
    w: torch.Tensor,
    e_values: Iterable[float],
    m_values: Iterable[int],
    *,
    offset: str | float = "fixed",
    chunk: int = 100,
    progress: bool = True,
) -> np.ndarray:
    """Mean |v_exact(1) - v_dstd(1)| over samples and neurons, as an array [len(e_values), len(m_values)]."""
    e_values, m_values = list(e_values), list(m_values)
    err = np.zeros((len(e_values), len(m_values)))
    bar = tqdm(total=len(e_values) * len(m_values), desc="DSTD error", disable=not progress)
    for i, e in enumerate(e_values):
        exact = torch.cat([F.rc_spike_potential(t[s], w, e) for s in _chunks(len(t), chunk)])
        for j, m in enumerate(m_values):
            approx = torch.cat(
                [
                    F.rc_spike_potential(t[s], w, e, method="dstd", steps=m, offset=offset)
                    for s in _chunks(len(t), chunk)
                ]
            )
            err[i, j] = (exact - approx).abs().mean().item()
            bar.update()
    bar.close()
    return err


def loglog_slope(x: Iterable[float], y: Iterable[float]) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(np.asarray(list(x), float)), np.log(np.asarray(list(y), float)), 1)[0])
