"""The one executor for independent jobs (training runs, benchmark points, SPICE simulations): local or Ray.

:func:`run_jobs` runs ``fn(job, **shared)`` for every ``job`` and returns one record per job, in job order::

    {"index": i, "config": job, "status": "ok", "result": ..., "wall_s": ...}
    {"index": i, "config": job, "status": "failed", "error": "ValueError: ...", "traceback": "...", "wall_s": ...}

Executors:

* ``"local"`` (the default): ``workers=1`` runs the jobs in this process, one after the other; ``workers=N``
  runs them in a pool of N ``spawn``-ed processes (never threads: libngspice is not re-entrant, and a fresh
  process never inherits torch / OpenMP state).
* ``"ray"``: each job is a Ray task that declares its resources (``num_cpus`` per job, ``num_gpus=1`` for CUDA
  training), so a GPU cluster schedules it correctly. ``ray_address="auto"`` (or ``"ray://..."``, an
  ``IP:port``) joins a running cluster; ``None`` starts a local one with ``workers`` CPUs (and stops it
  afterwards). Results (metrics, final weights, SPICE read-outs) come back through Ray's object store, so the
  workers need no shared filesystem; ``shared`` objects (e.g. the data set) are put into the object store once.
  Ray retries a job whose worker process dies up to ``max_retries`` times; a job whose function *raises* is not
  retried (the error is deterministic) and is recorded as failed with its traceback.

In both, a job that raises never stops the others, and nothing is dropped: a job that could not be run
(a dead worker past its retries, a broken local pool) is recorded as failed with the reason. ``fn`` must be a
module-level function (it is pickled by reference), as must everything in ``jobs`` / ``shared``.
Ray is an optional extra: ``pip install imcpnn[cluster]``.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

__all__ = ["EXECUTORS", "RayNotInstalledError", "connect_ray", "env_settings", "import_ray", "run_jobs"]

EXECUTORS = ("local", "ray")
TASK_NAME = "imcpnn_job"  # Ray's process title of a running job is "ray::imcpnn_job"
_SHIM = Path(__file__).resolve().parent / "_impl" / "ray_boot"
_SHARED: dict[str, Any] = {}  # the shared objects of a local pool worker (set by its initializer)


class RayNotInstalledError(ImportError):
    """``executor="ray"`` without Ray installed."""


def _check_int(name: str, value: Any, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")


def import_ray() -> Any:
    """The ``ray`` module, or :class:`RayNotInstalledError` naming ``pip install imcpnn[cluster]``.

    jsonschema (imported by Ray) compiles the ``rfc3987_syntax`` IRI grammar at import time when that package
    is installed (it comes with Jupyter): ~5 s of CPU per process. Ray does not use IRI validation, so the
    import is skipped while Ray loads (``IMCPNN_RAY_FAST_IMPORT=0`` keeps it).
    """
    if sys.modules.get("ray") is not None:
        return sys.modules["ray"]
    skip = os.environ.get("IMCPNN_RAY_FAST_IMPORT", "1") != "0" and "rfc3987_syntax" not in sys.modules
    if skip:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # makes `import rfc3987_syntax` fail
    try:
        import ray
    except ImportError as err:
        raise RayNotInstalledError(
            f"executor 'ray' needs Ray, which is not installed ({err}); install it with: pip install imcpnn[cluster]"
        ) from None
    finally:
        if skip and sys.modules.get("rfc3987_syntax", 0) is None:
            del sys.modules["rfc3987_syntax"]
    return ray


@contextlib.contextmanager
def _fast_child_imports() -> Iterator[None]:
    """Processes started in this block (Ray's agents and workers) skip the slow IRI grammar import, through a
    ``sitecustomize`` on PYTHONPATH (see :func:`import_ray`); PYTHONPATH is restored afterwards."""
    if os.environ.get("IMCPNN_RAY_FAST_IMPORT", "1") == "0":
        yield
        return
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(_SHIM)] + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


def connect_ray(address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None) -> bool:
    """Connect this process to Ray; returns True when it started a new local cluster (the caller then owns it and
    should ``ray.shutdown()`` it). Already connected: nothing changes (False). ``address``: ``"auto"`` joins the
    cluster running on this machine (``ray start --head``), ``"IP:port"`` / ``"ray://IP:10001"`` a remote one;
    ``None`` starts a local cluster with ``num_cpus`` CPUs (default: all) and ``num_gpus`` GPUs."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    if address is not None and not str(address).strip():
        raise ValueError("ray_address must be 'auto', 'IP:port', 'ray://IP:port' or None, got ''")
    with _fast_child_imports():
        if address is None:
            ray.init(num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=False)
            return True
        ray.init(address=address, log_to_driver=False)
    return False


def env_settings() -> dict[str, Any]:
    """The executor settings of ``make all EXECUTOR=ray WORKERS=2 RAY_ADDRESS=auto`` (the Makefile passes them to
    the notebooks as IMCPNN_EXECUTOR, IMCPNN_WORKERS, IMCPNN_RAY_ADDRESS): keyword arguments for
    :func:`run_jobs`. Unset or empty: local, 1 worker, no address. A bad value: ValueError naming the variable."""
    executor = os.environ.get("IMCPNN_EXECUTOR", "").strip() or "local"
    if executor not in EXECUTORS:
        raise ValueError(f"IMCPNN_EXECUTOR must be one of {EXECUTORS}, got {executor!r}")
    text = os.environ.get("IMCPNN_WORKERS", "").strip() or "1"
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"IMCPNN_WORKERS must be an integer >= 1, got {text!r}")
    address = os.environ.get("IMCPNN_RAY_ADDRESS", "").strip() or None
    return {"executor": executor, "workers": int(text), "ray_address": address}


