"""Generic numerical integration of the IMC-aware neuron ODE with torchdiffeq (an independent reference).

The right-hand side is evaluated from the model definition (arXiv 2412.09010v1 Eq. 8-11),
    dv/dt = sum_j w_ij (1 - beta_ij v) theta(t - t_j),
as one masked matmul per evaluation, with no closed form. Input spikes are discontinuities of the RHS; to
respect them in a batch whose samples spike at different times, time is re-parametrised per sample so that
sorted spike k sits at s = k:  t(s) = t_k + (s - k)(t_{k+1} - t_k), dv/ds = (t_{k+1} - t_k) dv/dt.
Every sample then jumps at the same integers, passed to the adaptive solver as ``jump_t``. The map is
differentiable in the spike times, so gradients reach t_in as well as the weights; the adjoint method is
available with ``adjoint=True``.

TTFS: the same integration gives v at every spike; in the first interval where v reaches the threshold,
the crossing time is a second ODE solve with v as the independent variable, dt/dv = 1/(g - f v).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchdiffeq

from imcpnn._impl.exact import park_silent
from imcpnn._impl.solvers import ODE


class StepLimitError(RuntimeError):
    """The adaptive solver hit its step cap (``ODE.step_cap``); :mod:`imcpnn.functional` names E and the cap."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"step cap {cap} exceeded")
        self.cap = cap


def _kwargs(solver: ODE, dtype: torch.dtype, jumps: torch.Tensor | None, n_spikes: int) -> dict:
    rtol, atol = solver.tolerances(dtype)
    options: dict = {"max_num_steps": solver.step_cap(n_spikes)}
    if jumps is not None and jumps.numel():
        options["jump_t"] = jumps
    return {"rtol": rtol, "atol": atol, "method": solver.method, "options": options}


def _odeint(func: Callable, y0: torch.Tensor, s: torch.Tensor, kw: dict, adjoint: bool, params: tuple):
    try:
        if adjoint:
            return torchdiffeq.odeint_adjoint(func, y0, s, adjoint_params=params, adjoint_options=kw["options"], **kw)
        return torchdiffeq.odeint(func, y0, s, **kw)
    except AssertionError as err:  # torchdiffeq signals its step cap with an assert
        if "max_num_steps" in str(err):
            raise StepLimitError(kw["options"]["max_num_steps"]) from None
        raise


def _solve(func: Callable, y0: torch.Tensor, s: torch.Tensor, jumps: torch.Tensor, params: tuple, solver: ODE):
    kw = _kwargs(solver, y0.dtype, jumps, int(s[-1].item()) + 1)
    return _odeint(func, y0, s, kw, solver.adjoint, params)


