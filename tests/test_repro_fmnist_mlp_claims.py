"""imcpnn.repro.fmnist_mlp_claims: the statistics, verdicts, REPRODUCTION rows and results payload of the F-MNIST
MLP (arXiv 2412.09010v1 Fig. 4c-f, 11a, 13a, 14a; Table 3). Offline, on synthetic run results and generated data:
each claim rule is driven to each of its outcomes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import fmnist_tiny
import numpy as np
import pytest
import torch

from imcpnn import train
from imcpnn.repro import fmnist_mlp as X
from imcpnn.repro import fmnist_mlp_claims as K
from imcpnn.repro.report import VERDICTS
from imcpnn.train import TrainConfig

BASE = TrainConfig(train_subset=6000, test_subset=2000, epochs=3, lr=1e-3, lr_schedule="cosine", val_size=1000)
NOISE = {"random": [0.0, 0.4, -0.4, 0.2, -0.2], "fixed": [0.3, -0.1, -0.3, 0.1, 0.0]}
S = {
    "f4_m15": 15,
    "f4_m3_e": [1.0, 4.0, 100.0],
    "f4_m15_e": [1.0, 4.0, 100.0],
    "penalty_m": [3],
    "scale_e": [1.0, 4.0],
    "sigma_e": [1.0, 100.0],
    "sigmas": [0.0, 0.01, 0.02],
    "sigma_steps": 10,
    "test_ms": [10, 30, 60],
    "test_repeats": 4,
    "headline": {"epochs": 3},
    "grid_e_ann": 2.0,
}


def run(acc_pct: float | list[float], seed: int = 0, **kw) -> X.RunResult:
    """A finished run whose test accuracy (%) per epoch is ``acc_pct``."""
    curve = acc_pct if isinstance(acc_pct, list) else [acc_pct]
    epochs = [{"test_accuracy": a / 100, "train_time_s": 2.0, "eval_time_s": 0.5, "train_loss": 0.1} for a in curve]
    return X.RunResult(BASE.replace(seed=seed, **kw), Path(f"/runs/{kw}-{seed}"), {"epochs": epochs})


def scenario(
    *, offset_gain: float, m3_gap: float, e_slope: float, noise: float, seeds: int = 5, base_e: dict | None = None
):
    """Synthetic Fig. 4 runs: accuracy (%) = 80 + e_slope log10|E| + offset_gain (random offset) + m3_gap (M = 3) +
    noise x a fixed per-seed pattern; with the cells, the groups and Fig. 4f's panels."""
    cells = []
    for e in (1.0, 4.0, 100.0):
        for m in (3, 15):
            for off in ("random", "fixed"):
                cells += [(e, m, off, sd) for sd in range(seeds)]

    def acc(e, m, off, sd):
        gain = offset_gain if off == "random" else 0.0
        return 80 + e_slope * math.log10(e) + gain + (m3_gap if m == 3 else 0.0) + noise * NOISE[off][sd]

    runs = [run(acc(*c), seed=c[3], e_rev=c[0], steps=c[1], offset=c[2]) for c in cells]
    groups = K.group_cells(cells, runs)
    return groups, K.fig4f_runs(groups, S)


def baselines(scaled_lo: float, scaled_hi: float, ann_lo: float, noise: float = 0.005) -> dict:
    """ANN / scaled-ANN accuracies (fractions) of three ANN models at |E| = 1 and 4."""
    d = [0.0, noise, -noise]
    return {
        1.0: {"ann": [ann_lo + x for x in d], "scaled_ann": [scaled_lo + x for x in d[::-1]], "scales": []},
        4.0: {"ann": [0.9, 0.9, 0.9], "scaled_ann": [scaled_hi + x for x in d], "scales": []},
    }


def sigma_table(trend: float, noise: float = 0.1) -> dict:
    return {
        (sg, e): 85 + (trend if e == 100.0 else 0.0) + noise * k * (e == 1.0)
        for k, sg in enumerate(S["sigmas"])
        for e in S["sigma_e"]
    }


