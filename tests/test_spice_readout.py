"""imcpnn.spice.readout: λ extraction, crossings, spike times, mapping (no simulator needed)."""

import math
import subprocess
import sys

import numpy as np
import pytest

from imcpnn.spice import readout as ro


def test_fit_lambda_known_linear_case():
    v = np.linspace(0.0, 1.8, 181)
    i0, lam, v0 = 100e-9, 0.41, 1.3
    i = i0 * (1 + lam * (v - v0))
    # outside the fit range the curve bends (saturation), which must not matter
    i = np.where(v < 0.3, i * v / 0.3, i)
    fit = ro.fit_lambda(v, i)
    assert fit.lam == pytest.approx(lam, rel=1e-9)
    assert fit.i_v0 == pytest.approx(i0, rel=1e-9)
    assert fit.rms_rel < 1e-12
    # PMOS-like: current falls with V; λ is |slope| / I(V0)
    fit_p = ro.fit_lambda(v, i0 * (1 - 0.75 * (v - v0)))
    assert fit_p.lam == pytest.approx(0.75, rel=1e-9) and fit_p.slope < 0


def test_fit_lambda_bad_input():
    with pytest.raises(ValueError, match="v_range"):
        ro.fit_lambda(np.linspace(0, 1, 10), np.ones(10), v_range=(1.0, 0.5))
    with pytest.raises(ValueError, match="fewer than 3"):
        ro.fit_lambda(np.linspace(0, 0.3, 10), np.ones(10))
    with pytest.raises(ValueError, match="equal length"):
        ro.fit_lambda(np.zeros(3), np.zeros(4))


def test_reversal_potentials_reproduce_table2():
    e = ro.erev_from_lambdas(0.41, 0.75, 0.177, 1.3 - 0.428)
    assert e["e_rev_pos"] == pytest.approx(2.80, abs=0.005)
    assert e["e_rev_neg"] == pytest.approx(-1.53, abs=0.005)
    assert e["e_dis"] == pytest.approx(6.48, abs=0.05)  # Table 2 prints 6.44
    with pytest.raises(ValueError, match="lambda_n"):
        ro.erev_from_lambdas(0.0, 0.75, 0.177, 0.872)


def test_spike_time_from_synthetic_waveform():
    t_circ, t_phase = 1e-6, 2e-6
    t = np.linspace(0, 3e-6, 3001)
    t_true = 0.3721
    v_out = np.where(t >= t_phase + t_true * t_circ, 1.8, 0.0)
    # a finite edge: a 1 ns ramp centred on the spike time
    v_out = np.clip((t - (t_phase + t_true * t_circ)) / 1e-9 * 0.9 + 0.9, 0, 1.8)
    assert ro.spike_time(t, v_out, t_phase=t_phase, t_circ=t_circ) == pytest.approx(t_true, abs=1e-4)
    # already high at the phase start -> 0; never -> 1 (the clip of Eq. 27)
    assert ro.spike_time(t, np.full_like(t, 1.8), t_phase=t_phase, t_circ=t_circ) == 0.0
    assert ro.spike_time(t, np.zeros_like(t), t_phase=t_phase, t_circ=t_circ) == 1.0
    # a glitch before the phase is ignored
    glitch = v_out.copy()
    glitch[(t > 1.5e-6) & (t < 1.6e-6)] = 1.8
    assert ro.spike_time(t, glitch, t_phase=t_phase, t_circ=t_circ) == pytest.approx(t_true, abs=1e-4)


def test_crossings_and_potential_mapping():
    t = np.linspace(0, 1, 101)
    y = np.sin(2 * math.pi * t)
    assert ro.crossings(t, y, 0.0, "falling") == pytest.approx([0.5], abs=1e-9)
    with pytest.raises(ValueError, match="direction"):
        ro.crossings(t, y, 0.0, "up")
    v = np.array([0.0, 0.5, 1.0])
    V = ro.to_circuit_voltage(v, v0=1.3, v_th=0.872)
    assert V[-1] == pytest.approx(0.428)
    assert ro.to_model_potential(V, v0=1.3, v_th=0.872) == pytest.approx(v)
    i = ro.weight_to_current(1.0, c_m=140e-15, v_th=0.872, t_circ=1e-6)
    assert i == pytest.approx(122.08e-9, rel=1e-3)
    assert ro.current_to_weight(i, c_m=140e-15, v_th=0.872, t_circ=1e-6) == pytest.approx(1.0)


