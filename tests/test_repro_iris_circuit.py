"""The Iris circuit experiment's pieces that need no ngspice: data split, model, regularisers, training config,
scale search, metrics and the paper-comparison rows (imcpnn.repro.iris_circuit and its library additions)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from imcpnn import models
from imcpnn.data import load_iris_split
from imcpnn.functional import firing_time
from imcpnn.loss import early_spike_penalty, weight_norm_penalty
from imcpnn.repro import iris_circuit as ic
from imcpnn.train import TrainConfig, objective

DEV = {"e_rev_pos": 2.65, "e_rev_neg": -1.40, "e_dis": 6.15, "v_th": 0.93, "v_b_dis": 0.564, "source": "test"}


def test_iris_split_is_stratified_seeded_and_encoded_from_training_stats():
    x_tr, y_tr, x_te, y_te = load_iris_split(50, 0)
    assert x_tr.shape == (100, 4) and x_te.shape == (50, 4)
    assert torch.bincount(y_te).tolist() in ([17, 17, 16], [17, 16, 17], [16, 17, 17])
    assert x_tr.min() == 0 and x_tr.max() == 1 and x_te.min() >= 0 and x_te.max() <= 1
    a = load_iris_split(50, 0)
    assert all(torch.equal(p, q) for p, q in zip(a, (x_tr, y_tr, x_te, y_te)))
    assert not torch.equal(load_iris_split(50, 1)[2], x_te)
    with pytest.raises(ValueError, match="test_size"):
        load_iris_split(0)


def test_iris_model_encodes_bias_and_uses_the_discharger_decay():
    torch.manual_seed(0)
    net = models.iris((2.65, -1.40), e_dis=6.15).double()
    x = torch.rand(7, 4, dtype=torch.float64)
    t = net[0](x)
    assert torch.equal(t[:, :4], x) and torch.all(t[:, 4] == 0)  # Eq. 56: t_i = x_i, bias spike at t = 0
    out = net(x)
    hid, out2 = net.last_outputs
    assert torch.equal(out, out2) and hid.shape == (7, 5) and out.shape == (7, 5)
    # the unclipped output read-out equals the clipped Eq. 85 firing time where the latter is inside (0, 1)
    v = net[2].potential(hid)
    clipped = firing_time(v, 6.15)
    inside = (clipped > 0) & (clipped < 1)
    assert inside.any()
    torch.testing.assert_close(out[inside], clipped[inside])
    with pytest.raises(ValueError, match="shape"):
        net(torch.rand(3, 5))


def test_regularisers_P_and_V():
    torch.manual_seed(0)
    net = models.iris(100.0)
    p = weight_norm_penalty(net)
    expect = sum(float((m.weight.detach() ** 2).sum()) for m in (net[1], net[2]))
    assert float(p.detach()) == pytest.approx(expect)
    t1 = torch.tensor([[1.0, 0.5], [0.0, 1.0]])
    t2 = torch.tensor([[0.8, 1.0], [1.0, 1.0]])
    assert float(early_spike_penalty([t1, t2])) == pytest.approx((0.25 + 1.0) / 2 + 0.04 / 2)


def test_train_config_table2_and_objective_terms():
    cfg = ic.train_config("pnn", DEV, 10)
    assert (cfg.lr, cfg.batch_size, cfg.tau_soft, cfg.gamma1, cfg.gamma_w, cfg.gamma_v) == (
        1e-3,
        50,
        0.07,
        0.1,
        1e-2,
        0.2,
    )
    assert cfg.e_rev == (2.65, -1.40) and cfg.e_dis == 6.15
    ann = ic.train_config("ann", DEV, 10)
    assert ann.e_rev == 100.0 and ann.e_dis is None
    with pytest.raises(ValueError, match="flow"):
        ic.train_config("snn", DEV, 10)
    with pytest.raises(ValueError, match="e_dis"):
        TrainConfig(dataset="iris", model="iris", e_dis=0.5)
    with pytest.raises(ValueError, match="iris"):
        TrainConfig(dataset="fmnist", model="iris")
    torch.manual_seed(0)
    net = models.iris(100.0)
    x, y = torch.rand(6, 4), torch.tensor([0, 1, 2, 0, 1, 2])
    t = net(x)
    base = objective(net, t, y, cfg.replace(gamma_w=0.0, gamma_v=0.0))
    full = objective(net, t, y, cfg)
    expect = base + 1e-2 * weight_norm_penalty(net) + 0.2 * early_spike_penalty(net.last_outputs)
    torch.testing.assert_close(full, expect)


def _bowl(center):
    return lambda pts: [sum((p - c) ** 2 for p, c in zip(pt, center, strict=True)) for pt in pts]


def test_coarse_to_fine_finds_a_stand_in_optimum_within_its_budget():
    pts, vals = ic.coarse_to_fine(_bowl((1.07, 0.93)), (1.0, 1.0), 0.15, 2)
    assert len(pts) == 9 + 8  # the stated quick budget: 17 scale pairs
    best = pts[int(np.argmin(vals))]
    assert best == pytest.approx((1.05, 0.95), abs=1e-9)  # the grid point nearest (1.07, 0.93)
    pts, vals = ic.coarse_to_fine(_bowl((0.87,)), (1.0,), 0.1, 2)
    assert len(pts) == 3 + 2
    assert pts[int(np.argmin(vals))][0] == pytest.approx(0.9, abs=0.034)
    # an optimum outside the first grid is followed
    pts, vals = ic.coarse_to_fine(_bowl((1.6,)), (1.0,), 0.2, 4, shrink=1.0)
    assert pts[int(np.argmin(vals))][0] == pytest.approx(1.6)
    with pytest.raises(ValueError, match="center"):
        ic.coarse_to_fine(_bowl((1.0,)), (1.0, 1.0, 1.0), 0.1, 2)


def test_search_plans():
    quick = ic.search_points(ic.SETTINGS["quick"], "pnn")
    assert quick["kind"] == "coarse_to_fine"
    grid = ic.search_points(ic.SETTINGS["paper"], "ann")["points"]
    a = sorted({p[0] for p in grid})
    assert np.allclose(np.diff(a), 0.01) and len(grid) == len(a) ** 2  # the paper's 1 % grid, 2-D
    g1 = ic.search_points(ic.SETTINGS["paper"], "pnn")["points"]
    assert all(p == q for p, q in g1)  # 1-D: alpha+ = alpha-


def test_accuracy_counts_all_silent_samples_as_wrong():
    t = np.array([[0.2, 0.5, 0.9, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0], [0.9, 0.3, 0.5, 1.0, 1.0]])
    assert ic.accuracy(t, np.array([0, 0, 1])) == pytest.approx(2 / 3)
    assert ic.rmse_ns(np.array([0.0, 0.0]), np.array([0.003, -0.004])) == pytest.approx(math.sqrt(12.5), rel=1e-9)


def _fake_result(r_ann: float, r_pnn: float) -> dict:
    flows = {}
    for f, r in (("ann", r_ann), ("pnn", r_pnn)):
        flows[f] = {
            "rmse_test_ns": r,
            "alpha": [1.02, 0.97] if f == "ann" else [1.04, 1.04],
            "n_test": 50,
            "accuracy_model": 0.94,
            "accuracy_spice": 0.9,
            "n_failed": 0,
            "search_train": {"evaluations": [{"failed": 0, "unmappable": 2}], "best_alpha": [1.0, 1.0]},
        }
    out = {
        "flows": flows,
        "device_values": DEV,
        "settings": dict(ic.SETTINGS["quick"], flows=["ann", "pnn"]),
        "profile_label": "quick",
    }
    return ic.summarize(out)


@pytest.mark.parametrize(
    "r_ann,r_pnn,verdict", [(40.0, 2.0, "reproduced"), (30.0, 6.0, "partially"), (20.0, 10.0, "not reproduced")]
)
def test_summary_keys_and_claim_verdict(r_ann, r_pnn, verdict):
    res = _fake_result(r_ann, r_pnn)
    for k in (
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
    ):
        assert k in res
    assert res["rmse_ratio"] == pytest.approx(r_ann / r_pnn) and res["alpha_1d"] == 1.04
    rows = ic.paper_comparison(res)
    claim = rows[0]
    assert claim["verdict"] == verdict and claim["paper"] == pytest.approx(39.04 / 1.97)
    assert all(r["ours_settings"] and r["verdict"] for r in rows)
    assert res["test_searched"] == "not computed in this profile (budget)"
    assert res["failed_simulations"] == 0 and res["unmappable_sample_runs"] == 4
