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
# # Fashion-MNIST, fully connected RC-Spike 784-400-400-10 (Fig. 4c-f, 11a, 13a, 14a; Table 3 MLP rows)
#
# Trains the RC-Spike MLP of §3.2 with DSTD and regenerates the figures of the Fashion-MNIST MLP experiments.
# Runs are cached by config under `runs/<profile>/<hash>/` (`build/smoke/runs` for smoke): re-executing the
# notebook only re-plots. Headline numbers go to `results/fmnist_mlp.json`; `make report` tables them.
#
# **Profiles.** `paper`: the paper's settings (60k/10k, 50 epochs, Adam lr 1e-4 constant, batch 32, 5 seeds,
# full sweeps; sized for a GPU). `quick` (what the committed figures show): 1 seed, Adam **lr 1e-3 with a
# cosine decay, batch 128** (the paper's lr 1e-4 / batch 32 needs tens of epochs; this CPU affords a few);
# the headline run (|E| = 4, M = 3, random offset) trains on all 60k images for 4 epochs and is tested on all
# 10k; the sweeps train on a 10k subset for 3 epochs and test on a 2k subset; 3 seeds for the M <= 3 runs of
# Fig. 4c/e, 1 seed elsewhere; fewer sweep points; Fig. 11a at M = 3 instead of 10; the scaled-ANN scales are
# chosen on 300 test images at test M = 10 (coarse 0.3 grid, then a greedy walk on the 0.1 grid), then scored
# on the 2k test subset at M = 30. `smoke`: seconds, for CI.
#
# **Choices where the paper is silent** (see `imcpnn.models`): He-uniform init, no bias; spike noise after
# every layer (output included), not on the encoded input; the output layer is read out as t = 1 - v(1)
# without the clip to the firing phase (with the clip, training collapses: every output goes silent).
# Test: M = 30 with a fixed offset (App. E), noise sigma_spike at test as in training.
#
# **What the quick profile does not reproduce** (a budget of ~0.2 % of the paper's updates): the accuracies are
# ~4-5 pt below the paper's (85-86 % for the 10k-subset sweeps, 89 % for the full headline run vs 90.4 %); the
# MLP accuracy does not rise monotonically with |E| (it is flat within ~1 pt for |E| <= 10 and lower at
# |E| = 100); sigma_spike = 0.04 costs ~4 pt instead of ~0.3 pt; at M = 3 the fixed-offset penalty is only
# ~0.5 pt (it is clear at M = 2). The last cell asserts the claims that are reproduced.

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
from imcpnn.train import TrainConfig, evaluate, layer_spike_times

T_START = time.perf_counter()
profiles.check_profile(profile)
dirs = profiles.output_dirs(profile)
THREADS = X.default_threads()
torch.set_num_threads(THREADS)

