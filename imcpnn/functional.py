"""Functional core: the IMC-aware neuron in its RC-Spike and TTFS variants, three interchangeable solvers.

Model (PAPER.md Eq. 8-11, alpha = 0): dv/dt = -f(t) v + g(t), f = sum_j beta_ij w_ij theta(t - t_j),
g = sum_j w_ij theta(t - t_j), beta_ij = 1/E_pos for w_ij >= 0 and 1/E_neg for w_ij < 0, v(0) = 0.

Solvers (``method``):
  * ``"exact"``: the event-driven closed form on sorted spikes (Eq. 12-33), vectorised over inputs;
  * ``"ode"``: adaptive numerical integration with torchdiffeq (independent reference, see imcpnn._impl.odesolve);
  * ``"dstd"``: differentiable spike-time discretization on M = ``steps`` grid points (Eq. 34-47).

Shapes: ``t_in`` [batch, n_in], ``weight`` [n_out, n_in] (the ``torch.nn.Linear`` convention); outputs
[batch, n_out]. ``e_rev`` is E > 0 (meaning E_pos = E, E_neg = -E), a pair (E_pos, E_neg), or ``math.inf``.
"""

from __future__ import annotations

import math

import torch

from imcpnn._impl import dstd as _dstd
from imcpnn._impl import exact as _exact
from imcpnn._impl import odesolve as _ode
from imcpnn._impl.validate import (
    ERev,
    check_layer_inputs,
    check_method,
    check_nonnegative_times,
    check_offset,
    check_steps,
    check_unit_interval,
    is_ideal,
    reversal_potentials,
)

__all__ = [
    "beta_weight",
    "rc_spike_potential",
    "rc_spike",
    "firing_time",
    "ttfs",
    "membrane_trace",
]


def beta_weight(weight: torch.Tensor, e_rev: ERev) -> torch.Tensor:
    """beta_ij w_ij (Eq. 11): w/E_pos for w >= 0, w/E_neg for w < 0; always >= 0, zero in the ideal limit."""
    e_pos, e_neg = reversal_potentials(e_rev)
    return torch.where(weight >= 0, weight / e_pos, weight / e_neg)


def _dstd_args(steps: int | None, offset: str | float, t_max: float, like: torch.Tensor):
    steps = check_steps(steps)
    check_offset(offset, t_max / (steps - 1))
    return steps, _dstd.resolve_offset(offset, steps, t_max, like)


def rc_spike_potential(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    *,
    method: str = "exact",
    steps: int | None = None,
    offset: str | float = "random",
    ode_options: dict | None = None,
) -> torch.Tensor:
    """Membrane potential v(1) at the end of the RC-Spike accumulation phase (Eq. 21-25, 39-40).

    Args:
        t_in: input spike times in [0, 1], [batch, n_in].
        weight: [n_out, n_in].
        e_rev: |E| (symmetric), (E_pos, E_neg) or ``math.inf`` (ideal: exactly ``(1 - t_in) @ weight.T``).
        method: ``"exact"``, ``"ode"`` or ``"dstd"``.
        steps: DSTD grid points M >= 2 (``method="dstd"`` only).
        offset: DSTD grid offset: ``"random"`` (U(0, dtau), drawn anew on every call), ``"fixed"`` (0) or
            a float in [0, dtau).
        ode_options: for ``method="ode"``: ``rtol``, ``atol``, ``method`` (torchdiffeq solver), ``adjoint``.
    """
    check_method(method)
    check_layer_inputs(t_in, weight)
    check_unit_interval(t_in)
    e_pos, e_neg = reversal_potentials(e_rev)
    if method == "dstd":
        steps, t_offset = _dstd_args(steps, offset, 1.0, t_in)
    if is_ideal(e_pos, e_neg):
        return (1.0 - t_in) @ weight.t()
    if method == "dstd":
        return _dstd.rc_spike_potential(t_in, weight, (e_pos, e_neg), steps, t_offset)
    bw = beta_weight(weight, (e_pos, e_neg))
    if method == "exact":
        return _exact.rc_spike_potential(t_in, weight, bw)
    return _ode.rc_spike_potential(t_in, weight, bw, ode_options)


