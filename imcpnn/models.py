"""Network builders for the paper's RC-Spike experiments (arXiv 2412.09010v1 Sections 3.2, 3.3).

* :func:`mlp`: the fully connected 784-400-400-10 RC-Spike net of Fig. 4 (Fashion-MNIST).
* :func:`vgg7`: Conv(64)-Conv(64)-PL-Conv(128)-Conv(128)-PL-Conv(256)-Conv(256)-PL-512-10 of Fig. 5 (CIFAR-10).

Every model takes images with intensities in [0, 1] ([B, C, H, W]) and returns output spike times [B, classes].
The input is encoded as t = 1 - x (Eq. 54-55) inside the model.

Choices where the paper is silent, made here and documented:

* The output layer is read out without the clip to [0, 1] (:class:`RCSpikeReadout`; see there why).
* Spike noise N(0, sigma^2) (clamped to [0, 1] except at the output) follows EVERY RC-Spike layer, the
  output layer included, in training and at test. The encoded INPUT spikes get no noise: they are data, not
  the output of a layer.
* Weights: :func:`imcpnn.layers.he_uniform_` (U(-b, b), b = sqrt(6 / fan_in)); no bias terms.
* vgg7: 3x3 convolutions, stride 1, padding 1 (zero padding = spikes at t = 1, i.e. no input); pooling is the
  time-domain max pooling :class:`~imcpnn.layers.TimeMinPool2d` (earliest spike wins), 2x2 stride 2.
* ``width`` multiplies every hidden width (channels, hidden units), e.g. 2 for the "width-doubled" VGG7.
* :func:`ttfs_cnn` (App. C): see there for its choices (time windows, initialisation, no spike noise).

Example::

    import torch
    from imcpnn import models

    print(models.MODELS)  # ('mlp', 'vgg7', 'iris', 'ttfs-cnn')
    net = models.build("mlp", 4.0, dataset="fmnist", width=0.02)  # 784-8-8-10
    t_out = net(torch.rand(2, 1, 28, 28))  # images in [0, 1] -> output spike times [2, 10]
    hidden1, hidden2, out = net.layer_outputs(torch.rand(2, 1, 28, 28))  # every layer's spikes (Fig. 4d)
    print([layer.neuron for layer in models.spiking_layers(net)][0])  # E+/E- and the solvers of layer 1
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from imcpnn.functional import reversal_potentials
from imcpnn.layers import (
    RCSpikeConv2d,
    RCSpikeLinear,
    SpikeNoise,
    SpikingLayer,
    TimeMinPool2d,
    TTFSConv2d,
    TTFSLinear,
    encode,
)
from imcpnn.neuron import Neuron

MODELS = ("mlp", "vgg7", "iris", "ttfs-cnn")


class RCSpikeReadout(RCSpikeLinear):
    """The output layer read out WITHOUT the clip to the firing phase: t = 1 - v(1), the time at which the
    firing-phase ramp (dv/dt = 1) reaches the threshold, even when that is after the phase (v(1) < 0) or
    before it (v(1) > 1).

    Our choice (the paper states only t = clip(1 - v(1)), Eq. 26-27): with the clip, an output neuron whose
    v(1) < 0 gets no gradient, and the cross-entropy pushes the wrong classes there until every output is
    silent and learning stops (we measured ~20 % accuracy, also in the ideal |E| = inf limit). Reading the
    unclipped time keeps the temporal penalty gamma1 (t - t_ref)^2 effective on every output. The predicted
    class (earliest spike) is the same as with the clip whenever one output fires inside the phase.
    """

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        v = self.potential(t)
        if self.e_dis is None:
            return 1.0 - v
        # the discharger's RC-decay firing phase (App. A, Eq. 85), unclipped; v is kept below 1/beta = E_dis,
        # where the decay would never reach the threshold
        beta = 1.0 / float(self.e_dis)
        v = torch.clamp(v, max=(1.0 - 1e-6) / beta)
        return 1.0 - torch.log1p(-beta * v) / math.log1p(-beta)


class Encode(nn.Module):
    """Images in [0, 1] -> input spike times t = 1 - x (Eq. 54-55); ``flatten`` for dense nets."""

    def __init__(self, flatten: bool = False) -> None:
        super().__init__()
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = encode(x)
        return t.flatten(1) if self.flatten else t

    def extra_repr(self) -> str:
        return f"flatten={self.flatten}"


class Flatten(nn.Module):
    """[B, C, H, W] spike-time maps -> [B, C*H*W]."""

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return t.flatten(1)


class SpikeNet(nn.Sequential):
    """A feed-forward spiking net: a ``Sequential`` that can also return every layer's output spikes."""

    def layer_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Output spike times (after the spike noise) of every RC-Spike layer, in order."""
        outs: list[torch.Tensor] = []
        mods = list(self)
        for i, mod in enumerate(mods):
            x = mod(x)
            is_layer_end = isinstance(mod, SpikeNoise) or (
                isinstance(mod, SpikingLayer) and not (i + 1 < len(mods) and isinstance(mods[i + 1], SpikeNoise))
            )
            if is_layer_end:
                outs.append(x)
        return outs


def spiking_layers(model: nn.Module) -> Iterator[SpikingLayer]:
    """The model's spiking layers (RC-Spike / TTFS, dense and conv) in order."""
    return (m for m in model.modules() if isinstance(m, SpikingLayer))


