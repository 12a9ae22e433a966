"""The two-layer 5-5-5 RC-Spike circuit of the Iris experiment (arXiv 2412.09010v1 Fig. 6, 7, App. G).

Topology: 5 input spike lines (4 features + a bias spike, Eq. 56) -> a 5x5 synapse array -> 5 hidden neurons
-> a 5x5 synapse array -> 5 output neurons, built from the :mod:`imcpnn.spice.netlist` blocks (synapse, neuron).

Pipelined phases (Fig. 6b; each phase lasts T_circ):

======================  ==============  ==============  ==============  ==============
time / T_circ           [0, 1)          [1, 2)          [2, 3)          [3, 4)
======================  ==============  ==============  ==============  ==============
hidden layer (1)        reset           accumulation    firing          reset (next)
output layer (2)        reset           reset           accumulation    firing
======================  ==============  ==============  ==============  ==============

Layer 2 accumulates while layer 1 fires. The hidden neurons' spikes reach the output layer's selectors through
the circuit itself: the hidden neuron's sensing inverter -> NAND -> inverter -> transmission gate drives the
NMOS selectors of its row of output synapses directly, and a spike-line driver (an inverter per line, ours; the
paper's spike lines carry "the original binary signal and an inverted binary signal", App. G) drives the PMOS
selectors. Nothing is re-injected as an ideal pulse between the layers. Non-overlapping phases (our choice):
the hidden layer's firing phase ends ``t_gap`` before the output layer's firing phase begins, and its reset
(which grounds its outputs) starts then, so that no output-layer synapse conducts into its firing phase.

Weights -> currents -> gate voltages (Table 2, App. A.2): I = alpha * C_m V_th |w| / T_circ, then the memory
transistor's gate voltage from the simulated I(V_g) map at V = V0 (:class:`imcpnn.spice.weightmap.WeightMap`,
the one weight -> gate map). A current outside the simulated map raises ValueError naming the layer, the synapse
and the range; nothing is clipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from imcpnn.spice import netlist as nl
from imcpnn.spice.pdk import seed_line, temp_line
from imcpnn.spice.readout import spike_time

N_IN, N_HID, N_OUT = 5, 5, 5
#: (supply node, block) of the ammeters ``Vam_<block>`` of ``two_layer_netlist(probes=True)``
PROBED_SUPPLIES = (
    ("vdd", "syn1"),
    ("vdd", "syn2"),
    ("vdd", "neu1"),
    ("vdd", "neu2"),
    ("vdd", "drv"),
    ("v0", "chg1"),
    ("v0", "chg2"),
)
NEURON_PROBES = ("sense", "logic", "dis")  # the ammeters inside every neuron (netlist.neuron_subckt(probes=True))


# --------------------------------------------------------------------------------------------------
# netlist


@dataclass(frozen=True)
class IrisTiming:
    """Absolute phase times (s) of the two pipelined layers; see the module docstring."""

    t_circ: float = 1e-6
    t_rise: float = 1e-9
    t_gap: float = 4e-9  # the hidden layer's firing phase ends this long before the output layer's starts
    t_reset: float = 0.2e-6  # the first reset phase (only initialises the membranes of this one sample)

    @property
    def acc1(self) -> float:
        return self.t_reset

    @property
    def fire1(self) -> float:
        return self.t_reset + self.t_circ

    @property
    def acc2(self) -> float:
        return self.fire1

    @property
    def fire2(self) -> float:
        return self.t_reset + 2 * self.t_circ

    @property
    def t_end(self) -> float:
        return self.t_reset + 3 * self.t_circ


def spike_driver_subckt(p: nl.NeuronParams = nl.DEFAULT_NEURON) -> str:
    """``.subckt imc_spkdrv spk spkb vdd vss``: the inverter that makes a spike line's complement."""
    return "\n".join(
        [
            ".subckt imc_spkdrv spk spkb vdd vss",
            nl.mos("P", "spkb", "spk", "vdd", "vdd", nl.PFET, p.w_logic_p, p.l_logic),
            nl.mos("N", "spkb", "spk", "vss", "vss", nl.NFET, p.w_logic_n, p.l_logic),
            ".ends imc_spkdrv",
        ]
    )


