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
# # The cost of training the PNN: DSTD vs exact vs ODE solver (Fig. 3c-f, Table 1)
#
# arXiv 2412.09010v1 Fig. 3c-f: one layer of 1000 neurons, 1000 samples, batch 100, input spikes uniform on [0, 1];
# training time per epoch and peak memory against the number of input spikes; RC-Spike at M = 10, TTFS at M = 20.
# The text beside Fig. 3d/f reports ~30x time and ~100x memory (RC-Spike) and ~1000x time, ~10x memory (TTFS) on a
# V100 GPU; the Introduction summarises "10-100 times".
#
# All the work is in `imcpnn.repro.dstd_cost` (`make bench` reruns it). This notebook MEASURES the benchmark of its
# profile on the machine it runs on (each part goes through `imcpnn.repro.cache`, so a result is reused only when the
# config, the machine, the device and the code fingerprint all match; `smoke` always recomputes), writes
# `dstd_cost.json`, plots and checks the claims. The paper's numbers come from `imcpnn.repro.paper.DSTD_COST`.
#
# **The three solvers** (every one through the public `imcpnn.functional` API, float32, gradient w.r.t. the weights):
# * **exact**: the event-driven closed form on sorted spikes, *vectorised*: one `sort` per sample, one gather of the
#   concatenated columns [beta*w ; w] into spike order, one `cumsum` for f and g after each spike, and the
#   loop-free closed form for v(1) (`piecewise.final_potential`, a fused autograd function with a hand-written
#   backward, shared with DSTD). Cost O(B N_in N_out) in time and memory: better than the paper's
#   O(N_in^2 N_out) baseline (Table 1), which builds the 3-D tensor (F_ik - F_i,k-1)/F_i,j-1.
#   So our DSTD-vs-exact ratios are against a stronger baseline than the paper's.
# * **dstd**: cumulative hat-kernel spike variables S [B, M, N_in] in one fused op, f~ and g~ by two GEMMs into one
#   buffer, the closed form over M grid intervals by a cumsum (no Python loop), hand-written backward.
# * **ode**: torchdiffeq dopri5, a step boundary at every input spike (`jump_t`), backprop through the solver, at the
#   tolerance whose error in v(1) equals DSTD's at M = 10 (log-log interpolation between the two tried tolerances that
#   bracket DSTD's error; where none brackets it the notebook says so: "matched accuracy").
# * **floor**: the GEMMs DSTD cannot avoid: [B*M, N_in] x [N_in, 2 N_out] forward and its weight gradient backward.
#
# **Peak memory** on CPU: the process's resident-set high-water mark (VmHWM, reset through /proc/self/clear_refs
# before each step; glibc's mmap threshold is pinned at 128 KiB and freed memory trimmed, so every tensor is its own
# mmap and shows in RSS) minus the RSS before the step; on CUDA `torch.cuda.max_memory_allocated`.
# **Timing**: median over interleaved repeats; on this shared 2-core CPU, torch runs with 1 thread (with 2 threads,
# every parallel op waits for a descheduled worker, and timings become meaningless). The CUDA path (synchronize,
# cuda memory stats) is written but untested here (no GPU).

# %% tags=["parameters"]
profile = "quick"

# %%
import json

import matplotlib.pyplot as plt

from imcpnn.repro import dstd_cost as bench
from imcpnn.repro.dstd_cost_plots import plot
from imcpnn.repro.dstd_cost_summary import find_record, format_summary
from imcpnn.repro.profiles import output_dirs, write_json

dirs = output_dirs(profile)
cfg = bench.config_for(profile)
payload = bench.run(profile)
write_json(bench.results_path(profile), payload, profile=profile)
print(format_summary(payload))
print(f"benchmark compute time {payload['wall_s']:.0f} s (as measured when each part was computed)")

# %% [markdown]
# ## Fig. 3c-f: time per epoch and peak memory against N_in
# Dashed black: the DSTD matmul floor. A method's curve ends where it hit the time cap or its next point was
# predicted above the memory cap (`stopped` below); the ODE solver is only run up to `ode_n_in_max`.

# %%
figs = plot(payload, dirs.figures)
for model, sweep in payload["sweeps"].items():
    print(model, "stopped:", json.dumps(sweep["stopped"], indent=1))
plt.show()

# %% [markdown]
# ## Ratios, scaling exponents (Table 1 check) and the accuracy match of the ODE solver

# %%
summary = payload["summary"]
for model, rows in summary["ratios"].items():
    print(model)
    for r in rows:
        print("  ", {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()})
print(json.dumps(summary["exponents"], indent=1))
acc = payload["accuracy_match"]
print("accuracy match:", json.dumps(acc, indent=1))
if acc["match"]["kind"] != "interpolated to equal error":
    floor = min(o["err"] for o in acc["ode"])
    print(
        f"ODE at matched accuracy: NOT matched ({acc['match']['kind']}; ODE error floor {floor:.2g} vs DSTD "
        f"{acc['dstd_err']:.2g}); the ODE is timed at rtol {acc['match']['rtol']:g}"
    )