def _solver_kw(builder: Any, e_rev: Any, given: dict[str, Any]) -> dict[str, Any]:
    """The solver keywords a builder hands its layers: ``given``, or none when ``e_rev`` is a
    :class:`imcpnn.neuron.Neuron` (which carries the solvers; keywords beside it must stay at their defaults)."""
    if not isinstance(e_rev, Neuron):
        return given
    params = inspect.signature(builder).parameters
    beside = [k for k, v in given.items() if v != params[k].default]
    if beside:
        raise ValueError(f"{builder.__name__}: pass {', '.join(beside)} inside the Neuron, not beside it")
    return {}


def _e_values(e_rev: Any) -> Any:
    """The E+/E- part of ``e_rev`` (a number, a pair, or a Neuron's)."""
    return e_rev.e_rev if isinstance(e_rev, Neuron) else e_rev


def _check_common(e_rev, steps: int, sigma_spike: float, width: float) -> None:
    if not (isinstance(sigma_spike, (int, float)) and math.isfinite(sigma_spike) and sigma_spike >= 0):
        raise ValueError(f"sigma_spike must be a finite number >= 0, got {sigma_spike!r}")
    if not (isinstance(width, (int, float)) and math.isfinite(width) and width > 0):
        raise ValueError(f"width must be a finite number > 0, got {width!r}")


def mlp(
    e_rev: float | tuple[float, float],
    *,
    steps: int = 3,
    test_steps: int = 30,
    offset: str | float = "random",
    test_offset: str | float = "fixed",
    sigma_spike: float = 0.01,
    sizes: tuple[int, ...] = (784, 400, 400, 10),
    width: float = 1.0,
    init_gain: float = 1.0,
) -> SpikeNet:
    """The fully connected RC-Spike net (default 784-400-400-10, Fig. 4) with spike noise after every layer.

    ``width`` scales the hidden sizes (not the input or the classes).

    Example::

        import torch
        import imcpnn

        net = imcpnn.mlp(4.0, sizes=(16, 8, 3), steps=3, test_steps=10)  # train: DSTD M = 3, test: M = 10
        x = torch.rand(5, 1, 4, 4)  # images in [0, 1], encoded t = 1 - x and flattened inside (Eq. 54-55)
        t_out = net(x)  # [5, 3], the readout unclipped (RCSpikeReadout)
        print(imcpnn.loss.predict(t_out))  # the earliest spike is the class
        neuron = imcpnn.Neuron("2.8:-1.53", solver=imcpnn.DSTD(4))  # asymmetric E+/E- (Eq. 11)
        net2 = imcpnn.mlp(neuron, sizes=(16, 8, 3), sigma_spike=0.0)  # no spike noise
    """
    _check_common(e_rev, steps, sigma_spike, width)
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list >= 2 positive layer sizes, got {sizes!r}")
    solver_kw = _solver_kw(mlp, e_rev, dict(steps=steps, test_steps=test_steps, offset=offset, test_offset=test_offset))
    dims = [int(sizes[0])] + [max(1, round(s * width)) for s in sizes[1:-1]] + [int(sizes[-1])]
    mods: list[nn.Module] = [Encode(flatten=True)]
    for k, (n_in, n_out) in enumerate(zip(dims[:-1], dims[1:])):
        last = k == len(dims) - 2
        cls = RCSpikeReadout if last else RCSpikeLinear
        mods.append(cls(n_in, n_out, e_rev, init_gain=init_gain, **solver_kw))
        mods.append(SpikeNoise(sigma_spike, clamp=not last))
    return SpikeNet(*mods)


