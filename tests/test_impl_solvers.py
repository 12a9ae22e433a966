"""Solver descriptions (imcpnn._impl.solvers): validated once, string sugar, and the layer methods that use them."""

import pytest
import torch

import imcpnn
from imcpnn import functional as F
from imcpnn import layers as L
from imcpnn.functional import DSTD, ODE, Exact, solver_from


def test_string_sugar_builds_the_same_solver_objects():
    assert solver_from("exact") == Exact()
    assert solver_from("dstd", 10, "fixed") == DSTD(10, "fixed")
    assert solver_from("ode", ode_options={"rtol": 1e-3}) == ODE(rtol=1e-3)
    d = DSTD(5, 0.1)
    assert solver_from(d) is d


def test_solver_objects_and_strings_give_identical_results():
    gen = torch.Generator().manual_seed(0)
    t, w = torch.rand(4, 6, generator=gen, dtype=torch.float64), torch.randn(3, 6, generator=gen, dtype=torch.float64)
    for sugar, obj in ((dict(method="dstd", steps=7, offset="fixed"), DSTD(7, "fixed")), (dict(), Exact())):
        torch.testing.assert_close(F.rc_spike(t, w, 2.0, **sugar), F.rc_spike(t, w, 2.0, method=obj), rtol=0, atol=0)


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda: DSTD(1), "steps"),
        (lambda: DSTD(True), "steps"),
        (lambda: DSTD(4.0), "steps"),
        (lambda: DSTD(4, "middle"), "offset"),
        (lambda: DSTD(4, -0.1), "offset"),
        (lambda: DSTD(4, None), "offset"),
        (lambda: ODE(rtol="x"), "rtol"),
        (lambda: ODE(method="euler"), "method"),
        (lambda: ODE(max_steps=0), "max_steps"),
        (lambda: solver_from("dstd"), "steps"),
        (lambda: solver_from("exact", steps=0), "steps"),
        (lambda: solver_from("exact", offset="middle"), "offset"),
        (lambda: solver_from("ode", ode_options={"rtool": 1e-3}), "rtool"),
        (lambda: solver_from("exact", ode_options={"rtol": 1e-3}), "ode_options"),
        (lambda: solver_from(DSTD(4), steps=5), "solver object"),
        (lambda: solver_from("rk4"), "method"),
    ],
)
def test_bad_descriptions_raise_value_errors_naming_the_argument(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_numeric_offset_is_checked_against_the_grid_of_the_call():
    t, w = torch.rand(2, 3), torch.randn(2, 3)
    with pytest.raises(ValueError, match="dtau"):
        F.rc_spike(t, w, 2.0, method=DSTD(3, 0.6))  # dtau = 0.5


def test_layers_hold_a_train_and_a_test_solver_and_switch_by_method():
    layer = L.RCSpikeLinear(5, 3, 2.0, steps=3, test_steps=30)
    assert layer.solver == DSTD(3, "random") and layer.test_solver == DSTD(30, "fixed")
    assert (layer.steps, layer.test_steps, layer.offset, layer.test_offset) == (3, 30, "random", "fixed")
    layer.eval()
    t = torch.rand(4, 5)
    before = layer(t)
    layer.set_test_solver(Exact())
    exact = layer(t)
    torch.testing.assert_close(exact, F.rc_spike(t, layer.weight, 2.0), rtol=0, atol=0)
    assert not torch.equal(before, exact)
    with pytest.raises(ValueError, match="solver"):
        layer.set_test_solver("exact")
    layer.set_e_rev((3.0, -1.5))
    assert layer.e_rev == (3.0, -1.5)


def test_exact_and_ode_layers():
    layer = L.RCSpikeLinear(4, 2, 2.0, method="exact")
    assert layer.solver == layer.test_solver == Exact() and layer.steps is None
    ode = L.RCSpikeLinear(4, 2, 2.0, method=ODE(rtol=1e-7, atol=1e-9)).double()
    t = torch.rand(3, 4, dtype=torch.float64)
    torch.testing.assert_close(ode(t), layer.double()(t) * 0 + F.rc_spike(t, ode.weight, 2.0), atol=1e-6, rtol=0)


def test_ode_step_cap_raises_a_clear_error_naming_e_and_the_cap():
    t, w = torch.rand(4, 6, dtype=torch.float64), torch.randn(3, 6, dtype=torch.float64) * 5
    with pytest.raises(ValueError, match=r"max_steps'\]=50 at e_rev=\(1e-05"):
        imcpnn.rc_spike_potential(t, w, 1e-5, method="ode", ode_options={"max_steps": 50})
