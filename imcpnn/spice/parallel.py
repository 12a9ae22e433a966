"""SPICE tasks on the one executor (:mod:`imcpnn.executor`): task functions and per-task results, no pool of its own.

A SPICE task is ``fn(*args, **kwargs)`` with a module-level ``fn`` (pickled by reference), e.g.
:func:`imcpnn.spice.iris_sim.simulate_sample` or :func:`spice_task`. :class:`SpiceExecutor` runs a list of them on an
:class:`imcpnn.executor.Executor` session (local processes or Ray, settings as the caller passes them) with
a wall-clock limit per task, and returns one :class:`TaskResult` per task, in task order; nothing is dropped and
callers count the failures (arXiv 2412.09010v1 App. G runs ngspice per circuit; the executor is ours).

libngspice is not re-entrant (one circuit per process, global state), so every SPICE task runs in a worker
PROCESS, also with one worker: the executor runs jobs that have a time limit on worker processes, and a task
past ``timeout_s`` has its worker killed and replaced (recorded as failed, ``"timeout after X s ..."``). The
workers live as long as the :class:`SpiceExecutor`, so each keeps its loaded circuit for the next task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imcpnn.executor import Executor

__all__ = ["SpiceExecutor", "TaskResult", "call_task", "run_tasks", "spice_task"]


@dataclass
class TaskResult:
    """The outcome of one task: ``ok`` with ``value``, or failed with ``error`` (a timeout or the error)."""

    index: int
    ok: bool
    value: Any = None
    error: str = ""
    wall_s: float = 0.0
    netlist: str | None = None  # the kept netlist of a failed SPICE task


def call_task(task: tuple[tuple, dict], fn: Callable[..., Any]) -> Any:
    """The executor's job function for a SPICE task ``(args, kwargs)``: ``fn(*args, **kwargs)``."""
    args, kwargs = task
    return fn(*args, **kwargs)


class SpiceExecutor:
    """SPICE tasks on one :class:`imcpnn.executor.Executor` session (``executor``, ``workers``, ``ray_address``
    as there). Use it as a context manager; ``killed`` counts the tasks stopped at their time limit."""

    def __init__(self, executor: str = "local", workers: int = 1, ray_address: str | None = None) -> None:
        self._ex = Executor(executor, workers, ray_address)

    @property
    def killed(self) -> int:
        return self._ex.timed_out

    def __enter__(self) -> SpiceExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._ex.close()

    def map(
        self,
        fn: Callable[..., Any],
        tasks: Sequence[tuple[tuple, dict]],
        *,
        timeout_s: float = 120.0,
        progress: bool = True,
        desc: str = "SPICE",
        netlist_of: Callable[[int], str | None] | None = None,
    ) -> list[TaskResult]:
        """Run ``fn(*args, **kwargs)`` for every ``(args, kwargs)`` in ``tasks``; one :class:`TaskResult` per
        task, in task order. ``timeout_s``: wall-clock limit per task (required: every SPICE run is bounded);
        ``netlist_of``: maps a task index to its netlist path (recorded on failure)."""
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise ValueError(f"timeout_s must be a number > 0 (seconds), got {timeout_s!r}")
        jobs = [(tuple(args), dict(kwargs)) for args, kwargs in tasks]
        records = self._ex.map(call_task, jobs, shared={"fn": fn}, timeout_s=timeout_s, progress=progress, desc=desc)
        out = []
        for r in records:
            i = r["index"]
            if r["status"] == "ok":
                out.append(TaskResult(i, True, r["result"], "", r["wall_s"]))
            else:
                out.append(TaskResult(i, False, None, r["error"], r["wall_s"], netlist_of(i) if netlist_of else None))
        return out


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[tuple, dict]],
    *,
    workers: int = 2,
    timeout_s: float = 120.0,
    progress: bool = True,
    desc: str = "SPICE",
    netlist_of: Callable[[int], str | None] | None = None,
    executor: str = "local",
    ray_address: str | None = None,
) -> list[TaskResult]:
    """:meth:`SpiceExecutor.map` on a fresh session (``workers=1``: the serial baseline, one worker process)."""
    with SpiceExecutor(executor, workers, ray_address) as ex:
        return ex.map(fn, tasks, timeout_s=timeout_s, progress=progress, desc=desc, netlist_of=netlist_of)


def spice_task(
    netlist: str,
    name: str,
    workdir: str,
    readout: Callable[..., Any],
    readout_kwargs: dict | None = None,
) -> Any:
    """Run one deck in this process's ngspice and return ``readout(vectors, **readout_kwargs)``.

    The deck is written to ``<workdir>/<name>.cir`` by :func:`imcpnn.spice.simulate.run_netlist`; it is
    deleted after a successful run and kept after a failure (its path is then in the error).
    """
    from imcpnn.spice.simulate import run_netlist

    folder = Path(workdir)
    out = run_netlist(netlist, name, workdir=folder)
    value = readout(out, **(readout_kwargs or {}))
    (folder / f"{name}.cir").unlink(missing_ok=True)
    return value