def t13(gap: float, noise: float = 0.05) -> dict:
    """Fig. 13a: 4 evaluations per test M; the largest M is ``gap`` higher, with a spread of ``noise``."""
    return {m: [84 + (gap + noise * k if m == 60 else 0.0) for k in range(4)] for m in S["test_ms"]}


# ------------------------------------------------------------------------------------------------ helpers


def test_pct_mean_std_grouping_and_fig4f_panels():
    groups, f4 = scenario(offset_gain=0.0, m3_gap=0.0, e_slope=0.0, noise=1.0)
    assert list(groups)[0] == (1.0, 3, "random") and len(groups) == 12 and all(len(v) == 5 for v in groups.values())
    per_seed = K.pct(groups[(1.0, 3, "random")])
    assert list(per_seed) == [0, 1, 2, 3, 4] and per_seed[1] == pytest.approx(80.4)
    mean, std = K.mean_std(groups[(1.0, 3, "random")])
    assert mean == pytest.approx(80.0) and std == pytest.approx(np.std([0, 0.4, -0.4, 0.2, -0.2], ddof=1))
    assert K.mean_std([run(70.0)]) == (pytest.approx(70.0), 0.0)  # one seed: no spread
    assert list(f4) == [3, 15] and list(f4[3]) == [1.0, 4.0, 100.0] and f4[15][4.0] is groups[(4.0, 15, "random")]
    es, means, lo = K.seed_interval_bars({4.0: groups[(4.0, 3, "random")], 1.0: [run(75.0)]})
    ci = X.t_interval(list(K.pct(groups[(4.0, 3, "random")]).values()))
    assert es == [1.0, 4.0] and means == pytest.approx([75.0, 80.0])
    assert lo == [0, pytest.approx(ci["mean"] - ci["lo"])]  # one seed: no bar


def test_timed_run_many_adds_the_wall_time_per_panel(monkeypatch):
    seen = []
    monkeypatch.setattr(
        X, "run_many", lambda configs, profile, threads, desc: seen.append((profile, threads, desc)) or ["r"]
    )
    times: dict[str, float] = {"a": 1.0}
    assert K.timed_run_many([BASE], "smoke", threads=2, desc="a", run_times=times) == ["r"]
    assert seen == [("smoke", 2, "a")] and times["a"] >= 1.0
    K.timed_run_many([BASE], "smoke", threads=1, desc="b", run_times=times)
    assert set(times) == {"a", "b"}


def test_early_fraction_and_its_verdict():
    times = [torch.tensor([0.1, 0.6, 0.2, 0.9]), torch.tensor([[0.4, 0.7]]), torch.tensor([0.0, 0.0, 0.0])]
    assert K.early_fraction(times) == pytest.approx(3 / 6)  # the output layer (last) is left out
    assert K.early_spike_verdict({1.0: 0.2, 4.0: 0.3, 100.0: 0.5}) == "reproduced"
    assert K.early_spike_verdict({1.0: 0.5, 100.0: 0.5}) == "not reproduced"
    assert K.early_spike_verdict({1.0: 0.6, 100.0: 0.1}) == "not reproduced"


def test_drop_verdict_outcomes():
    assert K.drop_verdict({"lo": -0.5, "hi": 1.0}) == "resolved"
    assert K.drop_verdict({"lo": 1.2, "hi": 3.0}) == "resolved, opposite sign"
    assert K.drop_verdict({"lo": 0.2, "hi": 1.4}) == "not resolved at this budget"
    assert K.drop_verdict({"lo": 0.2, "hi": 1.4}, margin=2.0) == "resolved"
    assert K.drop_verdict({"lo": -math.inf, "hi": math.inf}) == "not resolved at this budget"


