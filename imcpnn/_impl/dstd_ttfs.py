"""Fused TTFS DSTD threshold crossing (arXiv 2412.09010v1 Eq. 41-44, Algorithm 4) with a hand-written backward.

The plain-autograd path (:func:`imcpnn._impl.dstd.first_crossing_on_grid`) solves the grid recurrence
v_{k+1} = v_k e^{-f_k d_k} + g_k d_k phi(f_k d_k) (Eq. 43) with two ``logcumsumexp`` scans and keeps every
intermediate [B, M+1, ...] tensor for backward. Here the recurrence is a loop over the M intervals on [B, ...]
slices without a graph, the first crossing (Eq. 44, the same candidates and guards as
:func:`imcpnn._impl.piecewise.first_crossing`) keeps only its interval index, and backward uses the implicit
derivative of the crossing time, v(tau) = v_th:

    dtau/dp = -(dv(tau)/dp) / (g - f v_th),   dv(tau)/dv_k = e^{-f tau},   dv(tau)/dg = tau phi(f tau),
    dv(tau)/df = -tau v_k e^{-f tau} - g tau^2 phi2(f tau),   phi2(x) = (1 - e^{-x} - x e^{-x}) / x^2,

then carries dL/dv back through the recurrence (dv_{k+1}/dv_k = e^{-a_k}, dv_{k+1}/dg_k = d_k phi(a_k),
dv_{k+1}/df_k = -d_k v_k e^{-a_k} - g_k d_k^2 phi2(a_k), a_k = f_k d_k). Saved for backward: f, g, the
potentials at the interval starts and the crossing index. The layers use these loops inside the fully fused
functions of :mod:`imcpnn._impl.dstd_fused`; :func:`first_crossing_on_grid` applies them to grid coefficients
that come from autograd. Checked against the plain-autograd reference in float64 (values and gradients) in
tests/test_impl_dstd_ttfs.py and tests/test_impl_dstd_fused.py.
"""

from __future__ import annotations

import torch

from imcpnn._impl import piecewise

_SMALL2 = 1e-2


def phi2(x: torch.Tensor) -> torch.Tensor:
    """(1 - e^{-x} - x e^{-x}) / x^2 for x >= 0 (= -phi'(x); phi2(0) = 1/2), a Taylor series near 0."""
    small = x.abs() < _SMALL2
    xs = torch.where(small, torch.ones_like(x), x)
    big = (-torch.expm1(-xs) - xs * torch.exp(-xs)) / (xs * xs)
    taylor = 0.5 - x / 3.0 + x * x / 8.0 - x * x * x / 30.0
    return torch.where(small, taylor, big)


