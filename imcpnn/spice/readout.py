"""Pure-numpy readout of SPICE waveforms: λ fits, crossings, spike times, model-unit conversions.

No simulator needed here; everything is unit-tested on synthetic data (``tests/test_spice_readout.py``).
Conventions (arXiv 2412.09010v1 App. A.2, Eq. 71): v = -(V - V0)/V_th, t = t_circuit / T_circ within the phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FIT_RANGE = (0.43, 1.36)  # V; Fig. 17/20 captions


@dataclass(frozen=True)
class LambdaFit:
    """A linear fit I(V) = i_v0 (1 + s λ (V - V0)) over ``v_range``; ``slope`` = dI/dV (A/V)."""

    lam: float
    i_v0: float
    slope: float
    v0: float
    v_range: tuple[float, float]
    rms_rel: float  # RMS of the fit residual relative to i_v0


def fit_lambda(v: np.ndarray, i: np.ndarray, *, v0: float = 1.3, v_range: tuple[float, float] = FIT_RANGE) -> LambdaFit:
    """λ = |dI/dV| / I(V0) from a linear fit of ``i`` against ``v`` over ``v_range`` (Eq. 69-71).

    ``i`` is a current magnitude (either sign is accepted; the fit uses it as given and λ is
    normalised by the fitted current at V0).
    """
    v = np.asarray(v, dtype=float)
    i = np.asarray(i, dtype=float)
    if v.shape != i.shape or v.ndim != 1:
        raise ValueError(f"v and i must be 1-D arrays of equal length, got {v.shape} and {i.shape}")
    lo, hi = v_range
    if not lo < hi:
        raise ValueError(f"v_range must be (low, high) with low < high, got {v_range}")
    sel = (v >= lo - 1e-12) & (v <= hi + 1e-12)
    if sel.sum() < 3:
        raise ValueError(f"fewer than 3 points of v lie in v_range {v_range}")
    slope, icpt = np.polyfit(v[sel], i[sel], 1)
    i_v0 = icpt + slope * v0
    if i_v0 == 0:
        raise ValueError("the fitted current at V0 is zero; λ is undefined")
    resid = i[sel] - (icpt + slope * v[sel])
    return LambdaFit(
        lam=float(abs(slope) / abs(i_v0)),
        i_v0=float(i_v0),
        slope=float(slope),
        v0=v0,
        v_range=(lo, hi),
        rms_rel=float(np.sqrt(np.mean(resid**2)) / abs(i_v0)),
    )


@dataclass(frozen=True)
class PolyFit:
    """I(V) / I(V0) as a polynomial h(u) = 1 + c_1 u + ... + c_d u^d of the model potential u = (V0 - V)/V_th.

    ``coef`` = (1, c_1, ..., c_d), ascending; the linear model of Eq. 69-71 is h(u) = 1 - u/E (c_1 = -1/E).
    """

    coef: tuple[float, ...]
    i_v0: float
    v0: float
    v_th: float
    v_range: tuple[float, float]
    rms_rel: float  # RMS of the fit residual relative to i_v0

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return np.polynomial.polynomial.polyval(np.asarray(u, dtype=float), self.coef)


def fit_relative_poly(
    v: np.ndarray,
    i: np.ndarray,
    *,
    v0: float = 1.3,
    v_th: float,
    degree: int = 2,
    v_range: tuple[float, float] = FIT_RANGE,
) -> PolyFit:
    """A voltage-dependent reversal potential E(v) (arXiv 2412.09010v1 App. G names it future work): least-squares
    polynomial of degree ``degree`` of the current ``i`` against u = (V0 - v)/V_th over ``v_range``, normalised
    so that h(0) = 1. ``degree=1`` is the linear fit of :func:`fit_lambda` (c_1 = -λ V_th for a current that
    grows with V)."""
    v = np.asarray(v, dtype=float)
    i = np.asarray(i, dtype=float)
    if v.shape != i.shape or v.ndim != 1:
        raise ValueError(f"v and i must be 1-D arrays of equal length, got {v.shape} and {i.shape}")
    if isinstance(degree, bool) or not isinstance(degree, int) or not 1 <= degree <= 5:
        raise ValueError(f"degree must be an integer in [1, 5], got {degree!r}")
    if not (math.isfinite(v_th) and v_th > 0):
        raise ValueError(f"v_th must be finite and > 0, got {v_th}")
    lo, hi = v_range
    if not lo < hi:
        raise ValueError(f"v_range must be (low, high) with low < high, got {v_range}")
    sel = (v >= lo - 1e-12) & (v <= hi + 1e-12)
    if sel.sum() < degree + 2:
        raise ValueError(f"fewer than {degree + 2} points of v lie in v_range {v_range}")
    u = (v0 - v[sel]) / v_th
    c = np.polynomial.polynomial.polyfit(u, i[sel], degree)
    if c[0] == 0:
        raise ValueError("the fitted current at V0 is zero; h(u) is undefined")
    resid = i[sel] - np.polynomial.polynomial.polyval(u, c)
    return PolyFit(
        coef=tuple(float(x) for x in c / c[0]),
        i_v0=float(c[0]),
        v0=v0,
        v_th=v_th,
        v_range=(lo, hi),
        rms_rel=float(np.sqrt(np.mean(resid**2)) / abs(c[0])),
    )


def erev_from_lambdas(lambda_n: float, lambda_p: float, lambda_dis: float, v_th: float) -> dict:
    """E+rev = 1/(V_th λ_N), E-rev = -1/(V_th λ_P), E_dis = 1/(V_th λ_dis) (App. A.2, Table 2)."""
    for name, x in (("lambda_n", lambda_n), ("lambda_p", lambda_p), ("lambda_dis", lambda_dis), ("v_th", v_th)):
        if not (math.isfinite(x) and x > 0):
            raise ValueError(f"{name} must be finite and > 0, got {x}")
    return {
        "e_rev_pos": 1.0 / (v_th * lambda_n),
        "e_rev_neg": -1.0 / (v_th * lambda_p),
        "e_dis": 1.0 / (v_th * lambda_dis),
    }


def crossings(t: np.ndarray, y: np.ndarray, level: float, direction: str = "rising") -> np.ndarray:
    """Linearly interpolated times at which ``y`` crosses ``level`` (``rising``, ``falling`` or ``both``)."""
    if direction not in ("rising", "falling", "both"):
        raise ValueError(f"direction must be 'rising', 'falling' or 'both', got {direction!r}")
    t = np.asarray(t, dtype=float)
    d = np.asarray(y, dtype=float) - level
    a, b = d[:-1], d[1:]
    up = (a < 0) & (b >= 0)
    down = (a > 0) & (b <= 0)
    mask = up if direction == "rising" else down if direction == "falling" else (up | down)
    k = np.nonzero(mask)[0]
    frac = a[k] / (a[k] - b[k])
    return t[k] + frac * (t[k + 1] - t[k])


def spike_time(t: np.ndarray, v_out: np.ndarray, *, t_phase: float, t_circ: float, vdd: float = 1.8) -> float:
    """Output spike time in model units: (first rising crossing of V_dd/2 after ``t_phase``) / T_circ.

    A spike already high at ``t_phase`` gives 0; no spike within the phase gives 1 (the clip of Eq. 27).
    A NaN or infinite sample within the phase raises ValueError (it is not "no spike").
    """
    t = np.asarray(t, dtype=float)
    v_out = np.asarray(v_out, dtype=float)
    sel = (t >= t_phase) & (t <= t_phase + t_circ)
    if not sel.any():
        raise ValueError("no samples of t lie in the phase [t_phase, t_phase + t_circ]")
    ts, vs = t[sel], v_out[sel]
    if not (np.isfinite(ts).all() and np.isfinite(vs).all()):
        raise ValueError("t and v_out must be finite within the phase (the waveform holds NaN or inf)")
    if vs[0] >= vdd / 2:
        return 0.0
    c = crossings(ts, vs, vdd / 2, "rising")
    if c.size == 0:
        return 1.0
    return float(np.clip((c[0] - t_phase) / t_circ, 0.0, 1.0))


def to_model_potential(v_mem: np.ndarray, *, v0: float, v_th: float) -> np.ndarray:
    """Membrane voltage -> model potential v = -(V - V0)/V_th (App. A.2: inverted polarity)."""
    return -(np.asarray(v_mem, dtype=float) - v0) / v_th


def to_circuit_voltage(v: np.ndarray, *, v0: float, v_th: float) -> np.ndarray:
    """Model potential -> membrane voltage V = V0 - V_th v."""
    return v0 - v_th * np.asarray(v, dtype=float)


def weight_to_current(w: np.ndarray, *, c_m: float, v_th: float, t_circ: float) -> np.ndarray:
    """I = C_m V_th w / T_circ (Table 2), the magnitude of the synaptic current at V = V0."""
    return c_m * v_th * np.abs(np.asarray(w, dtype=float)) / t_circ


def current_to_weight(i: np.ndarray, *, c_m: float, v_th: float, t_circ: float) -> np.ndarray:
    """w = I T_circ / (C_m V_th) (inverse of :func:`weight_to_current`; magnitude)."""
    return np.asarray(i, dtype=float) * t_circ / (c_m * v_th)


def invert_monotone(x_grid: np.ndarray, y_grid: np.ndarray, y: np.ndarray, *, log: bool = True) -> np.ndarray:
    """x such that y(x) = y on a monotone curve (interpolating log y when ``log``); ValueError outside."""
    x_grid = np.asarray(x_grid, dtype=float)
    y_grid = np.asarray(y_grid, dtype=float)
    y = np.asarray(y, dtype=float)
    if log:
        if np.any(y_grid <= 0) or np.any(y <= 0):
            raise ValueError("log inversion needs positive currents")
        yg, yq = np.log(y_grid), np.log(y)
    else:
        yg, yq = y_grid, y
    order = np.argsort(yg)
    yg, xg = yg[order], x_grid[order]
    if np.any(np.diff(yg) <= 0):
        raise ValueError("the curve is not strictly monotone")
    if yq.size and (yq.min() < yg[0] or yq.max() > yg[-1]):
        lo, hi = (np.exp(yg[0]), np.exp(yg[-1])) if log else (yg[0], yg[-1])
        raise ValueError(f"requested values must lie in [{lo:.4g}, {hi:.4g}] (the simulated range)")
    return np.interp(yq, yg, xg)
