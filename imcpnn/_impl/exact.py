"""Exact event-driven solution of the IMC-aware neuron on sorted input spikes (arXiv 2412.09010v1 Eq. 12-33,
Algorithms 1 and 2).

Vectorised: one ``sort`` per sample, one gather of the (weight, beta*weight) columns into spike order and one
``cumsum`` give f_k, g_k on every inter-spike interval (Eq. 18-19); the interval recurrences are solved by
the loop-free kernels of :mod:`imcpnn._impl.piecewise`. Memory and time are O(batch * n_in * n_out), the cost
that DSTD removes (Table 1).
"""

from __future__ import annotations

import torch

from imcpnn._impl import piecewise


def sorted_coefficients(
    t_in: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sort spikes; return sorted times [B, N] and the cumulative f, g after each spike, [B, N, O] each."""
    ts, order = torch.sort(t_in, dim=1, stable=True)
    n_out = weight.shape[0]
    cols = torch.cat([beta_weight, weight], 0).t()  # [N, 2*O]
    fg = torch.cumsum(cols[order], 1)  # [B, N, 2*O]
    return ts, fg[..., :n_out], fg[..., n_out:]


def rc_spike_potential(t_in: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor) -> torch.Tensor:
    """v(1) at the end of the accumulation phase (Eq. 21-25); t_in in [0, 1]. Returns [B, O]."""
    ts, f, g = sorted_coefficients(t_in, weight, beta_weight)
    ends = torch.cat([ts[:, 1:], torch.ones_like(ts[:, :1])], 1)
    return piecewise.final_potential(f, g, (ends - ts).unsqueeze(-1))


def park_silent(t_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Spikes at +inf never arrive: return (times with those parked at the row's last real spike, or 0, and the
    mask of real spikes). Parking keeps every interval width finite; the caller zeroes their weights."""
    finite = torch.isfinite(t_in)
    last = torch.where(finite, t_in, torch.full_like(t_in, -float("inf"))).amax(1, keepdim=True)
    last = torch.where(torch.isfinite(last), last, torch.zeros_like(last))
    return torch.where(finite, t_in, last), finite


def _finite_sorted(t_in: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor):
    """Sorted intervals for TTFS: spikes at +inf never arrive (zero weight, parked at the last real spike)."""
    t_park, finite = park_silent(t_in)
    ts, order = torch.sort(t_park, dim=1, stable=True)
    n_out = weight.shape[0]
    cols = torch.cat([beta_weight, weight], 0).t()
    live = torch.gather(finite, 1, order).unsqueeze(-1).to(cols.dtype)
    fg = torch.cumsum(cols[order] * live, 1)
    return ts, fg[..., :n_out], fg[..., n_out:]


def _intervals(ts: torch.Tensor) -> torch.Tensor:
    """Widths of the intervals after each sorted spike; the last one is infinite (t_N = inf, Eq. 29)."""
    return torch.cat([ts[:, 1:] - ts[:, :-1], torch.full_like(ts[:, :1], float("inf"))], 1)


def ttfs(t_in: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor, v_th: float) -> torch.Tensor:
    """First threshold-crossing time (Eq. 28-29, 33); +inf if the neuron never fires. Returns [B, O]."""
    ts, f, g = _finite_sorted(t_in, weight, beta_weight)
    d = _intervals(ts).unsqueeze(-1)
    v = piecewise.potentials_at_starts(f[:, :-1], g[:, :-1], d[:, :-1])  # [B, N, O]
    v_end = torch.cat([v[:, 1:], torch.full_like(v[:, :1], -float("inf"))], 1)
    return piecewise.first_crossing(ts.unsqueeze(-1), d, f, g, v, v_end, v_th)


def membrane_trace(
    t_in: torch.Tensor, weight: torch.Tensor, beta_weight: torch.Tensor, t_grid: torch.Tensor
) -> torch.Tensor:
    """v(t) of the accumulation ODE (no threshold, no reset) at the times ``t_grid`` [T]. Returns [B, O, T]."""
    ts, f, g = _finite_sorted(t_in, weight, beta_weight)
    d = (ts[:, 1:] - ts[:, :-1]).unsqueeze(-1)
    v = piecewise.potentials_at_starts(f[:, :-1], g[:, :-1], d)
    tq = t_grid.to(ts).unsqueeze(0).expand(ts.shape[0], -1).contiguous()
    index = torch.searchsorted(ts.contiguous(), tq, right=True) - 1
    return piecewise.evolve_to(ts, f, g, v, index, tq).transpose(1, 2)