def test_sigma_accuracies_and_table3_choose_on_validation(monkeypatch):
    cells = [(0.0, 1.0), (0.0, 100.0), (0.01, 1.0), (0.01, 100.0)]
    runs = [run(a) for a in (80.0, 82.0, 81.0, 79.0)]
    sig = K.sigma_accuracies(cells, runs)
    assert sig == {k: pytest.approx(v) for k, v in zip(cells, (80.0, 82.0, 81.0, 79.0))}
    val = (torch.zeros(2, 784), torch.zeros(2, dtype=torch.long))
    monkeypatch.setattr(X.RunResult, "model", lambda self: self.config.seed)  # the model stands for its run
    for k, r in enumerate(runs):
        r.config = r.config.replace(seed=k)
    val_acc = {0: 0.5, 1: 0.4, 2: 0.6, 3: 0.7}  # on validation: |E| = 1 at σ = 0, |E| = 100 at σ = 0.01
    seen = []
    monkeypatch.setattr(X, "evaluate", lambda m, x, y: seen.append(x is val[0]) or val_acc[m])
    rows = K.table3_rows([0.0, 0.01], cells, runs, sig, val)
    assert all(seen) and len(seen) == 4
    assert [r["best_erev_on_validation"] for r in rows] == [1.0, 100.0]
    assert [r["test_accuracy"] for r in rows] == [sig[(0.0, 1.0)], sig[(0.01, 100.0)]]  # test NOT the choice
    assert rows[1]["validation_accuracy"] == {"1.0": pytest.approx(60.0), "100.0": pytest.approx(70.0)}


def _tiny_model():
    torch.manual_seed(0)
    config = TrainConfig(e_rev=100.0, sigma_spike=0.0, train_subset=64, test_subset=32, test_steps=4, width=0.1)
    return train.build_model(config).eval()


def test_test_m_curve_and_weight_scaling_panel():
    x_val, y_val, x_te, y_te = fmnist_tiny.synthetic_data(16, 16, 3)
    model = _tiny_model()
    curve = K.test_m_curve(model, x_te, y_te, [2, 4], 2)
    assert list(curve) == [2, 4] and all(len(v) == 2 and all(0 <= a <= 100 for a in v) for v in curve.values())
    alphas = X.scale_values(0.5, 1.0, 0.5)
    grid, best, test = K.weight_scaling_panel(model, (x_val, y_val), (x_te, y_te), 2.0, alphas, test_steps=3)
    assert grid.shape == (2, 2) and np.allclose(
        grid, 100 * X.scale_grid(model, x_val, y_val, 2.0, alphas, test_steps=3)
    )
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    assert best == (alphas[i], alphas[j])  # the best point on VALIDATION
    assert test["unscaled"] == 100 * train.evaluate(model, x_te, y_te, e_rev=2.0)
    assert test["best"] == 100 * train.evaluate(model, x_te, y_te, e_rev=2.0, weight_scale=best)


# ------------------------------------------------------------------------------------------------ claims


def _claims(**kw):
    groups, f4 = scenario(**kw["runs"])
    stats = K.claim_statistics(groups, f4, kw["baselines"], kw["sig"], kw["t13"], S)
    return groups, f4, stats, K.claims(stats, S)


PAPER_LIKE = dict(
    runs=dict(offset_gain=3.0, m3_gap=0.0, e_slope=0.2, noise=0.1),
    baselines=baselines(scaled_lo=0.80, scaled_hi=0.85, ann_lo=0.5),
    sig=sigma_table(2.0),
    t13=t13(0.0),
)
OPPOSITE = dict(
    runs=dict(offset_gain=-3.0, m3_gap=5.0, e_slope=3.0, noise=0.1),
    baselines=baselines(scaled_lo=0.90, scaled_hi=0.85, ann_lo=0.95),
    sig=sigma_table(-2.0),
    t13=t13(2.0),
)
NOISY = dict(
    runs=dict(offset_gain=0.5, m3_gap=0.5, e_slope=0.3, noise=10.0, seeds=3),
    baselines=baselines(scaled_lo=0.80, scaled_hi=0.80, ann_lo=0.80, noise=0.05),
    sig=sigma_table(0.0, noise=3.0),
    t13=t13(0.5, noise=1.0),
)