def _failure(exc: BaseException) -> dict[str, Any]:
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def _call(fn: Callable[..., Any], job: Any, shared: dict[str, Any]) -> dict[str, Any]:
    """Run one job; its outcome as a partial record (an exception is caught and recorded, never raised)."""
    t0 = time.perf_counter()
    try:
        out = {"status": "ok", "result": fn(job, **shared)}
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its traceback
        out = _failure(exc)
    out["wall_s"] = time.perf_counter() - t0
    return out


def _pool_init(shared: dict[str, Any]) -> None:  # pragma: no cover - runs in a pool process
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _SHARED.clear()
    _SHARED.update(shared)


def _pool_call(fn: Callable[..., Any], job: Any) -> dict[str, Any]:  # pragma: no cover - runs in a pool process
    return _call(fn, job, _SHARED)


def _ray_call(fn: Callable[..., Any], job: Any, shared: dict[str, Any] | None) -> dict[str, Any]:
    out = _call(fn, job, shared or {})
    out["pid"] = os.getpid()
    return out


def _record(i: int, job: Any, out: dict[str, Any]) -> dict[str, Any]:
    return {"index": i, "config": job, **out}


def run_jobs(
    fn: Callable[..., Any],
    jobs: Sequence[Any],
    *,
    executor: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
    num_cpus: float = 1,
    num_gpus: float = 0,
    max_retries: int = 3,
    shared: dict[str, Any] | None = None,
    progress: bool = True,
    desc: str = "jobs",
    on_result: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run ``fn(job, **shared)`` for every job; one record per job, in job order (see the module docstring).

    Args:
        fn: a module-level function; its result must be picklable.
        jobs: the job configurations (picklable; recorded as each record's ``config``).
        executor: ``"local"`` or ``"ray"``.
        workers: local: processes (1 = in this process); ray without an address: the CPUs of the local cluster.
        ray_address: ``None`` (start a local Ray), ``"auto"`` (join the running cluster), or its address.
        num_cpus, num_gpus: the resources one job needs (Ray schedules by them; 1 GPU for CUDA training).
        max_retries: Ray reruns a job whose worker process died up to this many times.
        shared: keyword arguments for every call (e.g. the data), shipped once per worker / object store.
        progress: a tqdm bar over jobs (stderr).
        on_result: called in this process with each record as soon as its job finishes (e.g. to write it out).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
    _check_int("workers", workers, 1)
    _check_int("max_retries", max_retries, 0)
    for name, v in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {v!r}")
    jobs = list(jobs)
    shared = dict(shared or {})
    records: list[dict[str, Any] | None] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc=desc, disable=not progress, file=sys.stderr, mininterval=1.0)

    def done(i: int, out: dict[str, Any]) -> None:
        records[i] = _record(i, jobs[i], out)
        bar.update(1)
        if on_result is not None:
            on_result(records[i])

    try:
        if not jobs:
            return []
        if executor == "ray":
            _run_ray(fn, jobs, shared, done, workers=workers, address=ray_address, num_cpus=num_cpus,
                     num_gpus=num_gpus, max_retries=max_retries)  # fmt: skip
        elif workers == 1:
            for i, job in enumerate(jobs):
                done(i, _call(fn, job, shared))
        else:
            _run_pool(fn, jobs, shared, done, workers)
    finally:
        bar.close()
    return [r if r is not None else _record(i, jobs[i], {"status": "failed", "error": "not run", "traceback": ""})
            for i, r in enumerate(records)]  # fmt: skip


def _run_pool(fn: Callable[..., Any], jobs: list[Any], shared: dict[str, Any], done: Callable, workers: int) -> None:
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx, initializer=_pool_init,
                                initargs=(shared,)) as pool:  # fmt: skip
        futures = {pool.submit(_pool_call, fn, job): i for i, job in enumerate(jobs)}
        for fut in cf.as_completed(futures):
            try:
                out = fut.result()
            except Exception as exc:  # noqa: BLE001 - a dead pool process (BrokenProcessPool) or unpicklable result
                out = {**_failure(exc), "wall_s": 0.0}
            done(futures[fut], out)


def _run_ray(fn: Callable[..., Any], jobs: list[Any], shared: dict[str, Any], done: Callable, *, workers: int,
             address: str | None, num_cpus: float, num_gpus: float, max_retries: int) -> None:  # fmt: skip
    ray = import_ray()
    started = connect_ray(address, num_cpus=workers if address is None else None)
    try:
        task = ray.remote(_ray_call).options(name=TASK_NAME, num_cpus=num_cpus, num_gpus=num_gpus,
                                             max_retries=max_retries, retry_exceptions=False)  # fmt: skip
        shared_ref = ray.put(shared) if shared else None
        refs = {task.remote(fn, job, shared_ref): i for i, job in enumerate(jobs)}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                try:
                    out = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - the worker died past max_retries, or the task was lost
                    out = {**_failure(exc), "wall_s": 0.0}
                done(refs[ref], out)
    finally:
        if started:
            ray.shutdown()