S = {
    "smoke": dict(
        seeds=[0], curve_seeds=[0],
        base=dict(train_subset=256, test_subset=128, epochs=1, batch_size=64, lr=1e-3,
                  lr_schedule="cosine", test_steps=10),
        headline=dict(),
        e_curves=[4.0, 1.0], m_curves=[3, 6], m_sweep=[3], e_sweep=[1.0, 4.0, 100.0],
        sigmas=[0.0], sigma_e=[4.0], sigma_steps=3, test_ms=[3, 10], test_repeats=2,
        grid_e=2.0, grid=(0.8, 1.2, 0.2), grid_n=64, grid_test_steps=5, scale_e=[1.0, 4.0],
        scale_n=64, hist_e=[1.0, 100.0], hist_n=128,
    ),
    "quick": dict(
        seeds=[0], curve_seeds=[0, 1, 2],
        base=dict(train_subset=10_000, test_subset=2_000, epochs=3, batch_size=128, lr=1e-3,
                  lr_schedule="cosine", test_steps=30),
        headline=dict(train_subset=None, test_subset=None, epochs=4),
        e_curves=[4.0, 1.0], m_curves=[3, 15], m_sweep=[2, 3, 15], e_sweep=[1.0, 2.0, 4.0, 10.0, 100.0],
        sigmas=[0.0, 0.01, 0.04], sigma_e=[1.0, 4.0, 10.0], sigma_steps=3, test_ms=[2, 3, 5, 10, 15, 30],
        test_repeats=3, grid_e=2.0, grid=(0.5, 3.0, 0.1), grid_n=300, grid_test_steps=10,
        scale_e=[1.0, 2.0, 4.0, 10.0], scale_n=300, hist_e=[1.0, 2.0, 4.0, 10.0, 100.0], hist_n=1000,
    ),
    "paper": dict(
        seeds=[0, 1, 2, 3, 4], curve_seeds=[0, 1, 2, 3, 4],
        base=dict(train_subset=None, test_subset=None, epochs=50, batch_size=32,
                  lr=1e-4, lr_schedule="constant", test_steps=30),
        headline=dict(),
        e_curves=[4.0, 1.0], m_curves=[3, 15], m_sweep=[2, 3, 4, 6, 10, 15, 30],
        e_sweep=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 30.7, 100.0],
        sigmas=[0.0, 0.005, 0.01, 0.02, 0.04], sigma_e=[1.0, 2.0, 4.0, 8.4, 30.7, 100.0], sigma_steps=10,
        test_ms=[2, 3, 4, 6, 10, 15, 20, 30, 40], test_repeats=10, grid_e=2.0, grid=(0.5, 3.0, 0.1),
        grid_n=10_000, grid_test_steps=30, scale_e=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0], scale_n=10_000,
        hist_e=[1.0, 2.0, 4.0, 10.0, 100.0], hist_n=10_000,
    ),
}[profile]
BASE = TrainConfig(**S["base"])
print(profile, BASE, f"threads={THREADS}")

RUN_TIMES: dict[str, float] = {}


def train_all(configs, desc):
    """Train (or read back) every config; returns the RunResults in order."""
    out = []
    for c in tqdm(configs, desc=desc):
        t0 = time.perf_counter()
        out.append(X.run(c, profile, threads=THREADS, progress=False))
        RUN_TIMES[c.key()] = time.perf_counter() - t0
    return out


def acc(runs):
    """Mean and std of the final test accuracy over seeds, in %."""
    a = np.array([r.final_accuracy for r in runs]) * 100
    return float(a.mean()), float(a.std())


def cfg(**kw):
    return BASE.replace(**kw)


# %% [markdown]
# ## Headline: |E| = 4, M = 3, random offset

# %%
headline_runs = train_all([cfg(e_rev=4.0, steps=3, offset="random", seed=s, **S["headline"]) for s in S["seeds"]],
                          "headline")
HEADLINE = acc(headline_runs)
sec_per_epoch = float(np.mean([r.seconds_per_epoch for r in headline_runs]))
print(f"headline accuracy {HEADLINE[0]:.2f} % (paper 90.4 % after 50 epochs); {sec_per_epoch:.1f} s/epoch (train)")

# %% [markdown]
# ## Fig. 4c, 4e: learning curves and accuracy against M (random vs fixed offset)

# %%
m_all = sorted(set(S["m_curves"]) | set(S["m_sweep"]))
grid_runs = {}
# several seeds for the cheap small-M runs (the offset effect is small at this budget), one for M = 15
configs = [(e, m, off, s) for e in S["e_curves"] for m in m_all for off in ("random", "fixed")
           for s in (S["curve_seeds"] if m <= 3 else S["seeds"])]  # fmt: skip
results = train_all([cfg(e_rev=e, steps=m, offset=off, seed=s) for e, m, off, s in configs], "M x offset")
for key, r in zip(configs, results):
    grid_runs.setdefault(key[:3], []).append(r)

fig, axes = plt.subplots(1, len(S["e_curves"]), figsize=(5 * len(S["e_curves"]), 3.6), sharey=True)
for ax, e in zip(np.atleast_1d(axes), S["e_curves"]):
    for m in S["m_curves"]:
        for off, ls in (("random", "-"), ("fixed", "--")):
            curves = np.array([r.curve for r in grid_runs[(e, m, off)]]) * 100
            x = np.arange(1, curves.shape[1] + 1)
            ax.errorbar(x, curves.mean(0), yerr=curves.std(0), ls=ls, marker="o", ms=3, label=f"M={m}, {off}")
    ax.set(title=f"|E| = {e:g}", xlabel="epoch", ylabel="test accuracy (%)", xticks=x)
    ax.grid(alpha=0.3)