def test_claims_of_the_paper_like_scenario_are_resolved():
    _, _, stats, claims = _claims(**PAPER_LIKE)
    assert list(claims) == [
        "fixed-offset penalty, |E|=1, M=3",
        "M=3 ≈ M=15 (random), |E|=4, within ±1 pt",
        "M=3 ≈ M=15 (random), |E|=1, within ±1 pt",
        "drop at |E|=1 ≤ 1 pt, M=3",
        "drop at |E|=1 ≤ 1 pt, M=15",
        "accuracy rises with log|E|, M=3",
        "accuracy rises with log|E|, M=15",
        "scaled ANN degrades from |E|=4 to 1",
        "scaling helps the ANN at |E|=1",
        "trained beats scaled ANN at |E|=1",
        "Fig. 11a: |E|=100 beats |E|=1 (paired over σ)",
        "Fig. 13a: test M=60 ≈ M=30 within ±0.5 pt",
    ]
    assert set(claims.values()) == {"resolved"}, claims
    assert stats["fixed_offset_penalty"][3]["mean"] == pytest.approx(3.0 + 0.1 * np.mean(np.subtract(*NOISE.values())))
    assert stats["drop_at_e1"][3]["mean"] == pytest.approx(0.4) and stats["slope"][15]["mean"] == pytest.approx(0.2)
    assert stats["scaling_gain"]["mean"] == pytest.approx(30.0) and stats["sigma_trend"]["mean"] == pytest.approx(1.9)
    assert all(v in K.VERDICT for v in claims.values())


def test_claims_of_the_opposite_scenario():
    _, _, stats, claims = _claims(**OPPOSITE)
    want = {
        "fixed-offset penalty, |E|=1, M=3": "resolved, opposite sign",
        "M=3 ≈ M=15 (random), |E|=4, within ±1 pt": "resolved, not equal",
        "M=3 ≈ M=15 (random), |E|=1, within ±1 pt": "resolved, not equal",
        "drop at |E|=1 ≤ 1 pt, M=3": "resolved, opposite sign",
        "drop at |E|=1 ≤ 1 pt, M=15": "resolved, opposite sign",
        "accuracy rises with log|E|, M=3": "resolved",
        "accuracy rises with log|E|, M=15": "resolved",
        "scaled ANN degrades from |E|=4 to 1": "resolved, opposite sign",
        "scaling helps the ANN at |E|=1": "resolved, opposite sign",
        "trained beats scaled ANN at |E|=1": "resolved, opposite sign",
        "Fig. 11a: |E|=100 beats |E|=1 (paired over σ)": "resolved, opposite sign",
        "Fig. 13a: test M=60 ≈ M=30 within ±0.5 pt": "resolved, not equal",
    }
    assert claims == want
    falling, _ = scenario(offset_gain=0.0, m3_gap=0.0, e_slope=-2.0, noise=0.1)
    f4 = K.fig4f_runs(falling, S)
    st = K.claim_statistics(falling, f4, OPPOSITE["baselines"], OPPOSITE["sig"], OPPOSITE["t13"], S)
    assert K.claims(st, S)["accuracy rises with log|E|, M=3"] == "resolved, opposite sign"
    assert K.claims(st, S)["drop at |E|=1 ≤ 1 pt, M=3"] == "resolved"  # a rise at |E| = 1 is no drop


def test_claims_of_a_noisy_budget_are_not_resolved():
    _, _, _, claims = _claims(**NOISY)
    assert set(claims.values()) == {"not resolved at this budget"}, claims


# ------------------------------------------------------------------------------------------------ results file


def test_timing_helpers():
    a, b = run([80.0, 81.0]), run(70.0, seed=1)
    runs = K.unique_runs([a], [a, b], [])
    assert list(runs.values()) == [a, b]  # a run shared by two panels counts once
    assert K.run_compute_s(runs.values()) == pytest.approx(3 * 2.5)
    assert K.from_scratch_s(100.0, {"x": 30.0, "y": 20.0}, 7.5) == pytest.approx(57.5)


