"""``torch.nn`` layers over the functional core: RC-Spike and TTFS, dense and convolutional, plus the spike
encoding, time-domain pooling and spike-time noise of the paper's networks (arXiv 2412.09010v1 Section 3, App. C).

Training vs evaluation (App. E): in ``train()`` mode a DSTD layer uses ``steps`` grid points with
``offset`` (default ``"random"``: a new offset per call, i.e. per mini-batch and layer, Algorithms 3-4); in
``eval()`` mode it uses ``test_steps`` with ``test_offset`` (default ``"fixed"``; ``"random"`` is allowed, as in
the paper's repeated test evaluations). Every layer carries its own ``e_rev``.

Every layer's ``e_rev`` argument also takes a :class:`imcpnn.neuron.Neuron` (E+/E-, E_dis and both solvers in
one validated object); the solver keywords then stay at their defaults. ``layer.neuron`` gives it back::

    from imcpnn.functional import DSTD
    from imcpnn.layers import RCSpikeLinear
    from imcpnn.neuron import Neuron

    layer = RCSpikeLinear(784, 400, Neuron("2.8:-1.53", e_dis=3.0, solver=DSTD(3)))
    assert layer.neuron.e_dis == 3.0

Example::

    import torch
    from torch import nn
    from imcpnn import layers

    net = nn.Sequential(
        layers.RCSpikeConv2d(1, 4, 3, e_rev=4.0, steps=4, test_steps=10),  # [B, 1, 8, 8] -> [B, 4, 8, 8]
        layers.SpikeNoise(0.01),  # spike-time jitter, clipped back into [0, 1]
        layers.TimeMinPool2d(2),  # the earliest spike wins: [B, 4, 4, 4]
        nn.Flatten(),
        layers.RCSpikeLinear(64, 3, e_rev=(2.8, -1.53), test_steps=10),
    )
    t = layers.encode(torch.rand(2, 1, 8, 8))  # bright pixels spike early (Eq. 54-55)
    t_train = net(t)  # training mode: DSTD M = 4 / 3 with a random offset per call (Algorithms 3-4)
    t_test = net.eval()(t)  # evaluation mode: M = 10, fixed offset (App. E)
    ttfs = layers.TTFSLinear(6, 2, e_rev=4.0, method="exact")  # +inf where a neuron does not fire
    t_ttfs = ttfs(torch.rand(5, 6))
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as tnf

from imcpnn import functional as F
from imcpnn.functional import DSTD, ODE, ERev, Exact, Solver, reversal_potentials, solver_from
from imcpnn.neuron import Neuron

__all__ = [
    "encode",
    "he_uniform_",
    "he_bound",
    "SpikingLayer",
    "RCSpikeLinear",
    "TTFSLinear",
    "RCSpikeConv2d",
    "TTFSConv2d",
    "TimeMinPool2d",
    "SpikeNoise",
]


def encode(x: torch.Tensor, tau_in: float = 1.0) -> torch.Tensor:
    """Pixel intensities x in [0, 1] to input spike times t = tau_in (1 - x) (Eq. 54-55): bright = early."""
    if (x < 0).any() or (x > 1).any():
        raise ValueError("x must lie in [0, 1] (normalised intensities) for encode()")
    return tau_in * (1.0 - x)


def he_bound(fan_in: int, gain: float = 1.0) -> float:
    """The He-uniform bound gain * sqrt(6 / fan_in): the one definition (initialisation and benchmarks)."""
    return gain * math.sqrt(6.0 / fan_in)


def he_uniform_(weight: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Our RC-Spike initialisation (the paper gives none): U(-b, b), b = gain sqrt(6 / fan_in),
    the He bound for the hard-sigmoid units that RC-Spike becomes at |E| -> inf."""
    bound = he_bound(weight[0].numel(), gain)
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


