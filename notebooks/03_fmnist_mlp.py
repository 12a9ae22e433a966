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
# baselines live in `imcpnn.repro.fmnist_mlp`; this notebook only plots and checks.
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
from tqdm import tqdm

from imcpnn.repro import fmnist_mlp as X
from imcpnn.repro import profiles
from imcpnn.repro.paper import FMNIST_MLP as P
from imcpnn.repro.report import comparison_row
from imcpnn.train import TrainConfig, evaluate, layer_spike_times, split_indices

T_START = time.perf_counter()
profiles.check_profile(profile)
dirs = profiles.output_dirs(profile)
THREADS = X.default_threads()
torch.set_num_threads(THREADS)
S = X.settings(profile)
BASE = TrainConfig(**S["base"])
print(profile, BASE, f"threads={THREADS}")
RUN_TIMES: dict[str, float] = {}


def train_all(configs, desc):
    """Train (or read back) every config, the missing ones as jobs of the executor (`make ... EXECUTOR= WORKERS=`,
    default: one after the other in this process); returns the RunResults in order."""
    t0 = time.perf_counter()
    out = X.run_many(configs, profile, threads=THREADS, desc=desc)
    RUN_TIMES[desc] = RUN_TIMES.get(desc, 0.0) + time.perf_counter() - t0
    return out


def pct(runs):
    """Per-seed final test accuracies in %."""
    return {r.config.seed: 100 * r.final_accuracy for r in runs}


def mean_std(runs):
    a = np.array(list(pct(runs).values()))
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0


# %% [markdown]
# ## Headline: |E| = 4, M = 3, random offset

# %%
headline_runs = train_all([BASE.replace(e_rev=4.0, steps=3, offset="random", seed=0, **S["headline"])], "headline")
HEADLINE = 100 * headline_runs[0].final_accuracy
H = headline_runs[0].config
sec_per_epoch = headline_runs[0].seconds_per_epoch
N_HEAD = len(X.cached_data(H)[1])
print(f"headline accuracy {HEADLINE:.2f} % ({H.epochs} epochs); {sec_per_epoch:.1f} s/epoch (train)")

# %% [markdown]
# ## Fig. 4c, 4e, 4f: the M x offset grid and the |E| sweeps (σ_spike = 0.01)

# %%
cells = X.grid_cells(S)
runs = train_all([BASE.replace(e_rev=e, steps=m, offset=off, seed=sd) for e, m, off, sd in cells], "Fig. 4 runs")
G: dict[tuple, list] = {}
for (e, m, off, _sd), r in zip(cells, runs):
    G.setdefault((e, m, off), []).append(r)

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
        a = np.array([mean_std(G[(e, m, off)]) for m in S["grid_m"]])
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
F4 = {m: {e: G[(e, m, "random")] for e in S["f4_m3_e" if m == 3 else "f4_m15_e"]} for m in (3, S["f4_m15"])}

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, m in zip(axes, (S["f4_m15"], 3)):
    es = sorted(F4[m])
    for e in es:  # every seed, then the mean and its 95 % t-interval
        ax.plot([e] * len(F4[m][e]), list(pct(F4[m][e]).values()), "k.", alpha=0.4)
    ci = [X.t_interval(list(pct(F4[m][e]).values())) for e in es]
    lo = [c["mean"] - c["lo"] if np.isfinite(c["lo"]) else 0 for c in ci]
    ax.errorbar(es, [c["mean"] for c in ci], yerr=lo, marker="o", capsize=3, label=f"trained at |E| (M={m})")
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
    EARLY[e] = float(torch.cat([t.flatten() for t in times[:-1]]).lt(0.5).float().mean())
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
sig_runs = train_all(
    [BASE.replace(e_rev=e, steps=S["sigma_steps"], offset="random", sigma_spike=sg, seed=0) for sg, e in sig_cells],
    "σ sweep",
)
SIG = {k: 100 * r.final_accuracy for k, r in zip(sig_cells, sig_runs)}
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
TABLE3 = []
for sg in S["sigmas"]:
    best_e, val_acc = X.best_on_validation({e: r.model() for (s2, e), r in zip(sig_cells, sig_runs) if s2 == sg}, VAL)
    TABLE3.append(
        {
            "sigma_spike": sg,
            "best_erev_on_validation": best_e,
            "test_accuracy": SIG[(sg, best_e)],
            "validation_accuracy": {str(e): 100 * v for e, v in val_acc.items()},
        }
    )
    print(TABLE3[-1])

# %% [markdown]
# ## Fig. 13a: accuracy against the test-time M (model trained with M = 15, random offset, |E| = 4; App. E)

