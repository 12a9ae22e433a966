"""The physics core: exact vs torchdiffeq vs DSTD in float64, edge cases, the ideal limit, gradients."""

import math

import numpy as np
import pytest
import torch
from conftest import random_layer

from imcpnn import functional as F

E_VALUES = [0.5, 1.0, 2.8, 100.0, (2.80, -1.53), math.inf]


def edge_case_times(batch=6, n_in=30):
    t = torch.rand(batch, n_in, dtype=torch.float64)
    t[0, :5] = 0.0  # several spikes exactly at 0
    t[1, -4:] = 1.0  # spikes exactly at 1
    t[2, 10:20] = t[2, 10]  # a block of tied spikes
    t[3] = 0.5  # all tied
    t[4, ::2] = t[4, 1::2]  # pairwise ties
    return t


@pytest.mark.parametrize("e_rev", E_VALUES)
def test_exact_matches_ode(e_rev):
    t = edge_case_times()
    w = torch.randn(5, t.shape[1], dtype=torch.float64) * 0.5
    exact = F.rc_spike_potential(t, w, e_rev, method="exact")
    ode = F.rc_spike_potential(t, w, e_rev, method="ode")
    assert exact.shape == (6, 5)
    torch.testing.assert_close(exact, ode, atol=1e-6, rtol=0)


def test_exact_matches_ode_strong_drive():
    # |E| = 0.5 with large weights: v saturates near the reversal potentials
    t, w = random_layer(batch=2, n_in=16, n_out=4, scale=3.0)
    for e_rev in (0.5, (2.80, -1.53)):
        exact = F.rc_spike_potential(t, w, e_rev, method="exact")
        ode = F.rc_spike_potential(t, w, e_rev, method="ode")
        torch.testing.assert_close(exact, ode, atol=1e-6, rtol=0)
        e_pos, e_neg = (e_rev, -e_rev) if isinstance(e_rev, float) else e_rev
        assert (exact <= e_pos).all() and (exact >= e_neg).all()  # reversal potentials bound v


@pytest.mark.parametrize("method,kw", [("exact", {}), ("ode", {}), ("dstd", {"steps": 5, "offset": "fixed"})])
def test_ideal_limit_is_exactly_the_weighted_sum(method, kw):
    t, w = random_layer()
    ideal = (1 - t) @ w.t()
    assert torch.equal(F.rc_spike_potential(t, w, math.inf, method=method, **kw), ideal)
    # and the general code path approaches it as |E| grows
    near = F.rc_spike_potential(t, w, 1e9, method=method, **kw)
    torch.testing.assert_close(near, ideal, atol=1e-7, rtol=0)


def test_one_sided_infinite_reversal_potential():
    t, w = random_layer()
    exact = F.rc_spike_potential(t, w, (math.inf, -1.5))
    ode = F.rc_spike_potential(t, w, (math.inf, -1.5), method="ode")
    torch.testing.assert_close(exact, ode, atol=1e-6, rtol=0)


def test_single_input_closed_form():
    # one spike at t0 with weight w: v(1) = E (1 - exp(-w (1 - t0)/E))
    t = torch.tensor([[0.3]], dtype=torch.float64)
    w = torch.tensor([[0.8]], dtype=torch.float64)
    e = 2.0
    want = e * (1 - math.exp(-0.8 * 0.7 / e))
    for method, kw in [("exact", {}), ("ode", {}), ("dstd", {"steps": 2, "offset": "fixed"})]:
        got = F.rc_spike_potential(t, w, e, method=method, **kw).item()
        assert got == pytest.approx(want, abs=1e-9), method


def dstd_error(e_rev, steps, batch=100, n_in=200, n_out=10, offset="fixed"):
    g = torch.Generator().manual_seed(1)
    t = torch.rand(batch, n_in, dtype=torch.float64, generator=g)
    w = torch.randn(n_out, n_in, dtype=torch.float64, generator=g) * (4.0 / math.sqrt(n_in))
    exact = F.rc_spike_potential(t, w, e_rev, method="exact")
    approx = F.rc_spike_potential(t, w, e_rev, method="dstd", steps=steps, offset=offset)
    return (exact - approx).abs().mean().item()


def test_dstd_second_order_convergence():
    ms = [8, 16, 32, 64]
    errs = [dstd_error(2.0, m) for m in ms]
    slope = np.polyfit(np.log(ms), np.log(errs), 1)[0]
    assert -2.3 < slope < -1.7, (slope, errs)