np.atleast_1d(axes)[0].legend(fontsize=8)
fig.suptitle(f"Fig. 4c: learning curves ({profile} profile)")
profiles.save_figure(fig, dirs.figures, "fig4c_learning_curves")

fig, axes = plt.subplots(1, len(S["e_curves"]), figsize=(5 * len(S["e_curves"]), 3.6), sharey=True)
for ax, e in zip(np.atleast_1d(axes), S["e_curves"]):
    for off, ls in (("random", "-"), ("fixed", "--")):
        ms = [m for m in m_all]
        a = np.array([acc(grid_runs[(e, m, off)]) for m in ms])
        ax.errorbar(ms, a[:, 0], yerr=a[:, 1], ls=ls, marker="o", label=f"{off} offset")
    ax.set(title=f"|E| = {e:g}", xlabel="DSTD steps M (training)", ylabel="test accuracy (%)", xscale="log")
    ax.set_xticks(ms, [str(m) for m in ms])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3)
np.atleast_1d(axes)[0].legend()
fig.suptitle(f"Fig. 4e: accuracy vs M ({profile} profile)")
profiles.save_figure(fig, dirs.figures, "fig4e_accuracy_vs_steps")

# %% [markdown]
# ## Fig. 4f: accuracy against |E|, with the ANN and scaled-ANN baselines (App. F)

# %%
configs = [(e, s) for e in S["e_sweep"] for s in S["seeds"]]
results = train_all([cfg(e_rev=e, steps=3, offset="random", seed=s) for e, s in configs], "|E| sweep")
e_runs = {}
for (e, _s), r in zip(configs, results):
    e_runs.setdefault(e, []).append(r)
E_ACC = {e: acc(e_runs[e]) for e in S["e_sweep"]}

# ANN: the |E| = 100 model of each seed evaluated at the other |E|; scaled ANN: (alpha+, alpha-) per |E|.
data = X.cached_data(BASE)
x_te, y_te = data[2], data[3]
x_val, y_val = x_te[: S["scale_n"]], y_te[: S["scale_n"]]
ann_models = [r.model() for r in e_runs[100.0]]
ANN, SCALED, SCALES = {}, {}, {}
for e in tqdm(S["scale_e"], desc="ANN / scaled ANN"):
    ann_acc, sc_acc, sc = [], [], []
    for m in ann_models:
        ann_acc.append(evaluate(m, x_te, y_te, e_rev=e))
        # coarse grid (0.3 steps), then a greedy walk on the 0.1 grid from its best point
        coarse_a = X.scale_values(0.6, 3.0, 0.3)
        coarse = X.scale_grid(m, x_val, y_val, e, coarse_a, test_steps=S["grid_test_steps"])
        ci, cj = np.unravel_index(np.argmax(coarse), coarse.shape)
        (a_pos, a_neg), _, _ = X.scale_search(m, x_val, y_val, e, start=(coarse_a[ci], coarse_a[cj]),
                                              test_steps=S["grid_test_steps"])  # fmt: skip
        sc.append((a_pos, a_neg))
        sc_acc.append(evaluate(m, x_te, y_te, e_rev=e, weight_scale=(a_pos, a_neg)))
    ANN[e] = (100 * np.mean(ann_acc), 100 * np.std(ann_acc))
    SCALED[e] = (100 * np.mean(sc_acc), 100 * np.std(sc_acc))
    SCALES[e] = sc
    print(f"|E|={e:g}: trained {E_ACC.get(e, (np.nan,))[0]:.2f} %, ANN {ANN[e][0]:.2f} %, "
          f"scaled ANN {SCALED[e][0]:.2f} % at (a+, a-) = {sc}")