def _solvers(
    method: str | Solver, steps: int, test_steps: int | None, offset: str | float, test_offset: str | float
) -> tuple[Solver, Solver]:
    """Train- and test-time solvers from the layer's keyword sugar (checked once, in ``solver_from``)."""
    if isinstance(method, (DSTD, Exact, ODE)):
        return method, method
    if method == "dstd":
        test = test_steps if test_steps is not None else steps
        return solver_from("dstd", steps, offset), solver_from("dstd", test, test_offset)
    solver = solver_from(method)
    return solver, solver


_SOLVER_KEYS = ("steps", "test_steps", "offset", "test_offset", "method", "e_dis")


def _unpack(
    layer: type, e_rev: ERev | Neuron, given: dict[str, Any], *, dstd_only: bool = False, discharger: bool = True
) -> tuple[ERev, Solver, Solver, float | None]:
    """E+/E-, the train and test solvers and E_dis of a layer: from a :class:`Neuron` (the solver keywords
    ``given`` must then be at the layer's defaults) or from the keyword sugar."""
    if isinstance(e_rev, Neuron):
        params = inspect.signature(layer.__init__).parameters
        beside = [k for k in _SOLVER_KEYS if k in given and given[k] != params[k].default]
        if beside:
            raise ValueError(f"{layer.__name__}: pass {', '.join(beside)} inside the Neuron, not beside it")
        if dstd_only and not (isinstance(e_rev.solver, DSTD) and isinstance(e_rev.test_solver, DSTD)):
            raise ValueError(f"{layer.__name__} is solved by DSTD only; the Neuron's solvers must be DSTD(...)")
        if not discharger and e_rev.e_dis is not None:
            raise ValueError(f"{layer.__name__} has no discharger (TTFS, App. C); the Neuron's e_dis must be None")
        return e_rev.e_rev, e_rev.solver, e_rev.test_solver, e_rev.e_dis
    method = "dstd" if dstd_only else given["method"]
    solver, test_solver = _solvers(method, given["steps"], given["test_steps"], given["offset"], given["test_offset"])
    return e_rev, solver, test_solver, given.get("e_dis")


class SpikingLayer(nn.Module):
    """Common state of every spiking layer: its reversal potentials and two solver descriptions, one for
    training (``solver``) and one for evaluation (``test_solver``), chosen by ``self.training`` (App. E)."""

    def __init__(self, e_rev: ERev, solver: Solver, test_solver: Solver) -> None:
        super().__init__()
        self.e_pos, self.e_neg = reversal_potentials(e_rev)
        self.solver, self.test_solver = solver, test_solver

    @property
    def e_rev(self) -> tuple[float, float]:
        return (self.e_pos, self.e_neg)

    @property
    def neuron(self) -> Neuron:
        """The layer's E+/E-, E_dis and solvers as one :class:`imcpnn.neuron.Neuron`."""
        return Neuron(self.e_rev, getattr(self, "e_dis", None), self.solver, self.test_solver)

    def set_e_rev(self, e_rev: ERev) -> None:
        """Evaluate (or train) the same weights at other reversal potentials (the ANN baseline of App. F)."""
        self.e_pos, self.e_neg = reversal_potentials(e_rev)

    def set_test_solver(self, solver: Solver) -> None:
        """Switch the evaluation-time solver of a trained layer (e.g. another test-time M, Fig. 13)."""
        if not isinstance(solver, (DSTD, Exact, ODE)):
            raise ValueError(f"solver must be Exact(), DSTD(steps, offset) or ODE(...), got {solver!r}")
        self.test_solver = solver

    @property
    def active_solver(self) -> Solver:
        return self.solver if self.training else self.test_solver

    # read-only views of the solver settings
    @property
    def method(self) -> str:
        return self.solver.name

    @property
    def steps(self) -> int | None:
        return getattr(self.solver, "steps", None)

    @property
    def test_steps(self) -> int | None:
        return getattr(self.test_solver, "steps", None)

    @property
    def offset(self) -> str | float | None:
        return getattr(self.solver, "offset", None)

    @property
    def test_offset(self) -> str | float | None:
        return getattr(self.test_solver, "offset", None)

    def extra_repr(self) -> str:
        return (
            f"e_rev=({self.e_pos:g}, {self.e_neg:g}), solver={self.solver.describe()}, "
            f"test_solver={self.test_solver.describe()}"
        )