def test_dstd_error_shrinks_as_e_grows():
    # Theorem 1 regime: |E| above the range of v (below it, v saturates at E and the error is bounded by E)
    es = (4.0, 16.0, 64.0, 256.0)
    errs = [dstd_error(e, 8) for e in es]
    assert all(a > b for a, b in zip(errs, errs[1:], strict=False)), errs
    slope = np.polyfit(np.log(es), np.log(errs), 1)[0]
    assert -1.3 < slope < -0.7, (slope, errs)  # O(1/|E|)
    assert dstd_error(1e12, 8) < 1e-10  # exact in the ideal limit: interval averages of a linear ODE


def test_dstd_random_offset_is_consistent():
    t, w = random_layer(batch=50, n_in=100, n_out=4, scale=0.3)
    exact = F.rc_spike_potential(t, w, 1.0)
    a = F.rc_spike_potential(t, w, 1.0, method="dstd", steps=40, offset="random")
    b = F.rc_spike_potential(t, w, 1.0, method="dstd", steps=40, offset="random")
    assert not torch.equal(a, b)  # a new offset on every call
    torch.testing.assert_close(a, exact, atol=2e-3, rtol=0)
    c = F.rc_spike_potential(t, w, 1.0, method="dstd", steps=40, offset=0.01)
    d = F.rc_spike_potential(t, w, 1.0, method="dstd", steps=40, offset=0.01)
    assert torch.equal(c, d)


def test_dstd_edge_times():
    t = edge_case_times()
    w = torch.randn(5, t.shape[1], dtype=torch.float64) * 0.5
    exact = F.rc_spike_potential(t, w, 1.0)
    for offset in ("fixed", 0.004, "random"):
        approx = F.rc_spike_potential(t, w, 1.0, method="dstd", steps=200, offset=offset)
        assert torch.isfinite(approx).all()
        torch.testing.assert_close(approx, exact, atol=1e-3, rtol=0)


# ---------------------------------------------------------------- TTFS


@pytest.mark.parametrize("e_rev", [1.5, 2.0, 100.0, (2.80, -1.53), math.inf])
def test_ttfs_exact_matches_ode(e_rev):
    t = edge_case_times(batch=6, n_in=24)
    w = torch.rand(4, 24, dtype=torch.float64) * 0.25 - 0.03
    exact = F.ttfs(t, w, e_rev)
    ode = F.ttfs(t, w, e_rev, method="ode")
    fired = torch.isfinite(exact)
    assert fired.any()
    assert torch.equal(fired, torch.isfinite(ode))
    torch.testing.assert_close(exact[fired], ode[fired], atol=1e-6, rtol=0)


def test_ttfs_single_input_closed_form():
    # one spike at 0.2, weight 3, E = 4: v(t) = E (1 - exp(-w (t - 0.2)/E)) = 1
    t = torch.tensor([[0.2]], dtype=torch.float64)
    w = torch.tensor([[3.0]], dtype=torch.float64)
    want = 0.2 - 4.0 / 3.0 * math.log(1 - 1 / 4.0)
    assert F.ttfs(t, w, 4.0).item() == pytest.approx(want, abs=1e-12)
    assert F.ttfs(t, w, 4.0, method="ode").item() == pytest.approx(want, abs=1e-8)
    assert F.ttfs(t, w, math.inf).item() == pytest.approx(0.2 + 1 / 3.0, abs=1e-12)


def test_ttfs_non_firing_neurons():
    t = torch.rand(3, 10, dtype=torch.float64)
    mixed = torch.tensor([0.05, -0.2] * 5)
    w = torch.stack([torch.full((10,), -0.5), mixed, torch.full((10,), 0.5)]).double()
    for method, kw in [("exact", {}), ("ode", {}), ("dstd", {"steps": 30, "offset": "fixed"})]:
        out = F.ttfs(t, w, 2.0, method=method, **kw)
        assert torch.isinf(out[:, :2]).all(), method  # inhibitory only; net current negative
        assert torch.isfinite(out[:, 2]).all(), method
    # |E| < v_th: v is bounded by E_pos and can never reach the threshold
    assert torch.isinf(F.ttfs(t, w * 10, 0.5)).all()
    # inputs that never spike (+inf) contribute nothing
    t_none = torch.full((2, 10), math.inf, dtype=torch.float64)
    assert torch.isinf(F.ttfs(t_none, w, 2.0)).all()
    t_half = torch.cat([t[:, :5], torch.full((3, 5), math.inf, dtype=torch.float64)], 1)
    torch.testing.assert_close(F.ttfs(t_half, w, 2.0), F.ttfs(t[:, :5], w[:, :5], 2.0))


