"""Cost of the convolutional DSTD layers (part of :mod:`imcpnn.repro.dstd_cost`; arXiv 2412.09010v1 Section 3.3,
the VGG7 of Fig. 5 and the TTFS CNN of App. C / Fig. 10).

* :func:`run_conv`: one VGG7 training step (forward + backward, :func:`imcpnn.models.vgg7`) with DSTD RC-Spike
  layers at M = ``conv_steps``, against the same CNN as a plain ANN (conv + hard-sigmoid, max pooling) and against
  the network's floor: that ANN with doubled output channels on M times the batch (the f~, g~ convolutions DSTD
  cannot avoid, no elementwise work); time and peak memory.
* :func:`run_conv_layers`: every conv layer of that VGG7 alone, at its own input size: the fused DSTD layer
  (:func:`imcpnn.functional.rc_spike_conv2d_potential`), the plain-autograd reference
  (:func:`imcpnn.reference.rc_spike_conv2d_potential`, the implementation before the fusion), and the layer's
  floor: ``conv2d`` of the spike variables [B*M, C, H, W] with [beta*w ; w] forward, and its backward (weight
  gradient, and the input gradient where the layer's input needs one); likewise every conv layer of the TTFS CNN
  (:func:`imcpnn.models.ttfs_cnn`) at M = ``m_ttfs``.

Ratios are formed from the fastest of the interleaved repeats of each side (:func:`imcpnn.repro._measure.interleaved`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as tnf

from imcpnn import functional as F
from imcpnn import layers
from imcpnn import reference as dstd
from imcpnn.repro._measure import interleaved, progress

__all__ = ["conv_nets", "run_conv", "conv_layer_specs", "layer_steps", "run_conv_layers"]


class _HardSigmoid(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, 1.0)


class _Take(nn.Module):
    """First ``n`` channels (the g~ half of a [beta*w ; w] output in the floor net; identity in the ANN)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if x.shape[1] == self.n else x[:, : self.n]


def _ann_like(pnn: nn.Module, k: int) -> nn.Sequential:
    """The ANN with the layer shapes of ``pnn`` (conv/linear + hard-sigmoid, max pooling), every layer with ``k``
    times the output channels (k = 2: f~ and g~ of DSTD in one product)."""
    mods: list[nn.Module] = []
    for mod in pnn.modules():
        if isinstance(mod, layers.RCSpikeConv2d):
            mods += [
                nn.Conv2d(mod.in_channels, mod.out_channels * k, mod.kernel_size, mod.stride, mod.padding, bias=False),
                _Take(mod.out_channels),
                _HardSigmoid(),
            ]
        elif isinstance(mod, layers.RCSpikeLinear):
            mods += [
                nn.Linear(mod.in_features, mod.out_features * k, bias=False),
                _Take(mod.out_features),
                _HardSigmoid(),
            ]
        elif isinstance(mod, layers.TimeMinPool2d):
            mods.append(nn.MaxPool2d(mod.kernel_size, mod.stride))
        elif type(mod).__name__ == "Flatten":
            mods.append(nn.Flatten())
    return nn.Sequential(*mods[:-1])  # no activation after the readout


def conv_nets(cfg: Any, device, dtype) -> tuple[nn.Module, nn.Module, nn.Module]:
    """(DSTD RC-Spike VGG7 from :func:`imcpnn.models.vgg7`, the same CNN as a plain ANN, the M-floor ANN)."""
    from imcpnn.models import vgg7

    pnn = vgg7(cfg.e_rev, steps=cfg.conv_steps, width=cfg.conv_width, image_size=cfg.conv_image)
    return pnn.to(device, dtype), _ann_like(pnn, 1).to(device, dtype), _ann_like(pnn, 2).to(device, dtype)


