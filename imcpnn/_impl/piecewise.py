"""Closed-form kernels of the piecewise-constant linear ODE  dv/dt = -f v + g  (arXiv 2412.09010v1 Eq. 8).

Both the exact event-driven solver (intervals between sorted input spikes, Eq. 12-33) and DSTD (intervals of
a regular grid, Eq. 39-44) reduce to this ODE with f, g constant on each interval. Layout convention:
the interval axis is ``dim=1``; ``f`` and ``g`` are ``[batch, K, ...]`` and the widths ``d`` broadcast
against them. All forms are overflow-free: only ``exp`` of non-positive numbers is taken (f >= 0).
"""

from __future__ import annotations

import torch

_SMALL = 1e-3  # below this, Taylor series replace expm1(-x)/x and log1p(x)/x
_LOG_FLOOR = -1.0e4  # "log of zero" that stays finite (exp underflows to exactly 0)


def beta(weight: torch.Tensor, e_pos: float, e_neg: float) -> torch.Tensor:
    """beta_ij of arXiv 2412.09010v1 Eq. 11: 1/E_pos where w >= 0, 1/E_neg where w < 0 (0 in the ideal limit)."""
    return torch.where(weight >= 0, weight.new_tensor(1.0 / e_pos), weight.new_tensor(1.0 / e_neg))


def beta_weight(weight: torch.Tensor, e_pos: float, e_neg: float) -> torch.Tensor:
    """beta_ij w_ij (Eq. 11), always >= 0: the one definition used by every solver and layer."""
    return beta(weight, e_pos, e_neg) * weight


def phi(x: torch.Tensor) -> torch.Tensor:
    """(1 - e^{-x}) / x for x >= 0, with phi(0) = 1; the expm1 form, safe and smooth at x -> 0."""
    small = x.abs() < _SMALL
    xs = torch.where(small, torch.ones_like(x), x)
    big = -torch.expm1(-xs) / xs
    taylor = 1.0 - x / 2.0 + x * x / 6.0 - x * x * x / 24.0
    return torch.where(small, taylor, big)


def psi(x: torch.Tensor) -> torch.Tensor:
    """log(1 + x) / x for x >= 0, with psi(0) = 1 (used by the threshold-crossing time, Eq. 28)."""
    small = x.abs() < _SMALL
    xs = torch.where(small, torch.ones_like(x), x)
    big = torch.log1p(xs) / xs
    taylor = 1.0 - x / 2.0 + x * x / 3.0 - x * x * x / 4.0
    return torch.where(small, taylor, big)


