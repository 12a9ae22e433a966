"""The claims of the convolutional TTFS network on Fashion-MNIST (arXiv 2412.09010v1 App. C, Fig. 10a-e; App. E,
Fig. 13c; App. F, Fig. 14c), decided from the runs of :mod:`imcpnn.repro.ttfs_cnn`, and the results file of
notebook 05.

The claim rules (convergence points, paired offset gaps gated by the binomial test-set noise, the ANN's
degradation below |E| ~ 10) are those of :mod:`imcpnn.repro.ttfs_cnn`; this module applies them to the runs of a
profile, states each claim as "resolved", "resolved, in part", "resolved, opposite sign", "reproduced",
"not reproduced" or "not resolved at this budget", and maps each state to the REPRODUCTION.md verdict
(:data:`VERDICT`: an unresolved claim is not a reproduction).

The notebook (``notebooks/05_ttfs_cnn.py``) trains, plots and checks; the statistics, the verdicts, the
REPRODUCTION rows and the results payload are computed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from imcpnn.repro import fmnist_mlp as X
from imcpnn.repro import ttfs_cnn as T
from imcpnn.repro.paper import TTFS_CNN as P
from imcpnn.repro.report import comparison_row
from imcpnn.train import TrainConfig

__all__ = [
    "VERDICT",
    "NOT_RESOLVED",
    "TRACE_TOL",
    "trace_e",
    "noise_gated_verdict",
    "trace_verdict",
    "ann_degradation_verdict",
    "claim_statistics",
    "claims",
    "ours",
    "row",
    "acc_list",
    "comparison_rows",
    "results_payload",
]

Cell = tuple[float, int, str, int]  # (|E|, training M, offset, seed)
Acc = Mapping[tuple[float, int, str], Sequence[float]]  # (|E|, M, offset) -> final accuracies (fractions) over seeds

NOT_RESOLVED = "not resolved at this budget"
#: Fig. 10a-c: a difference of min_t v below this (5 % of the threshold) between the smallest and the largest |E|
#: is not a trend.
TRACE_TOL = 0.05

#: The state of a claim -> the REPRODUCTION.md verdict. An unresolved claim is not a reproduction.
VERDICT: dict[str, str] = {
    "resolved": "reproduced",
    "reproduced": "reproduced",
    "not reproduced": "not reproduced",
    "resolved, in part": "partially",
    "resolved, opposite sign": "not reproduced",
    NOT_RESOLVED: "not reproduced",
}

_UNBOUNDED = {"mean": float("nan"), "lo": -np.inf, "hi": np.inf}


def trace_e(runs: Mapping[Cell, Any], s: Mapping[str, Any]) -> list[float]:
    """Fig. 10a-c: the paper's |E| = 2.0, 2.8, 31.6 that the profile trained (at the sweep's first M, random
    offset, first seed)."""
    return [e for e in (2.0, 2.8, 31.6) if (e, s["sweep_m"][0], "random", s["seeds"][0]) in runs]


# ------------------------------------------------------------------------------------------------ rules


def noise_gated_verdict(ci: Mapping[str, float], n: int, exceeds_noise: bool) -> str:
    """A sign claim over paired gaps: :func:`imcpnn.repro.fmnist_mlp.sign_verdict` of their interval when there are
    at least 2 gaps and their mean exceeds the test-set noise (:func:`imcpnn.repro.ttfs_cnn.gap_exceeds_noise`),
    else "not resolved at this budget"."""
    return X.sign_verdict(ci) if n >= 2 and exceeds_noise else NOT_RESOLVED


def trace_verdict(traces: Mapping[float, Mapping[str, float]], tol: float = TRACE_TOL) -> tuple[float, str]:
    """Fig. 10a-c ("smaller |E| keeps v from becoming very negative"): the difference of the mean min_t v of the
    last hidden FC layer between the smallest and the largest |E| (0 with fewer than two |E|), and the state:
    "resolved" when it is above ``tol``, "resolved, opposite sign" when below ``-tol``, else not resolved."""
    es = sorted(traces)
    diff = traces[es[0]]["min_v_hidden"] - traces[es[-1]]["min_v_hidden"] if len(es) >= 2 else 0.0
    state = NOT_RESOLVED if abs(diff) <= tol else "resolved" if diff > 0 else "resolved, opposite sign"
    return diff, state


def ann_degradation_verdict(degradation: Mapping[str, Any]) -> str:
    """Fig. 10e ("the ANN deteriorated when |E| fell below ~10") from :func:`imcpnn.repro.ttfs_cnn.ann_degradation`:
    both halves (a strong loss below |E| = 10, none at or above it) -> "resolved"; a strong loss below 10 that
    already starts at |E| >= 10 -> "resolved, in part"; no strong loss below 10 -> "resolved, opposite sign";
    not decidable (the ANN too close to chance) -> "not resolved at this budget"."""
    if not degradation["decidable"]:
        return NOT_RESOLVED
    if degradation["holds"]:
        return "resolved"
    if degradation["below_holds"]:
        return "resolved, in part"
    return "resolved, opposite sign"


# ------------------------------------------------------------------------------------------------ claims


def claim_statistics(
    runs: Mapping[Cell, Any],
    acc: Acc,
    baselines: Mapping[str, Any],
    traces: Mapping[float, Mapping[str, float]],
    s: Mapping[str, Any],
    profile: str,
    n_test: int,
) -> dict[str, Any]:
    """The numbers behind the claims of Fig. 10a-e:

    - ``conv_m`` {E+: :func:`~imcpnn.repro.ttfs_cnn.converged_at` over the M of ``d_m``} (Fig. 10d);
    - ``gaps`` (random - fixed, M < 10, fractions), ``gap_ci`` (their t-interval in points) and ``gap_noise``
      (whether their mean exceeds the test-set noise) (Fig. 10d);
    - ``e10`` (the M of the |E| panel: the sweep's last M in ``paper``, else its first), ``sweep`` (the trained
      |E| at that M) and ``conv_e`` (the convergence |E|) (Fig. 10e);
    - ``degradation`` (:func:`~imcpnn.repro.ttfs_cnn.ann_degradation` of the ANN on ``n_test`` images);
    - ``sc_gaps`` (trained - scaled ANN per |E|, points), ``sc_ci``, ``sc_noise`` and ``sc_state`` (Fig. 10e);
    - ``tr_diff`` and ``tr_state`` (:func:`trace_verdict`, Fig. 10a-c).
    """
    m_dec = s["d_m"]
    conv_m = {e: T.converged_at(m_dec, [acc[(e, m, "random")] for m in m_dec]) for e in s["d_e"]}
    gaps = T.offset_gaps(runs, s["d_e"])
    gap_ci = X.t_interval([100 * g for g in gaps]) if gaps else dict(_UNBOUNDED)
    e10 = s["sweep_m"][-1 if profile == "paper" else 0]
    sweep = sorted(e for e in s["sweep_e"] if (e, e10, "random") in acc)
    conv_e = T.converged_at(sweep, [acc[(e, e10, "random")] for e in sweep])
    degr = T.ann_degradation(baselines["ann"], n_test)
    gap_accs = [a for (e, m, off), v in acc.items() if e in s["d_e"] and m < 10 for a in v]
    gap_noise = T.gap_exceeds_noise(gaps, gap_accs, n_test)
    m0 = s["sweep_m"][0]
    sc_gaps = [
        100 * (np.mean(acc[(e, m0, "random")]) - v["test"])
        for e, v in baselines["scaled"].items()
        if (e, m0, "random") in acc
    ]
    sc_ci = X.t_interval(sc_gaps) if sc_gaps else dict(_UNBOUNDED)
    sc_noise = T.gap_exceeds_noise(
        [g / 100 for g in sc_gaps], [v["test"] for v in baselines["scaled"].values()], n_test
    )
    tr_diff, tr_state = trace_verdict(traces)
    return {
        "m_dec": m_dec,
        "conv_m": conv_m,
        "gaps": gaps,
        "gap_ci": gap_ci,
        "gap_noise": gap_noise,
        "e10": e10,
        "sweep": sweep,
        "conv_e": conv_e,
        "degradation": degr,
        "sc_gaps": sc_gaps,
        "sc_ci": sc_ci,
        "sc_noise": sc_noise,
        "sc_state": noise_gated_verdict(sc_ci, len(sc_gaps), sc_noise),
        "tr_diff": tr_diff,
        "tr_state": tr_state,
    }


def claims(stats: Mapping[str, Any]) -> dict[str, str]:
    """Each claim of Fig. 10d-e with its state (a key of :data:`VERDICT`), from :func:`claim_statistics`: the
    convergence points against the paper's (M = 20 at E+ = 4, M = 40 at E+ = 2; |E| = 3 at M = 30, 4 at M = 10)
    by :func:`~imcpnn.repro.ttfs_cnn.convergence_verdict`, the offset gap and the scaled-ANN gap by
    :func:`noise_gated_verdict`, the ANN's degradation by :func:`ann_degradation_verdict`."""
    m_dec, conv_m, e10 = stats["m_dec"], stats["conv_m"], stats["e10"]
    return {
        "convergence M, E+=4": T.convergence_verdict(conv_m.get(4.0, {"resolved": False}), 20, m_dec),
        "convergence M, E+=2": T.convergence_verdict(conv_m.get(2.0, {"resolved": False}), 40, m_dec),
        "random offset better for M<10": noise_gated_verdict(stats["gap_ci"], len(stats["gaps"]), stats["gap_noise"]),
        f"convergence |E| at M={e10}": T.convergence_verdict(
            stats["conv_e"], 3.0 if e10 == 30 else 4.0, stats["sweep"]
        ),
        "ANN degrades below |E|~10": ann_degradation_verdict(stats["degradation"]),
        "scaled ANN substantially below": stats["sc_state"],
    }