def run_conv(cfg: Any, device: torch.device) -> dict:
    """Time per training step and peak memory of VGG7 at batch ``conv_batch``: DSTD RC-Spike at M = conv_steps,
    the same CNN as a plain ANN, and the network floor (the ANN with doubled output channels on M times the batch)."""
    dtype = getattr(torch, cfg.dtype)
    torch.manual_seed(cfg.seed)
    pnn, ann, floor = conv_nets(cfg, device, dtype)
    pnn.train()
    b, m, s = cfg.conv_batch, cfg.conv_steps, cfg.conv_image
    x = torch.rand(b, 3, s, s, device=device, dtype=dtype)
    xm = torch.rand(b * m, 3, s, s, device=device, dtype=dtype)

    def step(net, inp):
        def fn() -> None:
            net.zero_grad(set_to_none=True)
            net(inp).sum().backward()

        return fn

    res = interleaved(
        {"dstd": step(pnn, x), "ann": step(ann, x), "floor": step(floor, xm)}, cfg.conv_repeats, device, "VGG7 network"
    )
    for v in res.values():
        v["step_s"], v["per_image_s"] = v["time_s"], v["time_s"] / b
    mem = {k: res[k]["peak_bytes"] for k in res}
    return {
        "architecture": f"imcpnn.models.vgg7(width={cfg.conv_width:g}, image_size={s}), {s}x{s}x3 input",
        "batch": b,
        "steps": m,
        "results": res,
        "dstd_over_ann": res["dstd"]["time_s"] / res["ann"]["time_s"],
        "dstd_over_floor": res["dstd"]["time_s"] / res["floor"]["time_s"],
        "floor_over_ann": res["floor"]["time_s"] / res["ann"]["time_s"],
        "dstd_over_ann_memory": mem["dstd"] / mem["ann"] if mem["dstd"] and mem["ann"] else None,
        "timing": "fastest of the interleaved repeats of each side",
    }


def conv_layer_specs(net: nn.Module, image_size: int) -> list[dict]:
    """Every conv layer of ``net`` (RC-Spike or TTFS) with its input size, in order (pooling halves the size)."""
    specs, size, k = [], image_size, 0
    for mod in net.modules():
        if isinstance(mod, (layers.RCSpikeConv2d, layers.TTFSConv2d)):
            specs.append(
                {
                    "layer": k,
                    "in_channels": mod.in_channels,
                    "out_channels": mod.out_channels,
                    "kernel": mod.kernel_size,
                    "stride": mod.stride,
                    "padding": mod.padding,
                    "size": size,
                    "t_max": getattr(mod, "t_max", 1.0),
                }
            )
            size = (size + 2 * mod.padding - mod.kernel_size) // mod.stride + 1
            k += 1
        elif isinstance(mod, layers.TimeMinPool2d):
            size //= mod.stride
    return specs


