"""imcpnn.executor: local (in-process, process pool) and Ray runs of independent jobs give the same records; a
job that raises is recorded as failed with its traceback while the others finish; a missing Ray is a clear error."""

from __future__ import annotations

import os
import sys

import pytest

from imcpnn import executor as X


def square_or_fail(job: int, offset: int = 0) -> dict:
    """A job: raises for job 3 (a deterministic error, not a crash)."""
    if job == 3:
        raise ValueError(f"job {job} is bad")
    return {"value": job * job + offset, "pid": os.getpid()}


def _values(records: list[dict]) -> list:
    return [(r["index"], r["config"], r["status"], r.get("result", {}).get("value")) for r in records]


def _check(records: list[dict]) -> None:
    assert _values(records) == [(0, 0, "ok", 10), (1, 1, "ok", 11), (2, 2, "ok", 14), (3, 3, "failed", None),
                                (4, 4, "ok", 26)]  # fmt: skip
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


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"executor": "slurm"}, "executor"),
        ({"workers": 0}, "workers"),
        ({"max_retries": -1}, "max_retries"),
        ({"num_gpus": -1}, "num_gpus"),
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
    for k in ("IMCPNN_EXECUTOR", "IMCPNN_WORKERS", "IMCPNN_RAY_ADDRESS"):
        monkeypatch.delenv(k, raising=False)
    assert X.env_settings() == {"executor": "local", "workers": 1, "ray_address": None}
    monkeypatch.setenv("IMCPNN_EXECUTOR", "ray")
    monkeypatch.setenv("IMCPNN_WORKERS", "2")
    monkeypatch.setenv("IMCPNN_RAY_ADDRESS", "auto")
    assert X.env_settings() == {"executor": "ray", "workers": 2, "ray_address": "auto"}
    monkeypatch.setenv("IMCPNN_WORKERS", "0")
    with pytest.raises(ValueError, match="IMCPNN_WORKERS"):
        X.env_settings()
    monkeypatch.setenv("IMCPNN_EXECUTOR", "dask")
    with pytest.raises(ValueError, match="IMCPNN_EXECUTOR"):
        X.env_settings()


@pytest.fixture(scope="module")
def ray2():
    """A 2-CPU local Ray cluster (started by the executor's own helper; left running for test_sweep)."""
    ray = pytest.importorskip("ray", reason="the cluster extra (pip install imcpnn[cluster]) is not installed")
    X.connect_ray(num_cpus=2)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import this test file
    return ray


def test_ray_gives_the_local_records_and_the_failed_job(ray2):
    records = X.run_jobs(square_or_fail, range(5), executor="ray", shared={"offset": 10}, progress=False)
    _check(records)
    pids = {r["result"]["pid"] for r in records if r["status"] == "ok"}
    assert os.getpid() not in pids
    assert ray2.cluster_resources().get("CPU") == 2
