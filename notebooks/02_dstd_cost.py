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
# v1 Fig. 3c-f: one layer of 1000 neurons, 1000 samples, batch 100, input spikes uniform on [0, 1]; training
# time per epoch and peak memory against the number of input spikes; RC-Spike at M = 10, TTFS at M = 20.
# The v2 abstract claims DSTD cuts the cost "by up to 20 times in speed and 100 times in memory".
#
# All the work is in `imcpnn.repro.dstd_cost` (`make bench`); this notebook reads `results/dstd_cost.json` when it was
# produced with the same profile config (otherwise it runs the benchmark), plots and checks the claims.
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
# * **ode**: torchdiffeq dopri5, a step boundary at every input spike (`jump_t`), backprop through the solver, with
#   the loosest tolerance whose error in v(1) does not exceed DSTD's at M = 10 ("matched accuracy").
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
from imcpnn.repro.profiles import output_dirs

dirs = output_dirs(profile)
cfg = bench.config_for(profile)
payload = bench.load_or_run(profile)
print(bench.format_summary(payload))

# %% [markdown]
# ## Fig. 3c-f: time per epoch and peak memory against N_in
# Dashed black: the DSTD matmul floor. A method's curve ends where it hit the time cap or its next point was
# predicted above the memory cap (`stopped` below); the ODE solver is only run up to `ode_n_in_max`.

# %%
figs = bench.plot(payload, dirs.figures)
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

# %% [markdown]
# Table 1 predicts, per layer, time O(N_in^2 N_out) (RC-Spike) and O(N_in^3 N_out) (TTFS) for the conventional
# solution, O(M N_in N_out) and O(M^2 N_in N_out) with DSTD. Our exact solver is O(N_in N_out) per sample (plus an
# O(N_in log N_in) sort), so its fitted time exponent is about 1, like DSTD's; the gap between them is a constant
# factor (elementwise work on [B, N_in, N_out] against GEMMs on [B, M, N_in]). Memory: exact ~ N_in^1 (B N_in N_out
# tensors), DSTD sub-linear at these sizes (its N_in N_out weight-sized buffers and B M N_out terms do not grow
# with N_in; only S [B, M, N_in] does). At small N_in, fixed per-call overheads flatten every curve.

# %% [markdown]
# ## Conv layers: the VGG-like CNN of PAPER.md §3.3 at M = 4
# DSTD RC-Spike CNN (`imcpnn.layers.RCSpikeConv2d`, `TimeMinPool2d`, `RCSpikeLinear`) against the same CNN as a
# plain ANN (conv + hard-sigmoid, max pooling) and against the floor: the ANN with doubled output channels on
# M times the batch (the f~, g~ convolutions that DSTD cannot avoid).

# %%
if payload.get("conv"):
    print(json.dumps({k: v for k, v in payload["conv"].items() if k != "results"}, indent=1))
    for k, v in payload["conv"]["results"].items():
        print(f"  {k:5s} {v['per_image_s'] * 1e3:8.2f} ms/image  peak {(v['peak_bytes'] or 0) / 2**20:8.1f} MiB")

# %% [markdown]
# ## Checks
# In `smoke` (tiny sizes) only what holds there: DSTD needs less memory and less time than the exact solver at the
# largest N_in, and exact memory grows faster with N_in than DSTD's. In `quick`/`paper` the targets of the issue at
# N_in = N_out = 1000, batch 100, M = 10 (RC-Spike), with the margins we measured (see the closing note).

# %%
def rec(model, method, n):
    return bench._get(payload["sweeps"][model]["records"], model, method, n)


for model in payload["sweeps"]:
    n_max = max(r["n_in"] for r in payload["sweeps"][model]["records"] if r["method"] == "exact")
    e, d = rec(model, "exact", n_max), rec(model, "dstd", n_max)
    assert d["peak_bytes"] < e["peak_bytes"], (model, d["peak_bytes"], e["peak_bytes"])
    assert d["time_s"] < e["time_s"], (model, d["time_s"], e["time_s"])
    ex = summary["exponents"][model]
    assert ex["exact"]["memory"] > ex["dstd"]["memory"], ex
    assert all(r["time_s"] > 0 for r in payload["sweeps"][model]["records"])
assert acc["dstd_err"] > 0 and all(o["err"] >= 0 for o in acc["ode"])

# %%
if profile != "smoke":
    tg = summary["targets"]
    print(json.dumps(tg, indent=1))
    # thresholds: what this 2-core CPU achieved in the quick profile, with margin (see the closing note)
    assert tg["exact_over_dstd_time"]["value"] >= 20, tg["exact_over_dstd_time"]
    assert tg["exact_over_dstd_memory"]["value"] >= 80, tg["exact_over_dstd_memory"]  # 104x measured (target 100x)
    assert tg["dstd_over_floor_time"]["value"] <= 2.0, tg["dstd_over_floor_time"]
    assert tg["ode_over_dstd_time"]["value"] >= 1000, tg["ode_over_dstd_time"]  # extrapolated in quick (see note)
    assert payload["conv"]["dstd_over_floor"] < 2.5, payload["conv"]
