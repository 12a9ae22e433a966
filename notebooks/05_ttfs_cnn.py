# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Convolutional TTFS network on Fashion-MNIST (arXiv 2412.09010v1 App. C: Fig. 10a-e; Fig. 13c; Fig. 14c)
#
# Trains the time-to-first-spike net Conv(16)-Conv(16)-PL-Conv(32)-Conv(32)-PL-128-10 (`imcpnn.models.ttfs_cnn`)
# with DSTD and the paper's TTFS settings (Adam lr 2e-4, γ1 0.02, t_ref 3.2, τ_soft 0.07, γ2 8e-6, batch 32).
# Budgets, the run cache and the baselines live in `imcpnn.repro.ttfs_cnn`; this notebook plots and checks.
#
# **Profiles** (`imcpnn.repro.ttfs_cnn.SETTINGS`). `paper`: full width, 60k/10k, 150 epochs, 5 seeds (GPU-sized,
# not run here). `quick`: width ×0.25, 1920 training images (+100 validation images from the training set),
# 2 epochs (120 Adam steps) at lr 2e-3 (10× the paper's) with a cosine decay (both chosen on the validation
# split, see the comment above `SETTINGS`), test on 200 images at test M = 20, M ∈ {3, 10}, 1 seed; the scaled
# ANN at |E| = 2 and 2.8; the upper panel of Fig. 10e (M = 30) is paper-only. With one seed and M ∈ {3, 10} the
# convergence claims (which need ≥ 2 seeds and a grid around the paper's M) are **not resolvable** in quick;
# each such claim is reported as such.
#
# **Choices where the paper is silent** (see `imcpnn.models.ttfs_cnn`, `imcpnn.train`): per-layer DSTD windows
# [0, 1 + (l-1)·t_ref/(L·√w*)] (the per-layer delay of the initialisation, Eq. 106-107); spikes outside a window
# enter the next layer at its edge; no spike noise; silent outputs count at t = 2 t_ref in the loss; Q (Eq. 53)
# on the two dense layers only, added as −γ2 Q (promotes firing).

# %% tags=["parameters"]
profile = "quick"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from imcpnn.repro import fmnist_mlp as X
from imcpnn.repro import profiles
from imcpnn.repro import ttfs_cnn as T
from imcpnn.repro.paper import TTFS_CNN as P
from imcpnn.repro.report import comparison_row
from imcpnn.train import evaluate

T_START = time.perf_counter()
profiles.check_profile(profile)
dirs = profiles.output_dirs(profile)
torch.set_num_threads(1)
S = T.settings(profile)
BASE = T.base_config(S)
print(profile, BASE)

# %% [markdown]
# ## Training (every cell of Fig. 10d and 10e; cached runs are read back)

# %%
RUNS = T.train_all(S, profile, threads=1, progress=profile != "smoke")
ACC = T.accuracies(RUNS)
for k, v in ACC.items():
    print(k, [round(100 * a, 1) for a in v])

# %% [markdown]
# ## Fig. 10d: accuracy vs training M, random vs fixed offset

# %%
fig, axes = plt.subplots(len(S["d_e"]), 1, figsize=(4.5, 2.6 * len(S["d_e"])), squeeze=False)
for ax, e in zip(axes[:, 0], S["d_e"]):
    for off, mk in (("random", "o-"), ("fixed", "s--")):
        a = [100 * np.array(ACC[(e, m, off)]) for m in S["d_m"]]
        ax.errorbar(S["d_m"], [x.mean() for x in a], yerr=[x.std() for x in a], fmt=mk, label=f"{off} offset")
    ax.set(xscale="log", xlabel="DSTD steps M", ylabel="test accuracy (%)", title=f"E+ = {e:g} ({profile})")
    ax.legend(fontsize=7)
fig.tight_layout()
profiles.save_figure(fig, dirs.figures, "fig10d_ttfs_accuracy_vs_m")

# %% [markdown]
# ## Fig. 10e: accuracy vs |E| (E+ = −E−), with the ANN and the scaled ANN