def vgg7(
    e_rev: float | tuple[float, float],
    *,
    steps: int = 4,
    test_steps: int = 30,
    offset: str | float = "random",
    test_offset: str | float = "fixed",
    sigma_spike: float = 0.01,
    in_channels: int = 3,
    image_size: int = 32,
    classes: int = 10,
    width: float = 1.0,
    init_gain: float = 1.0,
) -> SpikeNet:
    """Conv(64)-Conv(64)-PL-Conv(128)-Conv(128)-PL-Conv(256)-Conv(256)-PL-512-10 (Fig. 5, "VGG7").

    3x3 convolutions with padding 1, time-min pooling 2x2/2, spike noise after every RC-Spike layer.

    Example::

        import torch
        import imcpnn

        net = imcpnn.vgg7(4.0, width=1 / 32, image_size=8, test_steps=5)  # Conv(2)x2-PL-Conv(4)x2-PL-...-16-10
        t_out = net(torch.rand(2, 3, 8, 8))  # CIFAR-like images in [0, 1] -> output spike times [2, 10]
        net.eval()  # evaluation with the test-time DSTD grid (M = 5 here, fixed offset; App. E)
        t_test = net(torch.rand(2, 3, 8, 8))
    """
    _check_common(e_rev, steps, sigma_spike, width)
    if image_size < 8:
        raise ValueError(f"image_size must be >= 8 (three 2x2 poolings), got {image_size!r}")
    kw = _solver_kw(vgg7, e_rev, dict(steps=steps, test_steps=test_steps, offset=offset, test_offset=test_offset))
    kw["init_gain"] = init_gain
    ch = [max(1, round(c * width)) for c in (64, 128, 256)]
    mods: list[nn.Module] = [Encode(flatten=False)]
    c_in, size = in_channels, image_size
    for c in ch:
        for _ in range(2):
            mods += [RCSpikeConv2d(c_in, c, 3, e_rev, padding=1, **kw), SpikeNoise(sigma_spike)]
            c_in = c
        mods.append(TimeMinPool2d(2))
        size //= 2
    hidden = max(1, round(512 * width))
    mods.append(Flatten())
    mods += [RCSpikeLinear(c_in * size * size, hidden, e_rev, **kw), SpikeNoise(sigma_spike)]
    mods += [RCSpikeReadout(hidden, classes, e_rev, **kw), SpikeNoise(sigma_spike, clamp=False)]
    return SpikeNet(*mods)


