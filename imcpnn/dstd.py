"""Differentiable spike-time discretization, DSTD (PAPER.md §2.2, Eq. 34-47, Algorithms 3 and 4).

Grid (our reading of Eq. 34-35 and 47, PAPER.md §7.2): with M = ``steps`` >= 2 points,
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

from imcpnn import piecewise


def grid(steps: int, t_offset: torch.Tensor, t_max: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Grid points T_0..T_M [M+1] and interval widths [M] (Eq. 34-35, 47)."""
    dt = t_max / (steps - 1)
    m = torch.arange(steps, dtype=t_offset.dtype, device=t_offset.device)
    points = torch.cat([m * dt - t_offset, t_offset.new_full((1,), t_max)])
    return points, points[1:] - points[:-1]


def resolve_offset(offset: str | float, steps: int, t_max: float, like: torch.Tensor) -> torch.Tensor:
    """The grid offset as a 0-d tensor: ``"random"`` draws U(0, dtau) (a new draw on every call),
    ``"fixed"`` is 0, a float is used as is."""
    dt = t_max / (steps - 1)
    if offset == "random":
        return torch.rand((), dtype=like.dtype, device=like.device) * dt
    if offset == "fixed":
        return like.new_zeros(())
    return like.new_tensor(float(offset))


def spike_variables(
    t: torch.Tensor, points: torch.Tensor, widths: torch.Tensor, dim: int = 1
) -> torch.Tensor:
    """Cumulative hat-kernel spike variables S (Eq. 36, 46-47), inserted as a new interval axis at ``dim``.

    ``t`` has any shape; the result has the interval axis of length M at position ``dim``. Spikes at +inf
    (TTFS "no spike") give S = 0 everywhere. Differentiable in ``t`` through the fractional entry only.
    """
    steps = widths.shape[0]
    dt = points[1] - points[0]
    finite = torch.isfinite(t)
    t_safe = torch.where(finite, t, torch.zeros_like(t))
    # interval holding each spike: floor((t + t_offset)/dtau), the last one absorbing [T_{M-1}, t_max]
    m_j = torch.floor((t_safe - points[0]) / dt).clamp(0, steps - 1).long()
    h = widths[m_j]
    h_pos = h > 0
    frac = torch.where(h_pos, (points[m_j + 1] - t_safe) / torch.where(h_pos, h, torch.ones_like(h)), 0.0)
    m_j = torch.where(finite, m_j, torch.full_like(m_j, steps))  # never-arriving spikes: S = 0
    shape = [1] * (t.dim() + 1)
    shape[dim] = steps
    m = torch.arange(steps, device=t.device).view(shape)
    m_j, frac = m_j.unsqueeze(dim), frac.unsqueeze(dim)
    return (m > m_j).to(t.dtype) + (m == m_j).to(t.dtype) * frac


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


def rc_spike_potential(
    t_in: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor, steps: int, t_offset: torch.Tensor
) -> torch.Tensor:
    """v(1) by DSTD (Eq. 39-40). Returns [B, O]."""
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
