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
# # Fashion-MNIST, fully connected RC-Spike 784-400-400-10 (arXiv 2412.09010v1 Fig. 4c-f, 11a, 13a, 14a; Table 3)
#
# Trains the RC-Spike MLP of arXiv 2412.09010v1 Sec. 3.2 ("Fast training by differentiable spike-time
# discretization", Fig. 4) with DSTD and regenerates the figures of the Fashion-MNIST MLP experiments. The budgets,
# the training-run cache (keyed by config, code fingerprint, data digest and device) and the ANN / scaled-ANN
# baselines live in `imcpnn.repro.fmnist_mlp`, the statistics, claims and REPRODUCTION rows in
# `imcpnn.repro.fmnist_mlp_claims`; this notebook only calls them, plots and checks.
#
# **Profiles** (`imcpnn.repro.fmnist_mlp.SETTINGS`). `paper`: 60k/10k, 50 epochs, Adam lr 1e-4, batch 32, 5 seeds,
# full sweeps (sized for a GPU). `quick`: 6k training images (plus 1k held out from the training set for
# validation), 3 epochs at lr 1e-3 with a cosine decay, batch 128, test on a 2k subset at M = 30; the headline is
# the |E| = 4, M = 3 cell of that grid. `smoke`: seconds, for CI.
#
# **No test-set leakage.** Every choice (the scaled-ANN weight scales of App. F, the best |E| per σ of Table 3) is
# made on the validation split carved from the training set and then scored on test.
#
# **Choices where the paper is silent** (see `imcpnn.models`): He-uniform init, no bias; spike noise after every
# layer (output included), not on the encoded input; the output layer is read out as t = 1 - v(1).
# Each qualitative claim is decided by a 95 % t-interval over seeds and reported as resolved or
# "not resolved at this budget"; nothing is tuned until a claim appears.

# %% tags=["parameters"]
profile = "quick"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import NullFormatter

from imcpnn.repro import fmnist_mlp as X
from imcpnn.repro import fmnist_mlp_claims as K
from imcpnn.repro import profiles
from imcpnn.train import TrainConfig, evaluate, layer_spike_times, split_indices

T_START = time.perf_counter()
profiles.check_profile(profile)
dirs = profiles.output_dirs(profile)
THREADS = X.default_threads()
torch.set_num_threads(THREADS)
S = X.settings(profile)
BASE = TrainConfig(**S["base"])
print(profile, BASE, f"threads={THREADS}")
# training runs go through K.timed_run_many: the missing ones as jobs of the executor (`make ... EXECUTOR=
# WORKERS=`, default: one after the other in this process); RUN_TIMES collects the wall time per panel
RUN_TIMES: dict[str, float] = {}

# %% [markdown]
# ## Headline: |E| = 4, M = 3, random offset

# %%
headline_runs = K.timed_run_many(
    [BASE.replace(e_rev=4.0, steps=3, offset="random", seed=0, **S["headline"])],
    profile,
    threads=THREADS,
    desc="headline",
    run_times=RUN_TIMES,
)
HEADLINE = 100 * headline_runs[0].final_accuracy
H = headline_runs[0].config
sec_per_epoch = headline_runs[0].seconds_per_epoch
N_HEAD = len(X.cached_data(H)[1])
print(f"headline accuracy {HEADLINE:.2f} % ({H.epochs} epochs); {sec_per_epoch:.1f} s/epoch (train)")

# %% [markdown]
# ## Fig. 4c, 4e, 4f: the M x offset grid and the |E| sweeps (σ_spike = 0.01)

# %%
cells = X.grid_cells(S)
runs = K.timed_run_many(
    [BASE.replace(e_rev=e, steps=m, offset=off, seed=sd) for e, m, off, sd in cells],
    profile,
    threads=THREADS,
    desc="Fig. 4 runs",
    run_times=RUN_TIMES,
)
G = K.group_cells(cells, runs)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, e in zip(axes, (4.0, 1.0)):
    for m in (3, S["f4_m15"]):
        for off, ls in (("random", "-"), ("fixed", "--")):
            curves = np.array([r.curve for r in G[(e, m, off)]]) * 100
            x = np.arange(1, curves.shape[1] + 1)
            ax.errorbar(
                x,
                curves.mean(0),
                yerr=curves.std(0),
                ls=ls,
                marker="o",
                ms=3,
                label=f"M={m}, {off} ({len(curves)} seeds)",
            )
    ax.set(title=f"|E| = {e:g}", xlabel="epoch", ylabel="test accuracy (%)", xticks=x)
    ax.grid(alpha=0.3)
