"""imcpnn.spice.weightmap: the one weight -> current -> gate-voltage map (arXiv 2412.09010v1 Table 2, App. A.2).

The map replaced two: ``imcpnn.spice.iris.WeightMap`` (the Iris circuit) and the ``GateMap`` /
``CircuitMapping.gates`` path of ``imcpnn.spice.characterize`` (the one-neuron checks of notebook 06). Verbatim
copies of both are kept here as private references; on random synthetic monotone I(V_g) tables and random weights
inside the range, the new map must give bit-identical gate voltages (results files must not change), and a
weight outside the range must raise naming the layer, the synapse and the range. No ngspice needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imcpnn.spice import netlist as nl
from imcpnn.spice.characterize import CircuitMapping
from imcpnn.spice.readout import current_to_weight, invert_monotone, weight_to_current
from imcpnn.spice.weightmap import GateMap, WeightMap

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True)

# --------------------------------------------------------------------------------------------------
# verbatim references of the two maps this module replaced (git 443936e)


@dataclass(frozen=True)
class _OldWeightMap:  # imcpnn/spice/iris.py::WeightMap, verbatim
    vg_n: np.ndarray
    i_n: np.ndarray
    vg_p: np.ndarray
    i_p: np.ndarray
    c_m: float
    v_th: float
    t_circ: float
    vdd: float = 1.8

    def _kw(self) -> dict:
        return {"c_m": self.c_m, "v_th": self.v_th, "t_circ": self.t_circ}

    def weight_range(self, alpha_pos: float = 1.0, alpha_neg: float = 1.0) -> dict[str, tuple[float, float]]:
        kw = self._kw()
        pos = current_to_weight(np.array([self.i_n.min(), self.i_n.max()]), **kw) / alpha_pos
        neg = current_to_weight(np.array([self.i_p.min(), self.i_p.max()]), **kw) / alpha_neg
        return {"pos": (float(pos[0]), float(pos[1])), "neg": (float(neg[0]), float(neg[1]))}

    def gates(
        self,
        weight: np.ndarray,
        alpha_pos: float = 1.0,
        alpha_neg: float = 1.0,
        *,
        layer: str = "layer",
        prune_below_floor: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        for name, a in (("alpha_pos", alpha_pos), ("alpha_neg", alpha_neg)):
            if not (isinstance(a, (int, float)) and np.isfinite(a) and a > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {a!r}")
        w = np.atleast_2d(np.asarray(weight, dtype=float))
        if not np.all(np.isfinite(w)):
            raise ValueError(f"{layer}: weights must be finite")
        cur = weight_to_current(w, **self._kw()) * np.where(w >= 0, alpha_pos, alpha_neg)
        v_gn = np.zeros_like(w)
        v_gp = np.full_like(w, self.vdd)
        rng = self.weight_range(alpha_pos, alpha_neg)
        for sign, mask, lo, hi in (
            ("positive", w > 0, self.i_n.min(), self.i_n.max()),
            ("negative", w < 0, self.i_p.min(), self.i_p.max()),
        ):
            bad = mask & ((cur > hi) | ((cur < lo) & (not prune_below_floor)))
            if bad.any():
                i, j = (int(k) for k in np.argwhere(bad)[0])
                r = rng["pos" if sign == "positive" else "neg"]
                raise ValueError(
                    f"{layer}: weight w[{i}, {j}] = {w[i, j]:.6g} (synapse from input {j} to neuron {i}) needs "
                    f"{cur[i, j] * 1e9:.4g} nA, outside the simulated {sign}-weight current range "
                    f"[{lo * 1e9:.4g}, {hi * 1e9:.4g}] nA, i.e. |w| in [{r[0]:.4g}, {r[1]:.4g}] at "
                    f"alpha = ({alpha_pos:g}, {alpha_neg:g}); {int(bad.sum())} synapse(s) out of range"
                )
        on_n = (w > 0) & (cur >= self.i_n.min())
        on_p = (w < 0) & (cur >= self.i_p.min())
        if on_n.any():
            v_gn[on_n] = invert_monotone(self.vg_n, self.i_n, cur[on_n])
        if on_p.any():
            v_gp[on_p] = invert_monotone(self.vg_p, self.i_p, cur[on_p])
        return v_gn, v_gp

    def pruned(self, weight: np.ndarray, alpha_pos: float = 1.0, alpha_neg: float = 1.0) -> dict:
        w = np.atleast_2d(np.asarray(weight, dtype=float))
        cur = weight_to_current(w, **self._kw()) * np.where(w >= 0, alpha_pos, alpha_neg)
        m = ((w > 0) & (cur < self.i_n.min())) | ((w < 0) & (cur < self.i_p.min()))
        return {"count": int(m.sum()), "max_abs_w": float(np.abs(w[m]).max()) if m.any() else 0.0}

    def weights(self, v_gn: np.ndarray, v_gp: np.ndarray, alpha_pos: float = 1.0, alpha_neg: float = 1.0) -> np.ndarray:
        v_gn, v_gp = np.asarray(v_gn, dtype=float), np.asarray(v_gp, dtype=float)
        kw = self._kw()
        on_n, on_p = v_gn > 0, v_gp < self.vdd
        if (on_n & on_p).any():
            raise ValueError("a synapse has both its NMOS and its PMOS memory transistor on")
        on = np.argsort(self.vg_n)
        i_n = np.exp(np.interp(v_gn, self.vg_n[on], np.log(self.i_n[on])))
        op = np.argsort(self.vg_p)
        i_p = np.exp(np.interp(v_gp, self.vg_p[op], np.log(self.i_p[op])))
        w = np.zeros_like(v_gn)
        w[on_n] = current_to_weight(i_n[on_n], **kw) / alpha_pos
        w[on_p] = -current_to_weight(i_p[on_p], **kw) / alpha_neg
        return w


@dataclass
class _OldGateMap:  # imcpnn/spice/characterize.py::GateMap, verbatim
    kind: str
    v_g: np.ndarray
    i_v0: np.ndarray

    def gate_for_current(self, i: np.ndarray) -> np.ndarray:
        return invert_monotone(self.v_g, self.i_v0, np.asarray(i, dtype=float), log=True)

    def current_for_gate(self, v_g: np.ndarray) -> np.ndarray:
        order = np.argsort(self.v_g)
        return np.exp(np.interp(v_g, self.v_g[order], np.log(self.i_v0[order])))


@dataclass
class _OldCircuitMapping:  # imcpnn/spice/characterize.py::CircuitMapping, its weight -> gate part verbatim
    neuron: nl.NeuronParams
    v_th: float
    gate_n: _OldGateMap
    gate_p: _OldGateMap
    scale: float = 1.0
    synapse: nl.SynapseParams = field(default_factory=nl.SynapseParams)

    def currents(self, weight: np.ndarray) -> np.ndarray:
        p = self.neuron
        return self.scale * weight_to_current(weight, c_m=p.c_m, v_th=self.v_th, t_circ=p.t_circ)

    def weight_range(self) -> tuple[float, float]:
        p = self.neuron
        kw = {"c_m": p.c_m, "v_th": self.v_th, "t_circ": p.t_circ}
        return (
            -float(current_to_weight(self.gate_p.i_v0.max(), **kw)) / self.scale,
            float(current_to_weight(self.gate_n.i_v0.max(), **kw)) / self.scale,
        )

    def gates(self, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = np.asarray(weight, dtype=float)
        vdd = self.neuron.vdd
        v_gn = np.zeros_like(w)
        v_gp = np.full_like(w, vdd)
        i = self.currents(w)
        pos, neg = w > 0, w < 0
        if pos.any():
            v_gn[pos] = self.gate_n.gate_for_current(i[pos])
        if neg.any():
            v_gp[neg] = self.gate_p.gate_for_current(i[neg])
        return v_gn, v_gp


# --------------------------------------------------------------------------------------------------
# synthetic I(V_g) tables and weights


def _tables(seed: int) -> tuple[GateMap, GateMap]:
    """Random strictly monotone I(V_g) tables shaped like :func:`characterize.gate_map`'s: a non-uniform V_g grid,
    log I rising (NMOS) / falling (PMOS) by random positive steps, spanning a random 3-7 decades."""
    rng = np.random.default_rng(seed)
    out = []
    for kind, (lo, hi) in (("n", (0.2, 0.9)), ("p", (0.9, 1.6))):
        n = int(rng.integers(5, 300))
        v_g = np.sort(rng.uniform(lo, hi, n))
        v_g = v_g[np.concatenate([[True], np.diff(v_g) > 1e-9])]
        steps = rng.uniform(0.05, 1.0, v_g.size - 1)
        log_i = np.concatenate([[0.0], np.cumsum(steps)])
        log_i = log_i / log_i[-1] * rng.uniform(3, 7) * np.log(10) + np.log(rng.uniform(1e-12, 1e-10))
        i = np.exp(log_i if kind == "n" else log_i[::-1])
        out.append(GateMap(kind, v_g, i))
    return out[0], out[1]


def _weights(rng: np.random.Generator, shape, lo_hi_pos, lo_hi_neg, p_zero: float = 0.15) -> np.ndarray:
    """Weights log-uniform strictly inside the expressible |w| ranges, random signs, some zeros."""
    pos = np.exp(rng.uniform(np.log(lo_hi_pos[0]), np.log(lo_hi_pos[1]), shape))
    neg = -np.exp(rng.uniform(np.log(lo_hi_neg[0]), np.log(lo_hi_neg[1]), shape))
    w = np.where(rng.random(shape) < 0.5, pos, neg)
    return np.where(rng.random(shape) < p_zero, 0.0, w)


def _inside(r: tuple[float, float], margin: float = 1e-9) -> tuple[float, float]:
    return r[0] * (1 + margin), r[1] * (1 - margin)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-identical arrays: same shape, dtype and bytes."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


NEURON = nl.NeuronParams()
C_M, T_CIRC, VDD = NEURON.c_m, NEURON.t_circ, NEURON.vdd

v_ths = st.floats(0.3, 1.3, allow_nan=False)
alphas = st.floats(0.25, 4.0, allow_nan=False)
shapes = st.tuples(st.integers(1, 6), st.integers(1, 6))


# --------------------------------------------------------------------------------------------------
# bit-identical to the Iris path (iris.WeightMap)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    v_th=v_ths,
    alpha_pos=alphas,
    alpha_neg=alphas,
    shape=shapes,
    prune=st.booleans(),
)
def test_iris_path_bit_identical(seed, v_th, alpha_pos, alpha_neg, shape, prune):
    gn, gp = _tables(seed)
    new = WeightMap.from_gate_maps(gn, gp, c_m=C_M, v_th=v_th, t_circ=T_CIRC, vdd=VDD)
    old = _OldWeightMap(gn.v_g, gn.i_v0, gp.v_g, gp.i_v0, c_m=C_M, v_th=v_th, t_circ=T_CIRC, vdd=VDD)
    assert new.weight_range(alpha_pos, alpha_neg) == old.weight_range(alpha_pos, alpha_neg)
    r = old.weight_range(alpha_pos, alpha_neg)
    rng = np.random.default_rng(seed + 1)
    w = _weights(rng, shape, _inside(r["pos"]), _inside(r["neg"]))
    if prune:  # below the leakage floor: switched off on request, in both
        w = np.where(rng.random(shape) < 0.2, np.sign(w) * r["pos"][0] * rng.uniform(0.01, 0.99, shape), w)
    kw = {"layer": "hidden layer (layer 1)", "prune_below_floor": prune}
    g_old = old.gates(w, alpha_pos, alpha_neg, **kw)
    g_new = new.gates(w, alpha_pos, alpha_neg, **kw)
    assert _same(g_new[0], g_old[0]) and _same(g_new[1], g_old[1])
    assert new.pruned(w, alpha_pos, alpha_neg) == old.pruned(w, alpha_pos, alpha_neg)
    assert _same(new.weights(*g_new, alpha_pos, alpha_neg), old.weights(*g_old, alpha_pos, alpha_neg))


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), v_th=v_ths, alpha_pos=alphas, alpha_neg=alphas, factor=st.floats(1.001, 10))
def test_iris_path_raises_like_the_old_one(seed, v_th, alpha_pos, alpha_neg, factor):
    """Outside the range both raise, with the same message (the new one names layer, synapse and range)."""
    gn, gp = _tables(seed)
    new = WeightMap.from_gate_maps(gn, gp, c_m=C_M, v_th=v_th, t_circ=T_CIRC, vdd=VDD)
    old = _OldWeightMap(gn.v_g, gn.i_v0, gp.v_g, gp.i_v0, c_m=C_M, v_th=v_th, t_circ=T_CIRC, vdd=VDD)
    r = old.weight_range(alpha_pos, alpha_neg)
    rng = np.random.default_rng(seed)
    w = _weights(rng, (4, 3), _inside(r["pos"]), _inside(r["neg"]))
    i, j = int(rng.integers(4)), int(rng.integers(3))
    w[i, j] = -factor * r["neg"][1] if rng.random() < 0.5 else r["pos"][0] / factor
    msgs = []
    for m in (old, new):
        with pytest.raises(ValueError) as e:
            m.gates(w, alpha_pos, alpha_neg, layer="output layer (layer 2)")
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


# --------------------------------------------------------------------------------------------------
# bit-identical to the notebook-06 path (characterize.GateMap / CircuitMapping)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), v_th=v_ths, scale=alphas, shape=shapes, one_d=st.booleans())
def test_characterize_path_bit_identical(seed, v_th, scale, shape, one_d):
    gn, gp = _tables(seed)
    neuron = NEURON.with_(v_b_dis=0.55)
    old = _OldCircuitMapping(
        neuron, v_th, _OldGateMap("n", gn.v_g, gn.i_v0), _OldGateMap("p", gp.v_g, gp.i_v0), scale=scale
    )
    new = CircuitMapping(neuron, v_th, gn, gp, scale=scale)
    assert new.weight_range() == old.weight_range()
    wm = new.weight_map.weight_range(scale, scale)
    rng = np.random.default_rng(seed + 2)
    w = _weights(rng, shape[1] if one_d else shape, _inside(wm["pos"]), _inside(wm["neg"]))
    assert _same(new.currents(w), old.currents(w))
    g_old, g_new = old.gates(w), new.gates(w)
    assert _same(g_new[0], g_old[0]) and _same(g_new[1], g_old[1])
    # the map behind it, called directly with scale as both current factors
    direct = WeightMap.from_gate_maps(gn, gp, c_m=neuron.c_m, v_th=v_th, t_circ=neuron.t_circ, vdd=neuron.vdd)
    g_dir = direct.gates(w, scale, scale)
    assert _same(g_dir[0].reshape(w.shape), g_old[0]) and _same(g_dir[1].reshape(w.shape), g_old[1])
    # the LayerSpec the SPICE deck is built from
    spec = new.layer_spec(np.atleast_2d(w), np.zeros(np.atleast_2d(w).shape[1]))
    assert _same(spec.v_gn, np.atleast_2d(g_old[0])) and _same(spec.v_gp, np.atleast_2d(g_old[1]))


def test_characterize_path_scalar_weights_keep_their_shape():
    gn, gp = _tables(3)
    old = _OldCircuitMapping(NEURON, 0.9, _OldGateMap("n", gn.v_g, gn.i_v0), _OldGateMap("p", gp.v_g, gp.i_v0))
    new = CircuitMapping(NEURON, 0.9, gn, gp)
    w = 0.5 * (new.weight_map.weight_range()["pos"][0] + new.weight_map.weight_range()["pos"][1])
    for x in (w, np.float64(w), np.array(w), 0.0):
        assert all(_same(a, b) for a, b in zip(new.gates(x), old.gates(x), strict=True))
        assert _same(new.currents(x), old.currents(x))


# --------------------------------------------------------------------------------------------------
# out of range: the layer, the synapse and the range, everywhere


def _range_text(r: tuple[float, float]) -> str:
    return re.escape(f"|w| in [{r[0]:.4g}, {r[1]:.4g}]")


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    data=st.data(),
    negative=st.booleans(),
    above=st.booleans(),
    factor=st.floats(1.01, 100),
)
def test_out_of_range_names_layer_synapse_and_range(seed, shape, data, negative, above, factor):
    gn, gp = _tables(seed)
    i = data.draw(st.integers(0, shape[0] - 1), label="i")
    j = data.draw(st.integers(0, shape[1] - 1), label="j")
    scale = data.draw(alphas, label="scale")
    mapping = CircuitMapping(NEURON, 0.9, gn, gp, scale=scale)
    wm = mapping.weight_map
    r = wm.weight_range(scale, scale)["neg" if negative else "pos"]
    w = np.zeros(shape)
    w[i, j] = (-1 if negative else 1) * (r[1] * factor if above else r[0] / factor)
    sign = "negative" if negative else "positive"
    pattern = (
        rf"^{re.escape(f'layer 7: weight w[{i}, {j}]')} = .*\(synapse from input {j} to neuron {i}\).*"
        rf"{sign}-weight current range .*{_range_text(r)}"
    )
    with pytest.raises(ValueError, match=pattern):
        wm.gates(w, scale, scale, layer="layer 7")
    with pytest.raises(ValueError, match=pattern):  # the notebook-06 path, which used to raise without names
        mapping.gates(w, layer="layer 7")
    with pytest.raises(ValueError, match=pattern):
        mapping.layer_spec(w, np.zeros(shape[1]), layer="layer 7")
    if not above:  # below the leakage floor: only the Iris path may prune, explicitly
        v_gn, v_gp = wm.gates(w, scale, scale, layer="layer 7", prune_below_floor=True)
        assert v_gn[i, j] == 0.0 and v_gp[i, j] == VDD
        assert wm.pruned(w, scale, scale)["count"] == 1
    else:
        with pytest.raises(ValueError, match=pattern):
            wm.gates(w, scale, scale, layer="layer 7", prune_below_floor=True)


def test_bad_tables_and_arguments_raise():
    gn, gp = _tables(0)
    with pytest.raises(ValueError, match="'n' / 'p'"):
        WeightMap.from_gate_maps(gp, gn, c_m=C_M, v_th=0.9, t_circ=T_CIRC)
    with pytest.raises(ValueError, match="NMOS"):
        WeightMap(gn.v_g, gn.i_v0[:-1], gp.v_g, gp.i_v0, c_m=C_M, v_th=0.9, t_circ=T_CIRC)
    with pytest.raises(ValueError, match="PMOS"):
        WeightMap(gn.v_g, gn.i_v0, gp.v_g, -gp.i_v0, c_m=C_M, v_th=0.9, t_circ=T_CIRC)
    with pytest.raises(ValueError, match="v_th"):
        WeightMap.from_gate_maps(gn, gp, c_m=C_M, v_th=-0.9, t_circ=T_CIRC)
    wm = WeightMap.from_gate_maps(gn, gp, c_m=C_M, v_th=0.9, t_circ=T_CIRC)
    with pytest.raises(ValueError, match="hidden: weights must be finite"):
        wm.gates(np.array([[np.nan]]), layer="hidden")
    with pytest.raises(ValueError, match="alpha_neg"):
        wm.gates(np.zeros((1, 1)), 1.0, 0.0)
