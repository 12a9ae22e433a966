"""imcpnn.repro.ttfs_cnn_claims: the statistics, verdicts, REPRODUCTION rows and results payload of the TTFS CNN
(arXiv 2412.09010v1 App. C, Fig. 10a-e; App. E, Fig. 13c; App. F, Fig. 14c). Offline, on synthetic run results:
each claim rule is driven to each of its outcomes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from imcpnn.repro import fmnist_mlp as X
from imcpnn.repro import ttfs_cnn as T
from imcpnn.repro import ttfs_cnn_claims as K
from imcpnn.repro.report import VERDICTS

S = {
    "base": {
        "width": 0.25,
        "train_subset": 1920,
        "test_subset": 10_000,
        "val_size": 100,
        "epochs": 2,
        "test_steps": 20,
    },
    "d_e": [4.0, 2.0],
    "d_m": [3, 10, 20, 40, 60],
    "sweep_m": [10, 30],
    "sweep_e": [1.2, 2.0, 2.8, 4.0, 8.0, 31.6],
    "seeds": [0, 1, 2],
    "ann_e": [1.2, 2.0, 2.8, 4.0, 8.0, 11.3, 16.0, 31.6],
    "scale_e": [2.0, 2.8],
    "test_repeats": 2,
    "trace_n": 2,
    "ann_train_e": 31.6,
}
BASE = T.base_config(S)


def runs_of(s: dict, *, m_sat: dict, e_sat: float, offset_gain: float) -> dict:
    """Synthetic runs of every cell of :func:`imcpnn.repro.ttfs_cnn.cells`: accuracy 0.85, minus 0.10 below the
    M where |E| saturates (``m_sat``), minus 0.10 below |E| = ``e_sat``, minus ``offset_gain`` for a fixed offset
    at M < 10, plus 0.001 x seed."""

    def acc(e, m, off, sd):
        fixed = offset_gain if off == "fixed" and m < 10 else 0.0
        return 0.85 - 0.10 * (m < m_sat.get(e, 0)) - 0.10 * (e < e_sat) - fixed + 0.001 * sd

    return {
        c: X.RunResult(T.cell_config(BASE, c), Path(f"/runs/{c}"), {"epochs": [{"test_accuracy": acc(*c)}]})
        for c in T.cells(s)
    }


def baselines(ann: dict, scaled: dict) -> dict:
    return {"ann": ann, "scaled": {e: {"test": v, "scales": [1.0, 1.0]} for e, v in scaled.items()}, "grid14": None}


ANN_DEGRADES = {1.2: 0.3, 2.0: 0.4, 2.8: 0.5, 4.0: 0.6, 8.0: 0.65, 11.3: 0.8, 16.0: 0.8, 31.6: 0.82}
ANN_FLAT = {e: 0.8 for e in ANN_DEGRADES}


def stats_and_claims(runs, ann, scaled, traces, profile="paper", s=S, n_test=10_000):
    acc = T.accuracies(runs)
    stats = K.claim_statistics(runs, acc, baselines(ann, scaled), traces, s, profile, n_test)
    return acc, stats, K.claims(stats)


# ------------------------------------------------------------------------------------------------ rules


def test_trace_e_lists_the_trained_paper_values():
    runs = {(2.0, 10, "random", 0): 1, (31.6, 10, "random", 0): 1, (2.8, 30, "random", 0): 1}
    assert K.trace_e(runs, S) == [2.0, 31.6]  # 2.8 only at the second M


def test_noise_gated_verdict_outcomes():
    assert K.noise_gated_verdict({"lo": 1.0, "hi": 3.0}, 2, True) == "resolved"
    assert K.noise_gated_verdict({"lo": -3.0, "hi": -1.0}, 5, True) == "resolved, opposite sign"
    assert K.noise_gated_verdict({"lo": -1.0, "hi": 3.0}, 5, True) == "not resolved at this budget"
    assert K.noise_gated_verdict({"lo": 1.0, "hi": 3.0}, 1, True) == "not resolved at this budget"  # one pair
    assert K.noise_gated_verdict({"lo": 1.0, "hi": 3.0}, 5, False) == "not resolved at this budget"  # within noise


def test_trace_verdict_outcomes():
    v = lambda x: {"min_v_hidden": x, "min_v_output": 0.0}  # noqa: E731
    assert K.trace_verdict({31.6: v(-3.0), 2.0: v(-0.5)}) == (pytest.approx(2.5), "resolved")
    assert K.trace_verdict({2.0: v(-3.0), 2.8: v(-2.0), 31.6: v(-0.5)})[1] == "resolved, opposite sign"
    assert K.trace_verdict({2.0: v(-0.50), 31.6: v(-0.54)})[1] == "not resolved at this budget"
    assert K.trace_verdict({2.0: v(-0.5)}) == (0.0, "not resolved at this budget")  # one |E|: no trend
    assert K.trace_verdict({2.0: v(-0.50), 31.6: v(-0.54)}, tol=0.01)[1] == "resolved"


def test_ann_degradation_verdict_outcomes():
    n = 10_000
    assert K.ann_degradation_verdict(T.ann_degradation(ANN_DEGRADES, n)) == "resolved"
    early = {**ANN_DEGRADES, 11.3: 0.6}  # the strong loss already starts above |E| = 10
    assert K.ann_degradation_verdict(T.ann_degradation(early, n)) == "resolved, in part"
    assert K.ann_degradation_verdict(T.ann_degradation(ANN_FLAT, n)) == "resolved, opposite sign"
    near_chance = {e: 0.15 for e in ANN_DEGRADES}
    assert K.ann_degradation_verdict(T.ann_degradation(near_chance, n)) == "not resolved at this budget"


# ------------------------------------------------------------------------------------------------ claims

TRACES_PAPER = {2.0: {"min_v_hidden": -0.5, "min_v_output": -0.2}, 31.6: {"min_v_hidden": -3.0, "min_v_output": -1.0}}


def test_claims_of_a_paper_like_run_are_reproduced():
    runs = runs_of(S, m_sat={4.0: 20, 2.0: 40}, e_sat=2.8, offset_gain=0.05)
    acc, stats, claims = stats_and_claims(runs, ANN_DEGRADES, {2.0: 0.30, 2.8: 0.49}, TRACES_PAPER)
    assert stats["e10"] == 30 and stats["sweep"] == S["sweep_e"]
    assert stats["conv_m"][4.0]["x"] == 20 and stats["conv_m"][2.0]["x"] == 40 and stats["conv_e"]["x"] == 2.8
    assert len(stats["gaps"]) == 6 and stats["gap_ci"]["mean"] == pytest.approx(5.0) and stats["gap_noise"]
    assert stats["sc_gaps"] == pytest.approx([100 * (0.65 + 0.001 - 0.30), 100 * (0.85 + 0.001 - 0.49)])
    assert claims == {
        "convergence M, E+=4": "reproduced",
        "convergence M, E+=2": "reproduced",
        "random offset better for M<10": "resolved",
        "convergence |E| at M=30": "reproduced",
        "ANN degrades below |E|~10": "resolved",
        "scaled ANN substantially below": "resolved",
    }
    assert stats["tr_state"] == "resolved" and stats["tr_diff"] == pytest.approx(2.5)


def test_claims_of_a_contrary_run_are_not_reproduced():
    runs = runs_of(S, m_sat={4.0: 60, 2.0: 0, 31.6: 0}, e_sat=31.6, offset_gain=-0.05)
    traces = {2.0: TRACES_PAPER[31.6], 31.6: TRACES_PAPER[2.0]}
    acc, stats, claims = stats_and_claims(runs, ANN_FLAT, {2.0: 0.95, 2.8: 0.96}, traces)
    assert stats["conv_m"][4.0]["x"] == 60 and stats["conv_m"][2.0]["x"] == 3 and stats["conv_e"]["x"] == 31.6
    assert claims == {
        "convergence M, E+=4": "not reproduced",
        "convergence M, E+=2": "not reproduced",
        "random offset better for M<10": "resolved, opposite sign",
        "convergence |E| at M=30": "not reproduced",
        "ANN degrades below |E|~10": "resolved, opposite sign",
        "scaled ANN substantially below": "resolved, opposite sign",
    }
    assert stats["tr_state"] == "resolved, opposite sign"


def test_claims_of_a_quick_like_budget_are_not_resolved():
    s = {**S, "d_m": [3, 10], "sweep_m": [10], "seeds": [0], "sweep_e": [1.2, 2.0, 31.6]}
    runs = runs_of(s, m_sat={4.0: 20, 2.0: 40}, e_sat=2.8, offset_gain=0.05)
    traces = {2.0: {"min_v_hidden": -0.50, "min_v_output": 0.0}, 31.6: {"min_v_hidden": -0.52, "min_v_output": 0.0}}
    near_chance = {e: 0.12 for e in ANN_DEGRADES}
    acc, stats, claims = stats_and_claims(runs, near_chance, {2.0: 0.30}, traces, profile="quick", s=s, n_test=50)
    assert stats["e10"] == 10 and stats["sweep"] == [1.2, 2.0, 31.6]
    assert not stats["gap_noise"] and len(stats["gaps"]) == 2
    assert set(claims.values()) == {"not resolved at this budget"}, claims
    assert stats["tr_state"] == "not resolved at this budget"
    # no pair at all: an unbounded interval, never resolved
    no_fixed = {c: r for c, r in runs.items() if c[2] == "random"}
    _, st, cl = stats_and_claims(no_fixed, near_chance, {}, traces, profile="quick", s=s, n_test=50)
    assert st["gaps"] == [] and st["gap_ci"]["hi"] == math.inf and st["sc_gaps"] == []
    assert math.isnan(st["sc_ci"]["mean"]) and cl["random offset better for M<10"] == "not resolved at this budget"


# ------------------------------------------------------------------------------------------------ REPRODUCTION


def test_ours_row_and_acc_list():
    text = K.ours(BASE, S, "M ∈ [3]")
    assert text == (
        "M ∈ [3]; width x0.25, 2 epoch(s) on 1920 images, lr 0.0002 (constant), batch 32, test 10000 images at "
        "test M = 20, seeds [0, 1, 2]"
    )
    r = K.row("Fig. 10d", "q", 20, 10, "resolved, in part", "ours", note="n")
    assert r["verdict"] == "partially" and r["note"] == "resolved, in part. n"
    assert K.row("F", "q", 1, 1, "not reproduced", "ours")["note"] == "not reproduced."
    with pytest.raises(KeyError):
        K.row("F", "q", 1, 1, "maybe", "ours")
    assert set(K.VERDICT.values()) <= set(VERDICTS)
    acc = {(4.0, 3, "random"): [0.5, 0.7], (4.0, 10, "random"): [0.8]}
    assert K.acc_list(acc, [("M=3", (4.0, 3, "random")), ("M=10", (4.0, 10, "random"))]) == "M=3: 60.0, M=10: 80.0"


def test_comparison_rows_and_payload():
    runs = runs_of(S, m_sat={4.0: 20, 2.0: 40}, e_sat=2.8, offset_gain=0.05)
    bl = baselines(ANN_DEGRADES, {2.0: 0.30, 2.8: 0.49})
    acc = T.accuracies(runs)
    stats = K.claim_statistics(runs, acc, bl, TRACES_PAPER, S, "paper", 10_000)
    claims = K.claims(stats)
    m13 = {5: [0.8, 0.82], 60: [0.85, 0.85]}
    rows = K.comparison_rows(
        s=S, base=BASE, acc=acc, baselines=bl, traces=TRACES_PAPER, m13=m13, stats=stats, claim_states=claims
    )
    assert [r["figure"] for r in rows] == ["Fig. 10d"] * 3 + ["Fig. 10e"] * 3 + ["Fig. 10a-c", "Fig. 13c"]
    assert [r["ours"] for r in rows[:2]] == [20.0, 40.0] and rows[0]["paper"] == 20 and rows[1]["paper"] == 40
    assert rows[0]["note"].startswith("reproduced. M=3: 75.1, M=10: 75.1, M=20: 85.1")
    assert rows[2]["ours"] == "+5.0 pt (95 % CI +5.0..+5.0, n = 6)" and rows[2]["verdict"] == "reproduced"
    assert rows[3]["quantity"] == "convergence |E| at M = 30" and rows[3]["paper"] == 3.0 and rows[3]["ours"] == 2.8
    assert rows[4]["ours"].startswith("1.2: 30.0, 2: 40.0") and rows[4]["verdict"] == "reproduced"
    assert rows[5]["ours"] == "|E|=2: +35.1 pt, |E|=2.8: +36.1 pt"
    assert rows[6]["ours"] == "|E|=2: -0.50, |E|=31.6: -3.00" and rows[6]["verdict"] == "reproduced"
    assert rows[7]["ours"] == "M=5: 81.0±1.0, M=60: 85.0±0.0 %" and rows[7]["verdict"] == "not reproduced"
    quick = {**stats, "e10": 10}
    quick_claims = {**claims, "convergence |E| at M=10": claims["convergence |E| at M=30"]}
    q = K.comparison_rows(
        s=S, base=BASE, acc=acc, baselines=bl, traces=TRACES_PAPER, m13=m13, stats=quick, claim_states=quick_claims
    )
    assert q[3]["paper"] == 4.0  # the M = 10 panel of Fig. 10e
    payload = K.results_payload(
        s=S,
        base=BASE,
        acc=acc,
        baselines=bl,
        m13=m13,
        traces=TRACES_PAPER,
        claim_states=claims,
        wall_time_s=1.5,
        comparison=rows,
    )
    assert list(payload) == [
        "settings",
        "base_config",
        "accuracy",
        "baselines",
        "fig13c",
        "traces",
        "claims",
        "wall_time_s",
        "paper_comparison",
    ]
    assert payload["accuracy"]["E=4,M=3,random"] == pytest.approx([0.75, 0.751, 0.752])
    assert payload["baselines"]["ann"]["31.6"] == 0.82 and list(payload["baselines"]["scaled"]) == ["2.0", "2.8"]
    assert list(payload["fig13c"]) == ["5", "60"] and list(payload["traces"]) == ["2.0", "31.6"]
    json.dumps(payload, default=float)  # what profiles.write_json writes
