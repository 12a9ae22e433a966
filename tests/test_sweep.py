"""``imcpnn sweep``: the Cartesian product of train flags; a 2-CPU local Ray gives the serial run's metrics bit for
bit, also when a worker process is killed mid-sweep (Ray retries its job); a failing job is recorded with its
traceback and the exit status is 1; a rerun reuses the finished runs. Tiny generated Fashion-MNIST data."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import fmnist_tiny
import pytest

from imcpnn import executor as X
from imcpnn import sweep as S
from imcpnn.__main__ import main as cli
from imcpnn.train import deterministic_metrics, load_model

GRID = [
    "--dataset",
    "fmnist",
    "--model",
    "mlp",
    "--erev",
    "1,inf",
    "--steps",
    "3",
    "--test-steps",
    "4",
    "--epochs",
    "1",
    "--train-subset",
    "64",
    "--test-subset",
    "32",
    "--seed",
    "0,1",
    "--no-progress",
]


@pytest.fixture(scope="module")
def tiny_fmnist(tmp_path_factory) -> Path:
    return fmnist_tiny.session_dataset(tmp_path_factory)


@pytest.fixture
def data(monkeypatch, tiny_fmnist) -> Path:
    return fmnist_tiny.use(monkeypatch, tiny_fmnist)


def _sweep(out: Path) -> list[dict]:
    return json.loads((out / "sweep.json").read_text())


def _same(a: list[dict], b: list[dict]) -> bool:
    return [(e["config"], deterministic_metrics(e["metrics"])) for e in a] == [
        (e["config"], deterministic_metrics(e["metrics"])) for e in b
    ]


@pytest.fixture(scope="module")
def serial(tiny_fmnist, tmp_path_factory) -> list[dict]:
    """The 4-job sweep, in-process (the reference)."""
    mp = pytest.MonkeyPatch()
    fmnist_tiny.use(mp, tiny_fmnist)
    try:
        out = tmp_path_factory.mktemp("serial")
        assert cli(["sweep", *GRID, "--out", str(out)]) == 0
        return _sweep(out)
    finally:
        mp.undo()


def test_serial_sweep_writes_one_run_per_config(serial, data, tmp_path):
    assert len(serial) == 4 and all(e["status"] == "ok" for e in serial)
    assert [(e["config"]["e_rev"], e["config"]["seed"]) for e in serial] == [
        (1.0, 0),
        (1.0, 1),
        (float("inf"), 0),
        (float("inf"), 1),
    ]
    assert all(
        len(e["metrics"]["epochs"]) == 1 and 0 <= e["metrics"]["epochs"][0]["test_accuracy"] <= 1 for e in serial
    )
    # a rerun into the same folder computes nothing; the weights in the run folders load
    out = tmp_path / "again"
    assert cli(["sweep", *GRID, "--seed", "0", "--out", str(out)]) == 0
    assert cli(["sweep", *GRID, "--out", str(out)]) == 0
    again = _sweep(out)
    assert [e["status"] for e in again] == ["cached", "ok", "cached", "ok"] and _same(again, serial)
    assert load_model(out / again[0]["run"]).training is False


def test_bad_list_values_name_the_flag(data, tmp_path, capsys):
    assert cli(["sweep", *GRID, "--steps", "3,x", "--out", str(tmp_path)]) == 2
    assert "--steps" in capsys.readouterr().err


def test_a_failing_job_is_recorded_and_the_exit_status_is_one(data, tmp_path, monkeypatch, serial):
    real = S.train_job

    def flaky(job, data):
        if job["config"]["seed"] == 1 and job["config"]["e_rev"] == 1.0:
            raise FloatingPointError("non-finite training loss at epoch 1, batch 0")
        return real(job, data)

    monkeypatch.setattr(S, "train_job", flaky)
    assert cli(["sweep", *GRID, "--out", str(tmp_path)]) == 1
    got = _sweep(tmp_path)
    assert [e["status"] for e in got] == ["ok", "failed", "ok", "ok"]
    assert got[1]["metrics"] is None and "FloatingPointError" in got[1]["error"] and "flaky" in got[1]["traceback"]
    assert _same([got[i] for i in (0, 2, 3)], [serial[i] for i in (0, 2, 3)])


def test_ray_sweep_equals_the_local_one(ray2, serial, data, tmp_path):
    assert cli(["sweep", *GRID, "--executor", "ray", "--out", str(tmp_path)]) == 0
    got = _sweep(tmp_path)
    assert all(e["status"] == "ok" for e in got) and _same(got, serial)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _kill_one_running_job(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first Ray worker (a process this test started) seen running a job."""
    while not stop.is_set() and not killed:
        for pid in _descendants(os.getpid()):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if title.startswith(f"ray::{X.TASK_NAME}".encode()):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.02)


def test_ray_retries_a_job_whose_worker_was_killed(ray2, serial, data, tmp_path):
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_one_running_job, args=(killed, stop), daemon=True)
    killer.start()
    try:
        assert cli(["sweep", *GRID, "--executor", "ray", "--max-retries", "2", "--out", str(tmp_path)]) == 0
    finally:
        stop.set()
        killer.join(5)
    assert len(killed) == 1  # a worker really died mid-sweep
    got = _sweep(tmp_path)
    assert all(e["status"] == "ok" for e in got) and _same(got, serial)


def test_sweep_without_ray_names_the_extra(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    assert cli(["sweep", *GRID, "--executor", "ray", "--out", str(tmp_path)]) == 1
    assert "pip install imcpnn[cluster]" in capsys.readouterr().err