def _interval(f_k: torch.Tensor, d_k: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(-a, expm1(-a), phi(a)) of one interval, a = f d clamped to the smallest normal: phi = -expm1(-a)/a is then
    exact to the ulp for every a >= 0 (phi(0) = 1), no series needed."""
    an = (f_k * -d_k).clamp_(max=-torch.finfo(f_k.dtype).tiny)
    em1 = torch.expm1(an)
    return an, em1, em1 / an


def crossing_forward(f, g, points, widths, v_th: float, v_out: torch.Tensor | None = None):
    """The crossing of :func:`first_crossing_on_grid` as ONE loop over the M grid intervals: ``f``, ``g``
    [B, M+1, ...] (strided views are fine; slice M is the unbounded interval after t_max). Within an interval v moves
    monotonically towards g/f, so the first crossing lies in the first interval k with v_{k+1} >= v_th (Eq. 43-44);
    the loop only runs the recurrence and records that index (about ten streaming passes per interval on [B, ...]
    slices, no [B, M+1, ...] temporary), then the crossing time is solved once, in the found interval, with the
    candidates and guards of :func:`piecewise.first_crossing` (the unbounded interval for neurons still below
    threshold at t_max). The same result as the reference up to rounding (a crossing within rounding of a grid
    point may be attributed to either neighbouring interval). Returns (t, interval index, potentials at the
    interval starts [B, M+1, ...], written into ``v_out`` when given)."""
    m = widths.shape[0]
    ds = [float(x) for x in widths.tolist()]
    v = f.new_empty(f.shape[0], m + 1, *f.shape[2:]) if v_out is None else v_out
    v[:, 0] = 0.0
    idx = torch.full(v[:, 0].shape, m, dtype=torch.long, device=v.device)  # m: not (yet) crossed on the grid
    for k in range(m):
        fk, gk, vk = f[:, k], g[:, k], v[:, k]
        _, em1, ph = _interval(fk, ds[k])
        v_end = v[:, k + 1]
        torch.addcmul(vk, vk, em1, out=v_end).addcmul_(gk, ph, value=ds[k])  # v e^{-a} + g d phi(a)
        idx.masked_fill_((v_end >= v_th).logical_and_(idx == m), k)
    k1 = idx.unsqueeze(1)
    fk, gk, vk = (torch.gather(a, 1, k1).squeeze(1) for a in (f, g, v))
    den = torch.add(gk, fk, alpha=-v_th)
    # den = 0 within rounding (v_th at the equilibrium g/f) means no crossing, not a late one
    ok = torch.lt(torch.add(gk.abs(), fk, alpha=v_th).mul_(64.0 * torch.finfo(f.dtype).eps), den)
    ok.logical_and_(vk < v_th)
    q = torch.where(ok, torch.sub(v_th, vk).div_(den), 0.0)
    x = (fk * q).clamp_(min=torch.finfo(f.dtype).tiny)
    tau = q.mul_(torch.log1p(x).div_(x))  # q psi(f q), psi(x) = log1p(x)/x
    t = torch.where(ok, tau.add_(points[idx]), float("inf"))
    return t, idx, v


def crossing_backward(grad_t, f, g, v, idx, t, points, widths, v_th: float, out_f, out_g) -> None:
    """Adjoint of :func:`crossing_forward` (the implicit derivative of the crossing time, then dL/dv carried back
    through the recurrence; see the module docstring), written into ``out_f``, ``out_g`` [B, M+1, ...]."""
    m = widths.shape[0]
    ds = [float(x) for x in widths.tolist()]
    fired = torch.isfinite(t)
    k = idx.unsqueeze(1)
    fk, gk, vk = (torch.gather(a, 1, k).squeeze(1) for a in (f, g, v))
    tau = torch.where(fired, t - points[idx], torch.zeros_like(t))
    dvdt = torch.where(fired, gk - fk * v_th, torch.ones_like(t))
    gt = torch.where(fired, grad_t, torch.zeros_like(grad_t)) / dvdt
    x = fk * tau
    e = torch.exp(-x)
    grad_v_k = -gt * e
    direct_f = gt * (tau * vk * e + gk * tau * tau * phi2(x))
    direct_g = -gt * tau * piecewise.phi(x)
    lam = torch.zeros_like(grad_t)
    out_f[:, m] = 0.0
    out_g[:, m] = 0.0
    for q in range(m - 1, -1, -1):  # lam = dL/dv_{q+1}, carried back through v_{q+1}(v_q, f_q, g_q)
        lam.add_(torch.where(idx == q + 1, grad_v_k, 0.0))
        dq = ds[q]
        an, em1, ph = _interval(f[:, q], dq)
        # phi2(a) = (phi(a) - e^{-a}) / a, its Taylor series 1/2 - a/3 + a^2/8 - a^3/30 for small a
        p2 = torch.sub(em1, ph).add_(1.0).div_(an)
        small = an > -_SMALL2
        if bool(small.any()):
            series = an.mul(1.0 / 30.0).add_(1.0 / 8.0).mul_(an).add_(1.0 / 3.0).mul_(an).add_(0.5)
            p2 = torch.where(small, series, p2)
        # dv_{q+1}/df_q = -d v_q e^{-a} - g d^2 phi2(a),  dv_{q+1}/dg_q = d phi(a),  dv_{q+1}/dv_q = e^{-a}
        dvdf = torch.addcmul(v[:, q], v[:, q], em1).mul_(-dq).addcmul_(g[:, q], p2, value=-dq * dq)
        torch.mul(lam, dvdf, out=out_f[:, q])
        torch.mul(lam, ph, out=out_g[:, q]).mul_(dq)
        lam.addcmul_(lam, em1)
    # the crossing interval's own terms (exactly one interval per neuron; zero for neurons that never fire)
    out_f.scatter_add_(1, k, direct_f.unsqueeze(1))
    out_g.scatter_add_(1, k, direct_g.unsqueeze(1))


class _FirstCrossing(torch.autograd.Function):
    """The crossing on given grid coefficients (f, g from autograd): :func:`crossing_forward` and its adjoint."""

    @staticmethod
    def forward(ctx, f, g, f_all, g_all, points, widths, v_th):  # noqa: D102
        ff, gg = torch.cat([f, f_all], 1), torch.cat([g, g_all], 1)
        t, idx, v = crossing_forward(ff, gg, points, widths, v_th)
        ctx.save_for_backward(ff, gg, v, idx, t, points, widths)
        ctx.v_th = v_th
        return t

    @staticmethod
    def backward(ctx, grad_t):  # noqa: D102
        ff, gg, v, idx, t, points, widths = ctx.saved_tensors
        m = widths.shape[0]
        grad_f, grad_g = torch.empty_like(ff), torch.empty_like(gg)
        crossing_backward(grad_t, ff, gg, v, idx, t, points, widths, ctx.v_th, grad_f, grad_g)
        return grad_f[:, :m], grad_g[:, :m], grad_f[:, m:], grad_g[:, m:], None, None, None


def first_crossing_on_grid(f, g, f_all, g_all, points, widths, v_th: float) -> torch.Tensor:
    """Drop-in for :func:`imcpnn._impl.dstd.first_crossing_on_grid` (same arguments and result), fused."""
    return _FirstCrossing.apply(f, g, f_all, g_all, points, widths, float(v_th))