axes[0].legend(fontsize=7)
fig.suptitle(f"Fig. 4c: learning curves ({profile} profile; bars: std over seeds)")
profiles.save_figure(fig, dirs.figures, "fig4c_learning_curves")

fig, axes = plt.subplots(1, len(S["grid_e"]), figsize=(4.2 * len(S["grid_e"]), 3.6), sharey=True)
for ax, e in zip(np.atleast_1d(axes), S["grid_e"]):
    for off, ls in (("random", "-"), ("fixed", "--")):
        a = np.array([K.mean_std(G[(e, m, off)]) for m in S["grid_m"]])
        ax.errorbar(S["grid_m"], a[:, 0], yerr=a[:, 1], ls=ls, marker="o", capsize=3, label=f"{off} offset")
    ax.set(title=f"|E| = {e:g}", xlabel="DSTD steps M (training)", ylabel="test accuracy (%)", xscale="log")
    ax.set_xticks(S["grid_m"], [str(m) for m in S["grid_m"]])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3)
np.atleast_1d(axes)[0].legend()
fig.suptitle(f"Fig. 4e: accuracy vs M ({profile} profile; bars: std over seeds where > 1)")
profiles.save_figure(fig, dirs.figures, "fig4e_accuracy_vs_steps")

# %% [markdown]
# ## Fig. 4f: accuracy against |E| at M = 3 and M = 15, with the ANN and scaled-ANN baselines (App. F)
# The scales are chosen on the validation split (coarse grid, then a greedy walk on the 0.1 grid) and scored on test.

# %%
data = X.cached_data(BASE)
x_te, y_te = data[2], data[3]
VAL = X.validation_data(BASE)
ann_models = [r.model() for r in G[(100.0, 3, "random")] if r.config.seed in S["ann_seeds"]]
t0 = time.perf_counter()
BASELINES = X.ann_baselines(
    ann_models,
    S["scale_e"],
    (VAL[0][: S["scale_n"]], VAL[1][: S["scale_n"]]),
    (x_te, y_te),
    coarse=tuple(S["coarse"]),
    search_steps=S["scale_test_steps"],
)
BASELINE_S = time.perf_counter() - t0
F4 = K.fig4f_runs(G, S)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, m in zip(axes, (S["f4_m15"], 3)):
    es, means, lo = K.seed_interval_bars(F4[m])
    for e in es:  # every seed, then the mean and its 95 % t-interval
        ax.plot([e] * len(F4[m][e]), list(K.pct(F4[m][e]).values()), "k.", alpha=0.4)
    ax.errorbar(es, means, yerr=lo, marker="o", capsize=3, label=f"trained at |E| (M={m})")
    if m == 3:
        se = S["scale_e"]
        ax.plot(se, [100 * np.mean(BASELINES[e]["ann"]) for e in se], "g-", marker="s", label="ANN (|E|=100)")
        ax.plot(se, [100 * np.mean(BASELINES[e]["scaled_ann"]) for e in se], "g--", marker="^", label="scaled ANN")
    ax.set(xscale="log", xlabel="|E±rev|", ylabel="test accuracy (%)", title=f"M = {m}, random offset")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
fig.suptitle(f"Fig. 4f ({profile} profile; dots: seeds, bars: 95 % t-interval of the mean)")
profiles.save_figure(fig, dirs.figures, "fig4f_accuracy_vs_erev")

# %% [markdown]
# ## Fig. 4d: spike-time histograms per layer

# %%
x_h = x_te[: S["hist_n"]]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
bins = np.linspace(0, 1, 41)
EARLY = {}  # fraction of hidden-layer spikes before t = 0.5, per |E| (seed 0, M = 3)
for e in S["hist_e"]:
    times = layer_spike_times(F4[3][e][0].model(), x_h)
    EARLY[e] = K.early_fraction(times)
    for li, (ax, t) in enumerate(zip(axes, times)):
        ax.hist(t.flatten().clamp(0, 1).numpy(), bins=bins, histtype="step", density=True, label=f"|E|={e:g}")
        ax.set(title=f"layer {li + 1}", xlabel="spike time", yscale="log")