def test_ours_ci_text_and_claim_row():
    text = K.ours(BASE, "M = 3", 2, epochs=5)
    assert text == "M = 3; 5 epochs, 6000 train / 2000 test images, lr 0.001 cosine, batch 32; seeds: 2"
    assert "59000 train / 10000 test" in K.ours(TrainConfig(val_size=1000), "x")
    assert K.ci_text({"mean": 1.234, "lo": -0.5, "hi": 3.0}) == "+1.23 pt (95 % CI -0.50..+3.00)"
    row = K.claim_row({"c": "not resolved at this budget"}, "Fig. 4f", "q", 1.0, "v", "c", "ours", note="n")
    assert row["verdict"] == "not reproduced" and row["note"] == "not resolved at this budget. n"
    assert K.claim_row({"c": "resolved"}, "F", "q", 1.0, "v", "c", "ours")["verdict"] == "reproduced"
    with pytest.raises(KeyError):
        K.claim_row({}, "F", "q", 1.0, "v", "c", "ours")
    assert set(K.VERDICT.values()) <= set(VERDICTS)


@pytest.mark.parametrize("case", [PAPER_LIKE, OPPOSITE, NOISY], ids=["paper-like", "opposite", "noisy"])
def test_comparison_rows_and_payload(case):
    groups, f4, stats, claims = _claims(**case)
    early = {1.0: 0.2, 100.0: 0.4}
    table3 = [{"sigma_spike": 0.01, "best_erev_on_validation": 100.0, "test_accuracy": 85.0, "validation_accuracy": {}}]
    headline = run([70.0, 80.0], e_rev=4.0, steps=3, epochs=3)
    rows = K.comparison_rows(
        s=S,
        base=BASE,
        headline_config=headline.config,
        headline=80.0,
        n_headline_train=6000,
        stats=stats,
        claim_states=claims,
        f4=f4,
        n_ann=3,
        early=early,
        table3=table3,
    )
    assert len(rows) == 1 + len(claims) + 1 + len(table3)
    by_quantity = {r["quantity"]: r for r in rows}
    assert by_quantity["test accuracy, |E|=4, M=3, random offset (headline)"]["verdict"].startswith("not comparable")
    # every claim row carries the verdict of its state and names the state first in its note
    claim_rows = [r for r in rows if r["figure"] not in ("Table 3 / Fig. 4", "Fig. 4d", "Table 3 (MLP)")]
    assert len(claim_rows) == len(claims)
    order = list(claims)
    order = order[:7] + [order[7], order[9], order[8]] + order[10:]  # rows: degradation, trained vs scaled, gain
    for r, key in zip(claim_rows, order):
        assert r["note"].startswith(claims[key]) and r["verdict"] == K.VERDICT[claims[key]], (r, key)
    assert by_quantity["fraction of hidden-layer spikes before t = 0.5, |E| = 1, 100"]["verdict"] == "reproduced"
    assert by_quantity["best accuracy over |E|, σ_spike=0.01"]["ours"] == "85.00 % at |E|=100"
    payload = K.results_payload(
        profile="smoke",
        s=S,
        base=BASE,
        headline_run=headline,
        wall_time={"this_execution_s": 1.0},
        groups=groups,
        f4=f4,
        baselines=case["baselines"],
        early=early,
        sig=case["sig"],
        table3=table3,
        t13=case["t13"],
        alphas=[0.5, 1.0],
        best14=(1.0, 0.5),
        t14={"unscaled": 50.0, "best": 60.0},
        claim_states=claims,
        stats=stats,
        comparison=rows,
    )
    assert list(payload) == [
        "title",
        "settings",
        "wall_time",
        "headline",
        "fig4c_4e",
        "fig4f",
        "fig4d_early_fraction",
        "fig11a",
        "table3_mlp",
        "fig13a",
        "fig14a",
        "claims",
        "statistics",
        "paper_comparison",
    ]
    assert payload["headline"]["accuracy"] == pytest.approx(80.0) and payload["headline"]["curve"] == pytest.approx(
        [70.0, 80.0]
    )
    assert list(payload["statistics"]) == list(stats) and list(payload["statistics"]["slope"]) == ["3", "15"]
    assert payload["fig14a"] == {
        "e_rev": 2.0,
        "alphas": [0.5, 1.0],
        "best_on_validation": [1.0, 0.5],
        "test": {"unscaled": 50.0, "best": 60.0},
    }
    assert len(payload["fig4c_4e"]) == len(groups) and payload["fig4c_4e"][0]["per_seed"] == K.pct(
        groups[(1.0, 3, "random")]
    )
    json.dumps(payload, default=float)  # what profiles.write_json writes