# %%
m13 = G[(4.0, S["f4_m15"], "random")][0].model()
x13, y13 = x_te[: S["m13_n"]], y_te[: S["m13_n"]]
T13 = {
    mt: [100 * evaluate(m13, x13, y13, test_steps=mt, test_offset="random", seed=k) for k in range(S["test_repeats"])]
    for mt in tqdm(S["test_ms"], desc="test M")
}
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
GRID = X.scale_grid(ann_models[0], xg, yg, S["grid_e_ann"], alphas, test_steps=S["scale_test_steps"]) * 100
i, j = np.unravel_index(np.argmax(GRID), GRID.shape)
BEST14 = (alphas[i], alphas[j])
T14 = {
    "unscaled": 100 * evaluate(ann_models[0], x_te, y_te, e_rev=S["grid_e_ann"]),
    "best": 100 * evaluate(ann_models[0], x_te, y_te, e_rev=S["grid_e_ann"], weight_scale=BEST14),
}
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
M15 = S["f4_m15"]
PEN = {m: X.paired_gap(pct(G[(1.0, m, "random")]), pct(G[(1.0, m, "fixed")])) for m in S["penalty_m"]}
EQ = {
    e: X.welch_gap(list(pct(G[(e, 3, "random")]).values()), list(pct(G[(e, M15, "random")]).values()))
    for e in (4.0, 1.0)
}
DROP = {m: X.welch_gap(list(pct(F4[m][max(F4[m])]).values()), list(pct(F4[m][1.0]).values())) for m in F4}
SLOPE = {
    m: X.slope_interval(
        [np.log10(e) for e in F4[m] for _ in F4[m][e]], [a for e in F4[m] for a in pct(F4[m][e]).values()]
    )
    for m in F4
}
e_lo, e_hi = min(S["scale_e"]), max(S["scale_e"])
SC_DEG = X.t_interval([100 * (h - lo) for h, lo in zip(BASELINES[e_hi]["scaled_ann"], BASELINES[e_lo]["scaled_ann"])])
SC_GAIN = X.t_interval([100 * (s - a) for s, a in zip(BASELINES[e_lo]["scaled_ann"], BASELINES[e_lo]["ann"])])
TR_VS_SC = X.welch_gap(list(pct(F4[3][e_lo]).values()), [100 * v for v in BASELINES[e_lo]["scaled_ann"]])
SIG_TREND = X.t_interval([SIG[(sg, max(S["sigma_e"]))] - SIG[(sg, min(S["sigma_e"]))] for sg in S["sigmas"]])
SAT13 = X.t_interval([a - b for a, b in zip(T13[max(S["test_ms"])], T13[sorted(S["test_ms"])[-2]])])
VERDICT = {
    "resolved": "reproduced",
    "resolved, opposite sign": "not reproduced",
    "resolved, not equal": "not reproduced",
    "not resolved at this budget": "not reproduced",
}
CLAIMS = {
    **{f"fixed-offset penalty, |E|=1, M={m}": X.sign_verdict(PEN[m]) for m in PEN},
    **{f"M=3 ≈ M={M15} (random), |E|={e:g}, within ±1 pt": X.equivalence_verdict(EQ[e], 1.0) for e in EQ},
    **{
        f"drop at |E|=1 ≤ 1 pt, M={m}": (
            "resolved"
            if DROP[m]["hi"] <= 1.0
            else "resolved, opposite sign"
            if DROP[m]["lo"] > 1.0
            else "not resolved at this budget"
        )
        for m in DROP
    },
    **{f"accuracy rises with log|E|, M={m}": X.sign_verdict(SLOPE[m]) for m in SLOPE},
    f"scaled ANN degrades from |E|={e_hi:g} to {e_lo:g}": X.sign_verdict(SC_DEG),
    f"scaling helps the ANN at |E|={e_lo:g}": X.sign_verdict(SC_GAIN),
    f"trained beats scaled ANN at |E|={e_lo:g}": X.sign_verdict(TR_VS_SC),
    f"Fig. 11a: |E|={max(S['sigma_e']):g} beats |E|={min(S['sigma_e']):g} (paired over σ)": X.sign_verdict(SIG_TREND),
    f"Fig. 13a: test M={max(S['test_ms'])} ≈ M={sorted(S['test_ms'])[-2]} within ±0.5 pt": X.equivalence_verdict(
        SAT13, 0.5
    ),
}
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
ALL_RUNS = {str(r.path): r for r in [*headline_runs, *runs, *sig_runs]}
RUN_COMPUTE = sum(e["train_time_s"] + e["eval_time_s"] for r in ALL_RUNS.values() for e in r.epochs)
FROM_SCRATCH = WALL - sum(RUN_TIMES.values()) + RUN_COMPUTE
print(f"{len(ALL_RUNS)} runs; this execution {WALL / 60:.1f} min; from scratch ~{FROM_SCRATCH / 60:.1f} min")


