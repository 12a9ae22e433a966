# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 — The Iris 5-5-5 network on the sky130 circuit: ANN-to-IMC vs PNN-to-IMC (Fig. 7, Fig. 15)
#
# The paper's central circuit claim (arXiv 2412.09010v1 Fig. 7d): a network trained with the physical model
# (PNN-to-IMC, Algorithm 6) agrees with SPICE about 20x better than an ideal network mapped onto the same circuit
# (ANN-to-IMC, Algorithm 5): 1.97 ns vs 39.04 ns RMSE of the output spike times (T_circ = 1 µs, 50 test samples).
#
# * Circuit (`imcpnn.spice.iris`): 5 input lines (4 features + bias spike) -> 5x5 synapses -> 5 hidden neurons
#   -> 5x5 synapses -> 5 outputs, pipelined (the output layer accumulates while the hidden layer fires); the hidden
#   neurons' own NAND / inverter / transmission-gate outputs drive the output layer's selectors. **Schematic**
#   level with the sky130 tt models and our neuron sizing (the paper's numbers are post-layout).
# * Models and protocol (`imcpnn.repro.iris_circuit`): E± and E_dis come from notebook 06's characterisation;
#   Table 2's learning parameters; current scales searched on TRAINING samples, RMSE on the 50 TEST samples.
# * 3 classes on 5 outputs: class c is output c; outputs 3 and 4 are trained to stay late.
#
# Profiles: `smoke` trains briefly and simulates ONE test sample through the two-layer circuit (PNN flow, alpha = 1);
# `quick` runs both flows with a coarse-to-fine scale search (budget stated in the results); `paper` the 1 % grids.

# %% tags=["parameters"]
profile = "quick"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from imcpnn import functional as F
from imcpnn.repro import iris_circuit as ic
from imcpnn.repro import spice_devices as sd
from imcpnn.repro.profiles import check_profile, output_dirs, save_figure, write_json

check_profile(profile)
dirs = output_dirs(profile)
t0 = time.perf_counter()
res = ic.run(profile)
res["profile_label"] = profile
res["paper_comparison"] = ic.paper_comparison(res)
res["title"] = "Iris 5-5-5 circuit: ANN-to-IMC vs PNN-to-IMC (Fig. 7, Fig. 15)"
res["notebook_wall_s"] = time.perf_counter() - t0
write_json(dirs.results / "iris_circuit.json", res, profile=profile)
flows = res["flows"]
keys = (
    "rmse_ann_to_imc_ns",
    "rmse_pnn_to_imc_ns",
    "rmse_ratio",
    "alpha_2d",
    "alpha_1d",
    "n_test",
    "e_rev_used",
    "e_dis_used",
    "accuracy_model",
    "accuracy_spice",
    "failed_simulations",
    "simulations",
    "wall_s",
)
for k in keys:
    print(f"{k:22s} {res[k]}")
print("throughput:", res["throughput"])
for f, r in flows.items():
    print(
        f,
        {
            k: r[k]
            for k in (
                "rmse_test_ns",
                "rmse_test_classes_ns",
                "rmse_hidden_ns",
                "mean_error_ns",
                "mean_error_hidden_ns",
                "v1_hidden_ratio_spice_over_model",
                "firing_phase_error_hidden_ns",
            )
        },
    )

# %% [markdown]
# ## Fig. 7b,c — membrane traces of the test sample with the largest error
# Model (dashed; after its spike the membrane is drawn at V0, the paper's convention) vs SPICE (solid); spikes
# marked (model: circles, SPICE: crosses on the V0 - V_th line). Time in units of T_circ from the start of each
# layer's accumulation phase.