# %%
ANN_RUN = RUNS[(S["ann_train_e"], S["sweep_m"][0], "random", S["seeds"][0])]
ANN_MODEL = ANN_RUN.model()
TEST = X.cached_data(ANN_RUN.config)[2:]
VAL = tuple(t[: S["scale_n"]] for t in X.validation_data(ANN_RUN.config))
BASELINES = T.ann_curves(ANN_MODEL, S, VAL, TEST)
fig, axes = plt.subplots(len(S["sweep_m"]), 1, figsize=(4.5, 2.8 * len(S["sweep_m"])), squeeze=False)
for ax, m in zip(axes[:, 0], S["sweep_m"]):
    for off, mk in (("random", "o-"), ("fixed", "s--")):
        es = [e for e in S["sweep_e"] if (e, m, off) in ACC]
        if es:
            ax.plot(es, [100 * np.mean(ACC[(e, m, off)]) for e in es], mk, label=f"E± trained, {off} offset")
    ann = BASELINES["ann"]
    ax.plot(list(ann), [100 * a for a in ann.values()], "g-", label=f"ANN (trained at {S['ann_train_e']:g})")
    sc = BASELINES["scaled"]
    ax.plot(list(sc), [100 * v["test"] for v in sc.values()], "g^--", label="ANN (scaled)")
    ax.set(xscale="log", xlabel="E+ (= −E−)", ylabel="test accuracy (%)", title=f"M = {m} ({profile})")
    ax.legend(fontsize=7)
fig.tight_layout()
profiles.save_figure(fig, dirs.figures, "fig10e_ttfs_accuracy_vs_erev")
print(BASELINES)

# %% [markdown]
# ## Fig. 10a-c: membrane traces of the last hidden FC layer and of the output layer
# Exact ODE solution (float64, threshold then v fixed to 0) for the input times the trained DSTD network gives
# those layers; |E| = 2.0, 2.8, 31.6 where the profile trained them (M = the sweep's M, random offset).

# %%
TRACE_E = [e for e in (2.0, 2.8, 31.6) if (e, S["sweep_m"][0], "random", S["seeds"][0]) in RUNS]
T_GRID = torch.linspace(0.0, 2.0 * BASE.t_ref, 400, dtype=torch.float64)
TRACES = {}
fig, axes = plt.subplots(2, len(TRACE_E), figsize=(3.2 * len(TRACE_E), 4.6), squeeze=False)
for j, e in enumerate(TRACE_E):
    model = RUNS[(e, S["sweep_m"][0], "random", S["seeds"][0])].model()
    tr = T.membrane_traces(model, TEST[0][: S["trace_n"]], T_GRID)
    TRACES[e] = {"min_v_hidden": tr["min_v_hidden"], "min_v_output": tr["min_v_output"]}
    for i, name in enumerate(("hidden", "output")):
        v = tr[name][0]
        axes[i, j].plot(T_GRID.numpy(), v.T.numpy(), lw=0.6)
        axes[i, j].axhline(1.0, color="k", ls=":", lw=0.8)
        axes[i, j].set(title=f"|E| = {e:g}, {'last hidden FC' if i == 0 else 'output'}", xlabel="t", ylabel="v")
fig.tight_layout()
profiles.save_figure(fig, dirs.figures, "fig10abc_ttfs_membrane_traces")
print(TRACES)

# %% [markdown]
# ## Fig. 13c: accuracy vs test-time M (random test offset, repeated evaluations)

# %%
M13_RUN = RUNS[(S["d_e"][0], max(S["d_m"]), "random", S["seeds"][0])]
M13 = T.test_m_curve(M13_RUN.model(), tuple(t[: S["m13_n"]] for t in TEST), S["test_ms"], S["test_repeats"])
fig, ax = plt.subplots(figsize=(4.5, 2.8))
ax.errorbar(list(M13), [100 * np.mean(v) for v in M13.values()], yerr=[100 * np.std(v) for v in M13.values()], fmt="o-")
ax.set(
    xscale="log",
    xlabel="test-time M",
    ylabel="test accuracy (%)",
    title=f"E+ = {S['d_e'][0]:g}, trained at M = {max(S['d_m'])} ({profile})",
)
fig.tight_layout()
profiles.save_figure(fig, dirs.figures, "fig13c_ttfs_test_m")