def phase_sources(p: nl.NeuronParams, tm: IrisTiming) -> list[str]:
    """Supplies, biases and the reset / phase signals (and complements) of both layers (pipelined)."""
    vdd, tr = p.vdd, tm.t_rise

    def pulses(name: str, node: str, windows: Sequence[tuple[float, float]]) -> list[str]:
        pts: list[tuple[float, float]] = [(0.0, vdd if windows[0][0] <= 0 else 0.0)]
        for a, b in windows:
            if a > 0:
                pts += [(a, 0.0), (a + tr, vdd)]
            pts += [(b, vdd), (b + tr, 0.0)]
        inv = [(t, vdd - v) for t, v in pts]
        return [f"V{name} {node} 0 {nl.pwl(pts)}", f"V{name}b {node}b 0 {nl.pwl(inv)}"]

    end1 = tm.fire2 - tm.t_gap
    lines = [
        f"Vdd vdd 0 {vdd:.6g}",
        "Vss vss 0 0",
        f"Vv0 v0 0 {p.v0:.6g}",
        f"Vbdis vbdis 0 {p.v_b_dis:.6g}",
        f"Vbsense vbsense 0 {p.v_b_sense:.6g}",
    ]
    lines += pulses("reset1", "reset1", [(0.0, tm.acc1 - tr), (end1 + tr, tm.t_end)])
    lines += pulses("phase1", "phase1", [(tm.fire1, end1)])
    lines += pulses("reset2", "reset2", [(0.0, tm.acc2 - tr)])
    lines += pulses("phase2", "phase2", [(tm.fire2, tm.t_end - 2 * tr)])
    return lines


