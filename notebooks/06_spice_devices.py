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
# # 06 — SPICE devices: Fig. 17, 19, 20 and one neuron against the RC-Spike model
#
# The circuit of arXiv 2412.09010v1 (section "Examination of PNN approach by Circuit Simulations", Fig. 6, App. G)
# in ngspice with the real **sky130** device models, at
# **schematic** level (the paper's numbers are post-layout; a 36.7 fF capacitor stands in for the layout
# parasitics so that C_m = 140 fF, Table 2). Neuron transistor sizes the paper does not give are our
# choices (`imcpnn.spice.netlist.NeuronParams`).
#
# * Fig. 17: synapse current vs membrane (drain) voltage, λ_N and λ_P from linear fits over [0.43, 1.36] V;
# * Fig. 19: sensing-inverter transfer curves and through-current vs V_b^sense, switching threshold;
# * Fig. 20: discharger current vs membrane voltage, λ_dis;
# * mapping (App. A.2): E+ = 1/(V_th λ_N), E- = -1/(V_th λ_P), E_dis = 1/(V_th λ_dis), V_th = V0 - V_switch;
# * one neuron with 5 synapses: SPICE vs the E±-aware RC-Spike model vs the ideal one (|E| = ∞).
#
# Every profile runs ngspice through `imcpnn.repro.spice_devices.compute` (cached only when settings, code, ngspice
# version and PDK models all match); `smoke` always recomputes, on a small problem (2 gate voltages per polarity,
# one V_b^sense, a coarse discharger calibration, 3 patterns). Paper numbers: `imcpnn.repro.paper.SPICE_DEVICES`.

# %% tags=["parameters"]
profile = "quick"

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from imcpnn.repro import spice_devices as ex
from imcpnn.repro.profiles import check_profile, output_dirs, save_figure, write_json
from imcpnn.spice import ngspice_status

check_profile(profile)
dirs = output_dirs(profile)
print(profile, dirs, ngspice_status())

# %% [markdown]
# ## Simulate (every profile runs ngspice)

# %%
t0 = time.perf_counter()
res = ex.compute(profile)
summary, curves, nvm = res["summary"], res["curves"], res["nvm"]
comparison = ex.paper_comparison(summary, nvm, profile)
out = dirs.results
write_json(
    out / "spice_devices.json",
    {"title": "SPICE devices (Table 2, Fig. 17, 19, 20), one-neuron check", **summary, "paper_comparison": comparison},
    profile=profile,
)
write_json(out / "spice_curves.json", curves, profile=profile)
write_json(out / "spice_neuron_vs_model.json", nvm, profile=profile)
print(f"{time.perf_counter() - t0:.1f} s (SPICE wall time when computed: {summary['wall_s']:.1f} s characterisation)")
print({k: summary[k] for k in ("lambda_n", "lambda_p", "lambda_dis", "v_switch", "e_rev_pos", "e_rev_neg", "e_dis")})

# %% [markdown]
# ## Fig. 17 — synapse currents and λ

# %%
lo, hi = 0.43, 1.36
fig, ax = plt.subplots(2, 2, figsize=(10, 7.5))
for col, key, lab in ((0, "synapse_n", "NMOS"), (1, "synapse_p", "PMOS")):
    c = curves[key]
    v = np.array(c["v"])
    for vg, i, f in zip(c["v_gates"], c["i"], c["fits"], strict=True):
        ax[0, col].semilogy(v, np.maximum(np.array(i), 1e-12) * 1e9, label=f"V_g = {vg:.2f} V (λ = {f['lam']:.3f})")
    for x in (lo, hi):
        ax[0, col].axvline(x, color="k", ls="--", lw=0.8)
    ax[0, col].set(xlabel="membrane (drain) voltage V [V]", ylabel="synaptic current [nA]", title=f"{lab} pair")
    ax[0, col].legend(fontsize=7)
    i0 = np.array([f["i_v0"] for f in c["fits"]]) * 1e9
    lam = np.array([f["lam"] for f in c["fits"]])
    a2 = ax[1, col]
    a2.semilogx(i0, lam, "o-", color="C3")
    a2.set(xlabel="current at V0 = 1.3 V [nA]", ylabel=f"λ_{lab[0]} [1/V]")
    a2.axhline(ex.PAPER["lambda_n" if col == 0 else "lambda_p"], color="gray", ls=":", label="paper (post-layout)")
    tw = a2.twinx()
    tw.semilogx(i0, c["v_gates"], "s--", color="C0", alpha=0.6)
    tw.set_ylabel("gate voltage [V]", color="C0")
    a2.legend(fontsize=7, loc="lower left")
