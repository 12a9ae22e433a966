"""Functional core: the IMC-aware neuron in its RC-Spike and TTFS variants, three interchangeable solvers.

Model (arXiv 2412.09010v1 Eq. 8-11, alpha = 0): dv/dt = -f(t) v + g(t), f = sum_j beta_ij w_ij theta(t - t_j),
g = sum_j w_ij theta(t - t_j), beta_ij = 1/E_pos for w_ij >= 0 and 1/E_neg for w_ij < 0, v(0) = 0.

Solvers (``method``), as strings or as solver descriptions (:class:`Exact`, :class:`DSTD`, :class:`ODE`):
  * ``"exact"`` / ``Exact()``: the event-driven closed form on sorted spikes (Eq. 12-33), vectorised over inputs;
  * ``"ode"`` / ``ODE(rtol, atol, ...)``: adaptive integration with torchdiffeq (an independent reference);
  * ``"dstd"`` / ``DSTD(steps, offset)``: differentiable spike-time discretization on M grid points (Eq. 34-47).

Shapes: ``t_in`` [batch, n_in], ``weight`` [n_out, n_in] (the ``torch.nn.Linear`` convention); outputs
[batch, n_out]. ``e_rev`` is E > 0 (meaning E_pos = E, E_neg = -E), a pair (E_pos, E_neg), or ``math.inf``.
Convolutional layers (Section 3.3): :func:`rc_spike_conv2d_potential` and :func:`ttfs_conv2d` on spike-time
maps [batch, C, H, W] (DSTD only, as in the paper).

Example::

    import math

    import torch
    from imcpnn import functional as F

    t_in, w = torch.rand(4, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64)
    e_rev = F.parse_erev("2.8:-1.53")  # (E_pos, E_neg), the text syntax of --erev
    v_exact = F.rc_spike_potential(t_in, w, e_rev)  # the closed form (Eq. 21-25)
    v_ode = F.rc_spike_potential(t_in, w, e_rev, method="ode")  # the same ODE, integrated numerically
    v_dstd = F.rc_spike_potential(t_in, w, e_rev, method="dstd", steps=30, offset="fixed")  # Eq. 39-40
    assert torch.allclose(v_ode, v_exact, atol=1e-8) and torch.allclose(v_dstd, v_exact, atol=1e-2)
    assert torch.equal(F.rc_spike_potential(t_in, w, math.inf), (1 - t_in) @ w.T)  # the ideal neuron
    maps = F.rc_spike_conv2d_potential(torch.rand(2, 3, 6, 6), torch.randn(4, 3, 3, 3), 4.0, steps=4)  # [2, 4, 6, 6]
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as tnf

from imcpnn._impl import dstd as _dstd
from imcpnn._impl import dstd_fused as _fused  # fused TTFS / conv DSTD (same values, hand-written backward)
from imcpnn._impl import exact as _exact
from imcpnn._impl import odesolve as _ode
from imcpnn._impl.piecewise import beta_weight as _beta_weight
from imcpnn._impl.solvers import DSTD, ODE, Exact, Solver, solver_from
from imcpnn._impl.validate import (
    ERev,
    check_conv_inputs,
    check_layer_inputs,
    check_nonnegative_times,
    check_positive_finite,
    check_unit_interval,
    format_erev,
    is_ideal,
    parse_erev,
    reversal_potentials,
)

__all__ = [
    "ERev",
    "reversal_potentials",
    "format_erev",
    "parse_erev",
    "Exact",
    "DSTD",
    "ODE",
    "Solver",
    "solver_from",
    "beta_weight",
    "rc_spike_potential",
    "rc_spike",
    "firing_time",
    "ttfs",
    "membrane_trace",
    "rc_spike_conv2d_potential",
    "ttfs_conv2d",
    "rc_spike_potential_poly",
    "firing_time_poly",
]


def beta_weight(weight: torch.Tensor, e_rev: ERev) -> torch.Tensor:
    """beta_ij w_ij (Eq. 11): w/E_pos for w >= 0, w/E_neg for w < 0; always >= 0, zero in the ideal limit."""
    return _beta_weight(weight, *reversal_potentials(e_rev))


def _ode_call(fn, e_rev: tuple[float, float], solver: ODE, *args):
    try:
        return fn(*args, solver)
    except _ode.StepLimitError as err:
        raise ValueError(
            f"method='ode' exceeded its step cap ode_options['max_steps']={err.cap} at "
            f"e_rev=({e_rev[0]:g}, {e_rev[1]:g}): the ODE is too stiff for the adaptive solver; use method='exact' "
            "or 'dstd', or raise max_steps"
        ) from None


def rc_spike_potential(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    *,
    method: str | Solver = "exact",
    steps: int | None = None,
    offset: str | float | None = "random",
    ode_options: dict | None = None,
) -> torch.Tensor:
    """Membrane potential v(1) at the end of the RC-Spike accumulation phase (Eq. 21-25, 39-40).

    Args:
        t_in: input spike times in [0, 1], [batch, n_in].
        weight: [n_out, n_in].
        e_rev: |E| (symmetric), (E_pos, E_neg) or ``math.inf`` (ideal: exactly ``(1 - t_in) @ weight.T``).
        method: ``"exact"``, ``"ode"``, ``"dstd"`` or a solver description (``DSTD(10, "fixed")``...).
        steps: DSTD grid points M >= 2 (``method="dstd"`` only).
        offset: DSTD grid offset: ``"random"`` (U(0, dtau), drawn anew on every call), ``"fixed"`` (0) or
            a float in [0, dtau).
        ode_options: for ``method="ode"``: ``rtol``, ``atol``, ``method`` (torchdiffeq solver), ``adjoint``,
            ``max_steps`` (the step cap).

    Example::

        import torch
        from imcpnn import rc_spike_potential

        t_in, w = torch.rand(4, 6), torch.randn(3, 6, requires_grad=True)
        v1 = rc_spike_potential(t_in, w, (2.8, -1.53), method="dstd", steps=3)  # [4, 3], M = 3, random offset
        v1.sum().backward()  # DSTD is differentiable in the weights (and the input times): w.grad [3, 6]
        v_ref = rc_spike_potential(t_in, w.detach(), (2.8, -1.53))  # exact (Eq. 21-25)
        v_ode = rc_spike_potential(t_in, w.detach(), (2.8, -1.53), method="ode", ode_options={"rtol": 1e-7})
    """
    solver = solver_from(method, steps, offset, ode_options)
    check_layer_inputs(t_in, weight)
    check_unit_interval(t_in)
    e_pos, e_neg = reversal_potentials(e_rev)
    if isinstance(solver, DSTD):
        t_offset = solver.grid_offset(t_in)
    if is_ideal(e_pos, e_neg):
        return (1.0 - t_in) @ weight.t()
    if isinstance(solver, DSTD):
        return _dstd.rc_spike_potential(t_in, weight, (e_pos, e_neg), solver.steps, t_offset)
    bw = _beta_weight(weight, e_pos, e_neg)
    if isinstance(solver, Exact):
        return _exact.rc_spike_potential(t_in, weight, bw)
    return _ode_call(_ode.rc_spike_potential, (e_pos, e_neg), solver, t_in, weight, bw)


def firing_time(v1: torch.Tensor, e_dis: float | None = None) -> torch.Tensor:
    """Output spike time of the RC-Spike firing phase, clipped to [0, 1].

    Ideal ramp dv/dt = 1 (Eq. 20, 26-27): t = clip(1 - v1). With the discharger's RC decay (App. A,
    Eq. 82-85; beta = 1/e_dis, e_dis > 1): t = clip(1 - ln(1 - beta v1) / ln(1 - beta)), which tends to the
    ideal ramp as e_dis -> inf.
    """
    if e_dis is None or (isinstance(e_dis, float) and math.isinf(e_dis) and e_dis > 0):
        return torch.clamp(1.0 - v1, 0.0, 1.0)
    if isinstance(e_dis, bool) or not (isinstance(e_dis, (int, float)) and e_dis > 1.0):
        raise ValueError(f"e_dis must be a number in (1, inf] (the discharger's E_dis), got {e_dis!r}")
    beta = 1.0 / float(e_dis)
    v = torch.clamp(v1, max=1.0)  # v1 >= 1 fires at once; keeps 1 - beta v > 0
    return torch.clamp(1.0 - torch.log1p(-beta * v) / math.log1p(-beta), 0.0, 1.0)


def rc_spike(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    *,
    method: str | Solver = "exact",
    steps: int | None = None,
    offset: str | float | None = "random",
    ode_options: dict | None = None,
    e_dis: float | None = None,
) -> torch.Tensor:
    """RC-Spike layer output spike times (Eq. 26-27): ``clip(1 - v(1))``, or the RC-decay firing phase of
    App. A (Eq. 82-85) when ``e_dis`` is given. Arguments as :func:`rc_spike_potential`.

    Example::

        import torch
        from imcpnn import rc_spike, rc_spike_potential

        t_in, w = torch.rand(4, 6), torch.randn(3, 6)
        t_out = rc_spike(t_in, w, 4.0)  # exact; spike times in [0, 1]
        assert torch.equal(t_out, (1 - rc_spike_potential(t_in, w, 4.0)).clamp(0, 1))
        t_dis = rc_spike(t_in, w, 4.0, e_dis=3.0)  # the discharger's RC decay in the firing phase (App. A)
        t_dstd = rc_spike(t_in, w, 4.0, method="dstd", steps=3)  # the training-time solver of the paper
    """
    v1 = rc_spike_potential(t_in, weight, e_rev, method=method, steps=steps, offset=offset, ode_options=ode_options)
    return firing_time(v1, e_dis)


def _check_v_th(v_th: float) -> float:
    return check_positive_finite(v_th, "v_th")


def ttfs(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    *,
    v_th: float = 1.0,
    method: str | Solver = "exact",
    steps: int | None = None,
    offset: str | float | None = "random",
    t_max: float = 1.0,
    ode_options: dict | None = None,
) -> torch.Tensor:
    """Time-to-first-spike output times (Eq. 28-29, 41-44): the first time v reaches ``v_th``; ``+inf`` for
    a neuron that never fires. Inputs are times >= 0 or ``+inf`` (no spike). ``t_max`` is the end of the DSTD
    grid (inputs must not exceed it with DSTD); the exact and ODE solvers need no window.

    Example::

        import torch
        from imcpnn import ttfs

        t_in, w = torch.rand(4, 6, dtype=torch.float64), torch.rand(3, 6, dtype=torch.float64)
        t_in[0, :3] = float("inf")  # three inputs of sample 0 never spike
        t_exact = ttfs(t_in, w, 4.0)  # the first time v reaches v_th = 1 (Eq. 28-29); +inf if never
        t_dstd = ttfs(t_in, w, 4.0, method="dstd", steps=60, offset="fixed", t_max=1.0)  # Eq. 41-44
        late = ttfs(t_in, w, 4.0, v_th=3.0)  # a higher threshold: later spikes, or none (+inf)
        print((t_dstd - t_exact).abs().nan_to_num().max(), late.isinf().sum())
    """
    solver = solver_from(method, steps, offset, ode_options)
    check_layer_inputs(t_in, weight)
    check_nonnegative_times(t_in)
    v_th = _check_v_th(v_th)
    t_max = check_positive_finite(t_max, "t_max")
    e_pos, e_neg = reversal_potentials(e_rev)
    if isinstance(solver, Exact):
        return _exact.ttfs(t_in, weight, _beta_weight(weight, e_pos, e_neg), v_th)
    if isinstance(solver, ODE):
        return _ode_call(_ode.ttfs, (e_pos, e_neg), solver, t_in, weight, _beta_weight(weight, e_pos, e_neg), v_th)
    _check_window(t_in, t_max)
    t_offset = solver.grid_offset(t_in, t_max)
    return _fused.ttfs(t_in, weight, (e_pos, e_neg), v_th, solver.steps, t_offset, t_max)


def _check_window(t: torch.Tensor, t_max: float) -> None:
    finite = t.detach()[torch.isfinite(t)]
    if finite.numel() and float(finite.max()) > t_max:
        raise ValueError(f"t_in must lie in [0, t_max={t_max:g}] (or be +inf) for method='dstd'")


def membrane_trace(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    t_grid: torch.Tensor,
    *,
    method: str | Solver = "exact",
    steps: int | None = None,
    offset: str | float | None = "fixed",
) -> torch.Tensor:
    """v(t) of the accumulation phase (no threshold, no reset) at the times ``t_grid`` [T] in [0, 1], as
    [batch, n_out, T].

    ``method="exact"`` gives the true trajectory (Eq. 12); ``method="dstd"`` the DSTD model's trajectory with
    the interval-averaged coefficients on its grid (what Fig. 2c,d compare). Inputs in [0, 1].

    Example::

        import torch
        from imcpnn import membrane_trace, rc_spike_potential

        t_in, w = torch.rand(1, 5, dtype=torch.float64), torch.rand(2, 5, dtype=torch.float64)
        grid = torch.linspace(0, 1, 101, dtype=torch.float64)
        v = membrane_trace(t_in, w, 4.0, grid)  # [1, 2, 101], the exact v(t) (Eq. 12)
        v_dstd = membrane_trace(t_in, w, 4.0, grid, method="dstd", steps=3)  # the M = 3 model's v(t)
        assert torch.allclose(v[..., -1], rc_spike_potential(t_in, w, 4.0))  # the trace ends at v(1)
    """
    solver = solver_from(method, steps, offset if method == "dstd" or isinstance(method, DSTD) else None)
    if isinstance(solver, ODE):
        raise ValueError("method must be 'exact' or 'dstd' for membrane_trace, got 'ode'")
    check_layer_inputs(t_in, weight)
    check_unit_interval(t_in)
    t_grid = torch.as_tensor(t_grid, dtype=t_in.dtype, device=t_in.device)
    if t_grid.dim() != 1:
        raise ValueError(f"t_grid must be a 1-D tensor of times, got shape {tuple(t_grid.shape)}")
    if torch.isnan(t_grid).any() or (t_grid < 0).any() or (t_grid > 1).any():
        raise ValueError("t_grid must hold times in [0, 1] (the accumulation phase), without NaN")
    bw = beta_weight(weight, e_rev)
    if isinstance(solver, Exact):
        return _exact.membrane_trace(t_in, weight, bw, t_grid)
    return _dstd.membrane_trace(t_in, weight, bw, t_grid, solver.steps, solver.grid_offset(t_in))


def _conv_solver(method: str | Solver, steps: int | None, offset: str | float | None) -> DSTD:
    solver = solver_from(method, steps, offset)
    if not isinstance(solver, DSTD):
        raise ValueError(f"convolutional layers are solved by DSTD only (Section 3.3); got method={method!r}")
    return solver


def rc_spike_conv2d_potential(
    t: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    *,
    method: str | Solver = "dstd",
    steps: int | None = None,
    offset: str | float | None = "random",
    stride: int = 1,
    padding: int = 1,
) -> torch.Tensor:
    """v(1) of a convolutional RC-Spike layer (Eq. 39-40 with convolutions): ``t`` [B, C, H, W] in [0, 1],
    ``weight`` [O, C, k, k]; returns [B, O, H', W']. The ideal limit is exactly ``conv2d(1 - t, weight)``."""
    solver = _conv_solver(method, steps, offset)
    check_conv_inputs(t, weight, stride, padding)
    check_unit_interval(t, "t")
    e_pos, e_neg = reversal_potentials(e_rev)
    t_offset = solver.grid_offset(t)
    if is_ideal(e_pos, e_neg):
        return tnf.conv2d(1.0 - t, weight, stride=stride, padding=padding)
    return _fused.rc_spike_conv2d_potential(t, weight, (e_pos, e_neg), solver.steps, t_offset, stride, padding)


def ttfs_conv2d(
    t: torch.Tensor,
    weight: torch.Tensor,
    e_rev: ERev,
    *,
    v_th: float = 1.0,
    method: str | Solver = "dstd",
    steps: int | None = None,
    offset: str | float | None = "random",
    t_max: float = 1.0,
    stride: int = 1,
    padding: int = 1,
) -> torch.Tensor:
    """First-spike times of a convolutional TTFS layer by DSTD (Eq. 41-44 with convolutions); +inf where a
    neuron does not fire. ``t`` [B, C, H, W] holds times in [0, t_max] or +inf."""
    solver = _conv_solver(method, steps, offset)
    check_conv_inputs(t, weight, stride, padding)
    check_nonnegative_times(t, "t")
    v_th = _check_v_th(v_th)
    t_max = check_positive_finite(t_max, "t_max")
    _check_window(t, t_max)
    t_offset = solver.grid_offset(t, t_max)
    e_pos, e_neg = reversal_potentials(e_rev)
    return _fused.ttfs_conv2d(t, weight, (e_pos, e_neg), v_th, solver.steps, t_offset, t_max, stride, padding)


# --------------------------------------------------------------------------------------------------
# a voltage-dependent reversal potential E(v) (future work in arXiv 2412.09010v1, App. G / Fig. 17 text)


def _poly_coef(coef, name: str, like: torch.Tensor) -> torch.Tensor:
    c = torch.as_tensor(coef, dtype=like.dtype, device=like.device)
    if c.dim() != 1 or c.numel() < 1 or not bool(torch.isfinite(c).all()) or not float(c[0]) > 0:
        raise ValueError(
            f"{name} must be a 1-D sequence of finite polynomial coefficients (ascending) with "
            f"{name}[0] > 0, got {coef!r}"
        )
    return c


def _check_positive_on(h: torch.Tensor, lo: float, hi: float, name: str) -> None:
    grid = torch.linspace(lo, hi, 513, dtype=h.dtype)
    val = _ode._horner(h, grid)
    if not bool((val > 0).all()):
        bad = float(grid[val <= 0][0])
        raise ValueError(
            f"{name}(v) must stay > 0 where the membrane goes (v in [{lo:.3g}, {hi:.3g}]); it is <= 0 "
            f"at v = {bad:.3g}: the polynomial does not describe a current there"
        )


def rc_spike_potential_poly(
    t_in: torch.Tensor, weight: torch.Tensor, h_pos, h_neg, *, ode_options: dict | None = None
) -> torch.Tensor:
    """v(1) of the accumulation phase with voltage-dependent synaptic currents, by the generic ODE solver:
    dv/dt = sum_j w_ij h(v) theta(t - t_j), h = ``h_pos`` for w_ij >= 0 and ``h_neg`` for w_ij < 0, each a
    polynomial in v given by its coefficients (ascending; e.g. from
    :func:`imcpnn.spice.readout.fit_relative_poly`). The linear model of Eq. 8-11 is h(v) = 1 - v/E
    (``h_pos = (1, -1/E_pos)``, ``h_neg = (1, -1/E_neg)``). No closed form and no DSTD: an evaluation option.
    ``ode_options`` as :func:`rc_spike_potential` with ``method="ode"``."""
    solver = solver_from("ode", None, None, ode_options)
    check_layer_inputs(t_in, weight)
    check_unit_interval(t_in)
    hp, hn = _poly_coef(h_pos, "h_pos", t_in), _poly_coef(h_neg, "h_neg", t_in)
    try:
        return _ode.rc_spike_potential_poly(t_in, weight, hp, hn, solver)
    except _ode.StepLimitError as err:
        raise ValueError(
            f"method='ode' exceeded its step cap ode_options['max_steps']={err.cap} with h_pos={h_pos}, "
            f"h_neg={h_neg}; raise max_steps"
        ) from None


def firing_time_poly(v1: torch.Tensor, h_dis, *, ode_options: dict | None = None) -> torch.Tensor:
    """Firing-phase spike time with a voltage-dependent discharger current dv/dt = r h_dis(v) (``h_dis``:
    polynomial coefficients, ascending), r such that v goes from 0 to the threshold 1 in exactly one phase (the
    calibrated idle neuron, App. A): t = int_{v1}^1 dv/h_dis / int_0^1 dv/h_dis, clipped to [0, 1].
    ``h_dis = (1, -1/E_dis)`` is :func:`firing_time` with ``e_dis`` (Eq. 82-85). h_dis must stay > 0 on
    [min(v1, 0), 1]."""
    solver = solver_from("ode", None, None, ode_options)
    if not isinstance(v1, torch.Tensor) or not torch.is_floating_point(v1) or not bool(torch.isfinite(v1).all()):
        raise ValueError("v1 must be a floating-point tensor of finite potentials")
    h = _poly_coef(h_dis, "h_dis", v1)
    lo = min(float(v1.detach().min()), 0.0) if v1.numel() else 0.0
    _check_positive_on(h, lo, 1.0, "h_dis")
    return _ode.firing_time_poly(v1, h, solver)