def two_layer_netlist(
    v_gates1: tuple[np.ndarray, np.ndarray],
    v_gates2: tuple[np.ndarray, np.ndarray],
    t_in: np.ndarray,
    models: str,
    *,
    neuron: nl.NeuronParams = nl.DEFAULT_NEURON,
    synapse: nl.SynapseParams = nl.DEFAULT_SYNAPSE,
    timing: IrisTiming | None = None,
    max_step: float | None = None,
    reltol: float = 1e-4,
    title: str = "imcpnn Iris 5-5-5 RC-Spike circuit",
    temp_c: float | None = None,
    seed: int | None = None,
    probes: bool = False,
) -> str:
    """The transient deck of one sample through the 5-5-5 circuit.

    ``v_gates1``/``v_gates2``: (v_gn, v_gp) [5, 5] of the hidden / output synapses; ``t_in`` [5]: input spike
    times in model units of the hidden layer's accumulation phase (1 = no spike). Nodes: ``x<j>``/``x<j>b``
    (input lines), ``mem1_<i>``, ``h<i>`` (hidden outputs = output-layer spike lines), ``h<i>b``,
    ``mem2_<i>``, ``o<i>`` (outputs).

    ``temp_c``: simulation temperature (``.temp``; None = ngspice's 27 °C). ``seed``: ``.option seed`` (one
    Monte-Carlo instance when ``models`` loads the mismatch library, :func:`imcpnn.spice.pdk.seed_line`).
    ``probes``: the same circuit with its supply current split by 0-V ammeters (``Vam_<block>``: synapse
    arrays ``syn1``/``syn2``, neurons ``neu1``/``neu2``, spike-line drivers ``drv``, the V0 (charging) supply
    per layer ``chg1``/``chg2``; inside every neuron: sensing inverter, logic and discharger,
    :func:`imcpnn.spice.netlist.neuron_subckt`), and the current and voltage of every source saved, for
    :func:`imcpnn.spice.energy.two_layer_energy`.
    """
    tm = timing if timing is not None else IrisTiming(t_circ=neuron.t_circ)
    if abs(tm.t_circ - neuron.t_circ) > 1e-15:
        raise ValueError("timing.t_circ must equal neuron.t_circ")
    t_in = np.asarray(t_in, dtype=float)
    if t_in.shape != (N_IN,) or not np.all(np.isfinite(t_in)) or t_in.min() < 0 or t_in.max() > 1:
        raise ValueError(f"t_in must hold {N_IN} spike times in [0, 1], got {t_in!r}")
    gates = []
    for name, (g_n, g_p) in (("v_gates1", v_gates1), ("v_gates2", v_gates2)):
        g_n, g_p = np.asarray(g_n, dtype=float), np.asarray(g_p, dtype=float)
        if g_n.shape != (N_HID, N_IN) or g_p.shape != g_n.shape:
            raise ValueError(f"{name} must be two [5, 5] arrays, got {g_n.shape} and {g_p.shape}")
        if (
            not (np.all(np.isfinite(g_n)) and np.all(np.isfinite(g_p)))
            or min(g_n.min(), g_p.min()) < 0
            or max(g_n.max(), g_p.max()) > neuron.vdd
        ):
            raise ValueError(f"{name} gate voltages must lie in [0, {neuron.vdd}] V")
        gates.append((g_n, g_p))
    step = max_step if max_step is not None else tm.t_circ / 500
    vdd = neuron.vdd
    lines = [
        f"* {title}",
        models,
        nl.synapse_subckt(synapse),
        nl.neuron_subckt(neuron, probes=probes),
        spike_driver_subckt(neuron),
    ]
    lines += phase_sources(neuron, tm)

    def node(base: str, block: str) -> str:  # a block's own supply node behind its ammeter (probes only)
        return f"{base}_{block}" if probes else base

    if probes:
        lines += [f"Vam_{b} {base} {base}_{b} 0" for base, b in PROBED_SUPPLIES]
    for j, (pos, neg) in enumerate(input_pulses(t_in, vdd, tm)):  # the data's spikes (from off-chip)
        lines += [f"Vx{j} x{j} 0 PULSE({pos})", f"Vx{j}b x{j}b 0 PULSE({neg})"]
    for layer, (g_n, g_p), src, mem, out in ((1, gates[0], "x", "mem1_", "h"), (2, gates[1], "h", "mem2_", "o")):
        for i in range(g_n.shape[0]):
            for j in range(g_n.shape[1]):
                gn, gp = f"gn{layer}_{i}_{j}", f"gp{layer}_{i}_{j}"
                lines.append(f"V{gn} {gn} 0 {g_n[i, j]:.6g}")
                lines.append(f"V{gp} {gp} 0 {g_p[i, j]:.6g}")
                lines.append(
                    f"Xs{layer}_{i}_{j} {mem}{i} {src}{j} {src}{j}b {gn} {gp} {node('vdd', f'syn{layer}')} "
                    "vss imc_synapse"
                )
            lines.append(
                f"Xn{layer}_{i} {mem}{i} {out}{i} phase{layer} phase{layer}b reset{layer} reset{layer}b "
                f"vbdis vbsense {node('v0', f'chg{layer}')} {node('vdd', f'neu{layer}')} vss imc_neuron"
            )
    for i in range(N_HID):  # the hidden spike lines' complements, from the hidden outputs themselves
        lines.append(f"Xd{i} h{i} h{i}b {node('vdd', 'drv')} vss imc_spkdrv")
    save = [f"v(mem1_{i})" for i in range(N_HID)] + [f"v(h{i})" for i in range(N_HID)]
    save += [f"v(mem2_{i})" for i in range(N_OUT)] + [f"v(o{i})" for i in range(N_OUT)]
    if probes:  # every top-level source's current and node voltage, and the neurons' internal ammeters
        srcs = [ln.split()[:2] for ln in lines if ln[:1] == "V" and "\n" not in ln]
        save += [f"i({n})" for n, _ in srcs] + sorted({f"v({p})" for _, p in srcs} - set(save))
        save += [f"i(v.xn{lay}_{i}.vam_{b})" for lay in (1, 2) for i in range(N_HID) for b in NEURON_PROBES]
    lines += [*([temp_line(temp_c)] if temp_c is not None else []), *([seed_line(seed)] if seed is not None else [])]
    lines += [
        f".options method=gear reltol={reltol:g}",
        f".save {' '.join(save)}",
        f".tran {step / 5:.6g} {tm.t_end:.9g} 0 {step:.6g}",
        ".end",
    ]
    return "\n".join(lines) + "\n"


