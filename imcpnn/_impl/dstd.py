"""Differentiable spike-time discretization, DSTD (arXiv 2412.09010v1 Eq. 34-47, Algorithms 3-4).

Grid (our reading of Eq. 34-35 and 47; v1 leaves the offset range implicit): with M = ``steps`` >= 2 points,
    dtau = t_max / (M - 1),  T_m = m dtau - t_offset (m < M),  T_M = t_max,
so the last interval [T_{M-1}, t_max] has width t_offset (zero for the fixed offset t_offset = 0).

Each spike time t_j becomes hat-kernel spike variables on the two grid points around it (Eq. 46-47); their
cumulative sums S_jm (Eq. 36) equal 0 before the spike's interval, the fraction (T_{m+1} - t_j)/width of the
interval that lies after the spike, and 1 afterwards. f~ and g~ on every interval then come from ONE dense
matmul of S [B, M, N] with the concatenated weights [beta*w ; w] (Eq. 37-38): they are the exact interval
averages of f and g. No sort is needed, the cost is O(M N_in N_out) (Table 1).
"""

from __future__ import annotations

import torch
from torch.nn import functional as tnf

from imcpnn._impl import piecewise


def grid(steps: int, t_offset: torch.Tensor, t_max: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid points T_0..T_M [M+1] and interval widths [M] (Eq. 34-35, 47)."""
    dt = t_max / (steps - 1)
    m = torch.arange(steps, dtype=t_offset.dtype, device=t_offset.device)
    points = torch.cat([m * dt - t_offset, t_offset.new_full((1,), t_max)])
    return points, points[1:] - points[:-1]


def _spike_positions(
    t: torch.Tensor, points: torch.Tensor, widths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per spike: the interval index m_j (M for a spike at +inf), the fraction of that interval after the
    spike, and that interval's width (0 for never-arriving spikes and the empty last interval)."""
    steps = widths.shape[0]
    dt = points[1] - points[0]
    finite = torch.isfinite(t)
    t_safe = torch.where(finite, t, torch.zeros_like(t))
    # interval holding each spike: floor((t + t_offset)/dtau), the last one absorbing [T_{M-1}, t_max]
    m_j = torch.floor((t_safe - points[0]) / dt).clamp(0, steps - 1).long()
    flat = m_j.reshape(-1)  # index_select: ~10x faster than advanced indexing on CPU
    h = widths.index_select(0, flat).view(m_j.shape)
    h_pos = h > 0
    end = points.index_select(0, flat + 1).view(m_j.shape)
    frac = torch.where(h_pos, (end - t_safe) / torch.where(h_pos, h, torch.ones_like(h)), 0.0)
    m_j = torch.where(finite, m_j, torch.full_like(m_j, steps))  # never-arriving spikes: S = 0
    h = torch.where(finite & h_pos, h, torch.zeros_like(h))
    return m_j, frac, h


def spike_variables(t: torch.Tensor, points: torch.Tensor, widths: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Cumulative hat-kernel spike variables S (Eq. 36, 46-47), inserted as a new interval axis at ``dim``.

    ``t`` has any shape; the result has the interval axis of length M at position ``dim``. Spikes at +inf
    (TTFS "no spike") give S = 0 everywhere. Differentiable in ``t`` through the fractional entry only.
    Built in one fused ``where``: S_jm = frac_j at m = m_j, 1 after it, 0 before.
    """
    m_j, frac, _ = _spike_positions(t, points, widths)
    return _cumulative(m_j, frac, widths.shape[0], dim)


def _cumulative(m_j: torch.Tensor, frac: torch.Tensor, steps: int, dim: int) -> torch.Tensor:
    """S_jm = frac_j at m = m_j, 1 after it, 0 before, with the interval axis inserted at ``dim`` (one fused where)."""
    shape = [1] * (m_j.dim() + 1)
    shape[dim] = steps
    m = torch.arange(steps, device=m_j.device).view(shape)
    m_j, frac = m_j.unsqueeze(dim), frac.unsqueeze(dim)
    return torch.where(m == m_j, frac, (m > m_j).to(frac.dtype))


def coefficients(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    beta_weight: torch.Tensor,
    points: torch.Tensor,
    widths: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """f~, g~ on every grid interval, [B, M, O] each, from one matmul (Eq. 37-38)."""
    s = spike_variables(t_in, points, widths)  # [B, M, N]
    fg = s @ torch.cat([beta_weight, weight], 0).t()  # [B, M, 2*O]
    n_out = weight.shape[0]
    return fg[..., :n_out], fg[..., n_out:]


def _batch_chunks(batch: int, per_sample: int, budget: int = 1 << 17) -> list[slice]:
    """Slices of the batch holding about ``budget`` elements of a [B, M, O] tensor each (bounds temporaries)."""
    size = max(1, budget // max(per_sample, 1))
    return [slice(i, min(batch, i + size)) for i in range(0, batch, size)]


class _RCSpikeDSTD(torch.autograd.Function):
    """Fused DSTD RC-Spike layer, v(1) from (t_in, weight) and (E_pos, E_neg), with a hand-written backward.

    Forward: S [B*M, N] in one fused op; f~ and g~ (Eq. 37-38) by two GEMMs written straight into halves of one
    [2, B*M, O] buffer (the same FLOPs as one GEMM on the concatenated weights [beta*w ; w]); beta*w is a
    temporary, freed after its GEMM; then the closed form v(1) = sum_m b_m P_m (Eq. 39-40) with
    b_m = g~_m d_m phi(f~_m d_m) and P_m = exp(-sum_{q>m} f~_q d_q): a cumsum, no loop over M, nothing
    materialised at [B, N, M+1]. Saved for backward: only S and [f~; g~]; phi, P and b P are recomputed there
    (a few elementwise passes over [B, M, O], cheap next to the GEMMs), in batch chunks whose GEMMs accumulate
    the weight gradient, so temporaries stay small and peak memory stays near the GEMM floor.
    Backward (:func:`piecewise.final_potential_grads`): dv/db_m = P_m and dv/da_m = b'_m P_m - sum_{r<m} b_r P_r,
    then dL/dw = (dL/dg~)^T S + beta * (dL/df~)^T S, and the spike-time GEMMs only when t_in needs a gradient.
    """

    @staticmethod
    def forward(ctx, t_in, weight, e_pos, e_neg, points, widths):  # noqa: D102
        b, n = t_in.shape
        o = weight.shape[0]
        steps = widths.shape[0]
        m_j, frac, h = _spike_positions(t_in, points, widths)
        s = _cumulative(m_j, frac, steps, 1)
        del frac
        s2 = s.view(b * steps, n)
        fg = t_in.new_empty(2, b * steps, o)
        torch.mm(s2, (piecewise.beta_weight(weight, e_pos, e_neg)).t(), out=fg[0])
        torch.mm(s2, weight.t(), out=fg[1])
        f, g = fg[0].view(b, steps, o), fg[1].view(b, steps, o)
        d = widths.view(1, -1, 1)
        v = torch.cat([piecewise.final_potential_terms(f[c], g[c], d)[0] for c in _batch_chunks(b, steps * o)])
        ctx.e_rev = (e_pos, e_neg)
        ctx.save_for_backward(s, weight, fg, widths, m_j, h)
        return v

    @staticmethod
    def backward(ctx, grad_v):  # noqa: D102
        s, weight, fg, widths, m_j, h = ctx.saved_tensors
        b, steps, n = s.shape
        o = weight.shape[0]
        d = widths.view(1, -1, 1)
        f, g = fg[0].view(b, steps, o), fg[1].view(b, steps, o)
        need_t, need_w = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        acc_f = weight.new_zeros(o, n) if need_w else None  # (dL/df~)^T S, the gradient w.r.t. beta*w
        grad_w = weight.new_zeros(o, n) if need_w else None
        grad_t = torch.zeros_like(h) if need_t else None
        bw = piecewise.beta(weight, *ctx.e_rev).mul_(weight) if need_t else None
        # per batch chunk (bounded temporaries): recompute phi, P, bP; dL/df~ = d dL/da, dL/dg~ = d H; then the
        # GEMMs of this chunk accumulate into the [O, N] weight gradients and fill the chunk's spike-time gradient
        for c in _batch_chunks(b, steps * o):
            _, ph, p, bp = piecewise.final_potential_terms(f[c], g[c], d)
            g_a, hh = piecewise.final_potential_grads(grad_v[c], f[c], g[c], d, ph, p, bp)
            del ph, p, bp
            gf = g_a.mul_(d).view(-1, o)
            gg = hh.mul_(d).view(-1, o)
            s_c = s[c].reshape(-1, n)
            if need_w:
                acc_f.addmm_(gf.t(), s_c)
                grad_w.addmm_(gg.t(), s_c)
            if need_t:
                gs = torch.addmm(gf @ bw, gg, weight).view(-1, steps, n)
                idx = m_j[c].clamp(max=steps - 1).unsqueeze(1)
                h_c = h[c]
                h_safe = torch.where(h_c > 0, h_c, torch.ones_like(h_c))
                grad_t[c] = torch.where(h_c > 0, -gs.gather(1, idx).squeeze(1) / h_safe, torch.zeros_like(h_c))
                del gs
            del g_a, hh, gf, gg
        if need_w:
            grad_w.addcmul_(acc_f, piecewise.beta(weight, *ctx.e_rev))  # via beta*w; beta is piecewise constant
        return grad_t, grad_w, None, None, None, None


def rc_spike_potential(
    t_in: torch.Tensor, weight: torch.Tensor, e_rev: tuple[float, float], steps: int, t_offset: torch.Tensor
) -> torch.Tensor:
    """v(1) by DSTD (Eq. 39-40), fused forward and backward (:class:`_RCSpikeDSTD`). Returns [B, O].

    ``e_rev`` is the pair (E_pos, E_neg); beta*w is formed inside, so no [O, N] tensor of it is kept.
    """
    points, widths = grid(steps, t_offset)
    return _RCSpikeDSTD.apply(t_in, weight, float(e_rev[0]), float(e_rev[1]), points.detach(), widths.detach())


def rc_spike_potential_reference(
    t_in: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor, steps: int, t_offset: torch.Tensor
) -> torch.Tensor:
    """The same v(1) through plain autograd (the unfused reference the fused layer is tested against)."""
    points, widths = grid(steps, t_offset)
    f, g = coefficients(t_in, weight, beta_weight, points, widths)
    return piecewise.final_potential(f, g, widths.view(1, -1, 1))


def ttfs(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    beta_weight: torch.Tensor,
    v_th: float,
    steps: int,
    t_offset: torch.Tensor,
    t_max: float = 1.0,
) -> torch.Tensor:
    """First threshold crossing by DSTD (Eq. 41-44), with the grid on [0, t_max] and, after t_max, one
    unbounded interval carrying every spike that arrived. Returns [B, O], +inf where no spike."""
    points, widths = grid(steps, t_offset, t_max)
    f, g = coefficients(t_in, weight, beta_weight, points, widths)
    live = torch.isfinite(t_in).to(t_in.dtype)
    f_all = (live @ beta_weight.t()).unsqueeze(1)
    g_all = (live @ weight.t()).unsqueeze(1)
    return first_crossing_on_grid(f, g, f_all, g_all, points, widths, v_th)


def first_crossing_on_grid(
    f: torch.Tensor,
    g: torch.Tensor,
    f_all: torch.Tensor,
    g_all: torch.Tensor,
    points: torch.Tensor,
    widths: torch.Tensor,
    v_th: float,
) -> torch.Tensor:
    """TTFS threshold crossing (Eq. 41-44) from the grid coefficients ``f``, ``g`` [B, M, ...] and the
    coefficients ``f_all``, ``g_all`` [B, 1, ...] of the unbounded interval after the grid (every spike in).
    Shared by the dense and convolutional layers; reduces the interval axis (dim 1)."""
    extra = (1,) * (f.dim() - 2)
    d = widths.view(1, -1, *extra)
    v = piecewise.potentials_at_starts(f, g, d)  # [B, M+1, ...]
    f = torch.cat([f, f_all], 1)
    g = torch.cat([g, g_all], 1)
    d = torch.cat([d, d.new_full((1, 1, *extra), float("inf"))], 1)
    v_end = torch.cat([v[:, 1:], torch.full_like(v[:, :1], -float("inf"))], 1)
    return piecewise.first_crossing(points.view(1, -1, *extra), d, f, g, v, v_end, v_th)


def membrane_trace(
    t_in: torch.Tensor,
    weight: torch.Tensor,
    beta_weight: torch.Tensor,
    t_grid: torch.Tensor,
    steps: int,
    t_offset: torch.Tensor,
) -> torch.Tensor:
    """The DSTD model's own trajectory (interval-averaged f~, g~) at ``t_grid`` in [0, 1]. Returns [B, O, T]."""
    points, widths = grid(steps, t_offset)
    f, g = coefficients(t_in, weight, beta_weight, points, widths)
    v = piecewise.potentials_at_starts(f, g, widths.view(1, -1, 1))[:, :-1]
    b = t_in.shape[0]
    starts = points[:-1].unsqueeze(0).expand(b, -1).contiguous()
    tq = t_grid.to(t_in).unsqueeze(0).expand(b, -1).contiguous()
    index = (torch.searchsorted(starts, tq, right=True) - 1).clamp(max=steps - 1)
    return piecewise.evolve_to(starts, f, g, v, index, tq).transpose(1, 2)


# ---------------------------------------------------------------------------------------------------------
# convolutions (Eq. 37-38 with the matmul replaced by a convolution)


def conv_coefficients(
    s: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor, stride: int, padding: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """f~ and g~ of a convolutional layer: the cumulative spike variables ``s`` [B, M, C, H, W] are folded into
    the batch and convolved ONCE with the concatenated kernels [beta*w ; w]. Zero padding of ``s`` is exactly
    padding with spikes at t = 1 (intensity 0), which contribute nothing. Returns two [B, M, O, H', W']."""
    b, m = s.shape[:2]
    fg = tnf.conv2d(s.flatten(0, 1), torch.cat([beta_weight, weight], 0), stride=stride, padding=padding)
    fg = fg.unflatten(0, (b, m))
    n_out = weight.shape[0]
    return fg[:, :, :n_out], fg[:, :, n_out:]


def rc_spike_conv2d_potential(
    t: torch.Tensor,
    weight: torch.Tensor,
    beta_weight: torch.Tensor,
    steps: int,
    t_offset: torch.Tensor,
    stride: int,
    padding: int,
) -> torch.Tensor:
    """v(1) of a convolutional RC-Spike layer by DSTD (Eq. 39-40 with convolutions). Returns [B, O, H', W']."""
    points, widths = grid(steps, t_offset)
    f, g = conv_coefficients(spike_variables(t, points, widths, dim=1), weight, beta_weight, stride, padding)
    return piecewise.final_potential(f, g, widths.view(1, -1, 1, 1, 1))


def ttfs_conv2d(
    t: torch.Tensor,
    weight: torch.Tensor,
    beta_weight: torch.Tensor,
    v_th: float,
    steps: int,
    t_offset: torch.Tensor,
    t_max: float,
    stride: int,
    padding: int,
) -> torch.Tensor:
    """First threshold crossing of a convolutional TTFS layer by DSTD (Eq. 41-44 with convolutions)."""
    points, widths = grid(steps, t_offset, t_max)
    f, g = conv_coefficients(spike_variables(t, points, widths, dim=1), weight, beta_weight, stride, padding)
    live = torch.isfinite(t).to(t.dtype)
    f_all, g_all = conv_coefficients(live.unsqueeze(1), weight, beta_weight, stride, padding)
    return first_crossing_on_grid(f, g, f_all, g_all, points, widths, v_th)
