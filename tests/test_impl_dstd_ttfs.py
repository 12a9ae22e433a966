"""The fused TTFS DSTD crossing (imcpnn._impl.dstd_ttfs) against the plain-autograd reference
(imcpnn._impl.dstd.first_crossing_on_grid) in float64: values and gradients, dense and convolutional."""

from __future__ import annotations

import math

import pytest
import torch

from imcpnn._impl import dstd, dstd_fused, dstd_ttfs, piecewise


def _reference_and_fused(f, g, f_all, g_all, points, widths, v_th, weights):
    outs = []
    for fn in (dstd.first_crossing_on_grid, dstd_ttfs.first_crossing_on_grid):
        leaves = [a.detach().clone().requires_grad_(True) for a in (f, g, f_all, g_all)]
        t = fn(*leaves, points, widths, v_th)
        loss = torch.where(torch.isfinite(t), t * weights, torch.zeros_like(t)).sum()
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        outs.append((t.detach(), [torch.zeros_like(a) if gr is None else gr for a, gr in zip(leaves, grads)]))
    return outs


@pytest.mark.parametrize("e_rev", [1.5, 4.0, math.inf])
@pytest.mark.parametrize("offset", [0.0, 0.037])
def test_dense_values_and_gradients_match_the_reference(e_rev, offset):
    g0 = torch.Generator().manual_seed(1)
    t_in = torch.rand(6, 40, generator=g0, dtype=torch.float64)
    t_in[0, :5] = math.inf  # silent inputs
    w = (torch.rand(7, 40, generator=g0, dtype=torch.float64) - 0.3) * 0.5
    w[6] = -0.1  # a neuron that never fires
    bw = piecewise.beta_weight(w, e_rev, -e_rev)
    points, widths = dstd.grid(9, torch.tensor(offset, dtype=torch.float64), 1.0)
    f, g = dstd.coefficients(t_in, w, bw, points, widths)
    live = torch.isfinite(t_in).to(t_in.dtype)
    f_all, g_all = (live @ bw.t()).unsqueeze(1), (live @ w.t()).unsqueeze(1)
    weights = torch.rand(6, 7, generator=g0, dtype=torch.float64)
    (t_ref, g_ref), (t_new, g_new) = _reference_and_fused(f, g, f_all, g_all, points, widths, 1.0, weights)
    assert torch.isinf(t_ref[:, 6]).all() and torch.isfinite(t_ref[:, :6]).any()
    assert torch.equal(torch.isinf(t_ref), torch.isinf(t_new))
    fin = torch.isfinite(t_ref)
    torch.testing.assert_close(t_new[fin], t_ref[fin], rtol=1e-10, atol=1e-12)
    # the reference's log-space scan has a kink at g_k = 0 exactly (b_k = 0: both log branches are constant), so
    # its dL/dg_k there is 0 instead of the true d_k phi(a_k) dL/dv_{k+1}; harmless, as g_k = 0 exactly means
    # no spike in the interval (S = 0: nothing flows on to w or t). Compared elsewhere, and end to end below.
    keep = [torch.ones_like(f, dtype=torch.bool), g != 0, torch.ones_like(f_all, dtype=torch.bool), g_all != 0]
    for a, b, k in zip(g_new, g_ref, keep):
        torch.testing.assert_close(a[k], b[k], rtol=1e-8, atol=1e-10)
    # end to end: dL/dt_in and dL/dw of the whole dense layer, the plain reference vs the one fused layer
    res = []
    for fused in (False, True):
        tt, ww = t_in.clone().requires_grad_(True), w.clone().requires_grad_(True)
        off = torch.tensor(offset, dtype=torch.float64)
        if fused:
            out = dstd_fused.ttfs(tt, ww, (e_rev, -e_rev), 1.0, 9, off, 1.0)
        else:
            out = dstd.ttfs(tt, ww, piecewise.beta_weight(ww, e_rev, -e_rev), 1.0, 9, off, 1.0)
        loss = torch.where(torch.isfinite(out), out * weights, torch.zeros_like(out)).sum()
        res.append(torch.autograd.grad(loss, (tt, ww)))
    for a, b in zip(*res):
        torch.testing.assert_close(
            torch.nan_to_num(a, posinf=0.0), torch.nan_to_num(b, posinf=0.0), rtol=1e-8, atol=1e-10
        )


def test_gradcheck_of_the_fused_crossing():
    g0 = torch.Generator().manual_seed(2)
    t_in = torch.rand(3, 12, generator=g0, dtype=torch.float64)
    w = torch.rand(4, 12, generator=g0, dtype=torch.float64) * 0.4
    bw = piecewise.beta_weight(w, 2.0, -2.0)
    points, widths = dstd.grid(6, torch.tensor(0.05, dtype=torch.float64), 1.0)
    f, g = dstd.coefficients(t_in, w, bw, points, widths)
    live = torch.ones_like(t_in)
    f_all, g_all = (live @ bw.t()).unsqueeze(1), (live @ w.t()).unsqueeze(1)
    args = tuple(a.detach().requires_grad_(True) for a in (f, g, f_all, g_all))
    assert torch.isfinite(dstd_ttfs.first_crossing_on_grid(*args, points, widths, 1.0)).all()
    assert torch.autograd.gradcheck(lambda *a: dstd_ttfs.first_crossing_on_grid(*a, points, widths, 1.0), args)


def test_conv_layer_matches_the_reference_end_to_end():
    g0 = torch.Generator().manual_seed(3)
    t = torch.rand(2, 2, 6, 6, generator=g0, dtype=torch.float64) * 1.5
    t[0, 0, :2] = math.inf
    w = (torch.rand(3, 2, 3, 3, generator=g0, dtype=torch.float64) - 0.2) * 0.6
    off = torch.tensor(0.1, dtype=torch.float64)
    res = []
    for fused in (False, True):
        tt, ww = t.clone().requires_grad_(True), w.clone().requires_grad_(True)
        if fused:
            out = dstd_fused.ttfs_conv2d(tt, ww, (3.0, -3.0), 1.0, 8, off, 2.0, 1, 1)
        else:
            out = dstd.ttfs_conv2d(tt, ww, piecewise.beta_weight(ww, 3.0, -3.0), 1.0, 8, off, 2.0, 1, 1)
        loss = torch.where(torch.isfinite(out), out, torch.zeros_like(out)).square().sum()
        res.append((out.detach(), *torch.autograd.grad(loss, (tt, ww))))
    (o1, gt1, gw1), (o2, gt2, gw2) = res
    assert torch.isfinite(o1).any() and torch.equal(torch.isinf(o1), torch.isinf(o2))
    fin = torch.isfinite(o1)
    torch.testing.assert_close(o2[fin], o1[fin], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(
        torch.nan_to_num(gt2, posinf=0.0), torch.nan_to_num(gt1, posinf=0.0), rtol=1e-8, atol=1e-10
    )
    torch.testing.assert_close(gw2, gw1, rtol=1e-8, atol=1e-10)


def test_phi2_is_smooth_across_the_series_switch():
    x = torch.tensor([0.0, 0.0099999, 0.0100001, 0.5, 30.0], dtype=torch.float64)
    want = torch.tensor(
        [0.5] + [(-math.expm1(-v) - v * math.exp(-v)) / v**2 for v in x.tolist()[1:]], dtype=torch.float64
    )
    torch.testing.assert_close(dstd_ttfs.phi2(x), want, rtol=1e-9, atol=0)
