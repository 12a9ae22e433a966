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
potentials at the interval starts and the crossing index. The GEMMs / convolutions that produce f and g stay
in autograd (:mod:`imcpnn._impl.dstd`). Checked against the plain-autograd reference in float64 (values and
gradients) in tests/test_impl_dstd_ttfs.py.
"""

from __future__ import annotations

import torch

from imcpnn._impl import dstd, piecewise

_SMALL2 = 1e-2


def phi2(x: torch.Tensor) -> torch.Tensor:
    """(1 - e^{-x} - x e^{-x}) / x^2 for x >= 0 (= -phi'(x); phi2(0) = 1/2), a Taylor series near 0."""
    small = x.abs() < _SMALL2
    xs = torch.where(small, torch.ones_like(x), x)
    big = (-torch.expm1(-xs) - xs * torch.exp(-xs)) / (xs * xs)
    taylor = 0.5 - x / 3.0 + x * x / 8.0 - x * x * x / 30.0
    return torch.where(small, taylor, big)


def _crossing(starts, d, f, g, v, v_end, v_th):
    """Candidates of :func:`piecewise.first_crossing`; returns (t, interval index, tau)."""
    den = g - f * v_th
    eps = 64.0 * torch.finfo(den.dtype).eps
    ok = (v < v_th) & (den > eps * (g.abs() + f * v_th))
    den_s = torch.where(ok, den, torch.ones_like(den))
    num = torch.where(ok, v_th - v, torch.zeros_like(v))
    q = num / den_s
    tau = q * piecewise.psi(f * q)
    hit = ok & ((tau <= d) | (v_end >= v_th))
    cand = torch.where(hit, starts + tau, torch.full_like(tau, float("inf")))
    t, idx = cand.min(1)
    return t, idx


class _FirstCrossing(torch.autograd.Function):
    @staticmethod
    def forward(ctx, f, g, f_all, g_all, points, widths, v_th):  # noqa: D102
        extra = (1,) * (f.dim() - 2)
        m = f.shape[1]
        d = widths.view(1, -1, *extra)
        ff = torch.cat([f, f_all], 1)
        gg = torch.cat([g, g_all], 1)
        dd = torch.cat([d, d.new_full((1, 1, *extra), float("inf"))], 1)
        v = torch.zeros_like(ff)  # v at the start of every interval (the unbounded one included)
        for k in range(m):
            a = ff[:, k] * dd[:, k]
            v[:, k + 1] = v[:, k] * torch.exp(-a) + gg[:, k] * dd[:, k] * piecewise.phi(a)
        v_end = torch.cat([v[:, 1:], torch.full_like(v[:, :1], -float("inf"))], 1)
        starts = points.view(1, -1, *extra)
        t, idx = _crossing(starts, dd, ff, gg, v, v_end, v_th)
        ctx.save_for_backward(ff, gg, v, idx, t, points, widths)
        ctx.v_th = v_th
        return t

    @staticmethod
    def backward(ctx, grad_t):  # noqa: D102
        ff, gg, v, idx, t, points, widths = ctx.saved_tensors
        v_th, m = ctx.v_th, widths.shape[0]
        fired = torch.isfinite(t)
        k = idx.unsqueeze(1)
        fk, gk, vk = (torch.gather(a, 1, k).squeeze(1) for a in (ff, gg, v))
        start = points[idx]
        tau = torch.where(fired, t - start, torch.zeros_like(t))
        dvdt = torch.where(fired, gk - fk * v_th, torch.ones_like(t))
        gt = torch.where(fired, grad_t, torch.zeros_like(grad_t)) / dvdt
        x = fk * tau
        e = torch.exp(-x)
        grad_v_k = -gt * e
        grad_f = torch.zeros_like(ff)
        grad_g = torch.zeros_like(gg)
        grad_f.scatter_(1, k, (gt * (tau * vk * e + gk * tau * tau * phi2(x))).unsqueeze(1))
        grad_g.scatter_(1, k, (-gt * tau * piecewise.phi(x)).unsqueeze(1))
        lam = torch.zeros_like(grad_t)
        for q in range(m - 1, -1, -1):  # carry dL/dv_{q+1} back through v_{q+1}(v_q, f_q, g_q)
            lam = lam + torch.where(idx == q + 1, grad_v_k, torch.zeros_like(grad_v_k))
            dq = widths[q]
            a = ff[:, q] * dq
            ea = torch.exp(-a)
            grad_f[:, q] += lam * (-dq * v[:, q] * ea - gg[:, q] * dq * dq * phi2(a))
            grad_g[:, q] += lam * dq * piecewise.phi(a)
            lam = lam * ea
        return grad_f[:, :m], grad_g[:, :m], grad_f[:, m:], grad_g[:, m:], None, None, None


def first_crossing_on_grid(f, g, f_all, g_all, points, widths, v_th: float) -> torch.Tensor:
    """Drop-in for :func:`imcpnn._impl.dstd.first_crossing_on_grid` (same arguments and result), fused."""
    return _FirstCrossing.apply(f, g, f_all, g_all, points, widths, float(v_th))


def ttfs(t_in, weight, beta_weight, v_th: float, steps: int, t_offset, t_max: float = 1.0) -> torch.Tensor:
    """Dense TTFS layer by DSTD (as :func:`imcpnn._impl.dstd.ttfs`) with the fused crossing."""
    points, widths = dstd.grid(steps, t_offset, t_max)
    f, g = dstd.coefficients(t_in, weight, beta_weight, points, widths)
    live = torch.isfinite(t_in).to(t_in.dtype)
    f_all = (live @ beta_weight.t()).unsqueeze(1)
    g_all = (live @ weight.t()).unsqueeze(1)
    return first_crossing_on_grid(f, g, f_all, g_all, points, widths, v_th)


def ttfs_conv2d(t, weight, beta_weight, v_th: float, steps: int, t_offset, t_max: float, stride: int,
                padding: int) -> torch.Tensor:  # fmt: skip
    """Convolutional TTFS layer by DSTD (as :func:`imcpnn._impl.dstd.ttfs_conv2d`) with the fused crossing."""
    points, widths = dstd.grid(steps, t_offset, t_max)
    s = dstd.spike_variables(t, points, widths, dim=1)
    f, g = dstd.conv_coefficients(s, weight, beta_weight, stride, padding)
    live = torch.isfinite(t).to(t.dtype)
    f_all, g_all = dstd.conv_coefficients(live.unsqueeze(1), weight, beta_weight, stride, padding)
    return first_crossing_on_grid(f, g, f_all, g_all, points, widths, v_th)
