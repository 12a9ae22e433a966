"""The harness of notebook 08 (imcpnn.repro.circuit_robustness and its summaries) without ngspice: subsets, the
refit search, failed-job bookkeeping, the E(v) fits and model, the REPRODUCTION.md rows. The circuits themselves run
in the notebook's smoke profile."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from imcpnn.repro import circuit_robustness as cr
from imcpnn.repro import circuit_robustness_summary as crs
from imcpnn.repro import iris_circuit as ic
from imcpnn.repro.report import check_verdict


def test_balanced_subset_takes_classes_in_turn():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 0])
    assert cr.balanced_subset(labels, 3) == [0, 3, 5]
    assert cr.balanced_subset(labels, 7) == [0, 1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="n must be in"):
        cr.balanced_subset(labels, 0)


def test_factor_search_refines_around_the_best_and_skips_infinite_values():
    seen = []

    def objective(f):
        seen.append(f)
        return math.inf if f >= 4 else (math.log2(f) - math.log2(1.7)) ** 2

    best, evaluated = cr.factor_search(objective, (0.5, 1.0, 2.0, 4.0), (2**0.5, 2**0.25))
    assert len(seen) == len(set(seen)) == len(evaluated)  # each factor once
    assert best == pytest.approx(2**0.75, rel=1e-5)  # 2 -> 2^0.5 -> 2^0.75 (closest to 1.7)
    assert cr.factor_search(lambda f: math.inf, (0.5, 2.0), (2.0,))[0] == 1.0  # nothing finite: keep the tt scales


def test_job_results_records_every_sample_of_a_failed_job():
    runs = {"kind": "runs", "t_in": [[0.1] * 5, [0.2] * 5]}
    refit = {"kind": "refit", "test_t_in": [[0.1] * 5]}
    rec = [
        {"status": "failed", "error": "timeout after 5 s", "config": {"tag": "ss27_pnn", "tasks": [runs, refit]}},
        {"status": "ok", "result": {"tasks": [], "wall_s": 1.0, "tag": "x", "fatal": None}},
    ]
    out = cr.job_results(rec)
    assert [r["ok"] for r in out[0]["tasks"][0]["runs"]] == [False, False]
    assert "timeout" in out[0]["tasks"][1]["test"][0]["error"] and out[0]["job_error"] == "timeout after 5 s"
    c = crs.counts(out, 10.0, {"executor": "local", "workers": 2})
    assert c["failed_simulations"] == 3 and c["simulations"] == 3 and c["job_errors"] == ["timeout after 5 s"]
    assert c["failed_elsewhere"] == 3  # not a condition the simulator refused: a failure to report
    out[0]["fatal"] = "the circuit failed the simulator's model check"
    assert crs.counts(out, 10.0, {})["failed_elsewhere"] == 0


def test_score_runs_counts_failures_and_scores_the_rest():
    runs = [
        {"ok": True, "t2": [0.1, 0.5, 1.0, 1.0, 1.0]},
        {"ok": False, "error": "boom", "unmappable": False},
        {"ok": False, "error": "unmappable: x", "unmappable": True},
    ]
    model = np.array([[0.11, 0.5, 1.0, 1.0, 1.0]] * 3)
    s = crs._score_runs(runs, model, np.array([0, 1, 2]))
    assert s["n_failed"] == 2 and s["unmappable"] == 1 and s["acc"] == 1.0 and s["n_silent"] == 0
    silent = [{"ok": True, "t2": [1.0] * 5}, runs[0], {"ok": True, "t2": [1.0, 1.0, 1.0, 1.0, 0.99]}]
    assert crs._score_runs(silent, model, np.array([0, 1, 2]))["n_silent"] == 1  # one output at 0.99 is a spike
    assert s["rmse_ns"] == pytest.approx(ic.rmse_ns(model[:1], [runs[0]["t2"]]))


def _curves(a_n=-0.37, b_n=0.02, a_p=0.7, b_p=0.03, a_d=-0.16, b_d=-0.01, v_th=0.93):
    v = np.linspace(0.0, 1.8, 181)
    u = (1.3 - v) / v_th

    def cur(i0, a, b):
        return (i0 * (1 + a * u + b * u**2)).tolist()

    return {
        "synapse_n": {"v": v.tolist(), "i": [cur(k * 1e-9, a_n, b_n) for k in (1, 2, 3)]},
        "synapse_p": {"v": v.tolist(), "i": [cur(-k * 1e-9, a_p, b_p) for k in (1, 2)]},
        "discharger": {
            "v": v.tolist(),
            "v_b_dis": [0.54, 0.56, 0.58],
            "i": [cur(1e-7, 0.0, 0.0), cur(1.4e-7, a_d, b_d), cur(2e-7, 0.0, 0.0)],
        },
    }


def test_fit_curves_recovers_synthetic_polynomials_and_the_calibrated_discharger():
    dev = {"v_th": 0.93, "v_b_dis": 0.5643}
    h = crs.fit_curves(_curves(), dev, 2)
    np.testing.assert_allclose(h["h_pos"], (1, -0.37, 0.02), atol=1e-9)
    np.testing.assert_allclose(h["h_neg"], (1, 0.7, 0.03), atol=1e-9)  # the PMOS current's magnitude
    np.testing.assert_allclose(h["h_dis"], (1, -0.16, -0.01), atol=1e-9)
    assert h["v_b_dis_curve"] == 0.56
    assert h["v_range"] == pytest.approx([1.3 - 1.05 * 0.93, 1.3 + 0.2 * 0.93])


def test_poly_times_with_linear_h_reproduce_the_trained_pnn_model():
    torch.manual_seed(0)
    dev = {"e_rev_pos": 2.67, "e_rev_neg": -1.42, "e_dis": 6.15}
    w1, w2 = np.random.default_rng(0).normal(0, 0.6, (5, 5)), np.random.default_rng(1).normal(0, 0.6, (5, 5))
    x = torch.rand(7, 4, dtype=torch.float64)
    hid_m, out_m = ic.model_times(cr.network("pnn", dev, w1, w2), x)
    lin = {"h_pos": [1, -1 / 2.67], "h_neg": [1, 1 / 1.42], "h_dis": [1, -1 / 6.15]}
    t_in = torch.cat([x, torch.zeros(7, 1, dtype=torch.float64)], 1)
    hid, out = crs.poly_times(t_in, w1, w2, lin)
    np.testing.assert_allclose(hid.numpy(), hid_m, atol=1e-7)
    np.testing.assert_allclose(out.numpy(), out_m, atol=1e-7)


def test_paper_comparison_rows_carry_valid_verdicts():
    flows = {"ann": {"factor": 2.0}, "pnn": {"factor": 1.0}}
    row = {
        "corner": "ss",
        "temp_c": 27.0,
        "n_test": 50,
        "rmse_ann_ns": 80.0,
        "rmse_pnn_ns": 12.0,
        "acc_ann": 0.8,
        "acc_pnn": 0.9,
        "flows": flows,
    }
    res = {
        "settings": {"workers": 2, "n_search": 2},
        "profile_label": "quick",
        "source": "results/iris_circuit.json",
        "corners": [
            {**row, "scales": "fixed"},
            {**row, "scales": "refit", "n_test": 15, "fixed_same_samples": {"rmse_ann_ns": 70.0, "rmse_pnn_ns": 9.0}},
        ],
        "mismatch": {
            "n": 3,
            "n_samples": 6,
            "rmse_ann_ns": [50, 60, 70],
            "acc_ann": [0.5, 0.6, 0.7],
            "rmse_pnn_ns": [20, 30, math.nan],
            "acc_pnn": [0.8, 0.9, 1.0],
            "noise_trained_pnn": "not run at this budget",
        },
        "energy": {
            "pnn": {
                "per_inference_j": 8e-12,
                "per_sop_j": 2.5e-13,
                "samples": [0],
                "group_totals": {"synapse_arrays": 1e-12, "neurons": 7e-12, "control": 2e-14},
                "window_s": 3.2e-6,
                "membrane_cv2_j": 2.4e-12,
            }
        },
        "nonlinear_e": {
            "rmse_pnn_linear_ns": 9.0,
            "rmse_pnn_nonlinear_ns": 8.5,
            "rmse_hidden_linear_ns": 2.0,
            "rmse_hidden_nonlinear_ns": 1.9,
            "by_degree": {"2": {"u_range": [-0.2, 1.05]}},
        },
    }
    rows = crs.paper_comparison(res)
    assert len(rows) == 5 and all(check_verdict(r["verdict"]) == "beyond the paper" for r in rows)
    assert "no output spike" not in rows[0]["ours"]
    res["corners"][0].update(silent_ann=50, silent_pnn=3)
    assert (
        "no output spike in the window (all clipped to t = 1) in 50 / 3 of the 50 samples"
        in crs.paper_comparison(res)[0]["ours"]
    )
    assert "not run at this budget" in rows[2]["ours"] and "20.0-30.0" in rows[1]["ours"]
    res["corners"] = [
        {
            **c,
            "rmse_ann_ns": math.nan,
            "rmse_pnn_ns": math.nan,
            "not_simulable": "Fatal error: detected during BSIM4v5.5.0 parameter checking for",
        }
        for c in res["corners"]
    ]
    res["mismatch"].update(
        {
            "rmse_pnn_noise_ns": [18, 35, 40],
            "acc_pnn_noise": [1, 1, 1],
            "nominal_pnn": {"rmse_ns": 7.0},
            "noise_vs_pnn": crs.paired_difference([20, 30, math.nan], [18, 35, 40]),
            "noise_trained_pnn": {"sigma_spike": 0.01, "nominal": {"rmse_ns": 8.0}},
        }
    )
    rows = crs.paper_comparison(res)
    assert rows[0]["ours"].startswith("not simulable: ngspice's BSIM4v5.5.0 parameter check")
    assert "PNN_NOISE: RMSE median 35.0" in rows[1]["ours"]
    assert "nominal tt RMSE 8.0 ns (PNN sigma 0: 7.0 ns)" in rows[2]["ours"] and "lower in 1 of 2" in rows[2]["ours"]
    assert "difference +1.5 ns (two-sided sign test p = 1)" in rows[2]["ours"]


def test_paired_difference_counts_instances_and_gives_an_exact_sign_test():
    a = [100.0, 120.0, 90.0, 110.0, math.nan, 80.0]
    b = [90.0, 100.0, 95.0, 100.0, 50.0, 80.0]  # lower in 3, higher in 1, one tie, one pair without a value
    d = crs.paired_difference(a, b)
    assert (d["n_pairs"], d["b_lower_in"], d["b_higher_in"]) == (5, 3, 1)
    assert d["median_diff_ns"] == pytest.approx(-10.0)
    assert d["sign_test_p"] == pytest.approx(2 * (1 + 4) / 16)  # two-sided, n = 4 untied, k = 1
    assert crs.paired_difference([1.0] * 10, [0.0] * 10)["sign_test_p"] == pytest.approx(2 / 1024)


def test_a_condition_that_fails_the_model_check_is_reported_with_its_reason():
    err = (
        "the circuit failed the simulator's model check at {...}: SpiceSimulationError: ngspice simulation failed "
        "for the netlist x.cir:\nFatal error: detected during BSIM4v5.5.0 parameter checking for\ndoAnalyses: "
        "no such parameter on this device"
    )
    why = crs.not_simulable_reason(err)
    assert "BSIM4v5.5.0 parameter check" in why and "counted as failed" in why
    assert crs.not_simulable_reason("Timeout: 300 s\nmore") == "Timeout: 300 s"