fig, ax = plt.subplots(figsize=(5.5, 3.8))
es = S["e_sweep"]
a = np.array([E_ACC[e] for e in es])
ax.errorbar(es, a[:, 0], yerr=a[:, 1], marker="o", label="trained at |E| (M=3, random)")
se = S["scale_e"]
ax.plot(se + [100.0], [ANN[e][0] for e in se] + [E_ACC[100.0][0]], "g-", marker="s", label="ANN (trained at |E|=100)")
ax.plot(se, [SCALED[e][0] for e in se], "g--", marker="^", label="scaled ANN")
ax.set(xscale="log", xlabel="|E±rev|", ylabel="test accuracy (%)", title=f"Fig. 4f ({profile} profile)")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
profiles.save_figure(fig, dirs.figures, "fig4f_accuracy_vs_erev")

# %% [markdown]
# ## Fig. 4d: spike-time histograms per layer

# %%
hist_models = {e: e_runs[e][0].model() for e in S["hist_e"]}
x_h = x_te[: S["hist_n"]]
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
bins = np.linspace(0, 1, 41)
EARLY = {}  # fraction of hidden-layer spikes before t = 0.5, per |E|
for e, m in hist_models.items():
    times = layer_spike_times(m, x_h)
    EARLY[e] = float(torch.cat([t.flatten() for t in times[:-1]]).lt(0.5).float().mean())
    for li, (ax, t) in enumerate(zip(axes, times)):
        ax.hist(t.flatten().clamp(0, 1).numpy(), bins=bins, histtype="step", density=True, label=f"|E|={e:g}")
        ax.set(title=f"layer {li + 1}", xlabel="spike time", yscale="log")
axes[0].set_ylabel("density")
axes[-1].legend(fontsize=8)
fig.suptitle(f"Fig. 4d: output spike times per layer ({profile} profile; output layer clipped to [0, 1] for display)")
profiles.save_figure(fig, dirs.figures, "fig4d_spike_histograms")

# %% [markdown]
# ## Fig. 11a and Table 3: spike-noise sweep

# %%
configs = [(sg, e, s) for sg in S["sigmas"] for e in S["sigma_e"] for s in S["seeds"]]
results = train_all([cfg(e_rev=e, steps=S["sigma_steps"], offset="random", sigma_spike=sg, seed=s)
                     for sg, e, s in configs], "sigma sweep")  # fmt: skip
sig_runs = {}
for (sg, e, _s), r in zip(configs, results):
    sig_runs.setdefault((sg, e), []).append(r)
SIG_ACC = {k: acc(v) for k, v in sig_runs.items()}

fig, ax = plt.subplots(figsize=(5.5, 3.8))
for sg in S["sigmas"]:
    a = np.array([SIG_ACC[(sg, e)] for e in S["sigma_e"]])
    ax.errorbar(S["sigma_e"], a[:, 0], yerr=a[:, 1], marker="o", label=f"σ_spike = {sg:g}")
ax.set(xscale="log", xlabel="|E±rev|", ylabel="test accuracy (%)",
       title=f"Fig. 11a: M={S['sigma_steps']}, random offset ({profile})")  # fmt: skip
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
profiles.save_figure(fig, dirs.figures, "fig11a_accuracy_vs_sigma")

PAPER_T3 = {0.0: (7.4, 90.46), 0.005: (30.7, 90.52), 0.01: (30.7, 90.40), 0.02: (8.4, 90.49), 0.04: (8.4, 90.12)}
TABLE3 = []
for sg in S["sigmas"]:
    best_e = max(S["sigma_e"], key=lambda e: SIG_ACC[(sg, e)][0])
    TABLE3.append({"sigma_spike": sg, "best_erev": best_e, "accuracy": SIG_ACC[(sg, best_e)][0],
                   "paper_erev": PAPER_T3[sg][0], "paper_accuracy": PAPER_T3[sg][1]})  # fmt: skip
for row in TABLE3:
    print(row)

# %% [markdown]
# ## Fig. 13a: accuracy against the test-time M (model trained with M = 15, random offset, |E| = 4)