class RCSpikeLinear(SpikingLayer):
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
        method: str | Solver = "dstd",
        e_dis: float | None = None,
        init_gain: float = 1.0,
    ) -> None:
        given = dict(steps=steps, test_steps=test_steps, offset=offset, test_offset=test_offset, method=method)
        e_rev, solver, test_solver, e_dis = _unpack(type(self), e_rev, {**given, "e_dis": e_dis})
        super().__init__(e_rev, solver, test_solver)
        self.in_features, self.out_features, self.e_dis = in_features, out_features, e_dis
        self.weight = nn.Parameter(he_uniform_(torch.empty(out_features, in_features), init_gain))

    def potential(self, t: torch.Tensor) -> torch.Tensor:
        return F.rc_spike_potential(t, self.weight, self.e_rev, method=self.active_solver)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return F.firing_time(self.potential(t), self.e_dis)


class TTFSLinear(SpikingLayer):
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
        method: str | Solver = "dstd",
        v_th: float = 1.0,
        t_max: float = 1.0,
        init_gain: float = 1.0,
    ) -> None:
        given = dict(steps=steps, test_steps=test_steps, offset=offset, test_offset=test_offset, method=method)
        e_rev, solver, test_solver, _ = _unpack(type(self), e_rev, given, discharger=False)
        super().__init__(e_rev, solver, test_solver)
        self.in_features, self.out_features, self.v_th, self.t_max = in_features, out_features, v_th, t_max
        self.weight = nn.Parameter(he_uniform_(torch.empty(out_features, in_features), init_gain))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return F.ttfs(t, self.weight, self.e_rev, v_th=self.v_th, method=self.active_solver, t_max=self.t_max)


class _SpikingConv2d(SpikingLayer):
    """Kernel and geometry of the convolutional layers (solved by DSTD through :mod:`imcpnn.functional`)."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        e_rev,
        steps,
        test_steps,
        offset,
        test_offset,
        stride,
        padding,
        init_gain,
    ) -> None:
        given = dict(steps=steps, test_steps=test_steps, offset=offset, test_offset=test_offset)
        discharger = not isinstance(self, TTFSConv2d)
        e_rev, solver, test_solver, _ = _unpack(type(self), e_rev, given, dstd_only=True, discharger=discharger)
        super().__init__(e_rev, solver, test_solver)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        w = torch.empty(out_channels, in_channels, kernel_size, kernel_size)
        self.weight = nn.Parameter(he_uniform_(w, init_gain))

    def _check(self, t: torch.Tensor) -> None:
        if t.dim() != 4 or t.shape[1] != self.in_channels:
            raise ValueError(f"t must have shape [batch, {self.in_channels}, H, W], got {tuple(t.shape)}")


class RCSpikeConv2d(_SpikingConv2d):
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
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            e_rev,
            steps,
            test_steps,
            offset,
            test_offset,
            stride,
            padding,
            init_gain,
        )
        if isinstance(e_rev, Neuron) and e_dis is not None:
            raise ValueError("RCSpikeConv2d: pass e_dis inside the Neuron, not beside it")
        self.e_dis = e_rev.e_dis if isinstance(e_rev, Neuron) else e_dis

    def potential(self, t: torch.Tensor) -> torch.Tensor:
        self._check(t)
        return F.rc_spike_conv2d_potential(
            t, self.weight, self.e_rev, method=self.active_solver, stride=self.stride, padding=self.padding
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return F.firing_time(self.potential(t), self.e_dis)


class TTFSConv2d(_SpikingConv2d):
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
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            e_rev,
            steps,
            test_steps,
            offset,
            test_offset,
            stride,
            padding,
            init_gain,
        )
        self.v_th, self.t_max = v_th, t_max

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        self._check(t)
        return F.ttfs_conv2d(
            t,
            self.weight,
            self.e_rev,
            v_th=self.v_th,
            method=self.active_solver,
            t_max=self.t_max,
            stride=self.stride,
            padding=self.padding,
        )


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
