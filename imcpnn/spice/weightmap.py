"""The one weight -> current -> gate-voltage map of the IMC synapse array (arXiv 2412.09010v1 Table 2, App. A.2).

A model weight w becomes the synapse current I = alpha C_m V_th |w| / T_circ at V = V0 (Table 2, App. A.2;
alpha: the current scales of Algorithms 5 and 6, (alpha+, alpha-) or one alpha for both signs), and the current
becomes the memory transistor's gate voltage through the simulated I(V_g) table of that transistor at V = V0
(:class:`GateMap`, simulated by :func:`imcpnn.spice.characterize.gate_map`): the NMOS pair for w > 0, the PMOS
pair for w < 0. The inversion interpolates log I linearly in V_g
(:func:`imcpnn.spice.readout.invert_monotone` with ``log=True``). A weight whose current lies outside the
table raises ValueError naming the layer, the synapse (w[i, j]: input j to neuron i) and the expressible
range; nothing is clipped. Both the Iris circuit (:mod:`imcpnn.spice.iris`) and the one-neuron checks
(:class:`imcpnn.spice.characterize.CircuitMapping`) map their weights here.

Pure numpy: no simulator is needed to build or use a map from given tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from imcpnn.spice.readout import current_to_weight, invert_monotone, weight_to_current


@dataclass
class GateMap:
    """A simulated I(V_g) table: the synapse current magnitude ``i_v0`` (A) at V = V0 against the memory
    transistor's gate voltage ``v_g`` (V), strictly monotone, above the leakage floor. ``kind``: ``"n"`` (NMOS
    pair, current rising with V_g) or ``"p"`` (PMOS pair, falling). Made by
    :func:`imcpnn.spice.characterize.gate_map`; turned into weights by :meth:`WeightMap.from_gate_maps`."""

    kind: str
    v_g: np.ndarray
    i_v0: np.ndarray


@dataclass(frozen=True)
class WeightMap:
    """Model weight <-> memory-gate voltage through simulated I(V_g) maps at V = V0.

    ``vg_n``/``i_n``: NMOS gate voltages and currents (rising), ``vg_p``/``i_p``: PMOS (current falls as V_g
    rises); currents in A. ``c_m``, ``v_th``, ``t_circ``: the mapping I = C_m V_th w / T_circ (arXiv
    2412.09010v1 Table 2, App. A.2). ``vdd``: the gate voltage that switches a PMOS memory transistor off.
    """

    vg_n: np.ndarray
    i_n: np.ndarray
    vg_p: np.ndarray
    i_p: np.ndarray
    c_m: float
    v_th: float
    t_circ: float
    vdd: float = 1.8

    def __post_init__(self) -> None:
        for name, vg, i in (("NMOS", self.vg_n, self.i_n), ("PMOS", self.vg_p, self.i_p)):
            vg, i = np.asarray(vg), np.asarray(i)
            if vg.ndim != 1 or vg.shape != i.shape or vg.size < 2:
                raise ValueError(
                    f"the {name} I(V_g) table needs two 1-D arrays of equal length >= 2, got {vg.shape} and {i.shape}"
                )
            if not (np.all(np.isfinite(vg)) and np.all(np.isfinite(i)) and np.all(i > 0)):
                raise ValueError(f"the {name} I(V_g) table must hold finite gate voltages and currents > 0")
        for name in ("c_m", "v_th", "t_circ", "vdd"):
            x = getattr(self, name)
            if not (isinstance(x, (int, float)) and math.isfinite(x) and x > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {x!r}")

    @classmethod
    def from_gate_maps(
        cls, gate_n: GateMap, gate_p: GateMap, *, c_m: float, v_th: float, t_circ: float, vdd: float = 1.8
    ) -> WeightMap:
        """The map on the simulated I(V_g) tables of :func:`imcpnn.spice.characterize.gate_map` (``"n"``, ``"p"``)."""
        if gate_n.kind != "n" or gate_p.kind != "p":
            raise ValueError(f"gate_n / gate_p must be the 'n' / 'p' gate maps, got {gate_n.kind!r} / {gate_p.kind!r}")
        return cls(gate_n.v_g, gate_n.i_v0, gate_p.v_g, gate_p.i_v0, c_m=c_m, v_th=v_th, t_circ=t_circ, vdd=vdd)

    def _kw(self) -> dict:
        return {"c_m": self.c_m, "v_th": self.v_th, "t_circ": self.t_circ}

    def currents(self, weight: np.ndarray, alpha_pos: float = 1.0, alpha_neg: float = 1.0) -> np.ndarray:
        """I = alpha C_m V_th |w| / T_circ (A; alpha+ for w >= 0, alpha- for w < 0), the current magnitude at V0."""
        w = np.asarray(weight, dtype=float)
        return weight_to_current(w, **self._kw()) * np.where(w >= 0, alpha_pos, alpha_neg)

    def weight_range(self, alpha_pos: float = 1.0, alpha_neg: float = 1.0) -> dict[str, tuple[float, float]]:
        """Expressible |w| ranges {"pos": (lo, hi), "neg": (lo, hi)} at current scales (alpha+, alpha-)."""
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
        """(v_gn, v_gp) [n_out, n_in] for ``weight`` [n_out, n_in]: w > 0 -> NMOS (PMOS off at V_dd),
        w < 0 -> PMOS (NMOS off at 0 V), w = 0 -> both off. Raises ValueError for an inexpressible weight, naming
        ``layer``, the synapse and the range.

        ``prune_below_floor``: a weight whose current lies BELOW the map's lowest (leakage-floor) current is set
        to 0 (both transistors off, which leaves about that leakage) instead of raising; :meth:`pruned` counts
        them. Weights above the map's highest current always raise."""
        for name, a in (("alpha_pos", alpha_pos), ("alpha_neg", alpha_neg)):
            if not (isinstance(a, (int, float)) and np.isfinite(a) and a > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {a!r}")
        w = np.atleast_2d(np.asarray(weight, dtype=float))
        if not np.all(np.isfinite(w)):
            raise ValueError(f"{layer}: weights must be finite")
        cur = self.currents(w, alpha_pos, alpha_neg)
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
            v_gn[on_n] = invert_monotone(self.vg_n, self.i_n, cur[on_n], log=True)
        if on_p.any():
            v_gp[on_p] = invert_monotone(self.vg_p, self.i_p, cur[on_p], log=True)
        return v_gn, v_gp

    def pruned(self, weight: np.ndarray, alpha_pos: float = 1.0, alpha_neg: float = 1.0) -> dict:
        """The synapses :meth:`gates` with ``prune_below_floor`` switches off: count and largest |w|."""
        w = np.atleast_2d(np.asarray(weight, dtype=float))
        cur = self.currents(w, alpha_pos, alpha_neg)
        m = ((w > 0) & (cur < self.i_n.min())) | ((w < 0) & (cur < self.i_p.min()))
        return {"count": int(m.sum()), "max_abs_w": float(np.abs(w[m]).max()) if m.any() else 0.0}

    def weights(self, v_gn: np.ndarray, v_gp: np.ndarray, alpha_pos: float = 1.0, alpha_neg: float = 1.0) -> np.ndarray:
        """The inverse of :meth:`gates` (the round trip): weights from gate voltages on the maps."""
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
