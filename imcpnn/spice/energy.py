"""Energy of a transient from its source currents: E = -∫ V I dt per independent voltage source (ngspice's branch
current is positive INTO a source's + terminal, so a source that delivers power has V I < 0).

Generic: :func:`integrate`, :func:`deck_sources` (the top-level ``V`` sources of a deck and their nodes) and
:func:`energy_by_source`. The Iris circuit: :func:`two_layer_energy` splits one inference of
``two_layer_netlist(..., probes=True)`` (arXiv 2412.09010v1 Fig. 6, App. G) into synapse arrays, neurons (charging,
sensing inverter, logic, biases; the discharger's dissipation beside) and control. Beyond the paper: it reports
no energy figure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from imcpnn.spice.iris import N_HID, N_IN, N_OUT, PROBED_SUPPLIES, IrisTiming

__all__ = ["integrate", "deck_sources", "energy_by_source", "two_layer_energy", "synaptic_events"]


def integrate(t: np.ndarray, y: np.ndarray, window: tuple[float, float] | None = None) -> float:
    """∫ y dt by the trapezoid rule on the simulator's own (uneven) time points, over ``window`` (t0, t1) (the
    samples interpolated linearly at its ends; default: the whole record)."""
    t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
    if t.ndim != 1 or t.shape != y.shape or len(t) < 2:
        raise ValueError(f"t and y must be 1-D arrays of equal length >= 2, got {t.shape} and {y.shape}")
    if np.any(np.diff(t) < 0) or not (np.all(np.isfinite(t)) and np.all(np.isfinite(y))):
        raise ValueError("t must be finite and non-decreasing, y finite")
    if window is not None:
        t0, t1 = (float(w) for w in window)
        if not t[0] - 1e-15 <= t0 < t1 <= t[-1] + 1e-15:
            raise ValueError(f"window must satisfy {t[0]:g} <= t0 < t1 <= {t[-1]:g} (the record), got {window}")
        inner = (t > t0) & (t < t1)
        t, y = (
            np.concatenate([[t0], t[inner], [t1]]),
            np.concatenate([[np.interp(t0, t, y)], y[inner], [np.interp(t1, t, y)]]),
        )
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t)))


_SUBCKT = re.compile(r"^\s*\.subckt\b", re.IGNORECASE)
_ENDS = re.compile(r"^\s*\.ends\b", re.IGNORECASE)


def deck_sources(deck: str) -> dict[str, tuple[str, str, str]]:
    """The independent voltage sources at the top level of ``deck`` (outside ``.subckt``): lower-case name ->
    (n+, n-, value as written)."""
    out, depth = {}, 0
    for line in deck.splitlines():
        if _SUBCKT.match(line):
            depth += 1
        elif _ENDS.match(line):
            depth = max(depth - 1, 0)
        elif depth == 0 and line[:1] in "Vv" and len(line.split()) >= 3:
            name, pos, neg, *value = line.split()
            out[name.lower()] = (pos.lower(), neg.lower(), " ".join(value).lower())
    return out


def _node_v(out: Mapping[str, np.ndarray], node: str) -> np.ndarray:
    if node == "0":
        return np.zeros_like(out["time"])
    key = f"v({node})"
    if key not in out:
        raise KeyError(f"the node voltage {key} was not saved; simulate with the deck's probes (.save it)")
    return out[key]


def _branch(out: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    key = f"{name.lower()}#branch"
    if key not in out:
        raise KeyError(f"the current of source {name} ({key}) was not saved; .save i({name})")
    return out[key]


def energy_by_source(
    out: Mapping[str, np.ndarray], deck: str, window: tuple[float, float] | None = None
) -> dict[str, float]:
    """Energy (J) delivered by every top-level voltage source of ``deck`` over ``window``: -∫ (V+ - V-) I dt.
    0-V DC sources (ammeters, ground) deliver nothing (0.0); read their currents with :func:`integrate`."""
    t = out["time"]
    res = {}
    for name, (pos, neg, value) in deck_sources(deck).items():
        if value in ("0", "dc 0"):
            res[name] = 0.0
            continue
        v = _node_v(out, pos) - _node_v(out, neg)
        res[name] = -integrate(t, v * _branch(out, name), window)
    return res


def synaptic_events(t_in: np.ndarray, t_hidden: np.ndarray, n_hid: int = N_HID, n_out: int = N_OUT) -> int:
    """Synaptic operations of one inference: every input spike that arrives (t < 1) drives a row of ``n_hid``
    synapses, every hidden spike (t < 1) a row of ``n_out``."""
    return int(np.sum(np.asarray(t_in) < 1.0) * n_hid + np.sum(np.asarray(t_hidden) < 1.0) * n_out)


def two_layer_energy(
    out: Mapping[str, np.ndarray],
    deck: str,
    *,
    vdd: float,
    v0: float,
    c_m: float,
    timing: IrisTiming | None = None,
) -> dict:
    """One inference of ``two_layer_netlist(..., probes=True)``: energy (J) by block over the whole transient
    [0, t_end] (reset, then the hidden layer's accumulation / firing / next reset and the output layer's
    accumulation / firing), plus the output layer's recharge to V0 that follows the window: V0 C_m Σ (V0 -
    V_mem2(t_end)), the charge an ideal V0 source delivers to the linear membrane capacitors.

    Returns ``{"total_j", "breakdown": {group: {item: J}}, "group_totals", "discharger_dissipated_j",
    "membrane_cv2_j", "check": {...}}``; the breakdown sums to ``total_j`` (every source of the deck is in it).
    """
    tm = timing if timing is not None else IrisTiming()
    t = out["time"]
    if t[-1] < tm.t_end * (1 - 1e-6):
        raise ValueError(f"the transient ends at {t[-1]:g} s, before the inference's end {tm.t_end:g} s")
    src = energy_by_source(out, deck)
    amm = {b: vdd if base == "vdd" else v0 for base, b in PROBED_SUPPLIES}
    blk = {b: amm[b] * integrate(t, _branch(out, f"vam_{b}")) for b in amm}  # energy into each block
    on_vdd = [b for base, b in PROBED_SUPPLIES if base == "vdd"]

    def probe(kind: str, layer: int) -> float:
        return sum(vdd * integrate(t, _branch(out, f"v.xn{layer}_{i}.vam_{kind}")) for i in range(N_HID))

    sense = {lay: probe("sense", lay) for lay in (1, 2)}
    logic = {lay: probe("logic", lay) for lay in (1, 2)}
    dis = sum(
        integrate(t, _node_v(out, f"mem{lay}_{i}") * _branch(out, f"v.xn{lay}_{i}.vam_dis"))
        for lay in (1, 2)
        for i in range(N_HID)
    )
    recharge = v0 * c_m * float(sum(v0 - out[f"v(mem2_{i})"][-1] for i in range(N_OUT)))
    pick = lambda prefix: sum(e for n, e in src.items() if n.startswith(prefix))  # noqa: E731
    gates = sum(e for n, e in src.items() if re.fullmatch(r"vg[np]\d_\d_\d", n))
    groups = {
        "synapse_arrays": {
            "layer1_vdd": blk["syn1"],
            "layer2_vdd": blk["syn2"],
            "input_spike_lines": pick("vx"),
            "hidden_spike_line_drivers": blk["drv"],
            "memory_gate_sources": gates,
        },
        "neurons": {
            "charging_v0_layer1": blk["chg1"],
            "charging_v0_layer2": blk["chg2"],
            "charging_v0_layer2_after_window": recharge,
            "sensing_inverters": sense[1] + sense[2],
            "logic": logic[1] + logic[2],
            "other_neuron_vdd": blk["neu1"] + blk["neu2"] - sum(sense.values()) - sum(logic.values()),
            "bias_sources": src["vbdis"] + src["vbsense"],
        },
        "control": {"reset_sources": pick("vreset"), "phase_sources": pick("vphase")},
    }
    accounted = {"vdd", "vv0", "vbdis", "vbsense", "vss"} | {n for n in src if n.startswith(("vx", "vreset", "vphase"))}
    accounted |= {n for n in src if re.fullmatch(r"vg[np]\d_\d_\d", n)} | {f"vam_{b}" for b in amm}
    missing = sorted(set(src) - accounted)
    if missing:
        raise ValueError(f"sources without a group in the energy breakdown: {missing}")
    total_sources = sum(src.values())
    total = sum(sum(g.values()) for g in groups.values())
    return {
        "total_j": total,
        "breakdown": groups,
        "group_totals": {k: sum(g.values()) for k, g in groups.items()},
        "discharger_dissipated_j": dis,
        "membrane_cv2_j": (N_HID + N_OUT) * c_m * v0**2,
        "check": {
            # the ammeters split Vdd and V0 exactly: their sum is what the two supplies delivered
            "vdd_delivered_j": src["vdd"],
            "vdd_split_j": sum(blk[b] for b in on_vdd),
            "v0_delivered_j": src["vv0"],
            "v0_split_j": blk["chg1"] + blk["chg2"],
            "sources_total_j": total_sources,
            "n_inputs": N_IN,
        },
    }