# %%
m13 = grid_runs[(4.0, max(S["m_curves"]), "random")][0].model()
x13, y13 = x_te[: S["scale_n"] * 4], y_te[: S["scale_n"] * 4]
T13 = {}
for mt in tqdm(S["test_ms"], desc="test M"):
    vals = [evaluate(m13, x13, y13, test_steps=mt, test_offset="random", seed=k) for k in range(S["test_repeats"])]
    T13[mt] = (100 * np.mean(vals), 100 * np.std(vals))
fig, ax = plt.subplots(figsize=(5, 3.6))
ms = S["test_ms"]
ax.errorbar(ms, [T13[m][0] for m in ms], yerr=[T13[m][1] for m in ms], marker="o")
ax.set(xscale="log", xlabel="DSTD steps M at test", ylabel="test accuracy (%)",
       title=f"Fig. 13a ({profile}; {S['test_repeats']} evaluations, random test offset)")  # fmt: skip
ax.set_xticks(ms, [str(m) for m in ms])
ax.xaxis.set_minor_formatter(NullFormatter())
ax.grid(alpha=0.3)
profiles.save_figure(fig, dirs.figures, "fig13a_accuracy_vs_test_steps")

# %% [markdown]
# ## Fig. 14a: the (α+, α-) weight-scaling grid of the ANN model at one |E|

# %%
alphas = X.scale_values(*S["grid"])
GRID = X.scale_grid(ann_models[0], x_val, y_val, S["grid_e"], alphas, test_steps=S["grid_test_steps"]) * 100
i, j = np.unravel_index(np.argmax(GRID), GRID.shape)
fig, ax = plt.subplots(figsize=(5, 4.2))
im = ax.imshow(GRID, origin="lower", extent=(alphas[0] - 0.05, alphas[-1] + 0.05, alphas[0] - 0.05, alphas[-1] + 0.05),
               cmap="viridis", aspect="auto")  # fmt: skip
ax.plot(alphas[j], alphas[i], "b*", ms=14, mec="w")
ax.set(xlabel="α− (negative weights)", ylabel="α+ (positive weights)",
       title=f"Fig. 14a: ANN at |E| = {S['grid_e']:g} ({profile})")  # fmt: skip
fig.colorbar(im, label="accuracy (%)")
profiles.save_figure(fig, dirs.figures, "fig14a_weight_scaling_grid")
print(f"best (a+, a-) = ({alphas[i]:g}, {alphas[j]:g}): {GRID[i, j]:.2f} % vs unscaled "
      f"{GRID[alphas.index(1.0), alphas.index(1.0)] if 1.0 in alphas else float('nan'):.2f} %")

# %% [markdown]
# ## Results file and report

# %%
WALL = time.perf_counter() - T_START
# wall time of a run from scratch: this execution, minus the time spent reading back or training runs here, plus
# the recorded training + evaluation time of every run used (cached runs cost ~0 s in this execution)
ALL_RUNS = {r.path: r for rs in [headline_runs, *grid_runs.values(), *e_runs.values(), *sig_runs.values()] for r in rs}
RUN_COMPUTE = sum(e["train_time_s"] + e["eval_time_s"] for r in ALL_RUNS.values() for e in r.epochs)
FROM_SCRATCH = WALL - sum(RUN_TIMES.values()) + RUN_COMPUTE
small_m = [m for m in m_all if m <= 3]
gap_m = {(e, m): acc(grid_runs[(e, m, "random")])[0] - acc(grid_runs[(e, m, "fixed")])[0]
         for e in S["e_curves"] for m in small_m}  # fmt: skip
