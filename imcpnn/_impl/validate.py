"""Argument checking shared by the solvers: every bad input becomes a ``ValueError`` that names the
argument and the allowed range."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

METHODS = ("exact", "ode", "dstd")
ERev = float | Sequence[float]


def reversal_potentials(e_rev: ERev) -> tuple[float, float]:
    """Normalise ``e_rev`` to the pair ``(E_pos, E_neg)`` with ``E_pos > 0 > E_neg`` (PAPER.md Eq. 7, 11).

    A single positive number ``E`` means ``(E, -E)``; ``math.inf`` is the ideal limit ``(inf, -inf)``.
    """
    if isinstance(e_rev, torch.Tensor):
        e_rev = e_rev.tolist()
    if isinstance(e_rev, (int, float)):
        e = float(e_rev)
        if math.isnan(e) or e <= 0:
            raise ValueError(f"e_rev must be a positive number (|E_rev| in (0, inf]), got {e_rev!r}")
        return e, -e
    try:
        e_pos, e_neg = (float(x) for x in e_rev)
    except (TypeError, ValueError):
        raise ValueError(
            f"e_rev must be a positive float E or a pair (E_pos, E_neg) with E_pos > 0 > E_neg, got {e_rev!r}"
        ) from None
    if math.isnan(e_pos) or e_pos <= 0:
        raise ValueError(f"e_rev: E_pos must lie in (0, inf], got {e_pos!r}")
    if math.isnan(e_neg) or e_neg >= 0:
        raise ValueError(f"e_rev: E_neg must lie in [-inf, 0), got {e_neg!r}")
    return e_pos, e_neg


def is_ideal(e_pos: float, e_neg: float) -> bool:
    return math.isinf(e_pos) and math.isinf(e_neg)


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def check_steps(steps: int | None) -> int:
    if steps is None:
        raise ValueError(
            "steps (the number of DSTD grid points M) is required for method='dstd'; use steps >= 2"
        )
    if isinstance(steps, bool) or int(steps) != steps or steps < 2:
        raise ValueError(f"steps must be an integer >= 2 for method='dstd', got {steps!r}")
    return int(steps)


def check_offset(offset: str | float, dt: float) -> str | float:
    """``offset`` is ``"random"``, ``"fixed"`` (0) or a float in [0, dt) (PAPER.md Eq. 35)."""
    if isinstance(offset, str):
        if offset not in ("random", "fixed"):
            raise ValueError(f"offset must be 'random', 'fixed' or a float in [0, {dt:g}), got {offset!r}")
        return offset
    value = float(offset)
    if not (0.0 <= value < dt):
        raise ValueError(f"offset must lie in [0, dt) = [0, {dt:g}) for this grid, got {offset!r}")
    return value


def check_layer_inputs(t_in: torch.Tensor, weight: torch.Tensor) -> None:
    """Shapes ``t_in`` [batch, n_in] and ``weight`` [n_out, n_in], floating point, no NaN."""
    if not isinstance(t_in, torch.Tensor) or not isinstance(weight, torch.Tensor):
        raise ValueError("t_in and weight must be torch.Tensors")
    if t_in.dim() != 2:
        raise ValueError(f"t_in must have shape [batch, n_in], got shape {tuple(t_in.shape)}")
    if weight.dim() != 2:
        raise ValueError(f"weight must have shape [n_out, n_in], got shape {tuple(weight.shape)}")
    if t_in.shape[1] != weight.shape[1]:
        raise ValueError(
            f"shape mismatch: t_in has n_in={t_in.shape[1]} inputs but weight has {weight.shape[1]} columns "
            "(weight must be [n_out, n_in])"
        )
    if not t_in.is_floating_point() or not weight.is_floating_point():
        raise ValueError("t_in and weight must be floating-point tensors (float32 or float64)")
    if t_in.dtype != weight.dtype:
        raise ValueError(f"t_in and weight must share a dtype, got {t_in.dtype} and {weight.dtype}")
    if t_in.device != weight.device:
        raise ValueError(f"t_in and weight must be on one device, got {t_in.device} and {weight.device}")
    check_no_nan(t_in, "t_in")
    check_no_nan(weight, "weight")
    if torch.isinf(weight).any():
        raise ValueError("weight must be finite")


def check_no_nan(x: torch.Tensor, name: str) -> None:
    if torch.isnan(x).any():
        raise ValueError(f"{name} contains NaN; spike times must be numbers in the allowed range")


def check_unit_interval(t: torch.Tensor, name: str = "t_in") -> None:
    """RC-Spike inputs are spike times within the accumulation phase, [0, 1]."""
    if (t < 0).any() or (t > 1).any():
        lo, hi = float(t.min()), float(t.max())
        raise ValueError(f"{name} must lie in [0, 1] (RC-Spike phase), got values in [{lo:g}, {hi:g}]")


def check_nonnegative_times(t: torch.Tensor, name: str = "t_in") -> None:
    """TTFS inputs are spike times >= 0; ``+inf`` marks an input that never spikes."""
    if (t < 0).any():
        raise ValueError(f"{name} must be >= 0 (or +inf for no spike), got min {float(t.min()):g}")