# ------------------------------------------------------------------------------------------------ REPRODUCTION rows


def ours(base: TrainConfig, s: Mapping[str, Any], extra: str) -> str:
    """Our settings of a REPRODUCTION row: ``extra``, then the budget of ``base`` and the seeds of ``s``."""
    c = base
    n_tr = c.train_subset or 60_000 - c.val_size
    return (
        f"{extra}; width x{c.width:g}, {c.epochs} epoch(s) on {n_tr} images, lr {c.lr:g} ({c.lr_schedule}), "
        f"batch {c.batch_size}, test {c.test_subset or 10_000} images at test M = {c.test_steps}, "
        f"seeds {s['seeds']}"
    )


def row(figure: str, quantity: str, ref: Any, value: Any, state: str, settings: str, note: str = "") -> dict:
    """A REPRODUCTION row of a claim in state ``state``: its verdict by :data:`VERDICT`, the state first in the
    note."""
    return comparison_row(figure, quantity, ref, value, VERDICT[state], settings, note=f"{state}. {note}".strip())


def acc_list(acc: Acc, keys: Iterable[tuple[str, tuple[float, int, str]]]) -> str:
    """'label: mean accuracy %' for each (label, (|E|, M, offset)) of ``keys``."""
    return ", ".join(f"{k}: {100 * np.mean(acc[kk]):.1f}" for k, kk in keys)