def input_pulses(t_in: np.ndarray, vdd: float, tm: IrisTiming) -> list[tuple[str, str]]:
    """PULSE parameters (line, complement) of the input spikes: on from t_acc1 + t T_circ to the end of the
    hidden layer's accumulation phase; t = 1 (no spike) gives a flat line (V1 = V2)."""
    tr, t_off = tm.t_rise, tm.fire1 - tm.t_rise
    out = []
    for t in np.asarray(t_in, dtype=float):
        t_on = min(tm.acc1 + t * tm.t_circ, t_off - 2 * tr)
        pw = t_off - t_on - tr
        hi = vdd if t < 1.0 else 0.0
        rest = f"{t_on:.9g} {tr:.6g} {tr:.6g} {pw:.9g} 1"
        out.append((f"0 {hi:.6g} {rest}", f"{vdd:.6g} {vdd - hi:.6g} {rest}"))
    return out


def sample_alters(v_gates1, v_gates2, t_in: np.ndarray, vdd: float, tm: IrisTiming) -> list[str]:
    """ngspice ``alter`` commands that turn a loaded Iris deck into the deck of another sample (same circuit,
    other gate voltages and input spikes): the parsed circuit is reused, which saves most of a run's cost."""
    cmds = []
    for j, (pos, neg) in enumerate(input_pulses(t_in, vdd, tm)):
        cmds.append(f"alter @vx{j}[pulse] = [ {pos} ]")
        cmds.append(f"alter @vx{j}b[pulse] = [ {neg} ]")
    for layer, (g_n, g_p) in ((1, v_gates1), (2, v_gates2)):
        g_n, g_p = np.asarray(g_n, dtype=float), np.asarray(g_p, dtype=float)
        for i in range(g_n.shape[0]):
            for j in range(g_n.shape[1]):
                cmds.append(f"alter @vgn{layer}_{i}_{j}[dc] = {g_n[i, j]:.6g}")
                cmds.append(f"alter @vgp{layer}_{i}_{j}[dc] = {g_p[i, j]:.6g}")
    return cmds


# --------------------------------------------------------------------------------------------------
# read-out (runs in the worker process; returns plain lists)


def read_two_layer(
    out: dict[str, np.ndarray], *, t_circ: float, vdd: float, trace_points: int = 0, t_reset: float = 0.2e-6
) -> dict:
    """Spike times (model units, in [0, 1] of each layer's firing phase; 1 = no spike), the membrane voltages
    at the end of each accumulation phase, and optionally ``trace_points`` resampled waveforms."""
    tm = IrisTiming(t_circ=t_circ, t_reset=t_reset)
    t = out["time"]
    res: dict = {"n_points": int(len(t))}
    for layer, mem, node, t_acc, t_fire in ((1, "mem1_", "h", tm.acc1, tm.fire1), (2, "mem2_", "o", tm.acc2, tm.fire2)):
        res[f"t{layer}"] = [
            spike_time(t, out[f"v({node}{i})"], t_phase=t_fire, t_circ=t_circ, vdd=vdd) for i in range(5)
        ]
        res[f"v_end{layer}"] = [float(np.interp(t_fire, t, out[f"v({mem}{i})"])) for i in range(5)]
        for arr in (out[f"v({mem}{i})"] for i in range(5)):
            if not np.all(np.isfinite(arr)):
                raise ValueError("the SPICE waveform holds NaN/inf")
        if trace_points:
            grid = np.linspace(t_acc - 0.02 * t_circ, t_fire + t_circ, trace_points)
            res[f"trace{layer}"] = {
                "t_model": ((grid - t_acc) / t_circ).tolist(),
                "v_mem": [np.interp(grid, t, out[f"v({mem}{i})"]).tolist() for i in range(5)],
                "v_out": [np.interp(grid, t, out[f"v({node}{i})"]).tolist() for i in range(5)],
            }
    return res