axes[0].set_ylabel("density")
axes[-1].legend(fontsize=8)
fig.suptitle(f"Fig. 4d: output spike times per layer ({profile}; output layer clipped to [0, 1] for display)")
profiles.save_figure(fig, dirs.figures, "fig4d_spike_histograms")

# %% [markdown]
# ## Fig. 11a and Table 3: spike-noise sweep at M = 10, random offset (App. D)
# The best |E| per σ is chosen on the validation split and its test accuracy reported.

# %%
sig_cells = [(sg, e) for sg in S["sigmas"] for e in S["sigma_e"]]
sig_runs = K.timed_run_many(
    [BASE.replace(e_rev=e, steps=S["sigma_steps"], offset="random", sigma_spike=sg, seed=0) for sg, e in sig_cells],
    profile,
    threads=THREADS,
    desc="σ sweep",
    run_times=RUN_TIMES,
)
SIG = K.sigma_accuracies(sig_cells, sig_runs)
fig, ax = plt.subplots(figsize=(5.5, 3.8))
for sg in S["sigmas"]:
    ax.plot(S["sigma_e"], [SIG[(sg, e)] for e in S["sigma_e"]], marker="o", label=f"σ_spike = {sg:g}")
ax.set(
    xscale="log",
    xlabel="|E±rev|",
    ylabel="test accuracy (%)",
    title=f"Fig. 11a: M = {S['sigma_steps']}, random offset ({profile}, 1 seed)",
)
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
profiles.save_figure(fig, dirs.figures, "fig11a_accuracy_vs_sigma")
TABLE3 = K.table3_rows(S["sigmas"], sig_cells, sig_runs, SIG, VAL)
for row in TABLE3:
    print(row)

# %% [markdown]
# ## Fig. 13a: accuracy against the test-time M (model trained with M = 15, random offset, |E| = 4; App. E)

# %%
m13 = G[(4.0, S["f4_m15"], "random")][0].model()
x13, y13 = x_te[: S["m13_n"]], y_te[: S["m13_n"]]
T13 = K.test_m_curve(m13, x13, y13, S["test_ms"], S["test_repeats"])
fig, ax = plt.subplots(figsize=(5, 3.6))
ms = S["test_ms"]
ax.errorbar(ms, [np.mean(T13[m]) for m in ms], yerr=[np.std(T13[m]) for m in ms], marker="o", capsize=3)
ax.set(
    xscale="log",
    xlabel="DSTD steps M at test",
    ylabel="test accuracy (%)",
    title=f"Fig. 13a ({profile}; {S['test_repeats']} evaluations, random test offset)",
)
ax.set_xticks(ms, [str(m) for m in ms])
ax.xaxis.set_minor_formatter(NullFormatter())
ax.grid(alpha=0.3)
profiles.save_figure(fig, dirs.figures, "fig13a_accuracy_vs_test_steps")

# %% [markdown]
# ## Fig. 14a: the (α+, α-) weight-scaling grid of the ANN model at one |E| (on validation data; App. F)

# %%
alphas = X.scale_values(*S["grid"])
xg, yg = VAL[0][: S["grid_n"]], VAL[1][: S["grid_n"]]
GRID, BEST14, T14 = K.weight_scaling_panel(
    ann_models[0], (xg, yg), (x_te, y_te), S["grid_e_ann"], alphas, test_steps=S["scale_test_steps"]
)
fig, ax = plt.subplots(figsize=(5, 4.2))
h = (alphas[1] - alphas[0]) / 2 if len(alphas) > 1 else 0.05
im = ax.imshow(
    GRID,
    origin="lower",
    extent=(alphas[0] - h, alphas[-1] + h, alphas[0] - h, alphas[-1] + h),
    cmap="viridis",
    aspect="auto",
)
ax.plot(BEST14[1], BEST14[0], "b*", ms=14, mec="w")
ax.set(
    xlabel="α− (negative weights)",
    ylabel="α+ (positive weights)",
    title=f"Fig. 14a: ANN at |E| = {S['grid_e_ann']:g} ({profile}, validation)",
)
fig.colorbar(im, label="validation accuracy (%)")
profiles.save_figure(fig, dirs.figures, "fig14a_weight_scaling_grid")
print(f"best (a+, a-) = {BEST14} on validation; on test: {T14}")