# the weight currents of the neuron-vs-model test, I = C_m V_th |w| / T_circ
cm, vth = summary["circuit"]["c_m_fF"] * 1e-15, nvm["v_th"]
w_all = np.array(nvm["w"]).ravel()
for col, sel in ((0, w_all > 0), (1, w_all < 0)):
    cur = cm * vth * np.abs(w_all[sel]) / summary["circuit"]["t_circ_s"] * 1e9
    h = ax[1, col].twinx()
    h.hist(cur, bins=np.logspace(0, 3, 25), color="C2", alpha=0.25)
    h.set_yticks([])
fig.suptitle("Fig. 17 (schematic, sky130 tt): synapse current vs membrane voltage; green: test weights' currents")
fig.tight_layout()
save_figure(fig, dirs.figures, "fig17_synapse_current_vs_voltage")

# %% [markdown]
# ## Fig. 19 — sensing inverter

# %%
s = curves["sense"]
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
vin = np.array(s["v_in"])
for vb, vo, idd, vsw in zip(s["v_b_sense"], s["v_out"], s["i_dd"], s["v_switch"], strict=True):
    ax[0].plot(vin, vo, label=f"V_b^sense = {vb:.2f} V (V_M = {vsw:.3f} V)")
    ax[1].semilogy(vin, np.maximum(np.array(idd), 1e-12) * 1e6, label=f"{vb:.2f} V")
ax[0].plot(vin, vin, "k:", lw=0.8)
ax[0].axvline(ex.PAPER["v_switch"], color="gray", ls="--", lw=0.8, label="paper V_switch = 0.428 V")
ax[0].set(xlabel="membrane voltage (input) [V]", ylabel="output [V]", title="transfer curve (phase on)")
ax[1].set(xlabel="membrane voltage (input) [V]", ylabel="through-current [µA]", title="supply current")
ax[0].legend(fontsize=7)
ax[1].legend(fontsize=7)
fig.suptitle(f"Fig. 19: switching threshold {summary['v_switch']:.3f} V at V_b^sense = {summary['v_b_sense']} V")
fig.tight_layout()
save_figure(fig, dirs.figures, "fig19_sensing_inverter")

# %% [markdown]
# ## Fig. 20 — discharger

# %%
d = curves["discharger"]
fig, ax = plt.subplots(1, 2, figsize=(10, 4))
v = np.array(d["v"])
for vb, i, f in zip(d["v_b_dis"], d["i"], d["fits"], strict=True):
    ax[0].plot(v, np.array(i) * 1e9, label=f"V_b^dis = {vb:.3f} V (λ = {f['lam']:.3f})")
for x in (lo, hi):
    ax[0].axvline(x, color="k", ls="--", lw=0.8)
ax[0].set(xlabel="membrane voltage [V]", ylabel="discharge current [nA]")
ax[0].legend(fontsize=7)
i0 = np.array([f["i_v0"] for f in d["fits"]]) * 1e9
ax[1].plot(i0, [f["lam"] for f in d["fits"]], "o-", color="C3")
ax[1].axhline(ex.PAPER["lambda_dis"], color="gray", ls=":", label="paper (post-layout) 0.177")
ax[1].set(xlabel="current at V0 = 1.3 V [nA]", ylabel="λ_dis [1/V]")
tw = ax[1].twinx()
tw.plot(i0, d["v_b_dis"], "s--", color="C0", alpha=0.6)
tw.set_ylabel("V_b^dis [V]", color="C0")
ax[1].legend(fontsize=7)
fig.suptitle(f"Fig. 20: discharger; calibrated V_b^dis = {summary['v_b_dis_calibrated']:.4f} V (paper 0.554 V)")
fig.tight_layout()
save_figure(fig, dirs.figures, "fig20_discharger")

# %% [markdown]
# ## Device results → model parameters (Table 2)

# %%
rows = ["lambda_n", "lambda_p", "lambda_dis", "v_switch", "e_rev_pos", "e_rev_neg", "e_dis"]
print(f"{'':12s} {'ours (schematic)':>18s} {'paper (post-layout)':>20s}")
for k in rows:
    print(f"{k:12s} {summary[k]:18.3f} {ex.PAPER[k]:20.3f}")
print("E values above:", summary["e_source"])
print("not used (DC threshold, median lambda_dis):", summary["e_from_dc_threshold"])
for row in comparison:
    print(f"{row['figure']}: {row['quantity']}: ours {row['ours']} vs paper {row['paper']} -> {row['verdict']}")

# %% [markdown]
# ## Sanity check, not a paper figure: one neuron, SPICE vs the RC-Spike model
#
# (The paper's Fig. 7 is the two-layer Iris circuit of notebook 07; this one-neuron check comes before it.)
#
# Five synapses, weights ~ U(-0.5, 1.0) (currents 0-120 nA, inside the simulated range), input times
# ~ U(0, 1). Model time t = (t_circuit - phase start) / T_circ; model potential v = -(V - V0)/V_th.