def firing_time(v1: torch.Tensor, e_dis: float | None = None) -> torch.Tensor:
    """Output spike time of the RC-Spike firing phase, clipped to [0, 1].

    Ideal ramp dv/dt = 1 (Eq. 20, 26-27): t = clip(1 - v1). With the discharger's RC decay (App. A,
    Eq. 82-85; beta = 1/e_dis, e_dis > 1): t = clip(1 - ln(1 - beta v1) / ln(1 - beta)), which tends to the
    ideal ramp as e_dis -> inf.
    """
    if e_dis is None or math.isinf(e_dis):
        return torch.clamp(1.0 - v1, 0.0, 1.0)
    if not (isinstance(e_dis, (int, float)) and e_dis > 1.0):
        raise ValueError(f"e_dis must be a number in (1, inf] (the discharger's E_dis), got {e_dis!r}")
    beta = 1.0 / float(e_dis)
    v = torch.clamp(v1, max=1.0)  # v1 >= 1 fires at once; keeps 1 - beta v > 0
    return torch.clamp(1.0 - torch.log1p(-beta * v) / math.log1p(-beta), 0.0, 1.0)


def rc_spike(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    *,
    method: str = "exact",
    steps: int | None = None,
    offset: str | float = "random",
    ode_options: dict | None = None,
    e_dis: float | None = None,
) -> torch.Tensor:
    """RC-Spike layer output spike times (Eq. 26-27): ``clip(1 - v(1))``, or the RC-decay firing phase of
    App. A (Eq. 82-85) when ``e_dis`` is given. Arguments as :func:`rc_spike_potential`."""
    v1 = rc_spike_potential(
        t_in, weight, e_rev, method=method, steps=steps, offset=offset, ode_options=ode_options
    )
    return firing_time(v1, e_dis)


def ttfs(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    *,
    v_th: float = 1.0,
    method: str = "exact",
    steps: int | None = None,
    offset: str | float = "random",
    t_max: float = 1.0,
    ode_options: dict | None = None,
) -> torch.Tensor:
    """Time-to-first-spike output times (Eq. 28-29, 41-44): the first time v reaches ``v_th``; ``+inf`` for
    a neuron that never fires. Inputs are times >= 0 or ``+inf`` (no spike). ``t_max`` is the end of the DSTD
    grid (inputs must not exceed it with ``method="dstd"``); the exact and ODE solvers need no window.
    """
    check_method(method)
    check_layer_inputs(t_in, weight)
    check_nonnegative_times(t_in)
    if not (isinstance(v_th, (int, float)) and v_th > 0 and math.isfinite(v_th)):
        raise ValueError(f"v_th must be a finite number > 0, got {v_th!r}")
    e_pos, e_neg = reversal_potentials(e_rev)
    bw = beta_weight(weight, (e_pos, e_neg))
    if method == "exact":
        return _exact.ttfs(t_in, weight, bw, float(v_th))
    if method == "ode":
        return _ode.ttfs(t_in, weight, bw, float(v_th), ode_options)
    if not (t_max > 0 and math.isfinite(t_max)):
        raise ValueError(f"t_max must be a finite number > 0, got {t_max!r}")
    finite = t_in.detach()[torch.isfinite(t_in)]
    if finite.numel() and float(finite.max()) > t_max:
        raise ValueError(f"t_in must lie in [0, t_max={t_max:g}] (or be +inf) for method='dstd'")
    steps, t_offset = _dstd_args(steps, offset, t_max, t_in)
    return _dstd.ttfs(t_in, weight, bw, float(v_th), steps, t_offset, t_max)


def membrane_trace(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    t_grid: torch.Tensor,
    *,
    method: str = "exact",
    steps: int | None = None,
    offset: str | float = "fixed",
) -> torch.Tensor:
    """v(t) of the accumulation phase (no threshold, no reset) at the times ``t_grid`` [T], as [batch, n_out, T].

    ``method="exact"`` gives the true trajectory (Eq. 12); ``method="dstd"`` the DSTD model's trajectory with
    the interval-averaged coefficients on its grid (what Fig. 2c,d compare). Inputs in [0, 1].
    """
    if method not in ("exact", "dstd"):
        raise ValueError(f"method must be 'exact' or 'dstd' for membrane_trace, got {method!r}")
    check_layer_inputs(t_in, weight)
    check_unit_interval(t_in)
    t_grid = torch.as_tensor(t_grid, dtype=t_in.dtype, device=t_in.device)
    if t_grid.dim() != 1:
        raise ValueError(f"t_grid must be a 1-D tensor of times, got shape {tuple(t_grid.shape)}")
    bw = beta_weight(weight, e_rev)
    if method == "exact":
        return _exact.membrane_trace(t_in, weight, bw, t_grid)
    steps, t_offset = _dstd_args(steps, offset, 1.0, t_in)
    return _dstd.membrane_trace(t_in, weight, bw, t_grid, steps, t_offset)
