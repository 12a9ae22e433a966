"""imcpnn.repro.fmnist_mlp: the training-run cache (config + code + data + device), the validation split behind
every choice, the App. F baselines and the statistics that decide a claim. Offline, on generated data."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fmnist_tiny
import numpy as np
import pytest
import torch

from imcpnn import train
from imcpnn.repro import cache
from imcpnn.repro import fmnist_mlp as X
from imcpnn.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def tiny_config(**kw) -> TrainConfig:
    base = dict(train_subset=64, test_subset=32, epochs=1, batch_size=16, lr=1e-3, test_steps=4, width=0.1)
    base.update(kw)
    return TrainConfig(**base)


def synthetic_data(seed=0, n_train=64, n_test=32):
    return fmnist_tiny.synthetic_data(n_train, n_test, seed)


def _boom(*a, **kw):
    raise AssertionError("retrained")


# ------------------------------------------------------------------------------------------------ run cache


def test_finished_run_is_reused_and_other_data_retrains(isolated_runs, monkeypatch):
    data = {"now": synthetic_data(0)}
    monkeypatch.setattr(X, "cached_data", lambda config: data["now"])
    c = tiny_config()
    r1 = X.run(c, "quick", progress=False, device="cpu")
    key = X.run_key(c, data["now"], "cpu")
    assert r1.path == cache.entry_dir(key, "quick") == isolated_runs / "runs" / "quick" / "train" / key.digest()
    assert cache.stored_key_matches(r1.path, key) and X.is_cached(c, "quick", device="cpu")
    assert key.config == c.to_dict() and key.data == cache.data_digest(*data["now"])
    monkeypatch.setattr(X, "train", _boom)
    r2 = X.run(c, "quick", progress=False, device="cpu")  # same key: read back, not retrained
    assert r2.path == r1.path and r2.curve == r1.curve
    assert isinstance(r2.model(), torch.nn.Module)
    # other config, other data (one changed label), or IMCPNN_RECOMPUTE: another folder / a new training
    assert not X.is_cached(c.replace(seed=1), "quick", device="cpu")
    y = data["now"][1].clone()
    y[0] = (y[0] + 1) % 10
    data["now"] = (data["now"][0], y, *data["now"][2:])
    assert not X.is_cached(c, "quick", device="cpu") and X.run_dir(c, "quick", device="cpu") != r1.path
    with pytest.raises(AssertionError, match="retrained"):
        X.run(c, "quick", progress=False, device="cpu")
    data["now"] = synthetic_data(0)
    monkeypatch.setenv(cache.ENV_RECOMPUTE, "1")
    with pytest.raises(AssertionError, match="retrained"):
        X.run(c, "quick", progress=False, device="cpu")


def test_pointing_imcpnn_data_at_other_data_retrains(isolated_runs, tiny_fmnist, tmp_path, monkeypatch):
    other = tmp_path / "other"
    shutil.copytree(tiny_fmnist / "fashion-mnist", other / "fashion-mnist")
    _, labels = fmnist_tiny.split_arrays("test")
    (other / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    import gzip

    (other / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(fmnist_tiny._idx((labels + 1) % 10), mtime=0)
    )
    c = tiny_config()
    fmnist_tiny.use(monkeypatch, tiny_fmnist)
    first = X.run(c, "smoke", progress=False, device="cpu")
    assert X.is_cached(c, "smoke", device="cpu")
    fmnist_tiny.use(monkeypatch, other)
    assert not X.is_cached(c, "smoke", device="cpu") and X.run_dir(c, "smoke", device="cpu") != first.path
    second = X.run(c, "smoke", progress=False, device="cpu")
    assert second.path != first.path and second.final_accuracy != first.final_accuracy


def test_run_many_on_two_workers_gives_the_in_process_metrics_bit_for_bit(isolated_runs, tiny_fmnist, monkeypatch):
    fmnist_tiny.use(monkeypatch, tiny_fmnist)
    for k in ("IMCPNN_EXECUTOR", "IMCPNN_WORKERS", "IMCPNN_RAY_ADDRESS"):
        monkeypatch.delenv(k, raising=False)  # the default: in this process, exactly X.run
    cs = [tiny_config(seed=0), tiny_config(seed=1, e_rev=2.0), tiny_config(seed=0)]  # a duplicate trains once
    serial = X.run_many(cs, "smoke", device="cpu", threads=1, progress=False)
    assert [r.path for r in serial] == [X.run_dir(c, "smoke", device="cpu") for c in cs] and serial[0] is serial[2]
    for r in serial[:2]:
        shutil.rmtree(r.path)
    two = {"executor": "local", "workers": 2}
    pool = X.run_many(cs, "smoke", device="cpu", threads=1, progress=False, executor=two)
    assert [train.deterministic_metrics(r.metrics) for r in pool] == [
        train.deterministic_metrics(r.metrics) for r in serial
    ]
    monkeypatch.setattr(X, "train", _boom)  # finished runs are read back by the driver, nothing is submitted
    again = X.run_many(cs, "smoke", device="cpu", threads=1, progress=False, executor=two)
    assert [r.curve for r in again] == [r.curve for r in serial]
    with pytest.raises(RuntimeError, match="1 of 1 training runs failed.*retrained"):
        X.run_many([tiny_config(seed=2)], "smoke", device="cpu", threads=1, progress=False)


_SCRIPT = """
import json, sys
from imcpnn.repro import fmnist_mlp as X
from imcpnn.train import TrainConfig
calls = []
real = X.train
X.train = lambda *a, **k: (calls.append(1), real(*a, **k))[1]
r = X.run(TrainConfig(**json.loads(sys.argv[1])), "smoke", progress=False, threads=1, device="cpu")
print(json.dumps({"path": str(r.path), "trained": bool(calls), "acc": r.final_accuracy}))
"""


def test_a_source_edit_retrains(tmp_path, tiny_fmnist):
    """In a temporary copy of the package, run in subprocesses: same code -> reuse; one edited source -> retrain."""
    pkg, work = tmp_path / "pkg", tmp_path / "work"
    shutil.copytree(ROOT / "imcpnn", pkg / "imcpnn", ignore=shutil.ignore_patterns("__pycache__"))
    work.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(pkg),
        "IMCPNN_DATA": str(tiny_fmnist),
        "IMCPNN_OFFLINE": "1",
        "IMCPNN_CACHE": str(tiny_fmnist / "cache"),
        "PYTHONHASHSEED": "0",
    }
    env.pop(cache.ENV_RECOMPUTE, None)
    cfg = json.dumps(tiny_config().to_dict())

    def go() -> dict:
        r = subprocess.run(
            [sys.executable, "-c", _SCRIPT, cfg], cwd=work, env=env, capture_output=True, text=True, timeout=240
        )
        assert r.returncode == 0, r.stderr[-2000:]
        return json.loads(r.stdout.strip().splitlines()[-1])

    first, again = go(), go()
    assert str(work) in first["path"] and first["trained"] and not again["trained"]
    assert again["path"] == first["path"]
    loss = pkg / "imcpnn" / "loss.py"
    loss.write_text(loss.read_text() + "\n# an edit that changes no behaviour still changes the code fingerprint\n")
    edited = go()
    assert edited["trained"] and edited["path"] != first["path"]
    assert edited["acc"] == first["acc"]  # same computation, recomputed


# ------------------------------------------------------------------------------------ no test-set leakage


def test_quick_validation_split_is_disjoint_from_train_and_test(tiny_fmnist, monkeypatch):
    fmnist_tiny.use(monkeypatch, tiny_fmnist)
    base = TrainConfig(**X.settings("quick")["base"])
    assert base.val_size >= 500
    x_tr, _, x_te, _ = X.cached_data(base)
    x_val, _ = X.validation_data(base)
    ids_tr, ids_te, ids_val = (set(fmnist_tiny.identities(x)) for x in (x_tr, x_te, x_val))
    assert len(ids_val) == base.val_size and len(ids_tr) == base.train_subset
    assert all(s == "train" for s, _ in ids_val) and not ids_val & ids_tr and not ids_val & ids_te
    headline = base.replace(**X.settings("quick")["headline"])
    assert not set(fmnist_tiny.identities(X.cached_data(headline)[0])) & ids_val  # the headline run too


def _ann_model():
    torch.manual_seed(0)
    return train.build_model(tiny_config(e_rev=100.0, sigma_spike=0.0)).eval()


def test_scaled_ann_scales_are_chosen_on_validation_only(monkeypatch):
    model = _ann_model()
    x_val, y_val, x_te, y_te = synthetic_data(1, n_train=48, n_test=40)
    calls: list[tuple[str, tuple | None]] = []
    real = X.evaluate

    def spy(m, x, y, **kw):
        calls.append(("test" if x is x_te else "val" if x is x_val else "other", kw.get("weight_scale")))
        return real(m, x, y, **kw)

    monkeypatch.setattr(X, "evaluate", spy)
    out = X.ann_baselines([model], [2.0], (x_val, y_val), (x_te, y_te), coarse=(0.8, 1.2, 0.2), search_steps=3)
    on_test = [ws for where, ws in calls if where == "test"]
    assert {where for where, _ in calls} == {"val", "test"}
    assert len(on_test) == 2 and on_test[0] is None  # the ANN and the scaled ANN, each scored once
    assert sum(where == "val" for where, _ in calls) >= 9  # the coarse 3 x 3 grid, then the walk
    monkeypatch.setattr(X, "evaluate", real)
    scales, _, _ = X.coarse_to_fine_scales(model, x_val, y_val, 2.0, coarse=(0.8, 1.2, 0.2), test_steps=3)
    assert tuple(on_test[1]) == scales and out[2.0]["scales"] == [list(scales)]
    assert out[2.0]["scaled_ann"] == [real(model, x_te, y_te, e_rev=2.0, weight_scale=scales)]


def test_scale_grid_and_search():
    model = _ann_model()
    x, y = synthetic_data(2, n_train=1, n_test=32)[2:]
    alphas = X.scale_values(0.8, 1.2, 0.2)
    assert alphas == [0.8, 1.0, 1.2] and len(X.scale_values(0.5, 2.0, 0.1)) == 16
    grid = X.scale_grid(model, x, y, 2.0, alphas, test_steps=3)
    assert grid.shape == (3, 3) and ((0 <= grid) & (grid <= 1)).all()
    (a_pos, a_neg), best, n = X.scale_search(model, x, y, 2.0, test_steps=3, max_evals=30)
    assert best >= grid[1, 1] - 1e-12 and n <= 30 + 8
    assert abs(a_pos * 10 - round(a_pos * 10)) < 1e-9 and abs(a_neg * 10 - round(a_neg * 10)) < 1e-9
    with pytest.raises(ValueError, match="lo"):
        X.scale_values(2.0, 1.0)


# ------------------------------------------------------------------------------------------------ budgets


def test_quick_budget_covers_the_claims_of_section_7():
    s = X.settings("quick")
    assert s["sigma_steps"] == 10 and s["sigmas"] == [0.0, 0.005, 0.01, 0.02, 0.04]  # Fig. 11a as in App. D
    assert 2.0 in s["grid_e"] and {1.0, 4.0} <= set(s["grid_e"])  # Fig. 4e at |E| = 4, 2, 1
    assert s["f4_m15"] == 15 and len(s["m15_seeds"]) >= 2 and len(s["m3_seeds"]) >= 2  # Fig. 4f spread
    cells = X.grid_cells(s)
    for m in (2, 3):  # the fixed-offset penalty at |E| = 1, M = 2-3: paired seeds for both offsets
        for off in ("random", "fixed"):
            assert sorted(sd for e, mm, o, sd in cells if (e, mm, o) == (1.0, m, off)) == s["penalty_seeds"]
    assert len(s["penalty_seeds"]) >= 5
    for e in s["f4_m15_e"]:
        assert len([c for c in cells if c[:3] == (e, 15, "random")]) == len(s["m15_seeds"])
    assert len(set(cells)) == len(cells)
    with pytest.raises(ValueError, match="profile"):
        X.settings("huge")


# ------------------------------------------------------------------------------------------------ statistics


def test_t_interval_and_verdicts():
    ci = X.t_interval([1.0, 2.0, 3.0])
    assert ci["mean"] == 2.0 and ci["std"] == 1.0 and ci["n"] == 3
    assert math.isclose(ci["hi"] - 2.0, 4.302652729911275 / math.sqrt(3), rel_tol=1e-9)
    assert X.t_interval([5.0])["lo"] == -math.inf
    assert X.sign_verdict({"lo": 0.1, "hi": 1.0}) == "resolved"
    assert X.sign_verdict({"lo": -1.0, "hi": -0.1}) == "resolved, opposite sign"
    assert X.sign_verdict({"lo": -1.0, "hi": -0.1}, expected="negative") == "resolved"
    assert X.sign_verdict({"lo": -0.1, "hi": 1.0}) == "not resolved at this budget"
    assert X.equivalence_verdict({"lo": -0.4, "hi": 0.9}, 1.0) == "resolved"
    assert X.equivalence_verdict({"lo": 1.2, "hi": 2.0}, 1.0) == "resolved, not equal"
    assert X.equivalence_verdict({"lo": 0.5, "hi": 1.5}, 1.0) == "not resolved at this budget"
    with pytest.raises(ValueError, match="expected"):
        X.sign_verdict(ci, expected="up")


def test_paired_and_welch_gaps_and_slope():
    g = X.paired_gap({0: 85.0, 1: 86.0, 2: 84.0, 3: 90.0}, {0: 84.0, 1: 85.5, 2: 83.0})
    assert g["seeds"] == [0, 1, 2] and np.allclose(g["diffs"], [1.0, 0.5, 1.0]) and g["lo"] > 0
    with pytest.raises(ValueError, match="share no seed"):
        X.paired_gap({0: 1.0}, {1: 1.0})
    w = X.welch_gap([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    assert w["mean"] == 1.0 and w["lo"] < 1.0 < w["hi"]
    assert X.welch_gap([1.0], [0.0, 1.0])["hi"] == math.inf
    s = X.slope_interval([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 7.0])
    assert math.isclose(s["mean"], 2.0) and math.isclose(s["lo"], 2.0, abs_tol=1e-9)


def test_run_lock_serialises_processes_and_takes_over_stale_locks(tmp_path):
    lock = tmp_path / ".lock"
    with X.run_lock(tmp_path):
        assert lock.read_text() == str(os.getpid())
        holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert not lock.exists()
    lock.write_text(str(holder.pid))  # a live holder: we wait for it
    waiter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pathlib import Path\nfrom imcpnn.repro.fmnist_mlp import "
            f"run_lock\nwith run_lock(Path({str(tmp_path)!r}), poll_s=0.1):\n    print('got it')",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            waiter.wait(timeout=8)
        holder.kill()
        holder.wait()
        assert waiter.communicate(timeout=60)[0].strip() == "got it"  # the lock of a dead process is taken over
    finally:
        holder.kill()
        waiter.kill()
    assert not lock.exists()