def ours(extra: str, seeds: int | str = 1, **kw) -> str:
    c = BASE.replace(**kw)
    frac = f"{c.train_subset or 60_000 - c.val_size} train / {c.test_subset or 10_000} test images"
    return f"{extra}; {c.epochs} epochs, {frac}, lr {c.lr:g} {c.lr_schedule}, batch {c.batch_size}; seeds: {seeds}"


def ci_text(g) -> str:
    return f"{g['mean']:+.2f} pt (95 % CI {g['lo']:+.2f}..{g['hi']:+.2f})"


def claim_row(fig_, name, ref, value, claim_key, settings, note=""):
    state = CLAIMS[claim_key]
    return comparison_row(fig_, name, ref, value, VERDICT[state], settings, note=f"{state}. {note}".strip())


budget = f"not comparable (different setting: {BASE.epochs} epochs on {BASE.train_subset} images vs 50 on 60k"
comparison = [
    comparison_row(
        "Table 3 / Fig. 4",
        "test accuracy, |E|=4, M=3, random offset (headline)",
        P["t3_sigma0.01"],
        round(HEADLINE, 2),
        f"not comparable (different setting: {H.epochs} epochs on {N_HEAD} images, M = 3, "
        "|E| = 4 vs Table 3 best: 50 epochs on 60k, M = 10, |E| = 30.7)",
        ours("M = 3, |E| = 4, σ = 0.01", 1, **S["headline"]),
        unit="%",
    ),
    *[
        claim_row(
            "Fig. 4c/e",
            f"|E|=1, M={m}: random minus fixed offset",
            P["fixed_offset_penalty"],
            ci_text(PEN[m]),
            f"fixed-offset penalty, |E|=1, M={m}",
            ours(f"M = {m}, |E| = 1", len(PEN[m]["seeds"])),
            note=f"paired over seeds; std {PEN[m]['std']:.2f} pt",
        )
        for m in PEN
    ],
    *[
        claim_row(
            "Fig. 4c/e",
            f"|E|={e:g}: M=3 minus M={M15} (random offset)",
            P["m3_equals_m15"],
            ci_text(EQ[e]),
            f"M=3 ≈ M={M15} (random), |E|={e:g}, within ±1 pt",
            ours(f"|E| = {e:g}", f"{EQ[e]['na']} (M=3), {EQ[e]['nb']} (M={M15})"),
            note="equivalence margin ±1 pt (our choice); Welch interval",
        )
        for e in EQ
    ],
    *[
        claim_row(
            "Fig. 4f",
            f"M={m}: accuracy at |E|={max(F4[m]):g} minus |E|=1",
            P["drop_at_e1"],
            ci_text(DROP[m]),
            f"drop at |E|=1 ≤ 1 pt, M={m}",
            ours(f"M = {m}, |E| ∈ {sorted(F4[m])}", len(F4[m][1.0])),
        )
        for m in DROP
    ],
    *[
        claim_row(
            "Fig. 4f",
            f"M={m}: slope of accuracy vs log10|E|",
            P["monotonic_in_e"],
            f"{SLOPE[m]['mean']:+.2f} pt/decade (95 % CI {SLOPE[m]['lo']:+.2f}..{SLOPE[m]['hi']:+.2f})",
            f"accuracy rises with log|E|, M={m}",
            ours(f"M = {m}, |E| ∈ {sorted(F4[m])}", "see Fig. 4f"),
        )
        for m in SLOPE
    ],
    claim_row(
        "Fig. 4f / App. F",
        f"scaled ANN: |E|={e_hi:g} minus |E|={e_lo:g}",
        P["scaled_ann"],
        ci_text(SC_DEG),
        f"scaled ANN degrades from |E|={e_hi:g} to {e_lo:g}",
        ours("ANN = |E| = 100, M = 3; scales chosen on 1k validation images", len(ann_models)),
    ),
    claim_row(
        "Fig. 4f / App. F",
        f"|E|={e_lo:g}: trained minus scaled ANN",
        P["scaled_ann"],
        ci_text(TR_VS_SC),
        f"trained beats scaled ANN at |E|={e_lo:g}",
        ours("M = 3", f"{len(F4[3][e_lo])} / {len(ann_models)}"),
    ),
    claim_row(
        "Fig. 14a / App. F",
        f"|E|={e_lo:g}: scaled minus unscaled ANN",
        P["weight_scaling_helps"],
        ci_text(SC_GAIN),
        f"scaling helps the ANN at |E|={e_lo:g}",
        ours("ANN at M = 3", len(ann_models)),
    ),
    comparison_row(
        "Fig. 4d",
        "fraction of hidden-layer spikes before t = 0.5, |E| = " + ", ".join(f"{e:g}" for e in EARLY),
        P["early_spikes"],
        " / ".join(f"{v:.3f}" for v in EARLY.values()),
        "reproduced" if EARLY[max(EARLY)] > EARLY[min(EARLY)] else "not reproduced",
        ours("M = 3, seed 0", 1),
        note="one model per |E|; no interval",
    ),
    claim_row(
        "Fig. 11a",
        f"|E|={max(S['sigma_e']):g} minus |E|={min(S['sigma_e']):g}, mean over σ",
        P["sigma_trend"],
        ci_text(SIG_TREND),
        list(CLAIMS)[-2],
        ours(f"M = {S['sigma_steps']}, σ ∈ {S['sigmas']}", 1),
        note="only two |E| values: the peak position is not tested",
    ),
    *[
        comparison_row(
            "Table 3 (MLP)",
            f"best accuracy over |E|, σ_spike={r['sigma_spike']:g}",
            P[f"t3_sigma{r['sigma_spike']:g}"],
            f"{r['test_accuracy']:.2f} % at |E|={r['best_erev_on_validation']:g}",
            f"{budget}, |E| grid {S['sigma_e']} vs the paper's finer grid)",
            ours(f"M = {S['sigma_steps']}, best |E| chosen on validation", 1),
        )
        for r in TABLE3
    ],
    claim_row(
        "Fig. 13a / App. E",
        f"test M={max(S['test_ms'])} minus M={sorted(S['test_ms'])[-2]}",
        P["test_m"],
        ci_text(SAT13),
        list(CLAIMS)[-1],
        ours(f"trained at M = {M15}, |E| = 4", f"{S['test_repeats']} evaluations"),
    ),
]
payload = {
    "title": f"Fashion-MNIST RC-Spike MLP 784-400-400-10 ({profile}-profile output)",
    "settings": {"base": BASE.to_dict(), "headline": H.to_dict(), "budget": S},
    "wall_time": {
        "notebook_from_scratch_s": round(FROM_SCRATCH, 1),
        "this_execution_s": round(WALL, 1),
        "training_runs": len(ALL_RUNS),
        "runs_train_plus_eval_s": round(RUN_COMPUTE, 1),
        "baselines_s": round(BASELINE_S, 1),
        "headline_train_s_per_epoch": round(sec_per_epoch, 1),
        "threads": THREADS,
    },
    "headline": {
        "e_rev": 4.0,
        "steps": 3,
        "offset": "random",
        "accuracy": HEADLINE,
        "curve": [100 * a for a in headline_runs[0].curve],
    },
    "fig4c_4e": [
        {
            "e_rev": e,
            "steps": m,
            "offset": off,
            "per_seed": pct(G[(e, m, off)]),
            "curves": [[100 * a for a in r.curve] for r in G[(e, m, off)]],
        }
        for (e, m, off) in G
    ],
    "fig4f": {
        "trained": {str(m): {str(e): pct(v) for e, v in F4[m].items()} for m in F4},
        "baselines": {str(e): v for e, v in BASELINES.items()},
    },
    "fig4d_early_fraction": {str(e): v for e, v in EARLY.items()},
    "fig11a": [{"sigma_spike": sg, "e_rev": e, "accuracy": v} for (sg, e), v in SIG.items()],
    "table3_mlp": TABLE3,
    "fig13a": {str(m): v for m, v in T13.items()},
    "fig14a": {"e_rev": S["grid_e_ann"], "alphas": alphas, "best_on_validation": list(BEST14), "test": T14},
    "claims": CLAIMS,
    "statistics": {
        "fixed_offset_penalty": {str(m): g for m, g in PEN.items()},
        "m3_vs_m15": {str(e): g for e, g in EQ.items()},
        "drop_at_e1": {str(m): g for m, g in DROP.items()},
        "slope": {str(m): g for m, g in SLOPE.items()},
        "scaled_ann_degradation": SC_DEG,
        "scaling_gain": SC_GAIN,
        "trained_vs_scaled": TR_VS_SC,
        "sigma_trend": SIG_TREND,
        "test_m_saturation": SAT13,
    },
    "paper_comparison": comparison,
}
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
assert all(v in VERDICT for v in CLAIMS.values()), CLAIMS
if profile != "smoke":
    # learning works at all (a regression check, not a paper claim): 10 classes, chance is 10 %; quick runs on
    # 6k images for 3 epochs measured 82-86 % at |E| = 4 (10k images: 85.5 %).
    assert HEADLINE >= 78.0, HEADLINE
print("all checks passed")