def test_invert_monotone():
    vg = np.linspace(0.3, 0.7, 41)
    i = 1e-9 * np.exp((vg - 0.3) / 0.04)
    assert ro.invert_monotone(vg, i, np.array([i[10], i[30]])) == pytest.approx([vg[10], vg[30]])
    with pytest.raises(ValueError, match="simulated range"):
        ro.invert_monotone(vg, i, np.array([1.0]))


def test_import_does_not_load_pyspice():
    code = "import sys, imcpnn, imcpnn.spice; assert 'PySpice' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_spike_time_rejects_a_nan_waveform():
    t = np.linspace(0.0, 2.0, 201)
    v = np.where(t > 1.5, 1.8, 0.0)
    assert ro.spike_time(t, v, t_phase=1.0, t_circ=1.0) == pytest.approx(0.5, abs=0.01)
    for bad in (np.full_like(v, np.nan), np.where(t > 1.2, np.nan, v), np.where(t > 1.2, np.inf, 0.0)):
        with pytest.raises(ValueError, match="NaN or inf"):
            ro.spike_time(t, bad, t_phase=1.0, t_circ=1.0)
    # a NaN outside the phase does not matter
    assert ro.spike_time(t, np.where(t < 0.5, np.nan, v), t_phase=1.0, t_circ=1.0) == pytest.approx(0.5, abs=0.01)


def test_fit_relative_poly_recovers_a_quadratic_current_and_reduces_to_lambda():
    """Synthetic I(V) = I0 (1 + a u + b u^2), u = (V0 - V)/V_th, bent outside the fit range: the fit returns
    (1, a, b) and I0; degree 1 on a linear curve gives c_1 = -λ V_th (the E = 1/(V_th λ) of App. A.2)."""
    v = np.linspace(0.0, 1.8, 181)
    v0, v_th, i0, a, b = 1.3, 0.93, 50e-9, -0.37, 0.04
    u = (v0 - v) / v_th
    i = i0 * (1 + a * u + b * u**2)
    i = np.where(v < 0.25, i * v / 0.25, i)  # triode-like bend below the range: must not matter
    fit = ro.fit_relative_poly(v, i, v0=v0, v_th=v_th, degree=2, v_range=(0.3, 1.5))
    np.testing.assert_allclose(fit.coef, (1.0, a, b), atol=1e-9)
    assert fit.i_v0 == pytest.approx(i0, rel=1e-9) and fit.rms_rel < 1e-9
    assert fit(np.array([0.0, 1.0])) == pytest.approx([1.0, 1 + a + b])
    lam = 0.41
    lin = ro.fit_relative_poly(v, i0 * (1 + lam * (v - v0)), v0=v0, v_th=v_th, degree=1)
    assert lin.coef[1] == pytest.approx(-lam * v_th, rel=1e-9)
    # a quadratic curve fitted with a line leaves a residual the quadratic does not
    assert ro.fit_relative_poly(v, i, v0=v0, v_th=v_th, degree=1, v_range=(0.3, 1.5)).rms_rel > 1e-3


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"degree": 0}, "degree"),
        ({"degree": 6}, "degree"),
        ({"v_th": 0.0}, "v_th"),
        ({"v_range": (1.0, 0.5)}, "v_range"),
    ],
)
def test_fit_relative_poly_rejects_bad_arguments(kw, match):
    v = np.linspace(0.0, 1.8, 50)
    args = {"v0": 1.3, "v_th": 0.93, **kw}
    with pytest.raises(ValueError, match=match):
        ro.fit_relative_poly(v, 1e-9 * (1 + 0.1 * v), **args)