# %%
tr = nvm["trace"]
k = tr["pattern"]
tg = np.array(tr["t_model"])
w_k, t_k = np.array(nvm["w"][k]), np.array(nvm["t_in"][k])
v0, vth = summary["circuit"]["v0"], nvm["v_th"]
v_e = ex.model_trace(t_k, w_k, tuple(nvm["e_rev"]), nvm["e_dis"], tg)
v_i = ex.model_trace(t_k, w_k, float("inf"), None, tg)
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
ax[0].plot(tg, tr["v_mem"], "k-", label="SPICE membrane")
ax[0].plot(tg, v0 - vth * v_e, "C1--", label=f"RC-Spike, E± = ({nvm['e_rev'][0]:.2f}, {nvm['e_rev'][1]:.2f})")
ax[0].plot(tg, v0 - vth * v_i, "C0:", label="ideal model (|E| = ∞)")
ax[0].axhline(v0 - vth, color="gray", lw=0.8, ls="--", label="threshold V0 - V_th")
ax[0].plot(tg, np.array(tr["v_out"]) / 1.8 * 0.3 + 0.05, "b-.", lw=0.8, label="output spike (scaled)")
for tj in t_k:
    ax[0].axvline(tj, color="C2", lw=0.6, alpha=0.6)
ax[0].axvline(1.0, color="k", lw=0.6)
ax[0].set(xlabel="t / T_circ (accumulation 0-1, firing 1-2)", ylabel="V [V]", title=f"pattern {k}")
ax[0].legend(fontsize=7)
t_sp = np.array(nvm["t_spice"])
err_e = (np.array(nvm["t_e_aware"]) - t_sp) * 1e3
err_i = (np.array(nvm["t_ideal"]) - t_sp) * 1e3
bins = np.linspace(-400, 400, 41)
ax[1].hist(err_i, bins=bins, alpha=0.5, label=f"ideal: RMSE {nvm['rmse_ideal_ns']:.1f} ns")
ax[1].hist(err_e, bins=bins, alpha=0.7, label=f"E±-aware: RMSE {nvm['rmse_e_aware_ns']:.1f} ns")
ax[1].set(
    xlabel="model - SPICE output spike time [ns] (T_circ = 1 µs)",
    ylabel="patterns",
    title=f"{nvm['n_patterns']} random input patterns",
)
ax[1].legend(fontsize=8)
fig.tight_layout()
save_figure(fig, dirs.figures, "neuron_precursor_vs_spice")
print(
    {
        k: nvm[k]
        for k in (
            "rmse_e_aware_ns",
            "rmse_ideal_ns",
            "rmse_ideal_with_e_dis_ns",
            "rmse_e_aware_scaled_ns",
            "scale_1d_e_aware",
            "rmse_ideal_scaled_ns",
            "scale_2d_ideal",
            "sim_wall_s_median",
        )
    }
)

# %% [markdown]
# ## Claims checked
# * `quick`/`paper` (the paper's bias grids): lambda_N, lambda_P (sky130 physics at the paper's transistor sizes)
#   and the E± the model uses within 10 % of Table 2. lambda_dis and V_switch are calibrated by construction: their
#   checks only confirm that the calibration still lands (15 % / 0.02 V), and the report marks them "calibrated".
# * `quick`/`paper`: the E±-aware model tracks SPICE at least 2x more closely (output-spike RMSE) than the ideal one
#   (the paper's effect is ~20x on the Iris network, Fig. 7d). `smoke` (3 patterns) cannot resolve a factor 2; it
#   checks only that the E±-aware model is the closer one.
# * every profile: the E± have the paper's signs and |E+| > |E-| (lambda_P > lambda_N).

# %%
rmse = (nvm["rmse_e_aware_ns"], nvm["rmse_ideal_ns"])
assert rmse[0] < rmse[1], rmse
assert summary["e_rev_pos"] > -summary["e_rev_neg"] > 0, (summary["e_rev_pos"], summary["e_rev_neg"])
if profile == "smoke":
    print(f"E±-aware vs ideal RMSE {rmse[0]:.1f} / {rmse[1]:.1f} ns: the 2x claim is not resolved at this budget")
else:
    assert rmse[0] < 0.5 * rmse[1], rmse
    for key in ("lambda_n", "lambda_p", "e_rev_pos", "e_rev_neg"):
        paper_value = ex.PAPER[key]
        assert abs(summary[key] - paper_value) <= 0.10 * abs(paper_value), (key, summary[key], paper_value)
    assert abs(summary["lambda_dis"] - 0.177) < 0.15 * 0.177, summary["lambda_dis"]  # calibration check
    assert abs(summary["v_switch"] - 0.428) < 0.02, summary["v_switch"]  # calibration check
print("all checks hold")
