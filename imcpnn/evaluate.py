"""Evaluation of trained spiking networks: test accuracy, per-layer spike times, and the App. F baselines of
arXiv 2412.09010v1 (the same weights evaluated at another |E|, another test-time solver, or with positive /
negative weights scaled by (alpha+, alpha-)). Evaluation draws its randomness (spike noise, a random test
offset) under a forked RNG seeded with ``seed``: repeatable, and the caller's RNG stream is untouched.

Example::

    import torch
    import imcpnn
    from imcpnn.evaluate import evaluate, evaluation_overrides, layer_spike_times

    net = imcpnn.mlp(4.0, sizes=(16, 8, 3), test_steps=10)  # trained weights would go here
    x, y = torch.rand(20, 16), torch.randint(0, 3, (20,))
    acc = evaluate(net, x, y)  # at |E| = 4 with the test-time DSTD(10, "fixed")
    acc_ann = evaluate(net, x, y, e_rev="inf")  # the same weights in an ideal neuron: the ANN baseline (App. F)
    hidden, out = layer_spike_times(net, x)  # every layer's output spikes: [20, 8], [20, 3] (Fig. 4d)
    with evaluation_overrides(net, test_steps=30) as net30:  # another test-time M, restored on exit
        t_out = net30(x)
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from imcpnn import models
from imcpnn.functional import DSTD, parse_erev, reversal_potentials
from imcpnn.loss import predict

__all__ = ["evaluation_overrides", "evaluate", "layer_spike_times"]


def _rng_devices(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type == "cuda" else []


@contextlib.contextmanager
def evaluation_overrides(
    model: nn.Module,
    *,
    e_rev: Any = None,
    test_steps: int | None = None,
    test_offset: str | float | None = None,
    weight_scale: tuple[float, float] | None = None,
) -> Iterator[nn.Module]:
    """Temporarily evaluate ``model`` at another |E| (every layer's E+/E-), test-time M or offset, and with
    positive / negative weights scaled by (alpha+, alpha-) (App. F); everything is restored on exit."""
    layers = list(models.spiking_layers(model))
    saved = [(m.e_rev, m.test_solver) for m in layers]
    saved_w = [m.weight.detach().clone() for m in layers] if weight_scale is not None else None
    was_training = model.training
    try:
        if e_rev is not None:
            e_pair = reversal_potentials(parse_erev(e_rev))
            for m in layers:
                m.set_e_rev(e_pair)
        if test_steps is not None or test_offset is not None:
            for m in layers:
                cur = m.test_solver
                if not isinstance(cur, DSTD):
                    raise ValueError(f"test_steps/test_offset apply to DSTD layers only, this layer uses {cur.name}")
                m.set_test_solver(
                    DSTD(
                        test_steps if test_steps is not None else cur.steps,
                        test_offset if test_offset is not None else cur.offset,
                    )
                )
        if weight_scale is not None:
            a_pos, a_neg = (float(a) for a in weight_scale)
            if not (a_pos > 0 and a_neg > 0 and math.isfinite(a_pos) and math.isfinite(a_neg)):
                raise ValueError(f"weight_scale must be two finite numbers > 0 (alpha+, alpha-), got {weight_scale!r}")
            with torch.no_grad():
                for m in layers:
                    w = m.weight
                    w.copy_(torch.where(w >= 0, w * a_pos, w * a_neg))
        model.eval()
        yield model
    finally:
        for m, (e_pair, solver) in zip(layers, saved):
            m.set_e_rev(e_pair)
            m.set_test_solver(solver)
        if saved_w is not None:
            with torch.no_grad():
                for m, w in zip(layers, saved_w):
                    m.weight.copy_(w)
        model.train(was_training)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    e_rev: Any = None,
    test_steps: int | None = None,
    test_offset: str | float | None = None,
    weight_scale: tuple[float, float] | None = None,
    batch_size: int = 1000,
    seed: int = 0,
    return_outputs: bool = False,
) -> float | tuple[float, torch.Tensor]:
    """Test accuracy of ``model`` in eval mode (test M and offset of its layers unless overridden).

    ``e_rev``/``weight_scale`` evaluate the SAME trained weights at another |E| with positive / negative
    weights scaled by (alpha+, alpha-): the ANN and scaled-ANN baselines of App. F. The spike noise and any
    random test offset are drawn under a forked RNG seeded with ``seed``: repeatable, and the caller's RNG
    stream is untouched. With ``return_outputs`` also returns the output spike times [N, classes].

    Example::

        import torch
        import imcpnn

        net = imcpnn.mlp(4.0, sizes=(16, 8, 3))
        x, y = torch.rand(20, 16), torch.randint(0, 3, (20,))
        acc, t_out = imcpnn.evaluate.evaluate(net, x, y, test_steps=5, return_outputs=True)  # t_out [20, 3]
        assert imcpnn.evaluate.evaluate(net, x, y, test_steps=5) == acc  # repeatable: the noise is seeded
        scaled = imcpnn.evaluate.evaluate(net, x, y, e_rev="inf", weight_scale=(0.9, 1.1))  # scaled ANN (App. F)
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    device = next(model.parameters()).device
    outs, correct = [], 0
    overrides = evaluation_overrides(
        model, e_rev=e_rev, test_steps=test_steps, test_offset=test_offset, weight_scale=weight_scale
    )
    with overrides, torch.random.fork_rng(devices=_rng_devices(device)):
        torch.manual_seed(seed)
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(device)
            t = model(xb)
            correct += int((predict(t).cpu() == y[i : i + batch_size]).sum())
            if return_outputs:
                outs.append(t.cpu())
    acc = correct / max(1, len(x))
    return (acc, torch.cat(outs)) if return_outputs else acc


@torch.no_grad()
def layer_spike_times(
    model: models.SpikeNet, x: torch.Tensor, *, batch_size: int = 1000, seed: int = 0, e_rev: Any = None
) -> list[torch.Tensor]:
    """Every RC-Spike layer's output spike times on ``x`` in eval mode (for the histograms of Fig. 4d)."""
    device = next(model.parameters()).device
    per_layer: list[list[torch.Tensor]] = []
    with evaluation_overrides(model, e_rev=e_rev), torch.random.fork_rng(devices=_rng_devices(device)):
        torch.manual_seed(seed)
        for i in range(0, len(x), batch_size):
            outs = model.layer_outputs(x[i : i + batch_size].to(device))
            if not per_layer:
                per_layer = [[] for _ in outs]
            for acc, o in zip(per_layer, outs):
                acc.append(o.flatten(1).cpu())
    return [torch.cat(p) for p in per_layer]