# %% [markdown]
# ## Fig. 14c: the (α+, α−) weight-scaling grid of the ANN at |E| = `grid14_e` (validation data)

# %%
G14 = BASELINES["grid14"]
fig, ax = plt.subplots(figsize=(4, 3.4))
al = G14["alphas"]
im = ax.imshow(
    100 * np.array(G14["val_accuracy"]).T, origin="lower", extent=(al[0], al[-1], al[0], al[-1]), aspect="auto"
)
ax.plot(*G14["best"], "b*", ms=12)
ax.set(xlabel="α+ (positive weights)", ylabel="α− (negative weights)", title=f"|E| = {S['grid14_e']:g} ({profile})")
fig.colorbar(im, label="validation accuracy (%)")
fig.tight_layout()
profiles.save_figure(fig, dirs.figures, "fig14c_ttfs_weight_scaling")

# %% [markdown]
# ## Claims (resolved, or "not resolved at this budget")

# %%
M_DEC = S["d_m"]
CONV_M = {e: T.converged_at(M_DEC, [ACC[(e, m, "random")] for m in M_DEC]) for e in S["d_e"]}
GAPS = T.offset_gaps(RUNS, S["d_e"])
GAP_CI = X.t_interval([100 * g for g in GAPS]) if GAPS else {"mean": float("nan"), "lo": -np.inf, "hi": np.inf}
E10 = S["sweep_m"][-1 if profile == "paper" else 0]
SWEEP = sorted(e for e in S["sweep_e"] if (e, E10, "random") in ACC)
CONV_E = T.converged_at(SWEEP, [ACC[(e, E10, "random")] for e in SWEEP])
N_TEST = len(TEST[1])
DEGR = T.ann_degradation(BASELINES["ann"], N_TEST)
GAP_ACCS = [a for (e, m, off), v in ACC.items() if e in S["d_e"] and m < 10 for a in v]
GAP_NOISE = T.gap_exceeds_noise(GAPS, GAP_ACCS, N_TEST)
SC_GAPS = [
    100 * (np.mean(ACC[(e, S["sweep_m"][0], "random")]) - v["test"])
    for e, v in BASELINES["scaled"].items()
    if (e, S["sweep_m"][0], "random") in ACC
]
SC_CI = X.t_interval(SC_GAPS) if SC_GAPS else {"mean": float("nan"), "lo": -np.inf, "hi": np.inf}
SC_NOISE = T.gap_exceeds_noise([g / 100 for g in SC_GAPS], [v["test"] for v in BASELINES["scaled"].values()], N_TEST)
SC_STATE = X.sign_verdict(SC_CI) if len(SC_GAPS) >= 2 and SC_NOISE else "not resolved at this budget"
# Fig. 10a-c: a difference of min v below 0.05 (5 % of the threshold) is not a trend
TR_E = sorted(TRACES)
TR_DIFF = TRACES[TR_E[0]]["min_v_hidden"] - TRACES[TR_E[-1]]["min_v_hidden"] if len(TR_E) >= 2 else 0.0
TR_STATE = (
    "not resolved at this budget" if abs(TR_DIFF) <= 0.05 else "resolved" if TR_DIFF > 0 else "resolved, opposite sign"
)
CLAIMS = {
    "convergence M, E+=4": T.convergence_verdict(CONV_M.get(4.0, {"resolved": False}), 20, M_DEC),
    "convergence M, E+=2": T.convergence_verdict(CONV_M.get(2.0, {"resolved": False}), 40, M_DEC),
    "random offset better for M<10": X.sign_verdict(GAP_CI)
    if len(GAPS) >= 2 and GAP_NOISE
    else "not resolved at this budget",
    f"convergence |E| at M={E10}": T.convergence_verdict(CONV_E, 3.0 if E10 == 30 else 4.0, SWEEP),
    # both halves: strong loss below |E| = 10, none at or above it; a strong loss below that already starts at
    # |E| >= 10 is the claim in part; no strong loss below 10 contradicts it
    "ANN degrades below |E|~10": (
        "not resolved at this budget"
        if not DEGR["decidable"]
        else "resolved"
        if DEGR["holds"]
        else "resolved, in part"
        if DEGR["below_holds"]
        else "resolved, opposite sign"
    ),
    "scaled ANN substantially below": SC_STATE,
}
for k, v in CLAIMS.items():
    print(f"{k}: {v}")
