"""Device characterisation (Fig. 17, 19, 20), calibration, the simulated I(V_g) tables of the weight -> gate
map (:mod:`imcpnn.spice.weightmap`), and neuron / layer transients read out in model units.

Every function here runs ngspice (through :mod:`imcpnn.spice.simulate`). The pure post-processing is in
:mod:`imcpnn.spice.readout`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from imcpnn.spice import netlist as nl
from imcpnn.spice.pdk import library_line
from imcpnn.spice.readout import FIT_RANGE, crossings, fit_lambda, spike_time, to_model_potential
from imcpnn.spice.simulate import run_netlist
from imcpnn.spice.weightmap import GateMap, WeightMap

#: the paper's gate-bias grids of Fig. 17 (0.05 V steps)
NMOS_GATES = tuple(np.round(np.arange(0.40, 0.6501, 0.05), 3))
PMOS_GATES = tuple(np.round(np.arange(1.30, 1.0499, -0.05), 3))


# --------------------------------------------------------------------------------------------------
# Fig. 17: synapse currents


def synapse_iv(
    kind: str,
    v_gates: Sequence[float],
    *,
    corner: str = "tt",
    synapse: nl.SynapseParams = nl.DEFAULT_SYNAPSE,
    v0: float = 1.3,
    v_range: tuple[float, float] = FIT_RANGE,
    v_step: float = 0.01,
) -> dict:
    """Synapse-pair current magnitude against the membrane voltage, one curve per gate voltage.

    Returns ``{"v": [n], "i": [k, n] (A, >= 0 = current out of C_m for NMOS, into C_m for PMOS),
    "v_gates": [k], "fits": [LambdaFit], "lam": [k], "i_v0": [k]}``. λ per Eq. 69-70.
    """
    decks = nl.synapse_iv_netlist(kind, v_gates, library_line(corner), p=synapse, v_step=v_step)
    sweep = _sweep_and_fit(decks, f"synapse_iv_{kind}", -1.0 if kind == "n" else 1.0, v0, v_range)
    return {**sweep, "v_gates": np.asarray(v_gates, dtype=float)}


def _sweep_and_fit(decks, name: str, sign: float, v0: float, v_range: tuple[float, float]) -> dict:
    """Run DC sweeps of the membrane voltage and fit λ to each current (Eq. 69-71): the loop of Fig. 17 and 20."""
    curves, fits = [], []
    v = None
    for deck in decks:
        out = run_netlist(deck, name)
        v = out["v-sweep"]
        i = sign * out["vmem#branch"]
        curves.append(i)
        fits.append(fit_lambda(v, i, v0=v0, v_range=v_range))
    return {
        "v": v,
        "i": np.array(curves),
        "fits": fits,
        "lam": np.array([f.lam for f in fits]),
        "i_v0": np.array([f.i_v0 for f in fits]),
    }


def gate_map(
    kind: str, *, corner: str = "tt", synapse: nl.SynapseParams = nl.DEFAULT_SYNAPSE, v0: float = 1.3
) -> GateMap:
    """Simulate I(V_g) at V = V0 for the NMOS (``"n"``: V_g 0.2-0.9 V) or PMOS pair (``"p"``: 0.9-1.6 V): the
    table of :class:`~imcpnn.spice.weightmap.GateMap` that :meth:`WeightMap.from_gate_maps` maps weights on."""
    lo, hi = (0.2, 0.9) if kind == "n" else (0.9, 1.6)
    deck = nl.synapse_gate_sweep_netlist(kind, library_line(corner), v_mem=v0, v_start=lo, v_stop=hi, p=synapse)
    out = run_netlist(deck, f"gate_map_{kind}")
    i = -out["vmem#branch"] if kind == "n" else out["vmem#branch"]
    v_g = out["v-sweep"]
    # keep the strictly monotone part above the leakage floor (the log interpolation needs it)
    keep = i > 1e-12
    v_g, i = v_g[keep], i[keep]
    mono = np.diff(i) > 0 if kind == "n" else np.diff(i) < 0  # n: rising with V_g; p: falling with V_g
    good = np.concatenate([[True], mono])
    return GateMap(kind, v_g[good], i[good])


# --------------------------------------------------------------------------------------------------
# Fig. 19: sensing inverter


def switching_threshold(v_in: np.ndarray, v_out: np.ndarray) -> float:
    """The inverter's switching threshold V_M: the input at which V_out = V_in."""
    c = crossings(v_in, np.asarray(v_out) - np.asarray(v_in), 0.0, "falling")
    if c.size == 0:
        raise ValueError("the transfer curve never crosses V_out = V_in")
    return float(c[0])