# %% [markdown]
# Table 1 predicts, per layer, time O(N_in^2 N_out) (RC-Spike) and O(N_in^3 N_out) (TTFS) for the conventional
# solution, O(M N_in N_out) and O(M^2 N_in N_out) with DSTD. Our exact solver is O(N_in N_out) per sample (plus an
# O(N_in log N_in) sort), so its fitted time exponent is about 1, like DSTD's; the gap between them is a constant
# factor (elementwise work on [B, N_in, N_out] against GEMMs on [B, M, N_in]). Memory: exact ~ N_in^1 (B N_in N_out
# tensors), DSTD sub-linear at these sizes (its N_in N_out weight-sized buffers and B M N_out terms do not grow
# with N_in; only S [B, M, N_in] does). At small N_in, fixed per-call overheads flatten every curve.

# %% [markdown]
# ## Conv layers: the VGG7 CNN of arXiv 2412.09010v1 at M = 4
# The CIFAR-10 network of the section "Reversal potentials are not nonidealities" (Fig. 5): one training step
# (forward + backward) of the DSTD RC-Spike VGG7 (`imcpnn.models.vgg7`) at batch `conv_batch` (32 in quick / paper)
# against the same CNN as a plain ANN (conv + hard-sigmoid, max pooling) and against the network floor: the ANN with
# doubled output channels on M times the batch (the f~, g~ convolutions that DSTD cannot avoid). That floor alone is
# 2M = 8 ANN-sized convolutions per layer, so at M = 4 our own target "DSTD step <= 6x the ANN step" sits BELOW the
# floor whenever the floor costs more than 6 ANN steps; the row in REPRODUCTION.md says met / MISSED as measured.
#
# Then every conv layer alone, at its own input size: the fused layer (`imcpnn._impl.dstd_fused`: one convolution
# for f~ and g~, S rebuilt in backward instead of stored, the elementwise terms recomputed per interval, one
# convolution backward), the plain-autograd implementation it replaced (measured in the same run: before / after),
# and the layer's floor (`conv2d` of S [B*M, C, H, W] with [beta*w ; w], forward and backward). Target: fused <= 1.3x
# its floor on every layer. The same for the TTFS CNN of App. C (`imcpnn.models.ttfs_cnn`) at M = 20 (target 2x).

# %%
if payload.get("conv"):
    c = payload["conv"]
    print(json.dumps({k: v for k, v in c.items() if k != "results"}, indent=1))
    for k, v in c["results"].items():
        print(
            f"  {k:5s} {v['time_s']:7.3f} s/step ({v['per_image_s'] * 1e3:6.1f} ms/image)  "
            f"peak {(v['peak_bytes'] or 0) / 2**20:8.1f} MiB"
        )
for key in ("conv_layers", "ttfs_conv_layers"):
    if payload.get(key):
        cl = payload[key]
        print(f"{cl['network']}: batch {cl['batch']}, M = {cl['steps']} (time: fastest repeat; peak memory)")
        for x in cl["layers"]:
            r = x["results"]
            print(
                f"  L{x['layer']} {x['in_channels']:3d}->{x['out_channels']:3d} @{x['size']:2d}: "
                + "  ".join(
                    f"{m} {r[m]['time_s']:.3f} s {(r[m]['peak_bytes'] or 0) / 2**20:6.0f} MiB"
                    for m in ("fused", "plain", "floor")
                )
                + f"  fused/floor {x['fused_over_floor']:.2f}x, plain/floor {x['plain_over_floor']:.2f}x"
            )

# %% [markdown]
# ## TTFS: the fused layer, and exact / DSTD measured at N_in = 1000
# One dense TTFS layer at the paper's size (N_in = N_out = 1000, batch 100, M = 20): fused DSTD
# (`imcpnn._impl.dstd_fused.ttfs`) vs the plain-autograd DSTD vs the matmul floor (target: fused <= 2x the floor).
# Then the exact solver against fused DSTD at ONE dedicated point N_in = 1000 (`ttfs_point`): the exact TTFS step
# keeps ~35 tensors of B N_in N_out floats, so the sweep above stops it near N_in = 200 at batch 100; the point runs it
# at N_in = 1000 with a smaller batch in `quick` (10: ~1.4 GB, bounded to a few tens of seconds). DSTD keeps its
# weight-sized buffers at any batch, so the measured ratios are lower bounds of the batch-100 ones (paper: ~1000x
# time, ~10x memory).

# %%
for key in ("ttfs_dense", "ttfs_point"):
    if payload.get(key):
        x = payload[key]
        print(key, json.dumps({k: v for k, v in x.items() if k != "results"}, indent=1))
        for m, r in x["results"].items():
            print(f"  {m:6s} {r['time_s']:8.3f} s  peak {(r['peak_bytes'] or 0) / 2**20:8.1f} MiB")
for r in payload["paper_comparison"]:
    if r["figure"] == "(ours)" or "(measured)" in r["quantity"]:
        print(f"- {r['quantity']}: {r['ours']} [{r['verdict']}]")