gap_small = {e: float(np.mean([gap_m[(e, m)] for m in small_m])) for e in S["e_curves"]}
print("random minus fixed offset (pt):", {f"|E|={e:g}, M={m}": round(v, 2) for (e, m), v in gap_m.items()})
print("early-spike fraction of hidden layers per |E|:", EARLY)
print(f"{len(ALL_RUNS)} runs; this execution {WALL / 60:.1f} min; from scratch ~{FROM_SCRATCH / 60:.1f} min")
e_best = max(E_ACC, key=lambda e: E_ACC[e][0])
m15 = {e: acc(grid_runs[(e, max(S["m_curves"]), "random")])[0] for e in S["e_curves"]}
m3 = {e: acc(grid_runs[(e, 3, "random")])[0] for e in S["e_curves"]}
e_small = min(S["scale_e"])
comparison = [
    {"figure": "Fig. 4 / Table 3", "quantity": "test accuracy, |E|=4, M=3, random offset (headline)",
     "paper": "90.4 % (50 epochs; Table 3 best at σ=0.01)", "ours": round(HEADLINE[0], 2), "unit": "%",
     "note": f"{S['headline'].get('epochs', BASE.epochs)} epochs"},
    *[{"figure": "Fig. 4c/e", "quantity": f"|E|={e:g}: M={m} random minus M={m} fixed offset", "unit": " pt",
       "paper": "fixed offset worse at small M (significantly at M=3), most at |E|=1", "ours": round(gap_m[(e, m)], 2),
       "note": f"mean of {len(S['curve_seeds'])} seeds"} for (e, m) in gap_m],
    *[{"figure": "Fig. 4c/e", "quantity": f"|E|={e:g}: M=3 random vs M={max(S['m_curves'])} random", "unit": "",
       "paper": "≈ equal", "ours": f"{m3[e]:.2f} % vs {m15[e]:.2f} %"} for e in S["e_curves"]],
    {"figure": "Fig. 4f", "quantity": "accuracy drop at |E|=1 vs the best |E| (M=3)", "unit": " pt",
     "paper": "≤ 1 pt", "ours": round(E_ACC[e_best][0] - E_ACC[1.0][0], 2), "note": f"best |E| = {e_best:g}"},
    {"figure": "Fig. 4f", "quantity": "trained accuracy at |E| = " + ", ".join(f"{e:g}" for e in S["e_sweep"]),
     "unit": "", "paper": "increases monotonically with |E| (MLP)",
     "ours": " / ".join(f"{E_ACC[e][0]:.2f}" for e in S["e_sweep"]) + " %",
     "note": "NOT reproduced in quick: flat within ~1 pt for |E| ≤ 10, lower at |E| = 100" if profile == "quick"
     else ""},
    {"figure": "Fig. 4d", "quantity": "fraction of hidden-layer spikes before t = 0.5, |E| = "
     + ", ".join(f"{e:g}" for e in EARLY), "unit": "", "paper": "larger |E| gives more early spikes",
     "ours": " / ".join(f"{v:.3f}" for v in EARLY.values())},
    *[{"figure": "Fig. 4f", "quantity": f"|E|={e:g}: trained / ANN / scaled ANN", "unit": "",
       "paper": "scaled ANN degrades significantly for |E| < 4",
       "ours": f"{E_ACC[e][0]:.2f} / {ANN[e][0]:.2f} / {SCALED[e][0]:.2f} %"} for e in S["scale_e"] if e in E_ACC],
    *[{"figure": "Table 3 (MLP)", "quantity": f"best accuracy over |E|, σ_spike={r['sigma_spike']:g}", "unit": "",
       "paper": f"{r['paper_accuracy']:.2f} % at |E|={r['paper_erev']:g}",
       "ours": f"{r['accuracy']:.2f} % at |E|={r['best_erev']:g}",
       "note": f"|E| ∈ {S['sigma_e']}, M={S['sigma_steps']}"} for r in TABLE3],
    {"figure": "Fig. 13a", "quantity": f"accuracy at test M = {min(S['test_ms'])} / 30", "unit": "",
     "paper": "saturates; M=30 chosen", "ours": f"{T13[min(S['test_ms'])][0]:.2f} / {T13.get(30, (np.nan,))[0]:.2f} %"},
    {"figure": "Fig. 14a", "quantity": f"ANN at |E|={S['grid_e']:g}: best (α+, α-) and accuracy", "unit": "",
     "paper": "scaling helps", "ours": f"({alphas[i]:g}, {alphas[j]:g}): {GRID[i, j]:.2f} %"},
]
payload = {
    "title": f"Fashion-MNIST RC-Spike MLP 784-400-400-10 ({profile}-profile output)",
    "notes": (f"{profile} profile: {BASE.epochs} epochs, train subset {BASE.train_subset}, test subset "
              f"{BASE.test_subset}, batch {BASE.batch_size}, lr {BASE.lr:g} ({BASE.lr_schedule}), seeds {S['seeds']}; "
              "headline run: " + ", ".join(f"{k}={v}" for k, v in S["headline"].items())),
    "wall_time": {"notebook_from_scratch_s": round(FROM_SCRATCH, 1), "this_execution_s": round(WALL, 1),
                  "training_runs": len(ALL_RUNS), "runs_train_plus_eval_s": round(RUN_COMPUTE, 1),
                  "headline_train_s_per_epoch_60k": round(sec_per_epoch, 1),
                  "headline_eval_s_per_epoch_10k": round(float(np.mean([e["eval_time_s"] for e in
                                                                       headline_runs[0].epochs])), 1),
                  "threads": THREADS},  # fmt: skip
    "headline": {"e_rev": 4.0, "steps": 3, "offset": "random", "accuracy": HEADLINE[0], "std": HEADLINE[1],
                 "curve": [100 * a for a in headline_runs[0].curve]},  # fmt: skip
    "fig4c_4e": [{"e_rev": e, "steps": m, "offset": off, "accuracy": acc(grid_runs[(e, m, off)])[0],
                  "curve": [100 * a for a in grid_runs[(e, m, off)][0].curve]}
                 for (e, m, off) in grid_runs],  # fmt: skip
    "fig4f": {"trained": {str(e): v[0] for e, v in E_ACC.items()}, "ann": {str(e): v[0] for e, v in ANN.items()},
              "scaled_ann": {str(e): v[0] for e, v in SCALED.items()},
              "scales": {str(e): v for e, v in SCALES.items()}},  # fmt: skip
    "fig11a": [{"sigma_spike": sg, "e_rev": e, "accuracy": v[0]} for (sg, e), v in SIG_ACC.items()],
    "table3_mlp": TABLE3,
    "fig13a": {str(m): v for m, v in T13.items()},
    "fig14a": {"e_rev": S["grid_e"], "alphas": alphas, "best": [alphas[i], alphas[j]], "best_accuracy": GRID[i, j]},
    "paper_comparison": comparison,
}
path = profiles.write_json(dirs.results / "fmnist_mlp.json", payload, profile=profile)
print(f"wrote {path}; notebook wall time {WALL / 60:.1f} min")
if profile != "smoke":
    from imcpnn.repro import report

    report.main([])

