"""The fused DSTD layers of imcpnn._impl.dstd_fused (RC-Spike conv, TTFS dense and conv) against the plain-autograd
references of imcpnn._impl.dstd in float64: values, dL/dt and dL/dw."""

from __future__ import annotations

import math

import pytest
import torch

from imcpnn._impl import dstd, dstd_fused, piecewise

F64 = torch.float64


def _grads(fn, t, w, weights):
    tt, ww = t.clone().requires_grad_(True), w.clone().requires_grad_(True)
    out = fn(tt, ww)
    loss = torch.where(torch.isfinite(out), out * weights, torch.zeros_like(out)).sum()
    gt, gw = torch.autograd.grad(loss, (tt, ww))
    return out.detach(), torch.nan_to_num(gt, posinf=0.0), gw


def _compare(ref, new, rtol=1e-9, atol=1e-11):
    (o1, gt1, gw1), (o2, gt2, gw2) = ref, new
    assert torch.equal(torch.isinf(o1), torch.isinf(o2))
    fin = torch.isfinite(o1)
    torch.testing.assert_close(o2[fin], o1[fin], rtol=rtol, atol=atol)
    torch.testing.assert_close(gt2, gt1, rtol=rtol, atol=atol)
    torch.testing.assert_close(gw2, gw1, rtol=rtol, atol=atol)


@pytest.mark.parametrize(
    ("e_rev", "stride", "padding", "offset"),
    [((2.0, -2.0), 1, 1, 0.031), ((3.5, -1.2), 2, 0, 0.0), ((1.3, -5.0), 1, 2, 0.2)],
)
def test_rc_spike_conv_matches_the_reference(e_rev, stride, padding, offset, monkeypatch):
    g0 = torch.Generator().manual_seed(4)
    t = torch.rand(3, 4, 7, 7, generator=g0, dtype=F64)
    t[0, 0, 0, :3] = torch.tensor([0.0, 1.0, 0.5])  # spikes at the phase ends and on a grid point
    w = (torch.rand(5, 4, 3, 3, generator=g0, dtype=F64) * 2 - 1) * 0.5
    off = torch.tensor(offset, dtype=F64)
    steps = 4

    def ref(tt, ww):
        return dstd.rc_spike_conv2d_potential(tt, ww, piecewise.beta_weight(ww, *e_rev), steps, off, stride, padding)

    def fused(tt, ww):
        return dstd_fused.rc_spike_conv2d_potential(tt, ww, e_rev, steps, off, stride, padding)

    weights = None
    r = _grads(ref, t, w, 1.0)
    weights = torch.rand(r[0].shape, generator=g0, dtype=F64) - 0.5
    r = _grads(ref, t, w, weights)
    _compare(r, _grads(fused, t, w, weights))
    # one sample per batch chunk: the chunked forward and backward give the same
    monkeypatch.setattr(dstd_fused, "_chunks", lambda b, per, device: [slice(i, i + 1) for i in range(b)])
    _compare(r, _grads(fused, t, w, weights))


def test_rc_spike_conv_without_input_gradient():
    t = torch.rand(2, 3, 5, 5, dtype=F64)
    w = torch.randn(4, 3, 3, 3, dtype=F64, requires_grad=True)
    v = dstd_fused.rc_spike_conv2d_potential(t, w, (2.0, -2.0), 4, torch.tensor(0.1, dtype=F64), 1, 1)
    v.sum().backward()
    ref = w.detach().clone().requires_grad_(True)
    dstd.rc_spike_conv2d_potential(
        t, ref, piecewise.beta_weight(ref, 2.0, -2.0), 4, torch.tensor(0.1, dtype=F64), 1, 1
    ).sum().backward()
    torch.testing.assert_close(w.grad, ref.grad, rtol=1e-9, atol=1e-11)