# %%
dev = res["device_values"]
v0, vth = 1.3, dev["v_th"]
e_of = {"ann": (100.0, None), "pnn": ((dev["e_rev_pos"], dev["e_rev_neg"]), dev["e_dis"])}
fig, ax = plt.subplots(2, len(flows), figsize=(6 * len(flows), 7), squeeze=False)
for col, (f, r) in enumerate(flows.items()):
    tr = r.get("trace")
    if not tr or "error" in tr:
        ax[0, col].set_title(f"{f}: no trace ({tr})")
        continue
    k = r["worst_sample"]
    e_rev, e_dis = e_of[f]
    t_in = np.array(r["t_in"][k])
    t_hid_model = np.array(r["t_model_hidden"][k])
    for row, (lay, w, tin, t_model, t_sp) in enumerate(
        (
            (1, r["w1"], t_in, t_hid_model, r["t_spice_hidden"][k]),
            (2, r["w2"], t_hid_model, r["t_model_out"][k], r["t_spice_out"][k]),
        )
    ):
        trl = tr[f"trace{lay}"]
        tg = np.array(trl["t_model"])
        grid = np.clip(tg, 0.0, 2.0)
        for i in range(5):
            c = f"C{i}"
            ax[row, col].plot(tg, trl["v_mem"][i], "-", color=c, lw=1.2)
            vm = v0 - vth * sd.model_trace(tin, np.array(w[i]), e_rev, e_dis, grid)
            vm = np.where(grid > 1.0 + t_model[i], v0, vm)
            ax[row, col].plot(tg, vm, "--", color=c, lw=1.0)
            if t_model[i] < 1:
                ax[row, col].plot(1 + t_model[i], v0 - vth, "o", mfc="none", color=c)
            if t_sp[i] < 1:
                ax[row, col].plot(1 + t_sp[i], v0 - vth, "x", color=c)
        ax[row, col].axvline(1.0, color="k", lw=0.6)
        ax[row, col].axhline(v0 - vth, color="gray", lw=0.6, ls=":")
        ax[row, col].set(
            xlabel="t / T_circ (accumulation 0-1, firing 1-2)",
            ylabel="membrane V [V]",
            title=f"{f.upper()}-to-IMC, {'hidden' if lay == 1 else 'output'} layer, test sample {k} "
            f"(RMSE {r['per_sample_rmse_ns'][k]:.1f} ns)",
        )
fig.suptitle("Fig. 7b,c: model (dashed) vs SPICE (solid); o model spike, x SPICE spike")
fig.tight_layout()
save_figure(fig, dirs.figures, "fig7bc_membrane_traces")

# %% [markdown]
# ## Fig. 7d — output spike-time differences (model − SPICE)

# %%
fig, ax = plt.subplots(len(flows), 1, figsize=(7, 3 * len(flows)), squeeze=False)
lim = max(20.0, max(np.max(np.abs(r["errors_ns"])) for r in flows.values()))
bins = np.linspace(-lim, lim, 41)
for a, (f, r) in zip(ax[:, 0], flows.items(), strict=True):
    a.hist(r["errors_ns"], bins=bins, color="C0" if f == "ann" else "C1")
    a.text(
        0.02,
        0.85,
        f"RMSE {r['rmse_test_ns']:.2f} ns (alpha = {tuple(round(x, 3) for x in r['alpha'])})",
        transform=a.transAxes,
    )
    a.set(
        title=f"{f.upper()}-to-IMC, {r['n_test']} test samples x 5 outputs", xlabel="model − SPICE [ns]", ylabel="count"
    )
fig.tight_layout()
save_figure(fig, dirs.figures, "fig7d_spike_time_error_hist")

# %% [markdown]
# ## Where the model-to-circuit error arises (not a paper panel)
# Hidden layer, whose inputs are the data's exact spike times. Left: the accumulation phase, SPICE's v(1) (read off
# the membrane at the end of the phase) against the model's. Right: the firing phase alone, the model's firing time
# (Eq. 26, or App. A Eq. 85 with E_dis) computed from SPICE's OWN v(1), minus SPICE's spike time, against that
# spike time. A flat band at 0 would mean the firing phase is modelled exactly; a trend with the spike time
# points at the discharge ramp (its slope, its loading), an offset at the sensing path's delay.

# %%
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
for f, r in flows.items():
    v1m, v1s = np.array(r["v1_hidden_model"]), np.array(r["v1_hidden_spice"])
    ts = np.array(r["t_spice_hidden"])
    e_dis = None if f == "ann" else dev["e_dis"]
    tf = F.firing_time(torch.tensor(np.nan_to_num(v1s)), e_dis).numpy()
    fired = np.isfinite(v1s) & (ts < 0.999)
    ax[0].plot(v1m[fired], v1s[fired], ".", ms=4, label=f"{f.upper()}-to-IMC")
    ax[1].plot(ts[fired], (tf - ts)[fired] * 1e3, ".", ms=4, label=f"{f.upper()}-to-IMC")
    err = (tf - ts)[fired] * 1e3
    for lo in (0.0, 0.25, 0.5, 0.75):
        k = (ts[fired] >= lo) & (ts[fired] < lo + 0.25)
        if k.any():
            print(
                f"{f}: SPICE hidden spike in [{lo:.2f}, {lo + 0.25:.2f}): {k.sum():3d} neurons, firing-phase "
                f"error mean {err[k].mean():+6.2f} ns, sd {err[k].std():5.2f} ns"
            )