print("offset gaps (random - fixed, pt):", [round(100 * g, 1) for g in GAPS], "ANN:", DEGR)

# %%
VERDICT = {
    "resolved": "reproduced",
    "reproduced": "reproduced",
    "not reproduced": "not reproduced",
    "resolved, in part": "partially",
    "resolved, opposite sign": "not reproduced",
    "not resolved at this budget": "not reproduced",
}


def ours(extra: str) -> str:
    c = BASE
    n_tr = c.train_subset or 60_000 - c.val_size
    return (
        f"{extra}; width x{c.width:g}, {c.epochs} epoch(s) on {n_tr} images, lr {c.lr:g} ({c.lr_schedule}), "
        f"batch {c.batch_size}, test {c.test_subset or 10_000} images at test M = {c.test_steps}, "
        f"seeds {S['seeds']}"
    )


def row(fig_, name, ref, value, state, settings, note=""):
    return comparison_row(fig_, name, ref, value, VERDICT[state], settings, note=f"{state}. {note}".strip())


def acc_list(keys) -> str:
    return ", ".join(f"{k}: {100 * np.mean(ACC[kk]):.1f}" for k, kk in keys)


comparison = [
    row(
        "Fig. 10d",
        "convergence M, E+ = 4 (random offset)",
        P["converge_m_e4"],
        CONV_M[4.0]["x"] if 4.0 in CONV_M else None,
        CLAIMS["convergence M, E+=4"],
        ours(f"M ∈ {M_DEC}"),
        note=acc_list((f"M={m}", (4.0, m, "random")) for m in M_DEC if (4.0, m, "random") in ACC) + " %",
    ),
    row(
        "Fig. 10d",
        "convergence M, E+ = 2 (random offset)",
        P["converge_m_e2"],
        CONV_M[2.0]["x"] if 2.0 in CONV_M else None,
        CLAIMS["convergence M, E+=2"],
        ours(f"M ∈ {M_DEC}"),
        note=acc_list((f"M={m}", (2.0, m, "random")) for m in M_DEC if (2.0, m, "random") in ACC) + " %",
    ),
    row(
        "Fig. 10d",
        "random − fixed offset, M < 10",
        P["random_offset_small_m"],
        f"{GAP_CI['mean']:+.1f} pt (95 % CI {GAP_CI['lo']:+.1f}..{GAP_CI['hi']:+.1f}, n = {len(GAPS)})",
        CLAIMS["random offset better for M<10"],
        ours(f"E+ ∈ {S['d_e']}, M < 10"),
        note="needs n >= 2 pairs and a mean gap above 2 binomial SE of the test subset",
    ),
    row(
        "Fig. 10e",
        f"convergence |E| at M = {E10}",
        P["converge_e_m30" if E10 == 30 else "converge_e_m10"],
        CONV_E["x"],
        CLAIMS[f"convergence |E| at M={E10}"],
        ours(f"|E| ∈ {SWEEP}, M = {E10}, random offset"),
        note=acc_list((f"|E|={e:g}", (e, E10, "random")) for e in SWEEP) + " %",
    ),
    row(
        "Fig. 10e",
        "ANN (trained at |E| = 31.6) degrades strongly below |E| ≈ 10",
        P["ann_degrades_below"],
        ", ".join(f"{e:g}: {100 * a:.1f}" for e, a in BASELINES["ann"].items()) + " %",
        CLAIMS["ANN degrades below |E|~10"],
        ours("rule: every |E| < 10 loses >= 10 pt, every |E| >= 10 < 5 pt vs |E| = 31.6"),
        note="decidable only if the ANN exceeds chance + 10 pt + 2 SE at |E| = 31.6",
    ),
    row(
        "Fig. 10e",
        "E±-trained − scaled ANN",
        P["scaled_ann_below"],
        ", ".join(f"|E|={e:g}: {g:+.1f} pt" for e, g in zip(BASELINES["scaled"], SC_GAPS)),
        SC_STATE,
        ours("scales chosen on validation images from the training set"),
        note="needs >= 2 |E| points for an interval",
    ),
    row(
        "Fig. 10a-c",
        "mean min_t v, last hidden FC layer",
        P["traces"],
        ", ".join(f"|E|={e:g}: {v['min_v_hidden']:.2f}" for e, v in TRACES.items()),
        TR_STATE,
        ours(f"{S['trace_n']} test images, exact traces"),
        note="resolved only if min v differs by > 0.05 between the smallest and the largest |E|",
    ),
    row(
        "Fig. 13c",
        "accuracy vs test-time M",
        P["test_m"],
        ", ".join(f"M={m}: {100 * np.mean(v):.1f}±{100 * np.std(v):.1f}" for m, v in M13.items()) + " %",
        "not resolved at this budget",
        ours(f"{S['test_repeats']} evaluations, random test offset"),
        note="shape only; the paper gives no numbers",
    ),
]
for r in comparison:
    print(r["figure"], "|", r["quantity"], "|", r["paper"], "|", r["ours"], "|", r["verdict"])