def test_ttfs_dstd_converges():
    t = torch.rand(32, 50, dtype=torch.float64)
    w = torch.rand(8, 50, dtype=torch.float64) * 0.12
    exact = F.ttfs(t, w, 2.0)
    errs = []
    for m in (16, 64, 256):
        approx = F.ttfs(t, w, 2.0, method="dstd", steps=m, offset="fixed")
        assert torch.equal(torch.isfinite(approx), torch.isfinite(exact))
        fired = torch.isfinite(exact)
        errs.append((approx - exact)[fired].abs().max().item())
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-4, errs


# ---------------------------------------------------------------- gradients


def test_gradcheck_exact_and_dstd():
    t, w = random_layer(batch=3, n_in=6, n_out=2, scale=0.6)
    t.requires_grad_(True)
    w.requires_grad_(True)
    for e_rev in (1.0, (2.8, -1.53)):
        assert torch.autograd.gradcheck(lambda a, b, e_rev=e_rev: F.rc_spike_potential(a, b, e_rev), (t, w))
        assert torch.autograd.gradcheck(
            lambda a, b, e_rev=e_rev: F.rc_spike_potential(a, b, e_rev, method="dstd", steps=5, offset=0.07), (t, w)
        )


def test_gradcheck_ttfs():
    t = torch.rand(3, 6, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(3, 6, dtype=torch.float64) * 0.7).requires_grad_(True)
    assert torch.isfinite(F.ttfs(t, w, 2.0)).all()
    assert torch.autograd.gradcheck(lambda a, b: F.ttfs(a, b, 2.0), (t, w))
    assert torch.autograd.gradcheck(lambda a, b: F.ttfs(a, b, 2.0, method="dstd", steps=7, offset=0.05), (t, w))


@pytest.mark.parametrize("adjoint", [False, True])
def test_ode_gradients_match_exact(adjoint):
    t, w = random_layer(batch=3, n_in=8, n_out=3, scale=0.5)
    grads = []
    for method, kw in [("exact", {}), ("ode", {"ode_options": {"adjoint": adjoint}})]:
        a, b = t.clone().requires_grad_(True), w.clone().requires_grad_(True)
        F.rc_spike_potential(a, b, 1.5, method=method, **kw).square().sum().backward()
        grads.append((a.grad, b.grad))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-5, rtol=0)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-5, rtol=0)


def test_gradients_finite_at_edges():
    t = edge_case_times(batch=5, n_in=12).requires_grad_(True)
    w = (torch.randn(4, 12, dtype=torch.float64) * 0.5).requires_grad_(True)
    for kw in ({}, {"method": "dstd", "steps": 4, "offset": "fixed"}, {"method": "dstd", "steps": 3}):
        out = F.rc_spike(t, w, 1.0, **kw)
        gt, gw = torch.autograd.grad(out.sum(), (t, w))
        assert torch.isfinite(gt).all() and torch.isfinite(gw).all()
    out = F.ttfs(t, w.abs(), 2.0)
    gt, gw = torch.autograd.grad(torch.where(torch.isfinite(out), out, 0).sum(), (t, w))
    assert torch.isfinite(gt).all() and torch.isfinite(gw).all()


# ---------------------------------------------------------------- traces, firing phase, dtypes


def test_membrane_trace_exact():
    t, w = random_layer(batch=4, n_in=20, n_out=3, scale=0.5)
    grid = torch.linspace(0, 1, 11, dtype=torch.float64)
    tr = F.membrane_trace(t, w, 1.5, grid)
    assert tr.shape == (4, 3, 11)
    torch.testing.assert_close(tr[..., -1], F.rc_spike_potential(t, w, 1.5))
    assert torch.equal(tr[..., 0], torch.zeros_like(tr[..., 0]))
    # v(tau) equals the end-of-phase potential of the same ODE rescaled to [0, tau] (checked with the ODE solver)
    for k in (3, 7):
        tau = grid[k].item()
        ref = F.rc_spike_potential((t / tau).clamp(max=1), w * tau, 1.5, method="ode")
        torch.testing.assert_close(tr[..., k], ref, atol=1e-7, rtol=0)


