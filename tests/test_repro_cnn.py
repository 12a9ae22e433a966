"""imcpnn.repro.cnn: the CNN budgets (Fig. 5, 11b, 12, 13b, 14b), the runs of every panel through the shared run
cache, the pre-registered peak-at-finite-|E| test, and the choices made on validation only. Offline, on
generated tensors and a tiny VGG7."""

from __future__ import annotations

import math

import pytest
import torch

from imcpnn import cli, train
from imcpnn.repro import cache
from imcpnn.repro import cnn as C
from imcpnn.repro import fmnist_mlp as X


def synthetic_cifar(seed=0, n_train=48, n_test=32):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_train + n_test, 3, 32, 32, generator=g)
    y = torch.randint(0, 10, (n_train + n_test,), generator=g)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def tiny_model(e_rev=100.0):
    torch.manual_seed(0)
    return train.build_model(C.base_config(C.settings("smoke"), e_rev=e_rev)).eval()


# ------------------------------------------------------------------------------------------------ budgets


def test_quick_budget_can_decide_the_peak_claim():
    s = C.settings("quick")
    assert {1.0, 2.0, 3.0, 4.0, 10.0, 100.0} <= set(s["e_grid"])
    assert s["peak_e"] == 3.0 and s["ann_e"] == 100.0 and s["low_e"] == 1.0
    assert len(s["peak_seeds"]) >= 3
    for e in (1.0, 3.0, 100.0):  # paired seeds at every |E| that decides the claim
        assert C.e_seeds(s, e) == s["peak_seeds"]
    sw = C.sweep_configs(s)
    assert sorted(sd for (m, e, sd) in sw if e == 3.0) == s["peak_seeds"]
    base = C.base_config(s)
    assert base.width < 1 and base.val_size >= 200 and base.dataset == "cifar10"
    # issue #13: the quick nets underfit, so augmentation (a regulariser) is off there; the paper profile keeps it
    assert not base.augment and C.base_config(C.settings("paper")).augment
    assert s["workers"] == 2 and base.epochs * base.train_subset // base.batch_size >= 300  # enough Adam steps
    cfgs = C.all_configs(s)
    assert len(cfgs) == len(set(cfgs)) and cfgs[: len(set(sw.values()))] == list(dict.fromkeys(sw.values()))
    assert all(c.augment == base.augment and c.val_size > 0 and c.model == "vgg7" for c in cfgs)
    assert {c.dataset for c in cfgs} == {"cifar10", "fmnist"}
    assert not C.sigma_configs(s, "cifar10")  # Fig. 12 only in the paper profile


def test_paper_profile_is_the_full_setting():
    s = C.settings("paper")
    base = C.base_config(s)
    assert base.width == 1.0 and base.train_subset is None and base.test_subset is None
    assert base.batch_size == 32 and base.lr == 1e-4 and base.lr_schedule == "constant" and base.test_steps == 30
    assert len(s["peak_seeds"]) == 5 and s["sweep_m"] == [15, 4]
    assert s["sig12"]["widths"] == [1.0, 2.0] and s["sig12"]["steps"] == 10 and s["sig11"]["steps"] == 10
    assert {w for w, _, _ in C.sigma_configs(s, "cifar10")} == {1.0, 2.0}
    assert {c.width for c in C.sigma_configs(s, "cifar10").values()} == {1.0, 2.0}
    assert C.base_config(s, "fmnist").dataset == "fmnist"
    with pytest.raises(ValueError, match="profile"):
        C.settings("huge")
    with pytest.raises(ValueError, match="dataset"):
        C.base_config(s, "mnist")


# ------------------------------------------------------------------------------------------------ statistics


def test_peak_test_verdicts():
    seeds = [0, 1, 2]
    peaked = {
        1.0: dict(zip(seeds, [30.0, 31.0, 29.5])),
        3.0: dict(zip(seeds, [35.0, 36.1, 34.8])),
        100.0: dict(zip(seeds, [32.0, 33.2, 31.5])),
    }
    out = C.peak_test(peaked, 3.0, 100.0, 1.0)
    assert out["verdict"] == "resolved" and out["vs_ann"]["seeds"] == seeds
    assert math.isclose(out["vs_ann"]["mean"], (3.0 + 2.9 + 3.3) / 3)
    ann_better = {**peaked, 100.0: dict(zip(seeds, [40.0, 41.0, 40.5]))}
    assert C.peak_test(ann_better, 3.0, 100.0, 1.0)["verdict"] == "resolved, opposite sign"
    noisy = {**peaked, 100.0: dict(zip(seeds, [30.0, 40.0, 34.0]))}
    assert C.peak_test(noisy, 3.0, 100.0, 1.0)["verdict"] == "not resolved at this budget"
    monotone = {**peaked, 1.0: dict(zip(seeds, [36.0, 37.0, 35.5]))}  # |E| = 1 best: no interior peak
    assert C.peak_test(monotone, 3.0, 100.0, 1.0)["verdict"] == "not resolved at this budget"