def sensing_inverter(
    v_b_sense: Sequence[float], *, corner: str = "tt", neuron: nl.NeuronParams = nl.DEFAULT_NEURON
) -> dict:
    """Transfer curves and supply (through) currents of the sensing inverter for each V_b^sense (Fig. 19).

    Returns ``{"v_in": [n], "v_out": [k, n], "i_dd": [k, n] (A), "v_b_sense": [k], "v_switch": [k]}``.
    """
    models = library_line(corner)
    outs, idd, vsw = [], [], []
    v_in = None
    for vb in v_b_sense:
        out = run_netlist(nl.sensing_inverter_netlist(vb, models, p=neuron), "sense")
        v_in = out["v-sweep"]
        outs.append(out["out"])
        idd.append(-out["vdd#branch"])
        vsw.append(switching_threshold(v_in, out["out"]))
    return {
        "v_in": v_in,
        "v_out": np.array(outs),
        "i_dd": np.array(idd),
        "v_b_sense": np.asarray(v_b_sense, dtype=float),
        "v_switch": np.array(vsw),
    }


# --------------------------------------------------------------------------------------------------
# Fig. 20: discharger


def discharger_iv(
    v_b_dis: Sequence[float],
    *,
    corner: str = "tt",
    neuron: nl.NeuronParams = nl.DEFAULT_NEURON,
    v_range: tuple[float, float] = FIT_RANGE,
) -> dict:
    """Discharger current against the membrane voltage for each V_b^dis, and λ_dis (Fig. 20, Eq. 71)."""
    models = library_line(corner)
    decks = (nl.discharger_netlist(vb, models, p=neuron) for vb in v_b_dis)
    sweep = _sweep_and_fit(decks, "discharger", -1.0, neuron.v0, v_range)
    return {**sweep, "v_b_dis": np.asarray(v_b_dis, dtype=float)}


# --------------------------------------------------------------------------------------------------
# transients


@dataclass
class LayerResult:
    """A layer transient read out in circuit and model units."""

    t: np.ndarray  # s
    v_mem: np.ndarray  # [n_out, T] V
    v_out: np.ndarray  # [n_out, T] V
    t_spike: np.ndarray  # [n_out] model units in [0, 1] of the firing phase
    v_end_acc: np.ndarray  # [n_out] V at the end of the accumulation phase
    timing: nl.Timing
    wall_s: float
    netlist: str = ""

    def model_potential(self, v0: float, v_th: float) -> np.ndarray:
        return to_model_potential(self.v_mem, v0=v0, v_th=v_th)


def simulate_layer(
    spec: nl.LayerSpec, *, corner: str = "tt", name: str = "layer", max_step: float | None = None
) -> LayerResult:
    """Run the transient of a :class:`~imcpnn.spice.netlist.LayerSpec` and read spike times (t / T_circ)."""
    deck = nl.layer_netlist(spec, library_line(corner), max_step=max_step)
    t0 = time.perf_counter()
    out = run_netlist(deck, name)
    wall = time.perf_counter() - t0
    t = out["time"]
    tm, p = spec.timing, spec.neuron
    v_mem = np.array([out[f"v(mem{i})"] for i in range(spec.n_out)])
    v_out = np.array([out[f"v(out{i})"] for i in range(spec.n_out)])
    t_spk = (
        np.array(
            [
                spike_time(t, v_out[i], t_phase=tm.t_fire, t_circ=tm.t_circ * tm.fire_len, vdd=p.vdd)
                for i in range(spec.n_out)
            ]
        )
        * tm.fire_len
    )
    v_end = np.array([np.interp(tm.t_fire, t, v_mem[i]) for i in range(spec.n_out)])
    return LayerResult(t, v_mem, v_out, t_spk, v_end, tm, wall, deck)