def test_membrane_trace_dstd_end_point():
    t, w = random_layer(batch=4, n_in=20, n_out=3, scale=0.5)
    grid = torch.linspace(0, 1, 21, dtype=torch.float64)
    tr = F.membrane_trace(t, w, 1.0, grid, method="dstd", steps=4, offset="fixed")
    want = F.rc_spike_potential(t, w, 1.0, method="dstd", steps=4, offset="fixed")
    torch.testing.assert_close(tr[..., -1], want)


def test_firing_time_with_discharger_decay():
    v1 = torch.linspace(-0.5, 1.5, 21, dtype=torch.float64)
    torch.testing.assert_close(F.firing_time(v1), (1 - v1).clamp(0, 1))
    torch.testing.assert_close(F.firing_time(v1, 1e12), (1 - v1).clamp(0, 1), atol=1e-9, rtol=0)
    e_dis = 6.44
    t = F.firing_time(v1, e_dis)
    beta = 1 / e_dis
    alpha = -math.log(1 - beta) / beta
    inside = (t > 0) & (t < 1)
    # v(t) = [1 - (1 - beta v0) exp(-alpha beta t)] / beta reaches 1 at the spike (App. A Eq. 82-85)
    v_at = (1 - (1 - beta * v1) * torch.exp(-alpha * beta * t)) / beta
    torch.testing.assert_close(v_at[inside], torch.ones_like(v_at[inside]))
    assert (t[v1 >= 1] == 0).all() and (t[v1 <= 0] == 1).all()