# %% [markdown]
# ## The claims, decided by 95 % t-intervals

# %%
STATS = K.claim_statistics(G, F4, BASELINES, SIG, T13, S)
PEN = STATS["fixed_offset_penalty"]
CLAIMS = K.claims(STATS, S)
for k, v in CLAIMS.items():
    print(f"{k}: {v}")
for m, g in PEN.items():
    print(
        f"fixed-offset penalty |E|=1 M={m}: {g['mean']:.2f} ± {g['std']:.2f} pt "
        f"(95 % CI {g['lo']:.2f}..{g['hi']:.2f},"
        f" {len(g['seeds'])} seeds)"
    )

# %% [markdown]
# ## Results file

# %%
WALL = time.perf_counter() - T_START
ALL_RUNS = K.unique_runs(headline_runs, runs, sig_runs)
RUN_COMPUTE = K.run_compute_s(ALL_RUNS.values())
FROM_SCRATCH = K.from_scratch_s(WALL, RUN_TIMES, RUN_COMPUTE)
print(f"{len(ALL_RUNS)} runs; this execution {WALL / 60:.1f} min; from scratch ~{FROM_SCRATCH / 60:.1f} min")
comparison = K.comparison_rows(
    s=S,
    base=BASE,
    headline_config=H,
    headline=HEADLINE,
    n_headline_train=N_HEAD,
    stats=STATS,
    claim_states=CLAIMS,
    f4=F4,
    n_ann=len(ann_models),
    early=EARLY,
    table3=TABLE3,
)
payload = K.results_payload(
    profile=profile,
    s=S,
    base=BASE,
    headline_run=headline_runs[0],
    wall_time={
        "notebook_from_scratch_s": round(FROM_SCRATCH, 1),
        "this_execution_s": round(WALL, 1),
        "training_runs": len(ALL_RUNS),
        "runs_train_plus_eval_s": round(RUN_COMPUTE, 1),
        "baselines_s": round(BASELINE_S, 1),
        "headline_train_s_per_epoch": round(sec_per_epoch, 1),
        "threads": THREADS,
    },
    groups=G,
    f4=F4,
    baselines=BASELINES,
    early=EARLY,
    sig=SIG,
    table3=TABLE3,
    t13=T13,
    alphas=alphas,
    best14=BEST14,
    t14=T14,
    claim_states=CLAIMS,
    stats=STATS,
    comparison=comparison,
)
path = profiles.write_json(dirs.results / "fmnist_mlp.json", payload, profile=profile)
print(f"wrote {path}; notebook wall time {WALL / 60:.1f} min")

# %% [markdown]
# ## Checks (each can fail; none asserts a paper claim, which is reported above as resolved or not)

# %%
assert all(np.isfinite(e["train_loss"]) for r in ALL_RUNS.values() for e in r.epochs)
# the recorded test accuracy is what the stored model gives on the test tensors (cache / checkpoint integrity)
REEVAL = evaluate(headline_runs[0].model(), *X.cached_data(H)[2:], seed=H.seed)
assert abs(REEVAL - headline_runs[0].final_accuracy) < 1e-12, (REEVAL, headline_runs[0].final_accuracy)
# the validation split is carved from the training split, disjoint from the images trained on
tr_idx, val_idx = split_indices(60_000, BASE)
assert len(val_idx) == BASE.val_size and not set(tr_idx.tolist()) & set(val_idx.tolist())
# every verdict follows from its interval
assert all(v in K.VERDICT for v in CLAIMS.values()), CLAIMS
if profile != "smoke":
    # learning works at all (a regression check, not a paper claim): 10 classes, chance is 10 %; quick runs on
    # 6k images for 3 epochs measured 82-86 % at |E| = 4 (10k images: 85.5 %).
    assert HEADLINE >= 78.0, HEADLINE
print("all checks passed")