lim = [0, 1.4]
ax[0].plot(lim, lim, "k:", lw=0.8)
ax[0].set(xlabel="model v(1)", ylabel="SPICE v(1)", title="accumulation phase (hidden layer)")
ax[1].axhline(0, color="k", lw=0.6)
ax[1].set(
    xlabel="SPICE hidden spike time [T_circ]",
    ylabel="model firing time from SPICE v(1) − SPICE [ns]",
    title="firing phase alone (hidden layer)",
)
for a in ax:
    a.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, dirs.figures, "iris_error_decomposition")

# %% [markdown]
# ## Fig. 15 — current-scale searches (on training samples)

# %%
fig, ax = plt.subplots(figsize=(6, 5))
s = flows.get("ann", {}).get("search_train")
if s:
    ev = [e for e in s["evaluations"] if np.isfinite(e["rmse_ns"])]
    a = np.array([e["alpha"] for e in ev])
    sc = ax.scatter(a[:, 0], a[:, 1], c=[e["rmse_ns"] for e in ev], s=120, cmap="viridis")
    fig.colorbar(sc, label="RMSE [ns] (training samples)")
    ax.plot(*s["best_alpha"], "*", color="orange", ms=18, mec="k")
    ax.set(
        xlabel="alpha+ (positive currents)",
        ylabel="alpha− (negative currents)",
        title=f"Fig. 15a: ANN-to-IMC 2-D scale, {s['plan']['kind']}, {s['simulations']} simulations",
    )
else:
    ax.set_title("Fig. 15a: no 2-D search in this profile")
fig.tight_layout()
save_figure(fig, dirs.figures, "fig15a_scale_search_2d")

fig, ax = plt.subplots(figsize=(6, 4))
s = flows.get("pnn", {}).get("search_train")
if s:
    ev = sorted((e["alpha"][0], e["rmse_ns"]) for e in s["evaluations"])
    ax.plot(*zip(*ev, strict=True), "o-")
    ax.plot(s["best_alpha"][0], s["best_rmse_ns"], "*", color="orange", ms=16, mec="k")
    ax.set(
        xlabel="alpha (all currents)",
        ylabel="RMSE [ns] (training samples)",
        title=f"Fig. 15b: PNN-to-IMC 1-D scale, {s['plan']['kind']}, {s['simulations']} simulations",
    )
else:
    ax.set_title("Fig. 15b: no 1-D search in this profile")
fig.tight_layout()
save_figure(fig, dirs.figures, "fig15b_scale_search_1d")

# %% [markdown]
# ## Checks

# %%
pnn = flows["pnn"]
assert res["failed_simulations"] == 0, [r["failures"] for r in flows.values()]
assert all(0.0 <= t <= 1.0 for row in pnn["t_spice_out"] for t in row)
# the hidden layer sees the data's exact spike times: SPICE and the PNN model must agree to within 100 ns there
dh = np.abs(np.array(pnn["t_model_hidden"]) - np.array(pnn["t_spice_hidden"]))
print(f"hidden layer, PNN flow: max |model − SPICE| = {dh.max() * 1e3:.1f} ns")
assert dh.max() < 0.1, dh
if profile != "smoke":
    assert res["n_test"] == 50
    for f in flows:
        assert res["accuracy_model"][f] >= 0.8, res["accuracy_model"]
    # the claim's direction: the PNN model is closer to the circuit than the ANN
    assert res["rmse_pnn_to_imc_ns"] < res["rmse_ann_to_imc_ns"], (res["rmse_pnn_to_imc_ns"], res["rmse_ann_to_imc_ns"])
    print(
        f"ratio {res['rmse_ratio']:.2f}x:",
        "target >= 10x reached"
        if res["rmse_ratio"] >= 10
        else "target >= 10x NOT reached (see the error decomposition printed above)",
    )
print("checks passed")
