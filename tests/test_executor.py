"""imcpnn.executor: local (in-process, process pool) and Ray runs of independent jobs give the same records; a
job that raises is recorded as failed with its traceback while the others finish; a job past its wall-clock
limit is killed (local: its worker process, replaced; Ray: cancelled) and recorded as failed; a missing Ray is a
clear error. The Ray tests share one 2-CPU local cluster per session (conftest ``ray2``)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from imcpnn import executor as X
from imcpnn.repro import profiles


def square_or_fail(job: int, offset: int = 0) -> dict:
    """A job: raises for job 3 (a deterministic error, not a crash)."""
    if job == 3:
        raise ValueError(f"job {job} is bad")
    return {"value": job * job + offset, "pid": os.getpid()}


def sleep_then_pid(job: float) -> int:
    """A job: sleeps ``job`` seconds (or dies at once for a negative one); returns its process id."""
    if job < 0:
        os._exit(3)
    time.sleep(job)
    return os.getpid()


def _values(records: list[dict]) -> list:
    return [(r["index"], r["config"], r["status"], r.get("result", {}).get("value")) for r in records]


def _check(records: list[dict]) -> None:
    assert _values(records) == [
        (0, 0, "ok", 10),
        (1, 1, "ok", 11),
        (2, 2, "ok", 14),
        (3, 3, "failed", None),
        (4, 4, "ok", 26),
    ]
    bad = records[3]
    assert bad["error"] == "ValueError: job 3 is bad"
    assert "square_or_fail" in bad["traceback"] and "raise ValueError" in bad["traceback"]


def test_local_in_process_records_failure_and_finishes_the_rest():
    seen = []
    records = X.run_jobs(square_or_fail, range(5), shared={"offset": 10}, progress=False, on_result=seen.append)
    _check(records)
    assert sorted(r["index"] for r in seen) == [0, 1, 2, 3, 4]
    assert {r["result"]["pid"] for r in records if r["status"] == "ok"} == {os.getpid()}


def test_local_pool_uses_other_processes_and_gives_the_same_records():
    records = X.run_jobs(square_or_fail, range(5), workers=2, shared={"offset": 10}, progress=False)
    _check(records)
    pids = {r["result"]["pid"] for r in records if r["status"] == "ok"}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2


def test_local_pool_kills_a_job_past_its_limit_and_replaces_a_dead_worker():
    with X.Executor(workers=2) as ex:
        before = ex.map(sleep_then_pid, [0.2, 0.2], timeout_s=60, progress=False)
        t0 = time.perf_counter()
        records = ex.map(sleep_then_pid, [0.01, 60, -1, 0.01, 0.01], timeout_s=2, progress=False)
        assert time.perf_counter() - t0 < 30  # the 60 s job was not waited for
        assert [r["status"] for r in records] == ["ok", "failed", "failed", "ok", "ok"]
        assert records[1]["error"].startswith("timeout after") and "limit 2 s" in records[1]["error"]
        assert records[2]["error"] == "worker died (exit code 3)"
        assert ex.timed_out == 1
        after = ex.map(sleep_then_pid, [0.2, 0.2], timeout_s=60, progress=False)
    old = {r["result"] for r in before}
    assert len(old) == 2 and os.getpid() not in old and not old & {r["result"] for r in after}
    for pid in old:  # both original workers are gone (one killed at its limit, one exited), none left running
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_one_worker_with_a_limit_runs_in_a_child_process():
    records = X.run_jobs(sleep_then_pid, [0.01, 60, 0.01], timeout_s=2, progress=False)
    assert [r["status"] for r in records] == ["ok", "failed", "ok"]
    assert records[0]["result"] != os.getpid() and records[1]["error"].startswith("timeout after")
    assert X.run_jobs(sleep_then_pid, [0.01], progress=False)[0]["result"] == os.getpid()  # no limit: in-process


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"executor": "slurm"}, "executor"),
        ({"workers": 0}, "workers"),
        ({"max_retries": -1}, "max_retries"),
        ({"num_gpus": -1}, "num_gpus"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"timeout_s": float("nan")}, "timeout_s"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=name):
        X.run_jobs(square_or_fail, [1], progress=False, **kwargs)


def test_without_ray_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    with pytest.raises(X.RayNotInstalledError, match=r"pip install imcpnn\[cluster\]"):
        X.run_jobs(square_or_fail, [1], executor="ray", progress=False)


def test_env_settings_from_the_makefile(monkeypatch):
    """The harness (imcpnn.repro), not the library, reads the Makefile's executor variables."""
    for k in ("IMCPNN_EXECUTOR", "IMCPNN_WORKERS", "IMCPNN_RAY_ADDRESS"):
        monkeypatch.delenv(k, raising=False)
    assert profiles.env_settings() == {"executor": "local", "workers": 1, "ray_address": None}
    assert profiles.env_settings(default_workers=16)["workers"] == 16  # a profile's own count when WORKERS is unset
    monkeypatch.setenv("IMCPNN_WORKERS", "")  # the Makefile's empty default
    assert profiles.env_settings(default_workers=2)["workers"] == 2
    monkeypatch.setenv("IMCPNN_EXECUTOR", "ray")
    monkeypatch.setenv("IMCPNN_WORKERS", "2")
    monkeypatch.setenv("IMCPNN_RAY_ADDRESS", "auto")
    assert profiles.env_settings() == {"executor": "ray", "workers": 2, "ray_address": "auto"}
    assert profiles.env_settings(default_workers=16)["workers"] == 2
    monkeypatch.setenv("IMCPNN_WORKERS", "0")
    with pytest.raises(ValueError, match="IMCPNN_WORKERS"):
        profiles.env_settings()
    monkeypatch.setenv("IMCPNN_EXECUTOR", "dask")
    with pytest.raises(ValueError, match="IMCPNN_EXECUTOR"):
        profiles.env_settings()


@pytest.fixture(scope="module")
def ray_here(ray2):
    """The session's 2-CPU local Ray (conftest), with this module's job functions shipped by value."""
    ray2.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import this test file
    return ray2


def test_ray_gives_the_local_records_and_the_failed_job(ray_here):
    records = X.run_jobs(square_or_fail, range(5), executor="ray", shared={"offset": 10}, progress=False)
    _check(records)
    pids = {r["result"]["pid"] for r in records if r["status"] == "ok"}
    assert os.getpid() not in pids
    assert ray_here.cluster_resources().get("CPU") == 2


def test_ray_cancels_a_job_past_its_limit_and_finishes_the_rest(ray_here):
    with X.Executor("ray") as ex:
        t0 = time.perf_counter()
        records = ex.map(sleep_then_pid, [0.01, 60, 0.01, 0.01], timeout_s=3, progress=False)
        assert time.perf_counter() - t0 < 30  # the 60 s job was not waited for
        assert ex.timed_out == 1
    assert [r["status"] for r in records] == ["ok", "failed", "ok", "ok"]
    assert records[1]["error"].startswith("timeout after") and "limit 3 s" in records[1]["error"]