@dataclass
class CircuitMapping:
    """Model <-> circuit mapping (App. A.2): weights -> gate voltages, potentials, reversal potentials.

    Weights map to currents and gate voltages through :attr:`weight_map` (the one
    :class:`~imcpnn.spice.weightmap.WeightMap`, I = scale C_m V_th |w| / T_circ, arXiv 2412.09010v1 Table 2,
    App. A.2), with ``scale`` as the current factor of both signs.
    """

    neuron: nl.NeuronParams
    v_th: float
    gate_n: GateMap
    gate_p: GateMap
    lambda_n: float = float("nan")
    lambda_p: float = float("nan")
    lambda_dis: float = float("nan")
    scale: float = 1.0  # global current scale (the 1-D scaling of Algorithm 6); 1 = none
    synapse: nl.SynapseParams = field(default_factory=nl.SynapseParams)

    @property
    def e_rev(self) -> tuple[float, float]:
        return 1.0 / (self.v_th * self.lambda_n), -1.0 / (self.v_th * self.lambda_p)

    @property
    def e_dis(self) -> float:
        return 1.0 / (self.v_th * self.lambda_dis)

    @property
    def weight_map(self) -> WeightMap:
        """The weight -> gate map on ``gate_n``/``gate_p`` with this neuron's C_m, T_circ, V_dd and ``v_th``."""
        p = self.neuron
        return WeightMap.from_gate_maps(self.gate_n, self.gate_p, c_m=p.c_m, v_th=self.v_th, t_circ=p.t_circ, vdd=p.vdd)

    def currents(self, weight: np.ndarray) -> np.ndarray:
        """I = scale C_m V_th |w| / T_circ (A), :meth:`WeightMap.currents` at alpha+ = alpha- = ``scale``."""
        return self.weight_map.currents(weight, self.scale, self.scale)

    def weight_range(self) -> tuple[float, float]:
        """(largest negative, largest positive) weight the simulated gate ranges can express."""
        r = self.weight_map.weight_range(self.scale, self.scale)
        return -r["neg"][1], r["pos"][1]

    def gates(self, weight: np.ndarray, *, layer: str = "layer") -> tuple[np.ndarray, np.ndarray]:
        """Gate voltages (v_gn, v_gp), shaped like ``weight``: NMOS for w > 0, PMOS for w < 0, the other one off
        (:meth:`WeightMap.gates` at ``scale``). An inexpressible weight raises ValueError naming ``layer``, the
        synapse and the range."""
        w = np.asarray(weight, dtype=float)
        v_gn, v_gp = self.weight_map.gates(w, self.scale, self.scale, layer=layer)
        return v_gn.reshape(w.shape), v_gp.reshape(w.shape)

    def layer_spec(
        self, weight: np.ndarray, t_in: np.ndarray, timing: nl.Timing | None = None, *, layer: str = "layer"
    ) -> nl.LayerSpec:
        """A :class:`LayerSpec` for ``weight`` [n_out, n_in] and input times ``t_in`` [n_in]; ``layer`` names it
        in a range error."""
        v_gn, v_gp = self.gates(np.atleast_2d(weight), layer=layer)
        tm = timing if timing is not None else nl.Timing(t_circ=self.neuron.t_circ)
        return nl.LayerSpec(v_gn, v_gp, t_in, neuron=self.neuron, synapse=self.synapse, timing=tm)


def _idle_neuron(neuron: nl.NeuronParams, corner: str, fire_len: float, fan_in: int = 1) -> LayerResult:
    """A neuron with ``fan_in`` switched-off synapses whose inputs never spike, and a firing phase ``fire_len``
    T_circ long."""
    spec = nl.LayerSpec(
        [[0.0] * fan_in],
        [[neuron.vdd] * fan_in],
        [1.0] * fan_in,
        neuron=neuron,
        timing=nl.Timing(t_circ=neuron.t_circ, fire_len=fire_len),
    )
    return simulate_layer(spec, corner=corner, name="idle_neuron")


def calibrate_discharger(
    neuron: nl.NeuronParams = nl.DEFAULT_NEURON,
    *,
    corner: str = "tt",
    bracket: tuple[float, float] = (0.50, 0.65),
    target: float = 1.0,
    tol: float = 2e-3,
    max_iter: int = 12,
    fan_in: int = 1,
) -> dict:
    """V_b^dis such that a neuron with no input fires at ``target`` (x T_circ) into the firing phase.

    The paper chose V_b^dis "so that there is no firing without input" (arXiv 2412.09010v1 App. G), i.e. the
    unloaded discharge ramp reaches the threshold at the end of the firing phase; the RC-Spike model fires at
    t = 1 for v(1) = 0 (Eq. 26). Bisection on transients with a 1.5 T_circ firing phase.

    ``fan_in``: the number of synapses on the membrane in the circuit the neuron is used in. Their drain
    junctions load the membrane even when switched off (4 extra sky130 synapses of Table 2's size delay the
    idle spike by ~17 ns of a 1 µs ramp, 1.7 %), so calibrate with the fan-in of the layer it serves.
    Returns ``{"v_b_dis", "t_spike", "v_switch_eff" (membrane voltage at the output spike), "fan_in",
    "iterations", "wall_s"}``.
    """
    lo, hi = bracket
    if not 0 < lo < hi < neuron.vdd:
        raise ValueError(f"bracket must satisfy 0 < low < high < vdd, got {bracket}")
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or not 1 <= fan_in <= 4096:
        raise ValueError(f"fan_in must be an integer in [1, 4096], got {fan_in!r}")
    t0 = time.perf_counter()
    res, vb, it = None, None, 0
    for it in range(1, max_iter + 1):  # noqa: B007 - reported
        vb = 0.5 * (lo + hi)
        res = _idle_neuron(neuron.with_(v_b_dis=vb), corner, 1.5, fan_in)
        ts = float(res.t_spike[0])
        if abs(ts - target) < tol:
            break
        if ts > target:  # too slow: more current
            lo = vb
        else:
            hi = vb
    t_abs = res.timing.t_fire + float(res.t_spike[0]) * neuron.t_circ
    v_sw = float(np.interp(t_abs, res.t, res.v_mem[0]))
    return {
        "v_b_dis": vb,
        "t_spike": float(res.t_spike[0]),
        "v_switch_eff": v_sw,
        "fan_in": fan_in,
        "iterations": it,
        "wall_s": time.perf_counter() - t0,
    }