def test_float32_and_batching():
    t, w = random_layer(dtype=torch.float32)
    for method, kw in [("exact", {}), ("ode", {}), ("dstd", {"steps": 10})]:
        out = F.rc_spike(t, w, 2.0, method=method, **kw)
        assert out.dtype == torch.float32 and out.shape == (8, 5)
        one = F.rc_spike(t[:1], w, 2.0, method=method, **({**kw, "offset": "fixed"} if kw else kw))
        full = F.rc_spike(t, w, 2.0, method=method, **({**kw, "offset": "fixed"} if kw else kw))
        # the adaptive ODE solver controls its step on the whole batch: agreement to its tolerance only
        torch.testing.assert_close(one, full[:1], atol=1e-4 if method == "ode" else 1e-6, rtol=0)
    assert F.ttfs(t, w.abs(), 2.0).dtype == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_matches_cpu():
    t, w = random_layer()
    for method, kw in [("exact", {}), ("dstd", {"steps": 8, "offset": "fixed"})]:
        cpu = F.rc_spike_potential(t, w, 2.0, method=method, **kw)
        gpu = F.rc_spike_potential(t.cuda(), w.cuda(), 2.0, method=method, **kw)
        torch.testing.assert_close(gpu.cpu(), cpu)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda t, w: F.rc_spike(t, w, -1.0), "e_rev"),
        (lambda t, w: F.rc_spike(t, w, 0.0), "e_rev"),
        (lambda t, w: F.rc_spike(t, w, (1.0, 1.0)), "E_neg"),
        (lambda t, w: F.rc_spike(t, w, (-1.0, -1.0)), "E_pos"),
        (lambda t, w: F.rc_spike(t, w, float("nan")), "e_rev"),
        (lambda t, w: F.rc_spike(t, w, 1.0, method="dstd", steps=1), "steps"),
        (lambda t, w: F.rc_spike(t, w, 1.0, method="dstd"), "steps"),
        (lambda t, w: F.rc_spike(t, w, 1.0, method="dstd", steps=2.5), "steps"),
        (lambda t, w: F.rc_spike(t, w, 1.0, method="rk4"), "method"),
        (lambda t, w: F.rc_spike(t, w, 1.0, method="dstd", steps=4, offset="jitter"), "offset"),
        (lambda t, w: F.rc_spike(t, w, 1.0, method="dstd", steps=4, offset=0.5), "offset"),
        (lambda t, w: F.rc_spike(t, w[:, :-1], 1.0), "shape mismatch"),
        (lambda t, w: F.rc_spike(t[0], w, 1.0), "t_in must have shape"),
        (lambda t, w: F.rc_spike(t * 2, w, 1.0), r"\[0, 1\]"),
        (lambda t, w: F.rc_spike(t.float(), w, 1.0), "dtype"),
        (lambda t, w: F.rc_spike(t, w, 1.0, e_dis=0.5), "e_dis"),
        (lambda t, w: F.ttfs(t, w, 1.0, v_th=0.0), "v_th"),
        (lambda t, w: F.ttfs(-t, w, 1.0), "t_in"),
        (lambda t, w: F.ttfs(t * 3, w, 1.0, method="dstd", steps=5), "t_max"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    t, w = random_layer()
    with pytest.raises(ValueError, match=match):
        call(t, w)


def test_nan_times_raise():
    t, w = random_layer()
    t[0, 0] = float("nan")
    for fn in (F.rc_spike, F.ttfs):
        with pytest.raises(ValueError, match="NaN"):
            fn(t, w, 1.0)


def test_fused_dstd_matches_plain_autograd_reference():
    from imcpnn._impl import dstd

    t, w = random_layer(batch=70, n_in=40, n_out=300, scale=0.3)  # several batch chunks in the fused backward
    off = torch.tensor(0.013, dtype=torch.float64)
    outs = []
    for fn, third in ((dstd.rc_spike_potential, (2.8, -1.53)), (dstd.rc_spike_potential_reference, None)):
        a, b = t.clone().requires_grad_(True), w.clone().requires_grad_(True)
        arg = third if third is not None else F.beta_weight(b, (2.8, -1.53))
        v = fn(a, b, arg, 7, off)
        (v * torch.linspace(-1, 1, v.shape[1], dtype=v.dtype)).sum().backward()
        outs.append((v.detach(), a.grad, b.grad))
    for x, y in zip(*outs, strict=True):
        torch.testing.assert_close(x, y, atol=1e-10, rtol=1e-9)


def test_poly_potential_with_linear_h_equals_the_exact_model():
    """h(v) = 1 - v/E through the generic ODE solver is the RC-Spike model (Eq. 8-11), also with silent inputs."""
    t, w = random_layer(batch=6, n_in=5, n_out=4, scale=0.6)
    t[0, 2] = 1.0
    e_pos, e_neg = 2.7, -1.4
    ref = F.rc_spike_potential(t, w, (e_pos, e_neg))
    got = F.rc_spike_potential_poly(t, w, (1.0, -1.0 / e_pos), (1.0, -1.0 / e_neg))
    torch.testing.assert_close(got, ref, atol=1e-8, rtol=0)
    assert F.firing_time_poly(ref, (1.0, -1.0 / 6.15)).sub(F.firing_time(ref, 6.15)).abs().max() < 1e-8


def test_poly_potential_single_input_closed_form_and_gradients():
    """One input at t0 with a quadratic h: dv/dt = w (1 + a v + b v^2) has a closed form (partial fractions); the
    solver matches it and its gradient reaches the weights."""
    a, b, w, t0 = -0.4, 0.03, 0.8, 0.3
    t = torch.tensor([[t0]], dtype=torch.float64)
    weight = torch.tensor([[w]], dtype=torch.float64, requires_grad=True)
    v1 = F.rc_spike_potential_poly(t, weight, (1.0, a, b), (1.0, 0.3))
    # dv / (1 + a v + b v^2) = w dt; discriminant a^2 - 4b > 0 here: logarithmic form
    d = math.sqrt(a * a - 4 * b)

    def prim(v):  # antiderivative of 1 / (b v^2 + a v + 1)
        return math.log(abs((2 * b * v + a - d) / (2 * b * v + a + d))) / d

    v = float(v1.detach())
    assert prim(v) - prim(0.0) == pytest.approx(w * (1 - t0), rel=1e-7)
    v1.sum().backward()
    assert weight.grad is not None and float(weight.grad) > 0


def test_firing_time_poly_checks_its_polynomial():
    v1 = torch.tensor([[0.2, 0.9, 1.3, -0.1]], dtype=torch.float64)
    t = F.firing_time_poly(v1, (1.0, -0.15, -0.01))
    assert float(t[0, 2]) == 0.0 and 0 < float(t[0, 1]) < float(t[0, 0]) < float(t[0, 3]) <= 1.0
    with pytest.raises(ValueError, match="h_dis"):
        F.firing_time_poly(v1, (1.0, -2.0))  # h reaches 0 before the threshold: never fires
    with pytest.raises(ValueError, match="h_dis"):
        F.firing_time_poly(v1, (0.0, 1.0))
    with pytest.raises(ValueError, match="h_pos"):
        F.rc_spike_potential_poly(v1[:, :2].clamp(0, 1), torch.ones(1, 2, dtype=torch.float64), (float("nan"),), (1.0,))