# %% [markdown]
# ## The qualitative claims, checked

# %%
assert all(np.isfinite(e["train_loss"]) for r in headline_runs for e in r.epochs)
assert HEADLINE[0] > 10 + 5, "above chance"
if profile != "smoke":
    # quick: >= 88 % at |E| = 4, M = 3, random offset on the full 10k test set (paper: 90.4 % after 50 epochs)
    assert HEADLINE[0] >= 88.0, HEADLINE
    # M = 3 with a random offset ~ M = 15
    for e in S["e_curves"]:
        assert abs(m3[e] - m15[e]) <= 2.0, (e, m3[e], m15[e])
    # a fixed offset is worse at small M, most at |E| = 1 (quick: mean over M = 2, 3 and 3 seeds; at M = 3
    # alone the gap is small at this budget, see the results file)
    assert all(gap_m[(e, m)] > 0 for e in S["e_curves"] for m in small_m), gap_m
    assert gap_small[1.0] > gap_small[4.0], gap_small
    # accuracy falls gently as |E| decreases (paper: <= ~1 pt at |E| = 1)
    assert E_ACC[e_best][0] - E_ACC[1.0][0] <= 1.5, E_ACC
    # larger |E| gives more early spikes (Fig. 4d)
    assert EARLY[max(EARLY)] > EARLY[min(EARLY)], EARLY
    # the scaled ANN degrades below |E| ~ 4, and the trained model beats it there
    assert SCALED[e_small][0] < SCALED[max(S["scale_e"])][0] - 2.0, SCALED
    assert E_ACC[e_small][0] > SCALED[e_small][0] + 2.0, (E_ACC, SCALED)
    # scaling helps the ANN
    assert SCALED[e_small][0] >= ANN[e_small][0], (SCALED, ANN)
print("all checks passed")
