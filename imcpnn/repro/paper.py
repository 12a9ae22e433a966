"""The paper's reference numbers that the reproduction compares against: ONE module, one section per experiment.

Every value comes from arXiv 2412.09010v1 (Sakemi et al., "Training Physical Neural Networks for Analog In-Memory
Computing", v1 of 12 Dec 2024) and is stored as a :class:`Ref`: the value, where it is printed (figure / table /
equation / section), and the paper's setting that produced it. Results files and notebooks import these
constants instead of typing the numbers again; :func:`values` gives a plain ``{name: value}`` dict of a section.

To add an experiment: append one ``# ---- <experiment> (<notebook>)`` section with one dict of :class:`Ref`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ARXIV", "Ref", "values", "DSTD_ACCURACY", "DSTD_COST", "SPICE_DEVICES", "FMNIST_MLP", "IRIS_CIRCUIT", "CNN"]

ARXIV = "arXiv 2412.09010v1"


@dataclass(frozen=True)
class Ref:
    """One number of the paper: ``value`` as printed, ``source`` (figure / table / equation / section of
    arXiv 2412.09010v1) and ``setting`` (the paper's setting that produced it)."""

    value: float | str
    source: str
    setting: str = ""


def values(section: dict[str, Ref]) -> dict[str, float | str]:
    """``{name: value}`` of one section (for JSON and for short lookups)."""
    return {k: r.value for k, r in section.items()}


# ---- DSTD accuracy (notebooks/01_dstd_accuracy.py, imcpnn.repro.dstd_accuracy) ---------------------------------
# Fig. 2c-d (membrane traces) and Fig. 3a-b (error of v(1) against M and |E|); the order O(M^-2 |E|^-1) is stated
# in the text on Fig. 3a-b (section "Fast training by differentiable spike-time discretization") and proved in
# App. B.
_FIG3AB_SETTING = "1 untrained layer of 10 neurons, 1000 samples x 1000 input spikes U[0, 1], random weights"
DSTD_ACCURACY: dict[str, Ref] = {
    "error_order": Ref("O(M^-2 |E|^-1)", "Fig. 3a-b text; App. B (proof)", _FIG3AB_SETTING),
    "slope_vs_m": Ref(-2.0, "Fig. 3a (solid lines: theory); App. B", _FIG3AB_SETTING + ", E+ = -E-"),
    "slope_vs_e": Ref(-1.0, "Fig. 3b (solid lines: theory); App. B", _FIG3AB_SETTING + ", E+ = -E-"),
    "fig2c": Ref(
        "error grows as |E| shrinks; reasonable accuracy at M = 4",
        "Fig. 2c",
        "1000 input spikes U[0, 1], random weights, |E| = 10, 2, 1, M = 4, t_offset = 0",
    ),
    "fig2d": Ref(
        "M = 3: minor discrepancies in v(1); M = 10: negligible error",
        "Fig. 2d",
        "as Fig. 2c, |E| = 1, M = 3, 6, 10",
    ),
    "n_in": Ref(1000, "Fig. 3a-b caption", _FIG3AB_SETTING),
    "samples": Ref(1000, "Fig. 3a-b caption", _FIG3AB_SETTING),
    "neurons": Ref(10, "Fig. 3a-b caption", _FIG3AB_SETTING),
}

# ---- DSTD cost (notebooks/02_dstd_cost.py, imcpnn.repro.dstd_cost) ----------------------------------------------
# Fig. 3c-f and the text beside it; the complexity orders of Table 1.
_FIG3CF_SETTING = (
    "1 layer of 1000 neurons, 1000 samples, batch 100, input spikes U[0, 1], PyTorch on an NVIDIA V100 SXM2 16 GB"
)
DSTD_COST: dict[str, Ref] = {
    "rc_exact_over_dstd_time": Ref(30.0, "Fig. 3d and its text", _FIG3CF_SETTING + ", RC-Spike, M = 10"),
    "rc_exact_over_dstd_memory": Ref(100.0, "Fig. 3d and its text", _FIG3CF_SETTING + ", RC-Spike, M = 10"),
    "speedup_range": Ref("10-100x in speed and memory", "Introduction", "summary of Fig. 3"),
    "ttfs_exact_over_dstd_time": Ref(1000.0, "Fig. 3f and its text", _FIG3CF_SETTING + ", TTFS, M = 20"),
    "ttfs_exact_over_dstd_memory": Ref(10.0, "Fig. 3f and its text", _FIG3CF_SETTING + ", TTFS, M = 20"),
    "complexity_rc": Ref("O(N_in^2 N_out) exact vs O(M N_in N_out) DSTD", "Table 1", "per layer, RC-Spike"),
    "complexity_ttfs": Ref("O(N_in^3 N_out) exact vs O(M^2 N_in N_out) DSTD", "Table 1", "per layer, TTFS"),
    "vgg": Ref(
        "Conv(64)-Conv(64)-PL-Conv(128)-Conv(128)-PL-Conv(256)-Conv(256)-PL-512-10, 3x3, stride 1; PL 2x2 stride 2",
        "section 'Reversal potentials are not nonidealities' (CIFAR-10 network); Fig. 5",
        "CIFAR-10 32x32x3",
    ),
    "m_rc": Ref(10, "Fig. 3d text", "RC-Spike"),
    "m_ttfs": Ref(20, "Fig. 3f text", "TTFS"),
}

# ---- SPICE devices (notebooks/06_spice_devices.py, imcpnn.repro.spice_devices) ----------------------------------
# Table 2 (post-layout circuit parameters), App. G (Fig. 17 synapse currents, Fig. 19 sensing inverter, Fig. 20
# discharger), the device -> model mapping of App. A.2, and the Fig. 7d RMSEs (Iris 5-5-5 circuit, 50 test samples).
_POST_LAYOUT = "post-layout sky130 simulation (magic + ngspice), T_circ = 1 us, V0 = 1.3 V"
SPICE_DEVICES: dict[str, Ref] = {
    "lambda_n": Ref(0.41, "Table 2; Fig. 17", _POST_LAYOUT),
    "lambda_p": Ref(0.75, "Table 2; Fig. 17", _POST_LAYOUT),
    "lambda_dis": Ref(0.177, "Table 2; Fig. 20", _POST_LAYOUT),
    "v_switch": Ref(0.428, "Table 2; Fig. 19", _POST_LAYOUT),
    "e_rev_pos": Ref(2.80, "Table 2; section 'Examination of PNN approach by Circuit Simulations'", _POST_LAYOUT),
    "e_rev_neg": Ref(-1.53, "Table 2; section 'Examination of PNN approach by Circuit Simulations'", _POST_LAYOUT),
    "e_dis": Ref(6.44, "Table 2", _POST_LAYOUT),
    "v_b_dis": Ref(0.554, "Table 2", _POST_LAYOUT),
    "v_b_sense": Ref(0.95, "Table 2", _POST_LAYOUT),
    "rmse_ann_to_imc_ns": Ref(39.04, "Fig. 7d", _POST_LAYOUT + ", Iris 5-5-5 network, 2-D current scaling"),
    "rmse_pnn_to_imc_ns": Ref(1.97, "Fig. 7d", _POST_LAYOUT + ", Iris 5-5-5 network, 1-D current scaling"),
}

# ---- Fashion-MNIST MLP (notebooks/03_fmnist_mlp.py, imcpnn.repro.fmnist_mlp) -----------------------------------
# Fig. 4c-f (section "Fast training by differentiable spike-time discretization", F-MNIST MLP), App. D (Fig. 11a,
# Table 3), App. E (Fig. 13a), App. F (Fig. 14a). The per-point accuracies of Figs. 4, 11, 13 and 14 are not printed.
_MLP = "784-400-400-10 RC-Spike, F-MNIST 60k/10k, 50 epochs, Adam lr 1e-4, batch 32"
_T3 = _MLP + ", M = 10, random offset, best over the paper's |E| grid (App. D)"
FMNIST_MLP: dict[str, Ref] = {
    "t3_sigma0": Ref(90.46, "Table 3 (|E| = 7.4)", _T3 + ", sigma_spike = 0"),
    "t3_sigma0.005": Ref(90.52, "Table 3 (|E| = 30.7)", _T3 + ", sigma_spike = 0.005"),
    "t3_sigma0.01": Ref(90.40, "Table 3 (|E| = 30.7)", _T3 + ", sigma_spike = 0.01"),
    "t3_sigma0.02": Ref(90.49, "Table 3 (|E| = 8.4)", _T3 + ", sigma_spike = 0.02"),
    "t3_sigma0.04": Ref(90.12, "Table 3 (|E| = 8.4)", _T3 + ", sigma_spike = 0.04"),
    "t3_best_erev": Ref("7.4 / 30.7 / 30.7 / 8.4 / 8.4 for sigma = 0 / 0.005 / 0.01 / 0.02 / 0.04", "Table 3", _T3),
    "fixed_offset_penalty": Ref(
        "M = 3 with a fixed offset degrades significantly, especially at |E| = 1",
        "Fig. 4c and its text",
        _MLP + ", |E| = 4 and 1, M = 3 vs 15, 5 seeds",
    ),
    "m3_equals_m15": Ref(
        "M = 3 with a random offset is about as accurate as M = 15",
        "Fig. 4c and its text",
        _MLP + ", |E| = 4 and 1, 5 seeds",
    ),
    "saturation_m": Ref(
        "accuracy saturates at M ~ 15; the random offset saturates at fewer steps", "Fig. 4e", _MLP + ", |E| = 4, 2, 1"
    ),
    "drop_at_e1": Ref(1.0, "Fig. 4f text: the drop at |E| = 1 is at most 1 point", _MLP + ", M = 15 and M = 3"),
    "monotonic_in_e": Ref("accuracy increases monotonically with |E| (MLP)", "Fig. 4f text", _MLP + ", M = 15 and 3"),
    "scaled_ann": Ref(
        "scaled ANN beats the ANN but degrades significantly for |E| < 4",
        "Fig. 4f; App. F",
        _MLP + "; ANN trained at |E| = 100, weights scaled per |E| on a 0.1 grid",
    ),
    "early_spikes": Ref("larger |E| gives more early spikes", "Fig. 4d", _MLP + ", layers 1-3"),
    "sigma_trend": Ref("almost monotonic in |E|; without noise the peak is at |E| ~ 10", "Fig. 11a (App. D)", _T3),
    "test_m": Ref(
        30,
        "App. E, Fig. 13a: accuracy saturates with the test-time M; M = 30 chosen",
        _MLP + ", trained at M = 15, random offset, 10 evaluations",
    ),
    "weight_scaling_helps": Ref("scaling helps in all cases", "App. F, Fig. 14a", _MLP + ", ANN at |E| = 100"),
}

# ---- Iris circuit (notebooks/07_iris_circuit.py, imcpnn.repro.iris_circuit) -----------------------------------
# Fig. 7 (b-d), Fig. 15 (a, b), Algorithms 5-6, Table 2's learning parameters, App. G. The 100/50 split, the class
# -> output mapping and whether the scales were searched on the test samples are not stated.
_IRIS = (
    _POST_LAYOUT + ", Iris 5-5-5 RC-Spike circuit, 50 test samples, output-layer spike times; Adam lr 1e-3, "
    "batch 50, tau_soft 0.07, gamma_T 0.1, gamma_W 1e-2, gamma_V 0.2"
)
IRIS_CIRCUIT: dict[str, Ref] = {
    "rmse_ann_to_imc_ns": Ref(39.04, "Fig. 7d (top)", _IRIS + "; ANN trained at |E| = 100, 2-D scale, 1 % grid"),
    "rmse_pnn_to_imc_ns": Ref(
        1.97, "Fig. 7d (bottom)", _IRIS + "; PNN with E+ = 2.80, E- = -1.53, E_dis = 6.44, 1-D scale, ~1 % grid"
    ),
    "rmse_ratio": Ref(39.04 / 1.97, "Fig. 7d (39.04 / 1.97); v2 abstract: 'at least an order of magnitude'", _IRIS),
    "search_step": Ref("1 %", "Fig. 15a-b captions", _IRIS),
    "accuracy": Ref("not reported", "Fig. 7 text: the comparison uses spike times, not accuracy", _IRIS),
}

# ---- CNN (notebooks/04_cnn.py, imcpnn.repro.cnn) ------------------------------------------------------------------
# Sec. 3.3 "Reversal potentials are not nonidealities" (Fig. 5b-d, CIFAR-10), App. D (Fig. 11b F-MNIST CNN, Fig. 12
# CIFAR-10 at width x1 / x2, Table 3 CNN rows), App. E (Fig. 13b), App. F (Fig. 14b). Epochs are not stated in v1.
_VGG = "VGG7 Conv(64)-Conv(64)-PL-Conv(128)-Conv(128)-PL-Conv(256)-Conv(256)-PL-512-10, Adam, batch 32, augmented"
_T3C = _VGG + ", M = 10, random offset, best over the paper's |E| grid (App. D)"


def _t3(name: str, data: str, rows: tuple[tuple[float, float, float], ...]) -> dict[str, Ref]:
    """Table 3 rows (sigma_spike, best |E|, accuracy %) of one CNN as ``{name}_sigma{sigma}`` refs."""
    return {
        f"{name}_sigma{sg:g}": Ref(a, f"Table 3 (|E| = {e:g})", f"{data}, {_T3C}, sigma_spike = {sg:g}")
        for sg, e, a in rows
    }


CNN: dict[str, Ref] = {
    **_t3(
        "t3_fmnist",
        "F-MNIST 60k/10k",
        ((0.0, 1.3, 94.11), (0.005, 1.6, 94.06), (0.01, 3.3, 94.09), (0.02, 8.4, 93.93), (0.04, 17.0, 93.63)),
    ),
    **_t3(
        "t3_cifar",
        "CIFAR-10 50k/10k",
        ((0.0, 2.3, 89.13), (0.005, 5.9, 88.89), (0.01, 3.3, 88.51), (0.02, 4.6, 88.00), (0.04, 17.0, 86.76)),
    ),
    **_t3(
        "t3_cifar_x2",
        "CIFAR-10 50k/10k, width doubled",
        ((0.0, 1.1, 90.27), (0.005, 1.8, 90.16), (0.01, 2.0, 90.25), (0.02, 3.7, 89.65), (0.04, 15.1, 88.42)),
    ),
    "peak_finite_e": Ref(
        "accuracy peaks at a finite |E| (~3), unlike the MLP",
        "Fig. 5d; Discussion",
        "CIFAR-10, " + _VGG + ", M = 15 and 4, random offset",
    ),
    "peak_e": Ref(3.0, "Discussion ('maximized when |E| ~ 3')", "CIFAR-10, " + _VGG),
    "random_offset_m2": Ref(
        "random offset reaches the maximum even at M = 2; fixed offset drops at small M",
        "Fig. 5c and its text",
        "CIFAR-10, " + _VGG + ", |E| = 4, 2, 1",
    ),
    "saturation_m": Ref("accuracy maximized when M >= 10", "Fig. 5c text", "CIFAR-10, " + _VGG),
    "stable_curves": Ref("learning is stable in all cases", "Fig. 5b", "CIFAR-10, " + _VGG + ", |E| = 4 and 1"),
    "scaled_ann": Ref(
        "scaled ANN (weights scaled on a 0.1 grid) below the RC-Spike-trained nets at small |E|",
        "Fig. 5d; App. F",
        "CIFAR-10, " + _VGG + "; ANN trained at |E| = 100",
    ),
    "sigma_trend_cnn": Ref(
        "at sigma = 0.04 monotonic in |E|; lower noise puts the peak at smaller |E|", "Fig. 11b, 12 (App. D)", _T3C
    ),
    "test_m": Ref(
        30,
        "App. E, Fig. 13b: accuracy saturates with the test-time M; M = 30 chosen",
        "CIFAR-10, " + _VGG + ", trained at M = 15, random offset, 10 evaluations",
    ),
    "weight_scaling_helps": Ref(
        "scaling helps in all cases", "App. F, Fig. 14b", "CIFAR-10, " + _VGG + ", ANN at |E| = 100"
    ),
}

# ---- TTFS CNN (notebooks/05_ttfs_cnn.py, imcpnn.repro.ttfs_cnn) ---------------------------------------------------
# App. C (Fig. 10a-e), App. E (Fig. 13c), App. F (Fig. 14c); TTFS hyper-parameters of the Methods (Sec. 3).
_TTFS = (
    "TTFS Conv(16)-Conv(16)-PL-Conv(32)-Conv(32)-PL-128-10, F-MNIST 60k/10k, Adam lr 2e-4, batch 32, "
    "150 epochs, gamma1 0.02, t_ref 3.2, tau_soft 0.07, gamma2 8e-6, E+ = -E-"
)
TTFS_CNN: dict[str, Ref] = {
    "converge_m_e4": Ref(20, "Fig. 10d (upper) and App. C text", _TTFS + ", E+ = 4, 5 seeds"),
    "converge_m_e2": Ref(40, "Fig. 10d (lower) and App. C text", _TTFS + ", E+ = 2, 5 seeds"),
    "random_offset_small_m": Ref(
        "random offset consistently better for M < 10", "Fig. 10d and App. C text", _TTFS + ", E+ = 4 and 2"
    ),
    "converge_e_m30": Ref(3.0, "Fig. 10e (upper) and App. C text", _TTFS + ", M = 30"),
    "converge_e_m10": Ref(4.0, "Fig. 10e (lower) and App. C text", _TTFS + ", M = 10"),
    "ann_degrades_below": Ref(
        10.0,
        "Fig. 10e and App. C text ('deteriorated when |E| fell below ~10')",
        _TTFS + "; ANN trained at |E| = 31.6 (random offset), tested at |E|",
    ),
    "scaled_ann_below": Ref(
        "scaled ANN improves markedly but stays substantially inferior to E-trained models",
        "Fig. 10e and App. C text",
        _TTFS + "; ANN weights scaled in 0.01 steps",
    ),
    "traces": Ref(
        "smaller |E| keeps v from becoming very negative",
        "Fig. 10a-c",
        _TTFS + ", |E| = 2.0, 2.8, 31.6; last hidden FC layer and output layer",
    ),
    "test_m": Ref(
        60,
        "App. E, Fig. 13c: accuracy converges with the test-time M; M = 60 chosen",
        _TTFS + ", trained at M = 30, random offset, 10 evaluations",
    ),
    "weight_scaling_helps": Ref("scaling helps", "App. F, Fig. 14c", _TTFS + ", ANN at |E| = 31.6, 0.1 grid"),
    "train_steps": Ref(30, "App. E (Fig. 13c caption)", _TTFS),
    "epochs": Ref(150, "App. C", _TTFS),
}