# %% [markdown]
# ## Checks
# Every check tests an effect, with a threshold sized to it (set before the run, never tuned to pass):
# * all profiles: at the largest N_in both ran, DSTD needs less memory than the exact solver (and less time, except
#   in `smoke`, whose N_in = 64 cannot resolve the time gap), and the exact solver's memory grows faster with N_in
#   than DSTD's; the matched ODE tolerance really has DSTD's error
#   (within a factor 2) where it was interpolated.
# * `quick`/`paper`, the fusion: every fused conv layer needs less peak memory than the plain-autograd layer, the
#   fused TTFS layers are faster than the plain ones, and at N_in = 1000 TTFS DSTD beats the exact solver in time and
#   memory (measured). Our speed targets (conv layer <= 1.3x its floor, VGG7 <= 6x the ANN, TTFS <= 2x the floor) are
#   reported as met / MISSED in REPRODUCTION.md, not asserted: a missed target is a result, shown as such.
# * `quick`/`paper`, RC-Spike at N_in = N_out = 1000, batch 100, M = 10 (Fig. 3d): exact / DSTD >= 10x in time and
#   in memory (the lower end of the paper's "10-100 times", Introduction); DSTD within 2x of its matmul floor (each
#   side the fastest of its interleaved repeats, so other processes' time slices do not decide it); DSTD's
#   time exponent in N_in below 1.5 (linear, Table 1). The ODE ratio is only checked where it was measured at
#   N_in = 1000 (`paper` profile); in `quick` it is an extrapolation, labelled and not checked.


# %%
def rec(model, method, n):
    return find_record(payload["sweeps"][model]["records"], model, method, n)


for model in payload["sweeps"]:
    n_max = max(r["n_in"] for r in payload["sweeps"][model]["records"] if r["method"] == "exact")
    e, d = rec(model, "exact", n_max), rec(model, "dstd", n_max)
    assert d["peak_bytes"] < e["peak_bytes"], (model, d["peak_bytes"], e["peak_bytes"])
    if profile == "smoke":  # at N_in = 64 the time gap is within the noise of a shared CPU
        print(f"{model}: exact / DSTD time {e['time_s'] / d['time_s']:.2f}x: not resolved at this budget")
    else:
        assert d["time_s"] < e["time_s"], (model, d["time_s"], e["time_s"])
    ex = summary["exponents"][model]
    if ex["exact"]["memory"] is None:  # the exact solver stopped after one N_in: no exponent to compare
        print(
            f"{model}: exact memory exponent: not resolved at this budget (exact measured at N_in = "
            f"{ex['exact']['n_in']} only; {payload['sweeps'][model]['stopped'].get('exact')})"
        )
    else:
        assert ex["exact"]["memory"] > ex["dstd"]["memory"], ex
if acc["match"]["kind"] == "interpolated to equal error":
    assert 0.5 < acc["match"]["err"] / acc["dstd_err"] < 2.0, acc["match"]

# %%
if profile != "smoke":
    tg = summary["targets"]
    print(json.dumps(tg, indent=1))
    assert tg["exact_over_dstd_time"]["value"] >= 10, tg["exact_over_dstd_time"]
    assert tg["exact_over_dstd_memory"]["value"] >= 10, tg["exact_over_dstd_memory"]
    assert tg["dstd_over_floor_time"]["value"] <= 2.0, tg["dstd_over_floor_time"]
    assert summary["exponents"]["rc_spike"]["dstd"]["time"] < 1.5, summary["exponents"]["rc_spike"]["dstd"]
    # the fusion (checked where it was measured): recomputation keeps every fused conv layer's peak memory below
    # the plain-autograd layer's, and the fused TTFS layer is faster than the plain one (dense, and every conv layer)
    for key in ("conv_layers", "ttfs_conv_layers"):
        for x in (payload.get(key) or {}).get("layers", []):
            r = x["results"]
            assert r["fused"]["peak_bytes"] < r["plain"]["peak_bytes"], (key, x["layer"], r)
            if key == "ttfs_conv_layers":
                assert x["plain_over_fused"] > 1.0, (key, x["layer"], x["plain_over_fused"])
    if payload.get("ttfs_dense"):
        assert payload["ttfs_dense"]["plain_over_fused"] > 1.0, payload["ttfs_dense"]
    if payload.get("ttfs_point"):  # measured at N_in = 1000: DSTD cheaper than the exact solver in time and memory
        tp = payload["ttfs_point"]
        assert tp["n_in"] == 1000 and tp["exact_over_dstd_time"] > 1.0 and tp["exact_over_dstd_memory"] > 1.0, tp
    ode = tg.get("ode_over_dstd_time")
    if ode and ode["measured"]:
        assert ode["value"] > 1.0, ode  # the ODE solver is slower than DSTD at matched accuracy
    else:
        print("ODE / DSTD at N_in = 1000: not resolved at this budget (extrapolated, not checked):", ode)