# %%
WALL = time.perf_counter() - T_START
payload = {
    "settings": S,
    "base_config": BASE.to_dict(),
    "accuracy": {f"E={e:g},M={m},{off}": v for (e, m, off), v in ACC.items()},
    "baselines": {
        "ann": {str(e): a for e, a in BASELINES["ann"].items()},
        "scaled": {str(e): v for e, v in BASELINES["scaled"].items()},
        "grid14c": BASELINES["grid14"],
    },
    "fig13c": {str(m): v for m, v in M13.items()},
    "traces": {str(e): v for e, v in TRACES.items()},
    "claims": CLAIMS,
    "wall_time_s": WALL,
    "paper_comparison": comparison,
}
path = profiles.write_json(dirs.results / "ttfs_cnn.json", payload, profile=profile)
print(f"wrote {path}; notebook wall time {WALL / 60:.1f} min")

# %% [markdown]
# ## Checks (each can fail; none asserts a paper claim)

# %%
assert all(np.isfinite(e["train_loss"]) for r in RUNS.values() for e in r.epochs)
# the recorded accuracy is what the stored model gives on the test tensors (cache / checkpoint integrity)
REEVAL = evaluate(ANN_RUN.model(), *TEST, seed=ANN_RUN.config.seed)
assert abs(REEVAL - ANN_RUN.final_accuracy) < 1e-12, (REEVAL, ANN_RUN.final_accuracy)
# the ANN evaluated at its own |E| is the trained model's accuracy
assert abs(BASELINES["ann"][S["ann_train_e"]] - ANN_RUN.final_accuracy) < 1e-12
# the traces respect the reversal-potential bound E- <= v (Eq. 8-11)
assert all(v["min_v_hidden"] >= -e - 1e-9 and v["min_v_output"] >= -e - 1e-9 for e, v in TRACES.items()), TRACES
BEST = max(max(v) for v in ACC.values())
print(f"best test accuracy of any run: {100 * BEST:.1f} % (chance: 10 %)")
if profile == "paper":
    assert BEST > 0.5, ACC  # learning happened at all; quick is too short to demand it (reported, not asserted)
print("all checks passed")