class IrisEncode(nn.Module):
    """Iris features x in [0, 1]^4 -> input spike times t_i = x_i plus a bias spike at t = 0 (Eq. 56)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != 4:
            raise ValueError(f"x must have shape [batch, 4] (Iris features), got {tuple(x.shape)}")
        if (x < 0).any() or (x > 1).any():
            raise ValueError("x must lie in [0, 1] (scaled Iris features)")
        return torch.cat([x, torch.zeros_like(x[:, :1])], dim=1)


class IrisNet(SpikeNet):
    """The 5-5-5 net of the circuit experiment; ``last_outputs`` holds [hidden, output] times of the last call
    (the early-spike penalty V of Eq. 58 needs the hidden layer's times)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = self.layer_outputs(x)
        self.last_outputs = outs
        return outs[-1]


def iris(
    e_rev: float | tuple[float, float],
    *,
    e_dis: float | None = None,
    hidden: int = 5,
    classes_out: int = 5,
    init_gain: float = 1.0,
    sigma_spike: float = 0.0,
) -> IrisNet:
    """The Iris 5-5-5 RC-Spike net of arXiv 2412.09010v1 Fig. 7 / Algorithms 5-6: 4 features + bias spike
    (Eq. 56) -> ``hidden`` RC-Spike neurons -> ``classes_out`` outputs, exact solver (5 inputs: cheap), spike
    noise N(0, ``sigma_spike``^2) after both layers as in :func:`mlp` (default 0: none). ``e_dis`` (App. A,
    Eq. 82-85): the firing phase's RC decay in BOTH layers (the circuit's discharger
    is in every neuron); ``None`` is the ideal ramp. The output layer is read out unclipped
    (:class:`RCSpikeReadout`). 3 classes on 5 outputs: class c is output c; outputs 3 and 4 are trained by the
    cross-entropy over all five outputs to stay late (they never win on a correct prediction).

    Example::

        import torch
        import imcpnn

        net = imcpnn.iris(4.0, e_dis=3.0)  # 4 features + bias spike -> 5 -> 5, exact solver, RC discharger
        x = torch.rand(8, 4)  # Iris features scaled to [0, 1] (imcpnn.data.load_iris), spike times t_i = x_i
        t_out = net(x)  # [8, 5]
        hidden, out = net.last_outputs  # the hidden times enter the early-spike penalty V (Eq. 58)
        print(imcpnn.loss.predict(t_out))  # the earliest output is the class
    """
    kw = _solver_kw(iris, e_rev, dict(e_dis=e_dis))
    kw = {**kw, "method": "exact"} if kw else {}
    kw["init_gain"] = init_gain
    layer1 = RCSpikeLinear(5, hidden, e_rev, **kw)
    out = RCSpikeReadout(hidden, classes_out, e_rev, **kw)
    if sigma_spike > 0:
        return IrisNet(IrisEncode(), layer1, SpikeNoise(sigma_spike), out, SpikeNoise(sigma_spike, clamp=False))
    return IrisNet(IrisEncode(), layer1, out)


class SpikeWindow(nn.Module):
    """Finite spike times are clipped into the next TTFS layer's DSTD window [0, ``t_max``]; +inf (a silent
    neuron) stays +inf. Later spikes enter at ``t_max`` (where they still count, in the unbounded interval after
    the grid); earlier ones at 0: the DSTD grid starts at -t_offset (Eq. 35), so a coarse grid can place a
    crossing slightly before 0."""

    def __init__(self, t_max: float) -> None:
        super().__init__()
        self.t_max = float(t_max)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        # the largest value of t's dtype <= t_max: float32(t_max) can round UP past the float t_max, and the next
        # layer's window check (t <= t_max) would then refuse a spike clipped to the window's end
        hi = torch.tensor(self.t_max, dtype=t.dtype)
        if float(hi) > self.t_max:
            hi = torch.nextafter(hi, hi.new_zeros(()))
        return torch.where(torch.isfinite(t), t.clamp(0.0, float(hi)), t)

    def extra_repr(self) -> str:
        return f"t_max={self.t_max:g}"


class TTFSNet(SpikeNet):
    """A TTFS net; ``last_io`` holds (t_in, weight, t_out) of every dense TTFS layer of the last call (the
    firing regulariser Q of Eq. 53 needs them)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        io: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
        for mod in self:
            y = mod(x)
            if isinstance(mod, TTFSLinear):
                io.append((x, mod.weight, y))
            x = y
        self.last_io = io
        return x


def ttfs_init_bound(e_rev, fan_in: int, n_layers: int, t_ref: float, w_star: float = 2.0) -> float:
    """The upper bound w_max / N of the TTFS initialisation U[0, w_max / N] (arXiv 2412.09010v1 App. C,
    Eq. 106-107): w_max = -4 w* L^2 ln(1 - beta) / (beta t_ref^2), beta = 1/E+ (-> 4 w* L^2 / t_ref^2 in the
    ideal limit). Needs E+ > 1 (beta < 1)."""
    e_pos = reversal_potentials(e_rev)[0]
    if not e_pos > 1.0:
        raise ValueError(f"e_rev must have E+ > 1 for the TTFS initialisation (Eq. 107), got E+ = {e_pos!r}")
    if fan_in < 1 or n_layers < 1 or not (t_ref > 0 and math.isfinite(t_ref)):
        raise ValueError(
            f"fan_in, n_layers must be >= 1 and t_ref a finite number > 0, got {fan_in}, {n_layers}, {t_ref}"
        )
    beta = 1.0 / e_pos
    corr = 1.0 if beta == 0 else -math.log1p(-beta) / beta
    return 4.0 * w_star * n_layers**2 * corr / (t_ref**2) / fan_in


def ttfs_cnn(
    e_rev: float | tuple[float, float],
    *,
    steps: int = 30,
    test_steps: int = 60,
    offset: str | float = "random",
    test_offset: str | float = "fixed",
    sigma_spike: float = 0.0,
    in_channels: int = 1,
    image_size: int = 28,
    classes: int = 10,
    width: float = 1.0,
    init_gain: float = 1.0,
    t_ref: float = 3.2,
) -> TTFSNet:
    """Conv(16)-Conv(16)-PL-Conv(32)-Conv(32)-PL-128-10 TTFS net of arXiv 2412.09010v1 App. C (Fig. 10).

    3x3 convolutions, stride 1, padding 1 (padding = no input spike); 2x2 time-min pooling (the earliest
    spike wins; +inf only where the whole window is silent). Choices where the paper is silent:

    * DSTD windows: layer l = 1..L (L = 6) gets the grid [0, 1 + (l - 1) t_d], t_d = t_ref / (L sqrt(w*)): the
      input window [0, 1] plus the per-layer delay the initialisation gives (Eq. 106-107: v(t) = 1 at
      t^2 = t_ref^2 / (L^2 w*) for inputs spread over [0, 1]; w* = 2 ``init_gain``); later spikes enter at the
      window's end (:class:`SpikeWindow`). A neuron may still fire after its own window (the last DSTD interval
      is unbounded). Measured (width x0.25, |E| = 4): at init 90 % of every layer's spikes come before t = 1.25.
      An earlier choice, 2 t_ref / L per layer (output window [0, 6.3]), spent most grid points on empty time:
      trained at M = 3 the net stayed at chance (9 % validation accuracy after 100 Adam steps; 30 % with these
      windows).
    * Initialisation U[0, w_max / fan_in] with w_max of Eq. 107 (w* = 2 ``init_gain``) at the layer's E+.
    * Spike noise: ``sigma_spike`` (default 0: App. C does not mention it for TTFS) after every layer,
      unclamped (+inf stays +inf).

    Example::

        import torch
        import imcpnn

        # Conv(2)-Conv(2)-PL-Conv(4)-Conv(4)-PL-16-10 on 8x8 images, DSTD M = 5 in training, 10 at test
        net = imcpnn.ttfs_cnn(4.0, width=0.125, image_size=8, steps=5, test_steps=10)
        t_out = net(torch.rand(2, 1, 8, 8))  # [2, 10]; +inf for an output that never fires
        t_in, w, t = net.last_io[0]  # each dense TTFS layer's (t_in, weight, t_out): the regulariser Q (Eq. 53)
        loss = imcpnn.loss.spike_time_loss(t_out, torch.tensor([3, 7]), gamma1=0.02, t_ref=3.2, t_silent=6.4)
    """
    _check_common(e_rev, steps, sigma_spike, width)
    if image_size < 4:
        raise ValueError(f"image_size must be >= 4 (two 2x2 poolings), got {image_size!r}")
    n_layers = 6
    t_d = t_ref / (n_layers * math.sqrt(2.0 * init_gain))
    windows = [1.0 + k * t_d for k in range(n_layers)]
    kw = _solver_kw(ttfs_cnn, e_rev, dict(steps=steps, test_steps=test_steps, offset=offset, test_offset=test_offset))
    ch = [max(1, round(c * width)) for c in (16, 32)]
    mods: list[nn.Module] = [Encode(flatten=False)]
    layers: list[SpikingLayer] = []
    c_in, size, k = in_channels, image_size, 0
    for c in ch:
        for _ in range(2):
            if k > 0:
                mods.append(SpikeWindow(windows[k]))
            layer = TTFSConv2d(c_in, c, 3, e_rev, padding=1, t_max=windows[k], **kw)
            mods.append(layer)
            layers.append(layer)
            if sigma_spike > 0:
                mods.append(SpikeNoise(sigma_spike, clamp=False))
            c_in, k = c, k + 1
        mods.append(TimeMinPool2d(2))
        size //= 2
    mods.append(Flatten())
    dims = [c_in * size * size, max(1, round(128 * width)), classes]
    for n_in, n_out in zip(dims[:-1], dims[1:]):
        mods.append(SpikeWindow(windows[k]))
        layer = TTFSLinear(n_in, n_out, e_rev, t_max=windows[k], **kw)
        mods.append(layer)
        layers.append(layer)
        if sigma_spike > 0:
            mods.append(SpikeNoise(sigma_spike, clamp=False))
        k += 1
    for layer in layers:
        bound = ttfs_init_bound(_e_values(e_rev), layer.weight[0].numel(), n_layers, t_ref, 2.0 * init_gain)
        with torch.no_grad():
            layer.weight.uniform_(0.0, bound)
    return TTFSNet(*mods)


def build(name: str, e_rev, *, dataset: str = "fmnist", **kwargs) -> SpikeNet:
    """A model by name (``"mlp"`` or ``"vgg7"``), with the input size of ``dataset`` (``fmnist``/``cifar10``).

    Example::

        import torch
        import imcpnn

        net = imcpnn.build("vgg7", 4.0, dataset="cifar10", width=1 / 32, test_steps=5)  # 3x32x32 inputs
        t_out = net(torch.rand(1, 3, 32, 32))  # [1, 10]
        iris = imcpnn.build("iris", (2.8, -1.53), dataset="iris", e_dis=3.0)  # "iris" goes with dataset "iris"
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {name!r}")
    if name == "iris" or dataset == "iris":
        if name != "iris" or dataset != "iris":
            raise ValueError(f"model 'iris' goes with dataset 'iris' only, got model {name!r}, dataset {dataset!r}")
        return iris(e_rev, **{k: kwargs[k] for k in ("e_dis", "init_gain") if k in kwargs})
    shape = {"fmnist": (1, 28), "cifar10": (3, 32)}.get(dataset)
    if shape is None:
        raise ValueError(f"dataset must be 'fmnist' or 'cifar10', got {dataset!r}")
    if name == "mlp":
        return mlp(e_rev, sizes=(shape[0] * shape[1] ** 2, 400, 400, 10), **kwargs)
    if name == "ttfs-cnn":
        return ttfs_cnn(e_rev, in_channels=shape[0], image_size=shape[1], **kwargs)
    return vgg7(e_rev, in_channels=shape[0], image_size=shape[1], **kwargs)
