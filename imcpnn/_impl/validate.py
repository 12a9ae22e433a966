"""Argument checking shared by the solvers: every bad input becomes a ``ValueError`` that names the
argument and the allowed range."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

ERev = float | Sequence[float]
FLOAT_DTYPES = (torch.float32, torch.float64)
E_MIN = 1e-6  # below this |E| beta*w overflows float32 (and no circuit has a reversal potential of a microvolt)


def reversal_potentials(e_rev: ERev) -> tuple[float, float]:
    """Normalise ``e_rev`` to the pair ``(E_pos, E_neg)``, E_pos > 0 > E_neg (arXiv 2412.09010v1 Eq. 7, 11).

    A single positive number ``E`` means ``(E, -E)``; ``math.inf`` is the ideal limit ``(inf, -inf)``.
    """
    if isinstance(e_rev, torch.Tensor):
        e_rev = e_rev.tolist()
    if isinstance(e_rev, bool):
        raise ValueError(f"e_rev must be a positive number or a pair (E_pos, E_neg), got {e_rev!r}")
    if isinstance(e_rev, (int, float)):
        e = float(e_rev)
        if math.isnan(e) or e < E_MIN:
            raise ValueError(f"e_rev must be a number in [{E_MIN:g}, inf] (|E_rev|), got {e_rev!r}")
        return e, -e
    try:
        if isinstance(e_rev, str) or any(isinstance(x, (bool, str)) for x in e_rev):
            raise TypeError
        e_pos, e_neg = (float(x) for x in e_rev)
    except (TypeError, ValueError):
        raise ValueError(
            f"e_rev must be a positive float E or a pair (E_pos, E_neg) with E_pos > 0 > E_neg, got {e_rev!r}"
        ) from None
    if math.isnan(e_pos) or e_pos < E_MIN:
        raise ValueError(f"e_rev: E_pos must lie in [{E_MIN:g}, inf], got {e_pos!r}")
    if math.isnan(e_neg) or e_neg > -E_MIN:
        raise ValueError(f"e_rev: E_neg must lie in [-inf, {-E_MIN:g}], got {e_neg!r}")
    return e_pos, e_neg


def parse_erev(value: Any) -> float | tuple[float, float]:
    """The one text syntax of ``e_rev`` (CLI flags, sweep axes, configs): ``"4"``, ``"inf"`` for |E|, or
    ``"E+:E-"`` (``"2.8:-1.53"``) for an asymmetric pair; or a number / pair, checked by
    :func:`reversal_potentials`. Returns |E| as a float or the pair (E_pos, E_neg).

    The colon keeps a pair one item of a comma-separated list (``imcpnn sweep --erev 4,2.8:-1.53``); the old
    comma spelling ``"2.8,-1.53"`` is refused with an error that names the new one.
    """
    if isinstance(value, str):
        text = value.strip()
        if "," in text:
            new = text.replace(",", ":")
            raise ValueError(
                f"e_rev {value!r} uses the old comma spelling of an asymmetric pair; write E+:E- (e.g. {new!r})"
            )
        try:
            nums = [float(p) for p in text.split(":")]
        except ValueError:
            raise ValueError(f"e_rev must be |E| > 0 or 'E+:E-' with E+ > 0 > E-, got {value!r}") from None
        if len(nums) > 2:
            raise ValueError(f"e_rev must be |E| > 0 or 'E+:E-' with E+ > 0 > E-, got {value!r}")
        if len(nums) == 1 and nums[0] < 0:
            raise ValueError(
                f"e_rev as one number is |E| > 0, got {value!r}; an asymmetric pair is written E+:E- (e.g. 2.8:-1.53)"
            )
        value = nums[0] if len(nums) == 1 else tuple(nums)
    e_pos, e_neg = reversal_potentials(value)
    if isinstance(value, (list, tuple)):
        return (e_pos, e_neg)
    return e_pos


def format_erev(e_rev: Any) -> str:
    """The text form that :func:`parse_erev` reads back: ``"4"``, ``"inf"`` or ``"2.8:-1.53"``."""
    e_pos, e_neg = reversal_potentials(e_rev)
    return f"{e_pos:g}" if e_neg == -e_pos else f"{e_pos:g}:{e_neg:g}"


def is_ideal(e_pos: float, e_neg: float) -> bool:
    return math.isinf(e_pos) and math.isinf(e_neg)


def check_positive_finite(value: Any, name: str) -> float:
    """A finite number > 0 (not a bool, not a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _check_tensors(t: Any, weight: Any, t_name: str) -> None:
    if not isinstance(t, torch.Tensor) or not isinstance(weight, torch.Tensor):
        raise ValueError(f"{t_name} and weight must be torch.Tensors")
    if t.dtype not in FLOAT_DTYPES or weight.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{t_name} and weight must be float32 or float64 tensors, got {t.dtype} and {weight.dtype}")
    if t.dtype != weight.dtype:
        raise ValueError(f"{t_name} and weight must share a dtype, got {t.dtype} and {weight.dtype}")
    if t.device != weight.device:
        raise ValueError(f"{t_name} and weight must be on one device, got {t.device} and {weight.device}")
    if t.numel() == 0:
        raise ValueError(f"{t_name} must hold at least one sample and one input, got shape {tuple(t.shape)}")
    if weight.numel() == 0:
        raise ValueError(f"weight must hold at least one output and one input, got shape {tuple(weight.shape)}")


def check_conv_inputs(t: torch.Tensor, weight: torch.Tensor, stride: int, padding: int) -> None:
    """``t`` [batch, C, H, W] spike-time maps and ``weight`` [O, C, k, k] kernels; stride >= 1, padding >= 0."""
    _check_tensors(t, weight, "t")
    if t.dim() != 4 or weight.dim() != 4 or t.shape[1] != weight.shape[1]:
        raise ValueError(
            f"t must have shape [batch, C, H, W] and weight [O, C, k, k] with the same C, got {tuple(t.shape)} "
            f"and {tuple(weight.shape)}"
        )
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be an integer >= 1, got {stride!r}")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an integer >= 0, got {padding!r}")
    check_no_nan(t, "t")
    check_no_nan(weight, "weight")
    if torch.isinf(weight).any():
        raise ValueError("weight must be finite")


def check_layer_inputs(t_in: torch.Tensor, weight: torch.Tensor) -> None:
    """Shapes ``t_in`` [batch, n_in] and ``weight`` [n_out, n_in], floating point, no NaN."""
    _check_tensors(t_in, weight, "t_in")
    if t_in.dim() != 2:
        raise ValueError(f"t_in must have shape [batch, n_in], got shape {tuple(t_in.shape)}")
    if weight.dim() != 2:
        raise ValueError(f"weight must have shape [n_out, n_in], got shape {tuple(weight.shape)}")
    if t_in.shape[1] != weight.shape[1]:
        raise ValueError(
            f"shape mismatch: t_in has n_in={t_in.shape[1]} inputs but weight has {weight.shape[1]} columns "
            "(weight must be [n_out, n_in])"
        )
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