def step(v0: torch.Tensor, f: torch.Tensor, g: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """v(dt) from v(0) = v0 under constant f, g:  v0 e^{-f dt} + g dt phi(f dt)  (Eq. 33)."""
    a = f * dt
    return v0 * torch.exp(-a) + g * dt * phi(a)


def _reverse_exclusive_cumsum(a: torch.Tensor) -> torch.Tensor:
    """r_k = sum_{q > k} a_q along dim 1."""
    inclusive = torch.flip(torch.cumsum(torch.flip(a, (1,)), 1), (1,))
    return torch.cat([inclusive[:, 1:], torch.zeros_like(inclusive[:, :1])], 1)


def _sum_to(x: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum ``x`` over the axes along which a tensor of ``shape`` was broadcast to x's shape."""
    if x.shape == shape:
        return x
    lead = x.dim() - len(shape)
    dims = list(range(lead)) + [lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1]
    return x.sum(dims, keepdim=True).view(shape)


def final_potential_terms(
    f: torch.Tensor, g: torch.Tensor, d: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Forward of :func:`final_potential`, returning what its backward needs: (v, phi(a), P, b*P).

    a_k = f_k d_k, b_k = g_k d_k phi(a_k), P_k = exp(-sum_{q>k} a_q) = exp(C_k - C_K) with C the inclusive
    cumsum of a (one cumsum, no flip; the exponent's rounding error is eps * C_K, i.e. relative in P), and
    v = sum_k b_k P_k. phi(a) = -expm1(-a)/a is exact to the ulp for every a > 0 (a = 0 is clamped to the
    smallest normal number). In-place where possible: three [B, K, ...] tensors are kept.
    """
    a = f * d
    cum = torch.cumsum(a, 1)
    p = cum.sub_(cum[:, -1:].clone()).exp_()
    a.clamp_(min=torch.finfo(a.dtype).tiny)
    ph = torch.neg(a).expm1_().div_(a).neg_()
    del a
    bp = (g * d).mul_(ph).mul_(p)
    return bp.sum(1), ph, p, bp


def final_potential_grads(
    grad_v: torch.Tensor, f: torch.Tensor, g: torch.Tensor, d: torch.Tensor, ph, p, bp
) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward of :func:`final_potential_terms` for an upstream gradient ``grad_v``; a = f d is recomputed.

    Returns (G_a, H) with G_a = dL/da_k = gv (g_k d_k phi'(a_k) P_k - sum_{r<k} b_r P_r) and
    H = gv P_k phi(a_k); then dL/df = G_a d, dL/dg = H d and dL/dd = G_a f + H g.
    """
    gv = grad_v.unsqueeze(1)
    a = f * d
    small = a < 1e-2
    # phi'(a) = (e^{-a} - phi)/a, by its Taylor series -1/2 + a/3 - a^2/8 where that difference cancels
    taylor = a * (-1.0 / 8.0)
    taylor.add_(1.0 / 3.0).mul_(a).sub_(0.5)
    dphi = torch.neg(a).exp_().sub_(ph).div_(a.clamp_(min=torch.finfo(a.dtype).tiny))
    del a
    dphi = torch.where(small, taylor, dphi)
    del taylor, small
    g_a = (g * d).mul_(dphi)
    del dphi
    g_a.mul_(p).mul_(gv)
    before = torch.cumsum(bp, 1)
    g_a.sub_(before.sub_(bp).mul_(gv))  # - gv * sum_{r<k} b_r P_r
    del before
    return g_a, (p * gv).mul_(ph)


class _FinalPotential(torch.autograd.Function):
    """v_end with a hand-written backward: 3 saved [B, K, ...] tensors besides the inputs and ~15 elementwise
    passes in all, instead of autograd's ~15 saved tensors and ~40 passes (the decay weights are one cumsum
    forward and one backward)."""

    @staticmethod
    def forward(ctx, f, g, d):  # noqa: D102
        v, ph, p, bp = final_potential_terms(f, g, d)
        ctx.save_for_backward(f, g, d, ph, p, bp)
        return v

    @staticmethod
    def backward(ctx, grad_v):  # noqa: D102
        f, g, d, ph, p, bp = ctx.saved_tensors
        g_a, h = final_potential_grads(grad_v, f, g, d, ph, p, bp)
        grad_d = _sum_to(g_a * f + h * g, d.shape) if ctx.needs_input_grad[2] else None
        grad_f = _sum_to(g_a.mul_(d), f.shape) if ctx.needs_input_grad[0] else None
        grad_g = _sum_to(h.mul_(d), g.shape) if ctx.needs_input_grad[1] else None
        return grad_f, grad_g, grad_d


def final_potential(f: torch.Tensor, g: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """v at the end of K consecutive intervals, starting from v = 0 (Eq. 21-25 / 39-40).

    v_end = sum_k g_k d_k phi(f_k d_k) exp(-sum_{q>k} f_q d_q). Vectorised over k; ``[B, K, ...] -> [B, ...]``.
    ``f`` and ``g`` are >= 0 and any sign respectively; ``d`` >= 0 broadcasts against them. Fused backward
    (:class:`_FinalPotential`); the decay factors are exp of non-positive numbers only.
    """
    return _FinalPotential.apply(f, g, d)


def _safe_log_pos(x: torch.Tensor) -> torch.Tensor:
    pos = x > 0
    return torch.where(pos, torch.log(torch.where(pos, x, torch.ones_like(x))), torch.full_like(x, _LOG_FLOOR))


def potentials_at_starts(f: torch.Tensor, g: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """v at the start of each of K consecutive intervals (v_0 = 0) and at the end: ``[B, K+1, ...]``.

    Solves the recurrence v_{k+1} = e^{-f_k d_k} v_k + g_k d_k phi(f_k d_k) (Eq. 33) without a loop:
    v_{k+1} = sum_{q<=k} b_q exp(C_q - C_k) with C the inclusive cumsum of f d, accumulated in log space
    (``logcumsumexp``) separately for the positive and negative parts of b, so nothing overflows.
    """
    a = f * d
    b = g * d * phi(a)
    c = torch.cumsum(a, 1)
    lse_pos = torch.logcumsumexp(_safe_log_pos(b) + c, 1)
    lse_neg = torch.logcumsumexp(_safe_log_pos(-b) + c, 1)
    v_next = torch.exp(lse_pos - c) - torch.exp(lse_neg - c)
    v0 = v_next.new_zeros((v_next.shape[0], 1, *v_next.shape[2:]))
    return torch.cat([v0, v_next], 1)


def first_crossing(
    starts: torch.Tensor,
    d: torch.Tensor,
    f: torch.Tensor,
    g: torch.Tensor,
    v_start: torch.Tensor,
    v_end: torch.Tensor,
    v_th: float,
) -> torch.Tensor:
    """Earliest time at which v reaches ``v_th`` (Eq. 28-29 / 41-44), ``+inf`` when it never does.

    On interval k (start ``starts_k``, width ``d_k``, possibly ``inf``), v moves from ``v_start_k``
    towards g/f; it crosses when v_start < v_th and g - f v_th > 0, after
        tau = (v_th - v_start)/(g - f v_th) * psi(f (v_th - v_start)/(g - f v_th)),
    the stable form of (1/f) ln[(g/f - v_start)/(g/f - v_th)]. The crossing counts if tau <= d_k, or if
    ``v_end_k >= v_th`` (guards against rounding at interval ends). Reduces over dim 1.
    """
    den = g - f * v_th
    # den = 0 within rounding (v_th at the equilibrium g/f, e.g. |E| = v_th) means no crossing, not a late one
    eps = 64.0 * torch.finfo(den.dtype).eps
    ok = (v_start < v_th) & (den > eps * (g.abs() + f * v_th))
    den_s = torch.where(ok, den, torch.ones_like(den))
    num = torch.where(ok, v_th - v_start, torch.zeros_like(v_start))
    q = num / den_s
    tau = q * psi(f * q)
    hit = ok & ((tau <= d) | (v_end >= v_th))
    cand = torch.where(hit, starts + tau, torch.full_like(tau, float("inf")))
    return cand.amin(1)


def evolve_to(
    starts: torch.Tensor,
    f: torch.Tensor,
    g: torch.Tensor,
    v_start: torch.Tensor,
    index: torch.Tensor,
    t_query: torch.Tensor,
) -> torch.Tensor:
    """v(t) for query times given the interval index of each query (``-1`` = before the first interval).

    ``starts`` [B, K], ``f``/``g``/``v_start`` [B, K, O], ``index`` and ``t_query`` [B, T]; returns [B, T, O].
    """
    idx = index.clamp(min=0)
    o = f.shape[2]
    gather = idx.unsqueeze(-1).expand(-1, -1, o)
    dt = (t_query - torch.gather(starts, 1, idx)).clamp(min=0).unsqueeze(-1)
    v = step(torch.gather(v_start, 1, gather), torch.gather(f, 1, gather), torch.gather(g, 1, gather), dt)
    return torch.where((index >= 0).unsqueeze(-1), v, torch.zeros_like(v))
