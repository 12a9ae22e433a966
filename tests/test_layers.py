"""Layers, pooling, noise and encoding (imcpnn.layers)."""

import math

import pytest
import torch
from torch.nn import functional as tnf

from imcpnn import functional as F
from imcpnn import layers as L


def unfold_times(t, k=3, padding=1):
    """[B, C, H, W] -> [B*H*W, C*k*k] patches, padded with t = 1 (no contribution)."""
    b, c, h, w = t.shape
    patches = tnf.unfold(1 - t, k, padding=padding)  # pads intensity 1 - t with zeros, i.e. t = 1
    return (1 - patches).transpose(1, 2).reshape(b * h * w, c * k * k)


def test_rcspike_linear_train_and_eval_modes():
    layer = L.RCSpikeLinear(20, 4, 2.0, steps=3, test_steps=200).double()
    t = torch.rand(5, 20, dtype=torch.float64)
    layer.train()
    a, b = layer(t), layer(t)
    assert not torch.equal(a, b)  # a new random offset on every mini-batch
    layer.eval()
    c, d = layer(t), layer(t)
    assert torch.equal(c, d)
    exact = F.rc_spike(t, layer.weight.detach(), 2.0)
    torch.testing.assert_close(c.detach(), exact, atol=1e-3, rtol=0)


@pytest.mark.parametrize("e_rev", [1.5, (2.8, -1.53), math.inf])
def test_rcspike_conv_equals_dense_on_patches(e_rev):
    conv = L.RCSpikeConv2d(2, 3, 3, e_rev, steps=4, test_steps=6, test_offset=0.05).double().eval()
    t = torch.rand(2, 2, 5, 5, dtype=torch.float64)
    out = conv(t)
    assert out.shape == (2, 3, 5, 5)
    dense = F.rc_spike(unfold_times(t), conv.weight.detach().flatten(1), e_rev, method="dstd", steps=6, offset=0.05)
    dense = dense.reshape(2, 5, 5, 3).permute(0, 3, 1, 2)
    torch.testing.assert_close(out.detach(), dense)


def test_ttfs_conv_equals_dense_on_patches():
    conv = L.TTFSConv2d(2, 3, 3, 2.0, steps=5, test_steps=8, test_offset=0.03, padding=0).double().eval()
    with torch.no_grad():
        conv.weight.uniform_(0, 0.4)
    t = torch.rand(2, 2, 5, 5, dtype=torch.float64)
    out = conv(t)
    patches = tnf.unfold(t, 3).transpose(1, 2).reshape(2 * 9, 18)
    dense = F.ttfs(patches, conv.weight.detach().flatten(1), 2.0, method="dstd", steps=8, offset=0.03)
    torch.testing.assert_close(out.detach(), dense.reshape(2, 3, 3, 3).permute(0, 3, 1, 2))
    assert torch.isfinite(out).any()


def test_ttfs_linear_matches_functional():
    layer = L.TTFSLinear(10, 3, 2.0, steps=10, test_steps=500).double().eval()
    with torch.no_grad():
        layer.weight.uniform_(0, 0.5)
    t = torch.rand(4, 10, dtype=torch.float64)
    torch.testing.assert_close(layer(t).detach(), F.ttfs(t, layer.weight.detach(), 2.0), atol=2e-4, rtol=0)


def test_conv_gradients_flow():
    conv = L.RCSpikeConv2d(1, 2, 3, 2.0, steps=3)
    t = torch.rand(2, 1, 6, 6, requires_grad=True)
    conv(t).sum().backward()
    assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    assert conv.weight.grad.abs().sum() > 0


def test_time_min_pool_earliest_wins():
    t = torch.tensor([[[[0.9, 0.2], [0.5, 0.7]]]])
    assert L.TimeMinPool2d(2)(t).item() == pytest.approx(0.2)


def test_spike_noise_applies_at_test_and_clamps():
    noise = L.SpikeNoise(0.05).eval()
    t = torch.full((1000,), 0.5)
    out = noise(t)
    assert not torch.equal(out, t)
    assert 0.04 < (out - t).std().item() < 0.06
    assert (noise(torch.zeros(100)) >= 0).all()
    assert torch.equal(L.SpikeNoise(0.0)(t), t)
    with pytest.raises(ValueError, match="sigma"):
        L.SpikeNoise(-1.0)


def test_encode():
    x = torch.tensor([0.0, 0.25, 1.0])
    torch.testing.assert_close(L.encode(x), torch.tensor([1.0, 0.75, 0.0]))
    with pytest.raises(ValueError, match="x must lie"):
        L.encode(torch.tensor([1.5]))


def test_layer_rejects_bad_settings():
    with pytest.raises(ValueError, match="steps"):
        L.RCSpikeLinear(3, 2, 1.0, steps=1)
    with pytest.raises(ValueError, match="e_rev"):
        L.RCSpikeLinear(3, 2, -2.0)
    with pytest.raises(ValueError, match="shape"):
        L.RCSpikeConv2d(3, 2, 3, 1.0)(torch.rand(1, 2, 4, 4))
