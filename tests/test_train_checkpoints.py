"""Run-folder checkpoints of imcpnn.train: safe loading, clear errors, resume integrity, temporary files."""

from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from imcpnn import train
from imcpnn.store import checkpoint as ckpt_io
from imcpnn.train import CheckpointError, TrainConfig

MARKER_ENV = "IMCPNN_TEST_MARKER"


def tiny_config(**kw) -> TrainConfig:
    base = dict(train_subset=32, test_subset=8, epochs=1, batch_size=16, lr=1e-3, test_steps=3, width=0.05)
    base.update(kw)
    return TrainConfig(**base)


def synthetic_data(n_train=32, n_test=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_train + n_test, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n_train + n_test,), generator=g)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


@pytest.fixture
def half_run(tmp_path, one_thread) -> Path:
    """A run folder of ``tiny_config(epochs=2)`` interrupted after epoch 1 (a resumable checkpoint)."""
    out = tmp_path / "run"
    real = train.train_epoch

    def stop_in_epoch_2(*a, **kw):
        if a[5] == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train, "train_epoch", stop_in_epoch_2)
        with pytest.raises(KeyboardInterrupt):
            train.train(tiny_config(epochs=2), out, device="cpu", progress=False, data=synthetic_data())
    assert len(train.load_checkpoint(out)["epochs"]) == 1
    return out


class _Payload:
    """Unpickling this calls os.system: a file appears if a loader executes pickled code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _assert_one_line(err: BaseException, path: Path) -> None:
    msg = str(err)
    assert "\n" not in msg and str(path) in msg and "delete" in msg, msg


# ------------------------------------------------------------------------------------------ safe loading


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_malicious_checkpoint_does_not_run_code(tmp_path, writer):
    out, marker = tmp_path / "run", tmp_path / "PWNED"
    out.mkdir()
    evil = {"config": {}, "epochs": [], "model": {}, "optimizer": {}, "rng": {"cpu": _Payload(marker)}}
    with open(out / "checkpoint.pt", "wb") as f:
        torch.save(evil, f) if writer == "torch.save" else pickle.dump(evil, f)
    for load in (train.load_checkpoint, train.load_model):
        with pytest.raises(CheckpointError) as info:
            load(out)
        _assert_one_line(info.value, out / "checkpoint.pt")
    with pytest.raises(CheckpointError):
        train.train(tiny_config(), out, device="cpu", progress=False, data=synthetic_data())
    assert not marker.exists(), "loading a checkpoint executed pickled code"


@pytest.mark.parametrize("content", [b"", b"garbage\x00\x01", "truncated", "foreign"])
def test_corrupt_truncated_or_foreign_checkpoint_is_one_line_naming_the_file(half_run, content):
    path = half_run / "checkpoint.pt"
    if content == "truncated":
        content = path.read_bytes()[: path.stat().st_size // 2]
    elif content == "foreign":
        torch.save({"state_dict": {"w": torch.ones(2)}}, path)
        content = None
    if content is not None:
        path.write_bytes(content)
    before = path.read_bytes()
    for call in (
        lambda: train.load_model(half_run),
        lambda: train.train(tiny_config(epochs=2), half_run, device="cpu", progress=False, data=synthetic_data()),
    ):
        with pytest.raises(CheckpointError) as info:
            call()
        _assert_one_line(info.value, path)
        e = info.value  # no chained pickle/zip traceback when printed
        assert e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)
    assert path.read_bytes() == before, "a bad checkpoint must never be overwritten by a silent restart"


def test_real_checkpoints_load_with_weights_only(half_run):
    ckpt = torch.load(half_run / "checkpoint.pt", weights_only=True)
    assert ckpt["format"] == ckpt_io.FORMAT and ckpt["threads"] == 1 and ckpt["device"] == "cpu"
    assert ckpt["config"] == tiny_config(epochs=2).to_dict()
    assert isinstance(train.load_model(half_run), torch.nn.Module)


# ------------------------------------------------------------------------------------------ resume checks


def test_foreign_config_is_refused_also_without_config_json(half_run):
    (half_run / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"another config \(.*lr 0.001 -> 0.01"):
        train.train(tiny_config(epochs=2, lr=1e-2), half_run, device="cpu", progress=False, data=synthetic_data())
    assert not (half_run / "config.json").exists(), "a refused run must not label the folder"
    # the right config resumes and restores config.json
    m = train.train(tiny_config(epochs=2), half_run, device="cpu", progress=False, data=synthetic_data())
    assert len(m["epochs"]) == 2 and (half_run / "config.json").exists()


def test_thread_count_change_is_refused(half_run):
    torch.set_num_threads(2)  # the fixture restores it
    with pytest.raises(CheckpointError, match=r"1 torch thread\(s\) but this run uses 2.*--threads 1"):
        train.train(tiny_config(epochs=2), half_run, device="cpu", progress=False, data=synthetic_data())
    m = train.train(tiny_config(epochs=2), half_run, device="cpu", threads=1, progress=False, data=synthetic_data())
    assert len(m["epochs"]) == 2
    # a finished run is only read back (no data needed): no thread count enters it
    torch.set_num_threads(2)
    assert train.train(tiny_config(epochs=2), half_run, device="cpu", progress=False)["epochs"] == m["epochs"]


def test_metrics_without_checkpoint_is_not_silently_restarted(half_run):
    (half_run / "checkpoint.pt").unlink()
    with pytest.raises(CheckpointError, match="checkpoint.pt is missing"):
        train.train(tiny_config(epochs=2), half_run, device="cpu", progress=False, data=synthetic_data())


# ------------------------------------------------------------------------------ full disk, temporary files


def test_leftover_tmp_files_are_cleaned_on_the_next_start(half_run):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = [half_run / f"checkpoint.pt.tmp{dead.stdout.strip()}", half_run / "metrics.json.tmp999999999"]
    live = half_run / f"checkpoint.pt.tmp{os.getppid()}"  # a live process: may be writing right now
    other = half_run / "notes.tmp1"
    for p in [*stale, live, other]:
        p.write_bytes(b"partial")
    train.train(tiny_config(epochs=2), half_run, device="cpu", progress=False, data=synthetic_data())
    assert not any(p.exists() for p in stale)
    assert live.exists() and other.exists()


def test_disk_full_removes_the_partial_file_and_keeps_the_checkpoint(half_run, monkeypatch):
    path = half_run / "checkpoint.pt"
    before = path.read_bytes()

    def full(f):
        f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match=rf"could not write {path}: No space left on device; free some space"):
        ckpt_io.atomic_write_bytes(path, full)
    assert path.read_bytes() == before
    assert [p.name for p in half_run.iterdir() if ".tmp" in p.name] == []

    real = ckpt_io.atomic_write_bytes

    def full_on_checkpoint(p, write):
        return real(p, full if p.name == "checkpoint.pt" else write)

    monkeypatch.setattr(ckpt_io, "atomic_write_bytes", full_on_checkpoint)
    with pytest.raises(OSError, match="No space left"):
        train.train(tiny_config(epochs=2), half_run, device="cpu", progress=False, data=synthetic_data())
    assert [p.name for p in half_run.iterdir() if ".tmp" in p.name] == []
    assert len(json.loads((half_run / "metrics.json").read_text())["epochs"]) == 1
    monkeypatch.setattr(ckpt_io, "atomic_write_bytes", real)
    assert (
        len(train.train(tiny_config(epochs=2), half_run, device="cpu", progress=False, data=synthetic_data())["epochs"])
        == 2
    )
