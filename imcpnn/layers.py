"""``torch.nn`` layers over the functional core: RC-Spike and TTFS, dense and convolutional, plus the spike
encoding, time-domain pooling and spike-time noise used by the paper's networks (PAPER.md §1.4, §3).

Training vs evaluation (App. E): in ``train()`` mode a DSTD layer uses ``steps`` grid points with
``offset`` (default ``"random"``: a new offset per call, i.e. per mini-batch and layer, Algorithms 3-4); in
``eval()`` mode it uses ``test_steps`` with ``test_offset`` (default ``"fixed"``; ``"random"`` is allowed, as in
the paper's repeated test evaluations). Every layer carries its own ``e_rev``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as tnf

from imcpnn import functional as F
from imcpnn._impl import dstd, piecewise
from imcpnn._impl.validate import (
    ERev,
    check_method,
    check_no_nan,
    check_offset,
    check_steps,
    check_unit_interval,
    is_ideal,
    reversal_potentials,
)


def encode(x: torch.Tensor, tau_in: float = 1.0) -> torch.Tensor:
    """Pixel intensities x in [0, 1] to input spike times t = tau_in (1 - x) (Eq. 54-55): bright = early."""
    if (x < 0).any() or (x > 1).any():
        raise ValueError("x must lie in [0, 1] (normalised intensities) for encode()")
    return tau_in * (1.0 - x)


def he_uniform_(weight: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Our RC-Spike initialisation (the paper gives none, PAPER.md §1.3): U(-b, b), b = gain sqrt(6 / fan_in),
    the He bound for the hard-sigmoid units that RC-Spike becomes at |E| -> inf."""
    fan_in = weight[0].numel()
    bound = gain * math.sqrt(6.0 / fan_in)
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


class _DSTDLayer(nn.Module):
    """Common state: reversal potentials, solver and the train/test DSTD settings."""

    def __init__(
        self,
        e_rev: ERev,
        steps: int,
        test_steps: int | None,
        offset: str | float,
        test_offset: str | float,
        method: str,
    ) -> None:
        super().__init__()
        self.e_pos, self.e_neg = reversal_potentials(e_rev)
        self.method = check_method(method)
        self.steps = check_steps(steps)
        self.test_steps = check_steps(test_steps if test_steps is not None else steps)
        check_offset(offset, 1.0 / (self.steps - 1))
        check_offset(test_offset, 1.0 / (self.test_steps - 1))
        self.offset, self.test_offset = offset, test_offset

    @property
    def e_rev(self) -> tuple[float, float]:
        return (self.e_pos, self.e_neg)

    def dstd_settings(self) -> tuple[int, str | float]:
        return (self.steps, self.offset) if self.training else (self.test_steps, self.test_offset)

    def extra_repr(self) -> str:
        return (
            f"e_rev=({self.e_pos:g}, {self.e_neg:g}), method={self.method}, steps={self.steps}, "
            f"test_steps={self.test_steps}, offset={self.offset}, test_offset={self.test_offset}"
        )


class RCSpikeLinear(_DSTDLayer):
    """Dense RC-Spike layer: spike times in, spike times out (Eq. 20-27; DSTD Eq. 39-40)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        e_rev: ERev,
        *,
        steps: int = 3,
        test_steps: int | None = 30,
        offset: str | float = "random",
        test_offset: str | float = "fixed",
        method: str = "dstd",
        e_dis: float | None = None,
        init_gain: float = 1.0,
    ) -> None:
        super().__init__(e_rev, steps, test_steps, offset, test_offset, method)
        self.in_features, self.out_features, self.e_dis = in_features, out_features, e_dis
        self.weight = nn.Parameter(he_uniform_(torch.empty(out_features, in_features), init_gain))

    def potential(self, t: torch.Tensor) -> torch.Tensor:
        steps, offset = self.dstd_settings()
        kw = {"steps": steps, "offset": offset} if self.method == "dstd" else {}
        return F.rc_spike_potential(t, self.weight, self.e_rev, method=self.method, **kw)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return F.firing_time(self.potential(t), self.e_dis)


class TTFSLinear(_DSTDLayer):
    """Dense TTFS layer (Eq. 28-29; DSTD Eq. 41-44); +inf marks a neuron that did not fire."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        e_rev: ERev,
        *,
        steps: int = 30,
        test_steps: int | None = 60,
        offset: str | float = "random",
        test_offset: str | float = "fixed",
        method: str = "dstd",
        v_th: float = 1.0,
        t_max: float = 1.0,
        init_gain: float = 1.0,
    ) -> None:
        super().__init__(e_rev, steps, test_steps, offset, test_offset, method)
        self.in_features, self.out_features, self.v_th, self.t_max = in_features, out_features, v_th, t_max
        self.weight = nn.Parameter(he_uniform_(torch.empty(out_features, in_features), init_gain))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        steps, offset = self.dstd_settings()
        kw = {"steps": steps, "offset": offset, "t_max": self.t_max} if self.method == "dstd" else {}
        return F.ttfs(t, self.weight, self.e_rev, v_th=self.v_th, method=self.method, **kw)


