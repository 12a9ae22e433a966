"""Figures and a text summary of the cost benchmark (arXiv 2412.09010v1 Fig. 3c-f; our VGG7 cost figure).

:func:`plot` takes the payload of :func:`imcpnn.repro.dstd_cost.run`. ``replot=True`` (``make figures-from-results``)
marks every figure as a re-plot of a stored results file, not a measurement of this run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from imcpnn.repro.profiles import save_figure

__all__ = ["plot"]

_STYLE = {
    "exact": ("C0", "o", "exact (sorted)"),
    "dstd": ("C3", "s", "DSTD"),
    "ode": ("C2", "^", "ODE (torchdiffeq)"),
    "floor": ("k", "", "DSTD matmul floor"),
}


def _where(payload: dict) -> str:
    """'profile quick, x86_64 (2 cores), 1 thread' for figure titles."""
    mach = payload.get("machine", {})
    cores = f" ({mach['cpu_count']} cores)" if mach.get("cpu_count") and payload["device"] == "cpu" else ""
    return f"profile {payload.get('profile', '?')}, {payload['device_name']}{cores}, {payload['threads']} thread(s)"


def plot(payload: dict, figures_dir: Path | None = None, *, replot: bool = False) -> dict:
    """Fig. 3c-f (time and peak memory vs N_in, RC-Spike and TTFS) and the conv-cost figure; returns figures.

    With ``replot`` every title says "RE-PLOT of a stored results file" and the file names end in ``_replot``."""
    import matplotlib.pyplot as plt

    tag = " [RE-PLOT of a stored results file, not measured by this run]" if replot else ""
    figs = {}
    names = {"rc_spike": ("fig3cd_rcspike_cost", "RC-Spike"), "ttfs": ("fig3ef_ttfs_cost", "TTFS")}
    cfg = payload["config"]
    for model, sweep in payload["sweeps"].items():
        recs = sweep["records"]
        m = cfg["m_rc"] if model == "rc_spike" else cfg["m_ttfs"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        for meth, (col, mk, lab) in _STYLE.items():
            rs = [r for r in recs if r["method"] == meth]
            if not rs:
                continue
            ns = [r["n_in"] for r in rs]
            ls = "--" if meth == "floor" else "-"
            axes[0].plot(ns, [r["epoch_s"] for r in rs], ls, color=col, marker=mk, label=lab)
            if meth != "floor":
                axes[1].plot(ns, [(r["peak_bytes"] or np.nan) / 2**20 for r in rs], ls, color=col, marker=mk, label=lab)
            if sweep["stopped"].get(meth) and meth != "floor":
                axes[0].annotate(
                    "stop",
                    (ns[-1], rs[-1]["epoch_s"]),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=8,
                    color=col,
                )
        axes[0].set_ylabel(f"training time per epoch [s] ({cfg['samples']} samples)")
        axes[1].set_ylabel("peak memory of one step [MiB]")
        for ax in axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("number of input spikes N_in")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8)
        fig.suptitle(
            f"{names[model][1]}: 1 layer of {cfg['n_out']} neurons, batch {cfg['batch']}, M = {m} "
            f"({_where(payload)}){tag}",
            fontsize=9,
        )
        fig.tight_layout()
        figs[names[model][0]] = fig
    if payload.get("conv"):
        conv = payload["conv"]
        res = conv["results"]
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.4))
        keys = ["ann", "floor", "dstd"]
        labels = ["ANN", f"floor (2x ch, {conv['steps']}x batch)", f"DSTD M={conv['steps']}"]
        axes[0].bar(labels, [res[k]["per_image_s"] * 1e3 for k in keys], color=["C0", "k", "C3"])
        axes[0].set_ylabel("time per training image [ms]")
        axes[1].bar(labels, [(res[k]["peak_bytes"] or 0) / 2**20 for k in keys], color=["C0", "k", "C3"])
        axes[1].set_ylabel("peak memory per step [MiB]")
        for ax in axes:
            ax.tick_params(axis="x", labelsize=7)
        fig.suptitle(
            f"VGG7 (imcpnn.models.vgg7), batch {conv['batch']}: DSTD/ANN = {conv['dstd_over_ann']:.1f}x, "
            f"DSTD/floor = {conv['dstd_over_floor']:.2f}x ({_where(payload)}){tag}",
            fontsize=8,
        )
        fig.tight_layout()
        figs["fig_conv_cost"] = fig
    parts = [(k, payload[k]) for k in ("conv_layers", "ttfs_conv_layers") if payload.get(k)]
    if parts:
        fig, axes = plt.subplots(1, len(parts), figsize=(5.5 * len(parts), 3.6), squeeze=False)
        for ax, (key, cl) in zip(axes[0], parts):
            names = [f"L{x['layer']}\n{x['in_channels']}->{x['out_channels']}\n@{x['size']}" for x in cl["layers"]]
            xs = np.arange(len(names))
            for i, (meth, col) in enumerate((("floor", "k"), ("fused", "C3"), ("plain", "C7"))):
                ax.bar(
                    xs + (i - 1) * 0.27,
                    [x["results"][meth]["time_s"] for x in cl["layers"]],
                    0.27,
                    color=col,
                    label={"floor": "floor (convolutions)", "fused": "fused DSTD", "plain": "plain autograd"}[meth],
                )
            ax.set_xticks(xs, names, fontsize=7)
            ax.set_ylabel("time per training step [s]")
            label = "RC-Spike VGG7" if key == "conv_layers" else "TTFS CNN"
            ax.set_title(f"{label} conv layers, batch {cl['batch']}, M = {cl['steps']}", fontsize=9)
            ax.legend(fontsize=7)
        fig.suptitle(f"conv DSTD layers vs their floor ({_where(payload)}){tag}", fontsize=8)
        fig.tight_layout()
        figs["fig_conv_layers_cost"] = fig
    if replot:
        figs = {f"{k}_replot": v for k, v in figs.items()}
    if figures_dir is not None:
        for name, fig in figs.items():
            save_figure(fig, figures_dir, name)
    return figs