def layer_steps(model: str, spec: dict, batch: int, steps: int, e_rev: float, device, dtype, seed: int = 0) -> dict:
    """Training steps of one conv layer alone: ``fused`` (the public functional API), ``plain`` (the plain-autograd
    reference) and ``floor`` (the unavoidable convolution forward and backward); the layer's input needs a gradient
    except for the first layer (the encoded image)."""
    gen = torch.Generator().manual_seed(seed)
    c, o, k, s = spec["in_channels"], spec["out_channels"], spec["kernel"], spec["size"]
    stride, pad, t_max = spec["stride"], spec["padding"], spec["t_max"]
    need_t = spec["layer"] > 0
    fan_in = c * k * k
    t = torch.rand(batch, c, s, s, generator=gen)
    if model == "rc_spike":
        w = (torch.rand(o, c, k, k, generator=gen) * 2 - 1) * math.sqrt(6.0 / fan_in)
    else:
        t = torch.where(torch.rand(t.shape, generator=gen) < 0.1, torch.full_like(t, math.inf), t * t_max)
        beta = 1.0 / e_rev
        w_max = -8.0 * math.log(1.0 - beta) / beta if beta < 1 else 8.0  # App. C, Eq. 107 (w* = 2)
        w = torch.rand(o, c, k, k, generator=gen) * (w_max / fan_in)
    t = t.to(device, dtype).requires_grad_(need_t)
    w = w.to(device, dtype).requires_grad_(True)
    s_out = (s + 2 * pad - k) // stride + 1
    gy = torch.randn(batch, o, s_out, s_out, generator=gen).to(device, dtype)
    dt = (t_max if model == "ttfs" else 1.0) / (steps - 1)

    def run(fn):
        def step() -> None:
            t.grad, w.grad = None, None
            out = fn()
            torch.where(torch.isfinite(out), out * gy, torch.zeros_like(out)).sum().backward()

        return step

    def offset() -> torch.Tensor:
        return torch.rand((), device=device, dtype=dtype) * dt

    if model == "rc_spike":
        fused = run(
            lambda: F.rc_spike_conv2d_potential(
                t, w, e_rev, method="dstd", steps=steps, offset="random", stride=stride, padding=pad
            )
        )
        plain = run(lambda: dstd.rc_spike_conv2d_potential(t, w, F.beta_weight(w, e_rev), steps, offset(), stride, pad))
    else:
        fused = run(
            lambda: F.ttfs_conv2d(
                t, w, e_rev, method="dstd", steps=steps, offset="random", t_max=t_max, stride=stride, padding=pad
            )
        )
        plain = run(lambda: dstd.ttfs_conv2d(t, w, F.beta_weight(w, e_rev), 1.0, steps, offset(), t_max, stride, pad))
    sm = torch.rand(batch * steps, c, s, s, generator=gen).to(device, dtype).requires_grad_(need_t)
    w2 = torch.randn(2 * o, c, k, k, generator=gen).to(device, dtype).requires_grad_(True)
    gy2 = torch.randn(batch * steps, 2 * o, s_out, s_out, generator=gen).to(device, dtype)

    def floor() -> None:
        sm.grad, w2.grad = None, None
        tnf.conv2d(sm, w2, stride=stride, padding=pad).backward(gy2)

    return {"fused": fused, "plain": plain, "floor": floor}


def run_conv_layers(model: str, cfg: Any, device: torch.device) -> dict:
    """Per conv layer of VGG7 (``model="rc_spike"``, M = conv_steps, batch conv_batch) or of the TTFS CNN
    (``"ttfs"``, M = m_ttfs, batch ttfs_conv_batch): fused vs plain vs floor, time and peak memory."""
    from imcpnn.models import ttfs_cnn, vgg7

    dtype = getattr(torch, cfg.dtype)
    if model == "rc_spike":
        net, image, batch, steps = (
            vgg7(cfg.e_rev, width=cfg.conv_width, image_size=cfg.conv_image),
            cfg.conv_image,
            cfg.conv_batch,
            cfg.conv_steps,
        )
        repeats = cfg.conv_repeats
    else:
        net, image, batch, steps = (
            ttfs_cnn(cfg.e_rev, width=cfg.ttfs_conv_width, image_size=cfg.ttfs_conv_image),
            cfg.ttfs_conv_image,
            cfg.ttfs_conv_batch,
            cfg.m_ttfs,
        )
        repeats = cfg.ttfs_conv_repeats
    rows = []
    specs = conv_layer_specs(net, image)
    bar = progress(len(specs), f"{model} conv layers")
    for spec in specs:
        fns = layer_steps(model, spec, batch, steps, cfg.e_rev, device, dtype, cfg.seed + spec["layer"])
        res = interleaved(fns, repeats, device)
        del fns
        if bar is not None:
            bar.update(1)
        fl = res["floor"]
        rows.append(
            {
                **spec,
                "results": res,
                "fused_over_floor": res["fused"]["time_s"] / fl["time_s"],
                "plain_over_floor": res["plain"]["time_s"] / fl["time_s"],
                "plain_over_fused": res["plain"]["time_s"] / res["fused"]["time_s"],
            }
        )
    if bar is not None:
        bar.close()
    net_name = "imcpnn.models.vgg7" if model == "rc_spike" else "imcpnn.models.ttfs_cnn"
    width = cfg.conv_width if model == "rc_spike" else cfg.ttfs_conv_width
    return {
        "model": model,
        "network": f"{net_name}(width={width:g}, image_size={image})",
        "batch": batch,
        "steps": steps,
        "e_rev": cfg.e_rev,
        "layers": rows,
        "max_fused_over_floor": max(r["fused_over_floor"] for r in rows),
        "timing": "fastest of the interleaved repeats of each side",
    }
