"""Training pipeline: determinism, resume (also after kill -9), CLI, evaluation overrides, validation split.

Every test runs offline on a generated Fashion-MNIST stand-in (:mod:`fmnist_tiny`); none is ever skipped.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fmnist_tiny
import pytest
import torch

from imcpnn import cli, models, train
from imcpnn.train import TrainConfig, evaluate, evaluation_overrides

ROOT = Path(__file__).resolve().parent.parent


def tiny_config(**kw) -> TrainConfig:
    base = dict(train_subset=96, test_subset=40, epochs=2, batch_size=16, lr=1e-3, test_steps=4, width=0.1)
    base.update(kw)
    return TrainConfig(**base)


def synthetic_data(n_train=96, n_test=40, seed=0):
    return fmnist_tiny.synthetic_data(n_train, n_test, seed)


@pytest.fixture
def fmnist_available(tiny_fmnist, monkeypatch):
    """``IMCPNN_DATA`` (also for subprocesses) points at the generated dataset, offline, with a private cache."""
    return fmnist_tiny.use(monkeypatch, tiny_fmnist)


def weights(out: Path) -> dict[str, torch.Tensor]:
    return train.load_checkpoint(out)["model"]


def assert_same_run(a: Path, b: Path) -> None:
    ma = json.loads((a / "metrics.json").read_text())
    mb = json.loads((b / "metrics.json").read_text())
    assert train.deterministic_metrics(ma) == train.deterministic_metrics(mb)
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


# ------------------------------------------------------------------------------------------------ config


def test_config_validation_names_the_field():
    for kw, name in [
        (dict(steps=1), "steps"),
        (dict(test_steps=0), "test_steps"),
        (dict(offset="sometimes"), "offset"),
        (dict(e_rev=-1.0), "e_rev"),
        (dict(e_rev=(1.0, 2.0)), "e_rev"),
        (dict(lr=0.0), "lr"),
        (dict(epochs=0), "epochs"),
        (dict(batch_size=1.5), "batch_size"),
        (dict(dataset="mnist"), "dataset"),
        (dict(model="resnet"), "model"),
        (dict(sigma_spike=-0.1), "sigma_spike"),
        (dict(train_subset=0), "train_subset"),
        (dict(lr_schedule="step"), "lr_schedule"),
    ]:
        with pytest.raises(ValueError, match=name):
            TrainConfig(**kw)
    with pytest.raises(ValueError, match="unknown config keys"):
        TrainConfig.from_dict({"stepz": 3})


def test_config_defaults_are_the_papers():
    c = TrainConfig()
    assert (c.lr, c.batch_size, c.gamma1, c.t_ref, c.tau_soft, c.sigma_spike) == (1e-4, 32, 2.6, 0.9, 0.07, 0.01)
    assert (c.epochs, c.steps, c.offset, c.test_steps, c.lr_schedule) == (50, 3, "random", 30, "constant")


def test_config_hash_is_stable_and_distinct():
    a, b = TrainConfig(e_rev=4), TrainConfig(e_rev=4.0)
    assert a.key() == b.key() and len(a.key()) == 12
    assert a.key() != TrainConfig(e_rev=4.0, steps=15).key()
    assert TrainConfig(e_rev="2.8:-1.53").e_rev == (2.8, -1.53)
    pair = TrainConfig(e_rev=(2.8, -1.53))
    assert TrainConfig.from_dict(pair.to_dict()).key() == pair.key()
    assert TrainConfig(e_rev="inf").e_rev == math.inf


# ------------------------------------------------------------------------------------ determinism/resume


def test_training_is_deterministic(tmp_path, one_thread):
    c, data = tiny_config(), synthetic_data()
    m1 = train.train(c, tmp_path / "a", progress=False, data=data)
    train.train(c, tmp_path / "b", progress=False, data=data)
    assert len(m1["epochs"]) == 2 and all(math.isfinite(e["train_loss"]) for e in m1["epochs"])
    assert_same_run(tmp_path / "a", tmp_path / "b")
    # a finished run is not retrained
    m3 = train.train(c, tmp_path / "a", progress=False, data=data)
    assert m3["epochs"] == m1["epochs"]


def test_resume_after_interruption_equals_uninterrupted(tmp_path, monkeypatch, one_thread):
    c, data = tiny_config(epochs=3, lr_schedule="cosine"), synthetic_data()
    train.train(c, tmp_path / "full", progress=False, data=data)

    calls = {"n": 0}
    real_loss = train.spike_time_loss

    def failing_loss(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 6 + 3:  # 6 batches per epoch: dies in the middle of epoch 2
            raise KeyboardInterrupt
        return real_loss(*a, **kw)

    monkeypatch.setattr(train, "spike_time_loss", failing_loss)
    with pytest.raises(KeyboardInterrupt):
        train.train(c, tmp_path / "resumed", progress=False, data=data)
    assert len(train.load_checkpoint(tmp_path / "resumed")["epochs"]) == 1
    monkeypatch.setattr(train, "spike_time_loss", real_loss)
    train.train(c, tmp_path / "resumed", progress=False, data=data)
    assert_same_run(tmp_path / "full", tmp_path / "resumed")


def test_other_config_in_the_same_folder_is_refused(tmp_path):
    data = synthetic_data()
    train.train(tiny_config(epochs=1), tmp_path, progress=False, data=data)
    with pytest.raises(ValueError, match="another config"):
        train.train(tiny_config(epochs=1, steps=4), tmp_path, progress=False, data=data)


def _cli_args(out: Path, epochs: int = 2) -> list[str]:
    return [
        sys.executable,
        "-m",
        "imcpnn",
        "train",
        "--erev",
        "4",
        "--steps",
        "3",
        "--epochs",
        str(epochs),
        "--batch-size",
        "8",
        "--lr",
        "1e-3",
        "--train-subset",
        "3000",
        "--width",
        "0.1",
        "--test-subset",
        "16",
        "--test-steps",
        "4",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(out),
    ]


def test_kill_9_mid_epoch_then_rerun_equals_uninterrupted(tmp_path, fmnist_available):
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    full, killed = tmp_path / "full", tmp_path / "killed"
    subprocess.run(_cli_args(full), check=True, cwd=ROOT, env=env, capture_output=True, timeout=120)

    proc = subprocess.Popen(_cli_args(killed), cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    try:
        while time.time() < deadline:
            m = killed / "metrics.json"
            if m.exists() and len(json.loads(m.read_text())["epochs"]) >= 1:
                break
            if proc.poll() is not None:
                pytest.fail("training finished before it could be killed")
            time.sleep(0.02)
        time.sleep(0.2)  # well inside epoch 2 (375 batches)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert len(train.load_checkpoint(killed)["epochs"]) == 1, "the kill must land inside epoch 2"
    r = subprocess.run(_cli_args(killed), check=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(r.stdout.strip().splitlines()[-1])["epochs"] == 2
    assert_same_run(full, killed)


# ------------------------------------------------------------------------------------------------- CLI


def test_cli_smoke_training_run(tmp_path, capsys, fmnist_available, one_thread):
    out = tmp_path / "run"
    rc = cli.main(
        [
            "train",
            "--epochs",
            "1",
            "--train-subset",
            "64",
            "--test-subset",
            "32",
            "--batch-size",
            "32",
            "--test-steps",
            "4",
            "--erev",
            "2.8:-1.53",
            "--width",
            "0.1",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 1 and 0 <= summary["test_accuracy"] <= 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["e_rev"] == [2.8, -1.53] and metrics["config"]["lr"] == 1e-4
    assert {"epoch", "train_loss", "test_accuracy"} <= set(metrics["epochs"][0])
    assert (out / "checkpoint.pt").exists()


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--erev", "-1"], "--erev"),
        (["--erev", "abc"], "--erev"),
        (["--steps", "1"], "--steps"),
        (["--offset", "sometimes"], "--offset"),
        (["--lr", "0"], "--lr"),
        (["--epochs", "zero"], "--epochs"),
        (["--sigma-spike", "-0.1"], "--sigma-spike"),
        (["--model", "resnet"], "--model"),
        (["--train-subset", "-3"], "--train-subset"),
    ],
)
def test_cli_bad_input_names_the_flag(args, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", *args])
    assert exc.value.code == 2
    assert flag in capsys.readouterr().err


# ------------------------------------------------------------------------------------ evaluation


def _model(e_rev=100.0):
    torch.manual_seed(0)
    c = tiny_config(e_rev=e_rev, sigma_spike=0.0)
    return train.build_model(c).eval(), c


def test_evaluation_overrides_restore_everything():
    model, _ = _model()
    layers = list(models.spiking_layers(model))
    w0 = [m.weight.detach().clone() for m in layers]
    with evaluation_overrides(model, e_rev=2.0, test_steps=7, weight_scale=(1.5, 0.5)):
        assert all(m.e_rev == (2.0, -2.0) and m.test_steps == 7 for m in layers)
        w = layers[0].weight
        assert torch.allclose(w[w0[0] >= 0], 1.5 * w0[0][w0[0] >= 0])
        assert torch.allclose(w[w0[0] < 0], 0.5 * w0[0][w0[0] < 0])
    assert all(m.e_rev == (100.0, -100.0) and m.test_steps == 4 for m in layers)
    assert all(torch.equal(m.weight, w) for m, w in zip(layers, w0))
    with pytest.raises(ValueError, match="weight_scale"):
        with evaluation_overrides(model, weight_scale=(0.0, 1.0)):
            pass
    assert all(torch.equal(m.weight, w) for m, w in zip(layers, w0))


def test_ann_baseline_equals_a_model_built_at_that_erev():
    ann, _ = _model(100.0)
    other, _ = _model(2.0)
    other.load_state_dict(ann.state_dict())
    x, y = synthetic_data(n_train=1, n_test=64)[2:]
    a1, t1 = evaluate(ann, x, y, e_rev=2.0, return_outputs=True)
    a2, t2 = evaluate(other, x, y, return_outputs=True)
    assert a1 == a2 and torch.equal(t1, t2)
    # unit scale is a no-op; the same seed gives the same noise and offsets
    assert evaluate(ann, x, y, weight_scale=(1.0, 1.0)) == evaluate(ann, x, y)
    # evaluation does not touch the caller's RNG stream
    torch.manual_seed(5)
    s = torch.get_rng_state()
    evaluate(ann, x, y, test_offset="random")
    assert torch.equal(s, torch.get_rng_state())


# ------------------------------------------------------------------------------------------ validation split


def test_validation_split_is_carved_from_training_and_disjoint():
    c = TrainConfig(train_subset=500, val_size=300, subset_seed=3)
    tr, val = train.split_indices(2000, c)
    assert len(tr) == 500 and len(val) == 300
    assert not set(tr.tolist()) & set(val.tolist())
    assert torch.equal(tr, tr.sort().values) and torch.equal(val, val.sort().values)
    tr2, val2 = train.split_indices(2000, c)
    assert torch.equal(tr, tr2) and torch.equal(val, val2)  # seeded
    assert not torch.equal(val, train.split_indices(2000, c.replace(subset_seed=4))[1])
    # all the rest is trained on when train_subset is None
    tr_all, val_all = train.split_indices(2000, c.replace(train_subset=None))
    assert sorted(tr_all.tolist() + val_all.tolist()) == list(range(2000))
    # without validation the training subset is the one of imcpnn.data (runs without val_size keep their data)
    from imcpnn import data

    tr0, val0 = train.split_indices(2000, c.replace(val_size=0))
    assert torch.equal(tr0, data.subset_indices(2000, 500, 3)) and len(val0) == 0
    with pytest.raises(ValueError, match="val_size"):
        train.split_indices(2000, c.replace(val_size=1600))
    with pytest.raises(ValueError, match="val_size"):
        TrainConfig(val_size=-1)


def test_load_data_and_validation_never_share_a_sample(fmnist_available):
    c = TrainConfig(train_subset=400, test_subset=100, val_size=200, subset_seed=1)
    x_tr, y_tr, x_te, y_te = train.load_data(c)
    x_val, y_val = train.load_validation(c)
    ids_tr, ids_te, ids_val = (set(fmnist_tiny.identities(x)) for x in (x_tr, x_te, x_val))
    assert len(ids_tr) == 400 and len(ids_te) == 100 and len(ids_val) == 200
    assert all(s == "train" for s, _ in ids_tr | ids_val) and all(s == "test" for s, _ in ids_te)
    assert not ids_val & ids_tr and not ids_val & ids_te
    assert {i for _, i in ids_val} == set(train.split_indices(60_000, c)[1].tolist())
    assert x_val.dtype == torch.float32 and y_val.dtype == torch.int64 and len(y_val) == 200
    with pytest.raises(ValueError, match="val_size"):
        train.load_validation(c.replace(val_size=0))
