"""Closed-form kernels of dv/dt = -f v + g on piecewise-constant intervals (imcpnn._impl.piecewise, Eq. 8, 33)."""

import math

import pytest
import torch

from imcpnn._impl import piecewise as pw


@pytest.fixture(autouse=True)
def _float64():
    """float64 inside this module only (a module-level set_default_dtype leaked into every later test)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def test_phi_and_psi_match_their_definitions_and_are_smooth_at_zero():
    x = torch.tensor([0.0, 1e-8, 5e-4, 1e-3, 2e-3, 0.5, 3.0, 80.0, 1e6])
    ref_phi = torch.where(x == 0, torch.ones_like(x), -torch.expm1(-x) / x)
    ref_psi = torch.where(x == 0, torch.ones_like(x), torch.log1p(x) / x)
    torch.testing.assert_close(pw.phi(x), ref_phi, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(pw.psi(x), ref_psi, rtol=1e-12, atol=1e-13)
    # the Taylor branch and the closed form agree across the switch at _SMALL
    lo, hi = torch.tensor([pw._SMALL * (1 - 1e-9)]), torch.tensor([pw._SMALL * (1 + 1e-9)])
    assert abs(pw.phi(lo) - pw.phi(hi)).item() < 1e-12 and abs(pw.psi(lo) - pw.psi(hi)).item() < 1e-12


def test_step_is_the_exact_solution_of_the_linear_ode():
    v0, f, g, dt = torch.tensor(0.3), torch.tensor(2.5), torch.tensor(1.7), torch.tensor(0.4)
    exact = g / f + (v0 - g / f) * math.exp(-2.5 * 0.4)
    assert pw.step(v0, f, g, dt).item() == pytest.approx(exact.item(), rel=1e-14)
    # f = 0: a straight ramp
    assert pw.step(v0, torch.tensor(0.0), g, dt).item() == pytest.approx(0.3 + 1.7 * 0.4, rel=1e-14)


def test_final_potential_equals_stepping_interval_by_interval_with_gradients():
    gen = torch.Generator().manual_seed(0)
    f = torch.rand(3, 6, 4, generator=gen) * 5
    g = torch.randn(3, 6, 4, generator=gen)
    d = torch.rand(1, 6, 1, generator=gen) / 6
    v = torch.zeros(3, 4)
    for k in range(6):
        v = pw.step(v, f[:, k], g[:, k], d[:, k])
    torch.testing.assert_close(pw.final_potential(f, g, d), v, rtol=1e-12, atol=1e-14)
    fr, gr = f.clone().requires_grad_(True), g.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: pw.final_potential(a, b, d), (fr, gr))


def test_beta_weight_is_nonnegative_and_zero_in_the_ideal_limit():
    w = torch.tensor([[-2.0, 0.0, 3.0]])
    assert torch.equal(pw.beta_weight(w, 4.0, -2.0), torch.tensor([[1.0, 0.0, 0.75]]))
    assert torch.equal(pw.beta_weight(w, math.inf, -math.inf), torch.zeros_like(w))


def test_first_crossing_on_a_ramp():
    # one interval, f = 0, g = 2: v = 2 t crosses 1 at t = 0.5
    start = torch.zeros(1, 1, 1)
    t = pw.first_crossing(
        start,
        torch.ones(1, 1, 1),
        torch.zeros(1, 1, 1),
        torch.full((1, 1, 1), 2.0),
        torch.zeros(1, 1, 1),
        torch.full((1, 1, 1), 2.0),
        1.0,
    )
    assert t.item() == pytest.approx(0.5, rel=1e-12)
    # g - f v_th <= 0: the potential saturates below threshold, no crossing
    never = pw.first_crossing(
        start,
        torch.full((1, 1, 1), math.inf),
        torch.full((1, 1, 1), 4.0),
        torch.full((1, 1, 1), 2.0),
        torch.zeros(1, 1, 1),
        torch.full((1, 1, 1), 0.5),
        1.0,
    )
    assert math.isinf(never.item())