def _ttfs_inputs(shape, g0, t_scale):
    t = torch.rand(*shape, generator=g0, dtype=F64) * t_scale
    t.view(-1)[: max(2, t.numel() // 7)] = math.inf  # silent inputs
    return t


@pytest.mark.parametrize(("e_rev", "offset", "t_max"), [(1.5, 0.0, 1.0), (4.0, 0.037, 2.0), (math.inf, 0.05, 1.0)])
def test_ttfs_dense_matches_the_reference(e_rev, offset, t_max):
    g0 = torch.Generator().manual_seed(5)
    t = _ttfs_inputs((6, 40), g0, t_max)
    w = (torch.rand(7, 40, generator=g0, dtype=F64) - 0.3) * 0.5
    w[6] = -0.1  # a neuron that never fires
    off = torch.tensor(offset, dtype=F64)
    er = (e_rev, -e_rev)
    weights = torch.rand(6, 7, generator=g0, dtype=F64)

    def ref(tt, ww):
        return dstd.ttfs(tt, ww, piecewise.beta_weight(ww, *er), 1.0, 9, off, t_max)

    def fused(tt, ww):
        return dstd_fused.ttfs(tt, ww, er, 1.0, 9, off, t_max)

    r = _grads(ref, t, w, weights)
    assert torch.isinf(r[0][:, 6]).all() and torch.isfinite(r[0][:, :6]).sum() > 10
    _compare(r, _grads(fused, t, w, weights), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(("stride", "padding", "offset"), [(1, 1, 0.1), (2, 1, 0.0)])
def test_ttfs_conv_matches_the_reference(stride, padding, offset, monkeypatch):
    g0 = torch.Generator().manual_seed(3)
    t = _ttfs_inputs((2, 2, 6, 6), g0, 1.5)
    w = (torch.rand(3, 2, 3, 3, generator=g0, dtype=F64) - 0.2) * 0.6
    w[2] = -0.05  # a channel that never fires
    off = torch.tensor(offset, dtype=F64)

    def ref(tt, ww):
        return dstd.ttfs_conv2d(tt, ww, piecewise.beta_weight(ww, 3.0, -3.0), 1.0, 8, off, 2.0, stride, padding)

    def fused(tt, ww):
        return dstd_fused.ttfs_conv2d(tt, ww, (3.0, -3.0), 1.0, 8, off, 2.0, stride, padding)

    r = _grads(ref, t, w, 1.0)
    weights = torch.rand(r[0].shape, generator=g0, dtype=F64)
    r = _grads(ref, t, w, weights)
    assert torch.isfinite(r[0]).any() and torch.isinf(r[0]).any()
    _compare(r, _grads(fused, t, w, weights), rtol=1e-8, atol=1e-10)
    # one sample per batch chunk of the crossing loops: the same
    monkeypatch.setattr(dstd_fused, "_slice_chunks", lambda b, per, device: [slice(i, i + 1) for i in range(b)])
    _compare(r, _grads(fused, t, w, weights), rtol=1e-8, atol=1e-10)


def test_gradcheck_of_the_fused_layers():
    g0 = torch.Generator().manual_seed(6)
    off = torch.tensor(0.05, dtype=F64)
    t = (torch.rand(2, 2, 4, 4, generator=g0, dtype=F64) * 0.9 + 0.05).requires_grad_(True)
    w = (torch.randn(3, 2, 3, 3, generator=g0, dtype=F64) * 0.4).requires_grad_(True)
    # fast mode (random projections of the Jacobian): float64 convolutions run on the slow reference kernel
    assert torch.autograd.gradcheck(
        lambda a, b: dstd_fused.rc_spike_conv2d_potential(a, b, (2.0, -2.0), 4, off, 1, 1), (t, w), fast_mode=True
    )
    tc = _ttfs_inputs((1, 2, 4, 4), g0, 1.0).requires_grad_(True)
    wc = (torch.rand(2, 2, 3, 3, generator=g0, dtype=F64) * 0.5).requires_grad_(True)

    def ttfs_conv(a, b):
        out = dstd_fused.ttfs_conv2d(a, b, (3.0, -3.0), 1.0, 5, off, 1.0, 1, 1)
        return torch.where(torch.isfinite(out), out, torch.zeros_like(out))

    assert torch.isfinite(dstd_fused.ttfs_conv2d(tc, wc, (3.0, -3.0), 1.0, 5, off, 1.0, 1, 1)).any()
    assert torch.autograd.gradcheck(ttfs_conv, (tc, wc), fast_mode=True)
    td = (torch.rand(3, 12, generator=g0, dtype=F64) * 0.9).requires_grad_(True)
    wd = (torch.rand(4, 12, generator=g0, dtype=F64) * 0.4).requires_grad_(True)
    assert torch.isfinite(dstd_fused.ttfs(td, wd, (2.0, -2.0), 1.0, 6, off)).all()
    assert torch.autograd.gradcheck(lambda a, b: dstd_fused.ttfs(a, b, (2.0, -2.0), 1.0, 6, off), (td, wd))


def test_accelerators_take_the_whole_batch_and_cpus_bounded_chunks():
    """The device switch of the fused layers' loops (the CUDA path without a GPU: an accelerator device object);
    the whole-batch path itself is what the reference tests above run (their batches fit in one CPU chunk)."""
    gpu, cpu = torch.device("meta"), torch.device("cpu")
    for fn in (dstd_fused._chunks, dstd_fused._slice_chunks):
        assert fn(256, 1 << 16, gpu) == [slice(0, 256)]
        parts = fn(256, 1 << 16, cpu)
        assert len(parts) > 1 and parts[0].start == 0 and parts[-1].stop == 256
        assert all(a.stop == b.start for a, b in zip(parts, parts[1:]))
