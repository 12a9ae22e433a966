"""The one executor for independent jobs (training runs, benchmark points, SPICE simulations): local or Ray.

:func:`run_jobs` runs ``fn(job, **shared)`` for every ``job`` and returns one record per job, in job order::

    {"index": i, "config": job, "status": "ok", "result": ..., "wall_s": ...}
    {"index": i, "config": job, "status": "failed", "error": "ValueError: ...", "traceback": "...", "wall_s": ...}

:class:`Executor` is the same as a session: its workers (local processes, or the Ray connection) are kept across
:meth:`Executor.map` calls, so a worker keeps what it loaded (an ngspice circuit, imports) for the next batch.

Executors:

* ``"local"`` (the default): ``workers=1`` runs the jobs in this process, one after the other; ``workers=N``
  runs them on N worker processes (:class:`imcpnn.executor.workers.ProcessPool`: forkserver children, never
  threads, since libngspice is not re-entrant; a worker never inherits the driver's torch / OpenMP state).
* ``"ray"``: each job is a Ray task that declares its resources (``num_cpus`` per job, ``num_gpus=1`` for CUDA
  training), so a GPU cluster schedules it correctly. ``ray_address="auto"`` (or ``"ray://..."``, an
  ``IP:port``) joins a running cluster; ``None`` starts a local one with ``workers`` CPUs (and stops it
  afterwards). Results (metrics, final weights, SPICE read-outs) come back through Ray's object store, so the
  workers need no shared filesystem; ``shared`` objects (e.g. the data set) are put into the object store once.
  Ray retries a job whose worker process dies up to ``max_retries`` times; a job whose function *raises* is not
  retried (the error is deterministic) and is recorded as failed with its traceback.

Per-job wall-clock limit ``timeout_s`` (``None``: no limit). Local pool: the worker of a job past its limit is
killed (SIGKILL) and replaced, the job recorded as failed (``"timeout after X s ..."``), the others go on.
``workers=1`` with a limit runs the jobs on ONE worker process (the only way to stop a job stuck in C code);
without a limit they run in this process, bounded only by the jobs themselves (SPICE runs halt themselves
after ``$IMCPNN_SPICE_TIMEOUT``, :mod:`imcpnn.spice.simulate`). Ray: the driver keeps at most as many jobs in
flight as the cluster has slots for (its CPUs / ``num_cpus``, GPUs / ``num_gpus``), so that a job's clock starts
when it is submitted to a free slot (worker start-up included); past the limit it is cancelled with
``ray.cancel(force=True)`` (its worker is killed, no retry) and recorded as failed.

In all, a job that raises never stops the others, and nothing is dropped: a job that could not be run (a dead
worker, past its retries on Ray) is recorded as failed with the reason. ``fn`` must be a module-level function
(it is pickled by reference), as must everything in ``jobs`` / ``shared``. Ray is an optional extra:
``pip install imcpnn[cluster]``.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from imcpnn.executor.workers import ProcessPool, call_job, failure, timed_out

__all__ = ["EXECUTORS", "Executor", "RayNotInstalledError", "connect_ray", "import_ray", "run_jobs"]

EXECUTORS = ("local", "ray")
TASK_NAME = "imcpnn_job"  # Ray's process title of a running job is "ray::imcpnn_job"
_SHIM = Path(__file__).resolve().parent / "ray_boot"


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


def _ray_call(fn: Callable[..., Any], job: Any, shared: dict[str, Any] | None) -> dict[str, Any]:
    out = call_job(fn, job, shared or {})
    out["pid"] = os.getpid()
    return out


def _record(i: int, job: Any, out: dict[str, Any]) -> dict[str, Any]:
    return {"index": i, "config": job, **out}


def _check_map(num_cpus: Any, num_gpus: Any, max_retries: Any, timeout_s: Any) -> None:
    _check_int("max_retries", max_retries, 0)
    for name, v in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"{name} must be a number >= 0, got {v!r}")
    if timeout_s is not None and (
        isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < math.inf
    ):
        raise ValueError(f"timeout_s must be None (no limit) or a number of seconds > 0, got {timeout_s!r}")


class Executor:
    """A session of the executor: ``executor``, ``workers``, ``ray_address`` as in :func:`run_jobs`; the workers
    live until :meth:`close` (use it as a context manager). ``timed_out`` counts the jobs stopped at their limit."""

    def __init__(self, executor: str = "local", workers: int = 1, ray_address: str | None = None) -> None:
        if executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}, got {executor!r}")
        _check_int("workers", workers, 1)
        self.executor, self.workers, self.ray_address = executor, workers, ray_address
        self.timed_out = 0
        self._pool: ProcessPool | None = None
        self._ray_owned = False
        self._ray: Any = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the local worker processes; stop the local Ray cluster if this session started it."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._ray_owned:
            self._ray.shutdown()
            self._ray_owned = False

    def map(
        self,
        fn: Callable[..., Any],
        jobs: Sequence[Any],
        *,
        num_cpus: float = 1,
        num_gpus: float = 0,
        max_retries: int = 3,
        timeout_s: float | None = None,
        shared: dict[str, Any] | None = None,
        progress: bool = True,
        desc: str = "jobs",
        on_result: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """:func:`run_jobs` on this session's workers (the arguments are documented there)."""
        _check_map(num_cpus, num_gpus, max_retries, timeout_s)
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
            if self.executor == "ray":
                self._run_ray(
                    fn,
                    jobs,
                    shared,
                    done,
                    num_cpus=num_cpus,
                    num_gpus=num_gpus,
                    max_retries=max_retries,
                    timeout_s=timeout_s,
                )
            elif self.workers == 1 and timeout_s is None:
                for i, job in enumerate(jobs):
                    done(i, call_job(fn, job, shared))
            else:
                if self._pool is None:
                    self._pool = ProcessPool(self.workers)
                killed = self._pool.killed
                try:
                    self._pool.run(fn, jobs, shared, done, timeout_s)
                finally:
                    self.timed_out += self._pool.killed - killed
        finally:
            bar.close()
        return [
            r if r is not None else _record(i, jobs[i], {"status": "failed", "error": "not run", "traceback": ""})
            for i, r in enumerate(records)
        ]

    def _connect(self) -> Any:
        if self._ray is None:
            self._ray = import_ray()
        if not self._ray.is_initialized():
            num = self.workers if self.ray_address is None else None
            self._ray_owned = connect_ray(self.ray_address, num_cpus=num) or self._ray_owned
        return self._ray

    def _run_ray(
        self,
        fn: Callable[..., Any],
        jobs: list[Any],
        shared: dict[str, Any],
        done: Callable,
        *,
        num_cpus: float,
        num_gpus: float,
        max_retries: int,
        timeout_s: float | None,
    ) -> None:
        ray = self._connect()
        task = ray.remote(_ray_call).options(
            name=TASK_NAME, num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries, retry_exceptions=False
        )
        shared_ref = ray.put(shared) if shared else None
        slots = len(jobs)
        if timeout_s is not None:  # one job per free slot, so that its clock starts when it can run
            res = ray.cluster_resources()
            for need, have in ((num_cpus, res.get("CPU", 0.0)), (num_gpus, res.get("GPU", 0.0))):
                if need > 0:
                    slots = min(slots, max(1, int(have // need)))
        todo = list(range(len(jobs)))[::-1]
        pending: dict[Any, tuple[int, float]] = {}
        try:
            while todo or pending:
                while todo and len(pending) < slots:
                    i = todo.pop()
                    pending[task.remote(fn, jobs[i], shared_ref)] = (i, time.perf_counter())
                wait_s = None
                if timeout_s is not None:
                    now = time.perf_counter()
                    wait_s = max(0.01, min(timeout_s - (now - t0) for _, t0 in pending.values()))
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=wait_s)
                for ref in ready:
                    i, _ = pending.pop(ref)
                    try:
                        out = ray.get(ref)
                    except Exception as exc:  # noqa: BLE001 - the worker died past max_retries, or the task was lost
                        out = {**failure(exc), "wall_s": 0.0}
                    done(i, out)
                if timeout_s is not None:
                    now = time.perf_counter()
                    for ref, (i, t0) in list(pending.items()):
                        if now - t0 > timeout_s:
                            ray.cancel(ref, force=True)  # kills its worker process; a cancelled task is not retried
                            del pending[ref]
                            self.timed_out += 1
                            done(i, timed_out(now - t0, timeout_s, "cancelled, its worker killed"))
        except BaseException:  # an interrupt or an error in ``done``: stop what this batch still has running
            for ref in pending:
                ray.cancel(ref, force=True)
            raise


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
    timeout_s: float | None = None,
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
        timeout_s: wall-clock limit per job in seconds (None: none); a job past it is killed and recorded as
            failed. Local ``workers=1`` with a limit runs the jobs on one worker process.
        shared: keyword arguments for every call (e.g. the data), shipped once per worker / object store.
        progress: a tqdm bar over jobs (stderr).
        on_result: called in this process with each record as soon as its job finishes (e.g. to write it out).
    """
    _check_map(num_cpus, num_gpus, max_retries, timeout_s)
    with Executor(executor, workers, ray_address) as ex:
        return ex.map(
            fn,
            jobs,
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            max_retries=max_retries,
            timeout_s=timeout_s,
            shared=shared,
            progress=progress,
            desc=desc,
            on_result=on_result,
        )