class _DSTDConv2d(_DSTDLayer):
    """f~ and g~ of a convolutional layer: the cumulative spike variables S [B, M, C, H, W] are folded into the
    batch and convolved ONCE with the concatenated kernels [beta*w ; w] (Eq. 37-38 as convolutions). Zero
    padding of S is exactly padding with spikes at t = 1 (intensity 0), which contribute nothing."""

    def __init__(self, in_channels, out_channels, kernel_size, e_rev, steps, test_steps, offset, test_offset,
                 stride, padding, init_gain) -> None:  # fmt: skip
        super().__init__(e_rev, steps, test_steps, offset, test_offset, "dstd")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        w = torch.empty(out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(he_uniform_(w, init_gain))

    def _beta_weight(self) -> torch.Tensor:
        return torch.where(self.weight >= 0, self.weight / self.e_pos, self.weight / self.e_neg)

    def _grid(self, t: torch.Tensor, t_max: float = 1.0):
        if t.dim() != 4 or t.shape[1] != self.in_channels:
            raise ValueError(f"t must have shape [batch, {self.in_channels}, H, W], got {tuple(t.shape)}")
        check_no_nan(t, "t")
        steps, offset = self.dstd_settings()
        t_offset = dstd.resolve_offset(offset, steps, t_max, t)
        return dstd.grid(steps, t_offset, t_max)

    def _conv(self, x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        return tnf.conv2d(x, kernels, stride=self.stride, padding=self.padding)

    def _coefficients(self, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, m = s.shape[:2]
        fg = self._conv(s.flatten(0, 1), torch.cat([self._beta_weight(), self.weight], 0))
        fg = fg.unflatten(0, (b, m))  # [B, M, 2*O, H', W']
        return fg[:, :, : self.out_channels], fg[:, :, self.out_channels :]


class RCSpikeConv2d(_DSTDConv2d):
    """Convolutional RC-Spike layer by DSTD: spike-time maps [B, C, H, W] in, [B, O, H', W'] out."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        e_rev: ERev,
        *,
        steps: int = 4,
        test_steps: int | None = 30,
        offset: str | float = "random",
        test_offset: str | float = "fixed",
        stride: int = 1,
        padding: int = 1,
        e_dis: float | None = None,
        init_gain: float = 1.0,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, e_rev, steps, test_steps, offset, test_offset,
                         stride, padding, init_gain)  # fmt: skip
        self.e_dis = e_dis

    def potential(self, t: torch.Tensor) -> torch.Tensor:
        points, widths = self._grid(t)
        check_unit_interval(t, "t")
        if is_ideal(self.e_pos, self.e_neg):
            return self._conv(1.0 - t, self.weight)
        f, g = self._coefficients(dstd.spike_variables(t, points, widths, dim=1))
        return piecewise.final_potential(f, g, widths.view(1, -1, 1, 1, 1))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return F.firing_time(self.potential(t), self.e_dis)


class TTFSConv2d(_DSTDConv2d):
    """Convolutional TTFS layer by DSTD (Eq. 41-44 with convolutions); +inf where a neuron does not fire."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        e_rev: ERev,
        *,
        steps: int = 30,
        test_steps: int | None = 60,
        offset: str | float = "random",
        test_offset: str | float = "fixed",
        stride: int = 1,
        padding: int = 1,
        v_th: float = 1.0,
        t_max: float = 1.0,
        init_gain: float = 1.0,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, e_rev, steps, test_steps, offset, test_offset,
                         stride, padding, init_gain)  # fmt: skip
        self.v_th, self.t_max = v_th, t_max

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        points, widths = self._grid(t, self.t_max)
        f, g = self._coefficients(dstd.spike_variables(t, points, widths, dim=1))
        live = torch.isfinite(t).to(t.dtype)
        f_all, g_all = self._coefficients(live.unsqueeze(1))
        return dstd.first_crossing_on_grid(f, g, f_all, g_all, points, widths, self.v_th)


class TimeMinPool2d(nn.Module):
    """Time-domain max pooling: the earliest spike in each window wins (min over spike times)."""

    def __init__(self, kernel_size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride or kernel_size

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return -tnf.max_pool2d(-t, self.kernel_size, self.stride)


class SpikeNoise(nn.Module):
    """Gaussian spike-time jitter N(0, sigma^2) on a layer's output spikes, in training AND at test (§3).

    With ``clamp=True`` (RC-Spike) the jittered times are clipped back into the phase [0, 1], where the next
    layer's accumulation phase can receive them (our choice; the paper does not say).
    """

    def __init__(self, sigma: float = 0.01, clamp: bool = True) -> None:
        super().__init__()
        if not (sigma >= 0 and math.isfinite(sigma)):
            raise ValueError(f"sigma must be a finite number >= 0, got {sigma!r}")
        self.sigma, self.clamp = float(sigma), clamp

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if self.sigma == 0:
            return t
        t = t + self.sigma * torch.randn_like(t)
        return t.clamp(0.0, 1.0) if self.clamp else t

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:g}, clamp={self.clamp}"