# ------------------------------------------------------------------------------------ no test-set leakage


def test_best_e_and_scales_are_chosen_on_validation_only(monkeypatch):
    x_val, y_val, x_te, y_te = synthetic_cifar(1, n_train=8, n_test=8)
    models = {1.0: [tiny_model(1.0)], 3.0: [tiny_model(3.0)]}
    seen: list[str] = []
    real = C.evaluate

    def spy(m, x, y, **kw):
        seen.append("val" if x is x_val else "test" if x is x_te else "other")
        return real(m, x, y, **kw)

    monkeypatch.setattr(C, "evaluate", spy)
    best, scores = C.best_e_on_validation(models, (x_val, y_val))
    assert set(seen) == {"val"} and best in models and scores[best] == max(scores.values())
    alphas = X.scale_values(0.5, 1.0, 0.5)
    panel = C.scale_panel(tiny_model(), (x_val, y_val), (x_te, y_te), 2.0, alphas, test_steps=2)
    val = torch.tensor(panel["val"])
    i, j = divmod(int(torch.argmax(val)), len(alphas))
    assert panel["best_on_validation"] == [alphas[i], alphas[j]]  # the star: best on VALIDATION
    assert panel["test_at_best"] == panel["test"][i][j] and len(panel["test"]) == 2
    assert panel["test_at_1_1"] == panel["test"][1][1]
    assert set(seen) == {"val"}  # the grid itself goes through fmnist_mlp.scale_grid, not C.evaluate


def test_test_m_curve_repeats_and_bounds():
    x, y = synthetic_cifar(2, n_train=1, n_test=8)[2:]
    out = C.test_m_curve(tiny_model(3.0), x, y, [2, 4], 2)
    assert list(out) == [2, 4] and all(len(v) == 2 and all(0 <= a <= 100 for a in v) for v in out.values())


# ------------------------------------------------------------------------------------------------ runs


def test_runs_go_through_the_shared_cache(isolated_runs, monkeypatch):
    data = synthetic_cifar(0)
    monkeypatch.setattr(X, "cached_data", lambda config: data)
    s = C.settings("smoke")
    cfgs = [C.base_config(s, e_rev=3.0, train_subset=48, test_subset=32), C.base_config(s, e_rev=100.0)]
    first = C.run_all(cfgs, "smoke", threads=1, device="cpu", progress=False)
    for c, r in first.items():
        assert r.path == cache.entry_dir(X.run_key(c, data, "cpu"), "smoke") and len(r.epochs) == c.epochs

    def boom(*a, **k):
        raise AssertionError("retrained")

    monkeypatch.setattr(X, "train", boom)
    again = C.run_all(cfgs, "smoke", threads=1, device="cpu", progress=False)
    assert [r.curve for r in again.values()] == [r.curve for r in first.values()]
    assert C.pct(again.values()) == [100 * r.final_accuracy for r in first.values()]
    assert "width 0.0625" in C.describe(cfgs[0]) and "augment True" in C.describe(cfgs[0])


def test_cli_reproduces_a_cnn_run(monkeypatch, tmp_path, capsys):
    got = {}

    def fake_train(config, out, **kw):
        got["config"] = config
        return {"epochs": [{"test_accuracy": 0.5, "train_loss": 1.0}]}

    monkeypatch.setattr(cli, "train", fake_train)
    monkeypatch.setattr(cli, "_load_data", lambda config: synthetic_cifar(0))
    s = C.settings("quick")
    want = C.base_config(s, e_rev=3.0, seed=2)
    args = [
        "train",
        "--dataset",
        "cifar10",
        "--model",
        "vgg7",
        "--width",
        f"{want.width}",
        "--erev",
        "3",
        "--steps",
        "4",
        "--test-steps",
        "10",
        "--epochs",
        f"{want.epochs}",
        "--batch-size",
        f"{want.batch_size}",
        "--lr",
        f"{want.lr}",
        "--lr-schedule",
        "cosine",
        "--seed",
        "2",
        "--train-subset",
        f"{want.train_subset}",
        "--test-subset",
        f"{want.test_subset}",
        "--val-size",
        f"{want.val_size}",
        *(["--augment"] if want.augment else []),
        "--out",
        str(tmp_path / "run"),
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert cli.main(args) == 0
    assert got["config"] == want


def test_cli_command_round_trips_every_quick_config(monkeypatch, tmp_path):
    got = []
    monkeypatch.setattr(
        cli,
        "train",
        lambda config, out, **kw: (got.append(config), {"epochs": [{"test_accuracy": 0.1, "train_loss": 1.0}]})[1],
    )
    monkeypatch.setattr(cli, "_load_data", lambda config: synthetic_cifar(0))
    cfgs = C.all_configs(C.settings("quick"))
    for c in cfgs[:3] + cfgs[-2:]:
        argv = C.cli_command(c).split()[4:] + ["--out", str(tmp_path / "r"), "--device", "cpu", "--no-progress"]
        assert cli.main(["train", *argv]) == 0
        assert got[-1] == c, C.cli_command(c)