class _Spiking:
    """RHS in the re-parametrised time s; active inputs by rank, coefficients by matmul (Eq. 9-10)."""

    def __init__(self, rank: torch.Tensor, live: torch.Tensor, cols: torch.Tensor, widths: torch.Tensor):
        self.rank, self.live, self.cols, self.widths = rank, live, cols, widths
        self.n_out = cols.shape[1] // 2
        self.last = widths.shape[1] - 1

    def coefficients(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        active = ((self.rank <= k) & self.live).to(self.cols.dtype)
        fg = active @ self.cols
        return fg[:, : self.n_out], fg[:, self.n_out :]

    def __call__(self, s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        k = min(max(int(torch.floor(s).item()), 0), self.last)
        f, g = self.coefficients(k)
        return self.widths[:, k : k + 1] * (g - f * v)


def _setup(t_in: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor, end: float | None):
    t_park, live = park_silent(t_in)
    ts, order = torch.sort(t_park, dim=1, stable=True)
    rank = torch.argsort(order, 1)
    tail = ts[:, -1:] if end is None else torch.full_like(ts[:, :1], end)
    widths = torch.cat([ts[:, 1:], tail], 1) - ts
    cols = torch.cat([beta_weight, weight], 0).t()
    return ts, _Spiking(rank, live, cols, widths), cols


def rc_spike_potential(
    t_in: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor, solver: ODE
) -> torch.Tensor:
    """v(1) by adaptive ODE integration over the accumulation phase [0, 1]. Returns [B, O]."""
    ts, rhs, cols = _setup(t_in, weight, beta_weight, end=1.0)
    n = t_in.shape[1]
    s = torch.tensor([0.0, float(n)], dtype=t_in.dtype, device=t_in.device)
    jumps = torch.arange(1, n, dtype=t_in.dtype, device=t_in.device)
    v0 = t_in.new_zeros(t_in.shape[0], weight.shape[0])
    return _solve(rhs, v0, s, jumps, (cols, rhs.widths), solver)[-1]


def ttfs(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    beta_weight: torch.Tensor,
    v_th: float,
    solver: ODE,
) -> torch.Tensor:
    """First threshold crossing by ODE integration; +inf for a neuron that never fires. Returns [B, O]."""
    ts, rhs, cols = _setup(t_in, weight, beta_weight, end=None)
    b, n = t_in.shape
    o = weight.shape[0]
    s = torch.arange(n, dtype=t_in.dtype, device=t_in.device)
    v0 = t_in.new_zeros(b, o)
    if n > 1:
        v = _solve(rhs, v0, s, s[1:-1], (cols, rhs.widths), solver).permute(1, 0, 2)  # [B, N, O]
    else:
        v = v0.unsqueeze(1)
    # coefficients on every interval (after spike k), [B, N, O]: one masked matmul per interval
    f_all, g_all = zip(*(rhs.coefficients(k) for k in range(n)), strict=True)
    f_all, g_all = torch.stack(f_all, 1), torch.stack(g_all, 1)
    reached = v[:, 1:] >= v_th  # crossing inside a finite interval k <=> v(t_{k+1}) >= v_th
    # after the last spike v tends to g/f; it crosses only if g - f v_th > 0. Within the solver's relative
    # tolerance of 0 the crossing time diverges (a log singularity the adaptive solver cannot integrate), so
    # such a grazing neuron is reported silent (the exact solver may give a very late finite time instead).
    rtol = solver.tolerances(t_in.dtype)[0]
    den_tail = g_all[:, -1] - f_all[:, -1] * v_th
    tail_ok = (den_tail > rtol * (g_all[:, -1].abs() + f_all[:, -1] * v_th)) & (v[:, -1] < v_th)
    hit = torch.cat([reached, tail_ok.unsqueeze(1)], 1)
    fires = hit.any(1)
    k_star = torch.where(fires, hit.float().argmax(1), torch.zeros_like(fires, dtype=torch.long))
    pick = k_star.unsqueeze(1)
    f_k = torch.gather(f_all, 1, pick).squeeze(1)
    g_k = torch.gather(g_all, 1, pick).squeeze(1)
    v_k = torch.gather(v, 1, pick).squeeze(1)
    start = torch.gather(ts, 1, k_star)
    # t = start + int_0^1 (v_th - v_k) / (g - f (v_k + u (v_th - v_k))) du, safe values for silent neurons
    span = torch.where(fires, v_th - v_k, torch.ones_like(v_k))
    v_k = torch.where(fires, v_k, torch.zeros_like(v_k))
    f_k = torch.where(fires, f_k, torch.zeros_like(f_k))
    g_k = torch.where(fires, g_k, torch.ones_like(g_k))

    def dt_du(u: torch.Tensor, _t: torch.Tensor) -> torch.Tensor:
        return span / (g_k - f_k * (v_k + u * span))

    u = torch.tensor([0.0, 1.0], dtype=t_in.dtype, device=t_in.device)
    delay = _odeint(dt_du, torch.zeros_like(v_k), u, _kwargs(solver, t_in.dtype, None, 1), False, ())[-1]
    return torch.where(fires, start + delay, torch.full_like(delay, float("inf")))


# --------------------------------------------------------------------------------------------------
# voltage-dependent synaptic currents: dv/dt = sum_j w_ij h_+-(v) theta(t - t_j), h a polynomial in v


def _horner(coef: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """h(v) = coef[0] + coef[1] v + ... (ascending), elementwise."""
    out = torch.zeros_like(v) + coef[-1]
    for c in coef.flip(0)[1:]:
        out = out * v + c
    return out


def rc_spike_potential_poly(
    t_in: torch.Tensor, weight: torch.Tensor, h_pos: torch.Tensor, h_neg: torch.Tensor, solver: ODE
) -> torch.Tensor:
    """v(1) of dv/dt = sum_j w_ij h(v) theta(t - t_j) with h = h_pos for w >= 0 and h_neg for w < 0, by adaptive
    integration over [0, 1] in the re-parametrised time (one interval per sorted spike). Returns [B, O]."""
    # the matmul of _Spiking gives (sum of active positive weights, sum of active negative weights)
    ts, rhs, cols = _setup(t_in, weight.clamp(max=0.0), weight.clamp(min=0.0), end=1.0)

    def func(s: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        k = min(max(int(torch.floor(s).item()), 0), rhs.last)
        g_pos, g_neg = rhs.coefficients(k)
        return rhs.widths[:, k : k + 1] * (g_pos * _horner(h_pos, v) + g_neg * _horner(h_neg, v))

    n = t_in.shape[1]
    s = torch.tensor([0.0, float(n)], dtype=t_in.dtype, device=t_in.device)
    jumps = torch.arange(1, n, dtype=t_in.dtype, device=t_in.device)
    v0 = t_in.new_zeros(t_in.shape[0], weight.shape[0])
    return _solve(func, v0, s, jumps, (cols, rhs.widths), solver)[-1]


def firing_time_poly(v1: torch.Tensor, h_dis: torch.Tensor, solver: ODE) -> torch.Tensor:
    """Firing phase dv/dt = r h_dis(v) from v(1) to the threshold v = 1, r normalised so that v goes 0 -> 1 in
    one phase (the calibrated idle neuron): t = int_{v1}^1 dv / h(v) / int_0^1 dv / h(v), clipped to [0, 1].
    Both integrals by one ODE solve in u in [0, 1] (v = v1 + u (1 - v1)), like :func:`ttfs`."""
    span = (1.0 - v1).clamp(min=0.0)  # v1 >= 1: the neuron fires at once
    flat = torch.cat([span.reshape(-1), span.new_ones(1)])
    start = torch.cat([v1.reshape(-1).clamp(max=1.0), v1.new_zeros(1)])

    def dt_du(u: torch.Tensor, _t: torch.Tensor) -> torch.Tensor:
        return flat / _horner(h_dis, start + u * flat)

    u = torch.tensor([0.0, 1.0], dtype=v1.dtype, device=v1.device)
    kw = _kwargs(solver, v1.dtype, None, 1)
    out = _odeint(dt_du, torch.zeros_like(flat), u, kw, False, ())[-1]
    return (out[:-1] / out[-1]).reshape(v1.shape).clamp(0.0, 1.0)