def comparison_rows(
    *,
    s: Mapping[str, Any],
    base: TrainConfig,
    acc: Acc,
    baselines: Mapping[str, Any],
    traces: Mapping[float, Mapping[str, float]],
    m13: Mapping[int, Sequence[float]],
    stats: Mapping[str, Any],
    claim_states: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The REPRODUCTION.md rows of notebook 05 against :data:`imcpnn.repro.paper.TTFS_CNN`: the convergence points
    (Fig. 10d-e), the offset gap (Fig. 10d), the ANN and the scaled ANN (Fig. 10e), the traces (Fig. 10a-c) and
    the test-time M (Fig. 13c, shape only: never resolved)."""
    m_dec, conv_m, e10, sweep = stats["m_dec"], stats["conv_m"], stats["e10"], stats["sweep"]
    gap_ci, gaps = stats["gap_ci"], stats["gaps"]
    return [
        row(
            "Fig. 10d",
            "convergence M, E+ = 4 (random offset)",
            P["converge_m_e4"],
            conv_m[4.0]["x"] if 4.0 in conv_m else None,
            claim_states["convergence M, E+=4"],
            ours(base, s, f"M ∈ {m_dec}"),
            note=acc_list(acc, ((f"M={m}", (4.0, m, "random")) for m in m_dec if (4.0, m, "random") in acc)) + " %",
        ),
        row(
            "Fig. 10d",
            "convergence M, E+ = 2 (random offset)",
            P["converge_m_e2"],
            conv_m[2.0]["x"] if 2.0 in conv_m else None,
            claim_states["convergence M, E+=2"],
            ours(base, s, f"M ∈ {m_dec}"),
            note=acc_list(acc, ((f"M={m}", (2.0, m, "random")) for m in m_dec if (2.0, m, "random") in acc)) + " %",
        ),
        row(
            "Fig. 10d",
            "random − fixed offset, M < 10",
            P["random_offset_small_m"],
            f"{gap_ci['mean']:+.1f} pt (95 % CI {gap_ci['lo']:+.1f}..{gap_ci['hi']:+.1f}, n = {len(gaps)})",
            claim_states["random offset better for M<10"],
            ours(base, s, f"E+ ∈ {s['d_e']}, M < 10"),
            note="needs n >= 2 pairs and a mean gap above 2 binomial SE of the test subset",
        ),
        row(
            "Fig. 10e",
            f"convergence |E| at M = {e10}",
            P["converge_e_m30" if e10 == 30 else "converge_e_m10"],
            stats["conv_e"]["x"],
            claim_states[f"convergence |E| at M={e10}"],
            ours(base, s, f"|E| ∈ {sweep}, M = {e10}, random offset"),
            note=acc_list(acc, ((f"|E|={e:g}", (e, e10, "random")) for e in sweep)) + " %",
        ),
        row(
            "Fig. 10e",
            "ANN (trained at |E| = 31.6) degrades strongly below |E| ≈ 10",
            P["ann_degrades_below"],
            ", ".join(f"{e:g}: {100 * a:.1f}" for e, a in baselines["ann"].items()) + " %",
            claim_states["ANN degrades below |E|~10"],
            ours(base, s, "rule: every |E| < 10 loses >= 10 pt, every |E| >= 10 < 5 pt vs |E| = 31.6"),
            note="decidable only if the ANN exceeds chance + 10 pt + 2 SE at |E| = 31.6",
        ),
        row(
            "Fig. 10e",
            "E±-trained − scaled ANN",
            P["scaled_ann_below"],
            ", ".join(f"|E|={e:g}: {g:+.1f} pt" for e, g in zip(baselines["scaled"], stats["sc_gaps"])),
            stats["sc_state"],
            ours(base, s, "scales chosen on validation images from the training set"),
            note="needs >= 2 |E| points for an interval",
        ),
        row(
            "Fig. 10a-c",
            "mean min_t v, last hidden FC layer",
            P["traces"],
            ", ".join(f"|E|={e:g}: {v['min_v_hidden']:.2f}" for e, v in traces.items()),
            stats["tr_state"],
            ours(base, s, f"{s['trace_n']} test images, exact traces"),
            note="resolved only if min v differs by > 0.05 between the smallest and the largest |E|",
        ),
        row(
            "Fig. 13c",
            "accuracy vs test-time M",
            P["test_m"],
            ", ".join(f"M={m}: {100 * np.mean(v):.1f}±{100 * np.std(v):.1f}" for m, v in m13.items()) + " %",
            NOT_RESOLVED,
            ours(base, s, f"{s['test_repeats']} evaluations, random test offset"),
            note="shape only; the paper gives no numbers",
        ),
    ]


def results_payload(
    *,
    s: dict[str, Any],
    base: TrainConfig,
    acc: Acc,
    baselines: Mapping[str, Any],
    m13: Mapping[int, list[float]],
    traces: Mapping[float, dict[str, float]],
    claim_states: dict[str, str],
    wall_time_s: float,
    comparison: list[dict[str, Any]],
) -> dict[str, Any]:
    """The payload of ``results/ttfs_cnn.json``: settings, the accuracies of every cell (Fig. 10d-e), the ANN /
    scaled-ANN baselines and the Fig. 14c grid, Fig. 13c, the traces' minima (Fig. 10a-c), the claims and the
    REPRODUCTION rows."""
    return {
        "settings": s,
        "base_config": base.to_dict(),
        "accuracy": {f"E={e:g},M={m},{off}": v for (e, m, off), v in acc.items()},
        "baselines": {
            "ann": {str(e): a for e, a in baselines["ann"].items()},
            "scaled": {str(e): v for e, v in baselines["scaled"].items()},
            "grid14c": baselines["grid14"],
        },
        "fig13c": {str(m): v for m, v in m13.items()},
        "traces": {str(e): v for e, v in traces.items()},
        "claims": claim_states,
        "wall_time_s": wall_time_s,
        "paper_comparison": comparison,
    }
