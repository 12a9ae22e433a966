"""A bounded, parallel SPICE executor: one ngspice per worker process, a wall-clock limit per task.

libngspice is not re-entrant (one circuit per process, global state), so parallelism comes from processes:
:class:`WorkerPool` keeps ``workers`` long-lived worker processes (``forkserver`` context, so the parent's torch /
OpenMP state and its ngspice are never inherited), hands each one task at a time through a pipe, and waits on
all pipes at once.
A task that runs past ``timeout_s`` has its worker KILLED (SIGKILL to that worker's pid; the worker is our own
child) and replaced; the task is recorded as failed with reason ``timeout``. A task whose function raises is
recorded as failed with the error text. Nothing is dropped: the result list has one :class:`TaskResult` per
task, in task order, and callers count the failures (arXiv 2412.09010v1 App. G runs ngspice per circuit; the
executor is ours).

The task function must be a module-level callable (it is pickled by reference). :func:`spice_task` is the one
used for circuits: it writes the netlist, runs it, applies a read-out function to the vectors and deletes the
netlist on success (keeps it on failure, so that the failure can be inspected).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from tqdm import tqdm

__all__ = ["TaskResult", "WorkerPool", "run_tasks", "spice_task"]


@dataclass
class TaskResult:
    """The outcome of one task: ``ok`` with ``value``, or failed with ``error`` (``"timeout"`` or the error)."""

    index: int
    ok: bool
    value: Any = None
    error: str = ""
    wall_s: float = 0.0
    netlist: str | None = None  # the kept netlist of a failed SPICE task


def _worker(conn: Connection) -> None:  # pragma: no cover - runs in a child process
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    conn.send("ready")
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        index, fn, args, kwargs = msg
        t0 = time.perf_counter()
        try:
            value = fn(*args, **kwargs)
            conn.send((index, True, value, "", time.perf_counter() - t0))
        except Exception as exc:  # noqa: BLE001 - every failure is recorded, never raised past the pool
            text = f"{type(exc).__name__}: {exc}"
            conn.send((index, False, None, text, time.perf_counter() - t0))


class _Slot:
    """One worker process and the task it is running."""

    def __init__(self, ctx) -> None:
        self.parent, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.task: int | None = None
        self.t_start = 0.0
        self.ready = False

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        """Block until the worker has started (imports done), so that start-up never counts as task time."""
        if not self.ready:
            if not self.parent.poll(timeout_s):
                self.kill()
                raise RuntimeError(f"a SPICE worker process did not start within {timeout_s:g} s")
            msg = self.parent.recv()
            if msg != "ready":
                raise RuntimeError(f"unexpected message from a starting worker: {msg!r}")
            self.ready = True

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()  # SIGKILL to our own child, by pid
        self.proc.join(timeout=5)
        self.parent.close()

    def stop(self) -> None:
        try:
            self.parent.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.kill()
        else:
            self.parent.close()


def _context():
    """``forkserver``: workers fork from a clean server process that imported this module once (no torch /
    OpenMP state of the caller, no ngspice loaded, and a start-up of milliseconds instead of a fresh
    interpreter's seconds); ``spawn`` where forkserver is not available."""
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["imcpnn.spice.parallel", "imcpnn.spice.iris"])
        return ctx
    return mp.get_context("spawn")


class WorkerPool:
    """``workers`` long-lived worker processes; :meth:`map` runs tasks on them with a per-task time limit.

    Use it as a context manager; the workers (and the ngspice circuit each has loaded) are reused across
    :meth:`map` calls, and stopped on exit.
    """

    def __init__(self, workers: int = 2) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        self.workers = workers
        self._ctx = _context()
        self._slots: list[_Slot] = []
        self.killed = 0  # workers killed for running past their limit

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for s in self._slots:
            s.stop()
        self._slots = []

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
        task, in task order. ``timeout_s``: wall-clock limit per task (the worker is killed past it);
        ``netlist_of``: maps a task index to its netlist path (recorded on failure)."""
        if not (isinstance(timeout_s, (int, float)) and not isinstance(timeout_s, bool) and timeout_s > 0):
            raise ValueError(f"timeout_s must be a number > 0 (seconds), got {timeout_s!r}")
        n = len(tasks)
        results: list[TaskResult | None] = [None] * n
        if n == 0:
            return []
        while len(self._slots) < min(self.workers, n):
            self._slots.append(_Slot(self._ctx))
        slots = self._slots
        todo = list(range(n))[::-1]
        bar = tqdm(total=n, desc=desc, disable=not progress, file=sys.stderr, mininterval=1.0)

        def dispatch(slot: _Slot) -> None:
            if todo:
                slot.wait_ready()
                i = todo.pop()
                args, kwargs = tasks[i]
                slot.task, slot.t_start = i, time.perf_counter()
                slot.parent.send((i, fn, tuple(args), dict(kwargs)))

        def fail(i: int, error: str, wall: float) -> None:
            results[i] = TaskResult(i, False, None, error, wall, netlist_of(i) if netlist_of else None)

        def replace(k: int) -> _Slot:
            slots[k].kill()
            slots[k] = _Slot(self._ctx)
            if todo:
                slots[k].wait_ready()
            return slots[k]

        try:
            for s in slots:
                s.wait_ready()
            for s in slots:
                dispatch(s)
            while any(s.task is not None for s in slots):
                busy = [s for s in slots if s.task is not None]
                now = time.perf_counter()
                wait_s = max(0.01, min(timeout_s - (now - s.t_start) for s in busy))
                ready = wait([s.parent for s in busy] + [s.proc.sentinel for s in busy], timeout=wait_s)
                for k, s in enumerate(slots):
                    if s.task is None:
                        continue
                    i, wall = s.task, time.perf_counter() - s.t_start
                    if s.parent in ready:
                        try:
                            idx, ok, value, err, w = s.parent.recv()
                        except (EOFError, OSError):
                            idx, ok, value, err, w = i, False, None, "worker died", wall
                        if ok:
                            results[idx] = TaskResult(idx, True, value, "", w)
                        else:
                            fail(idx, err, w)
                        s.task = None
                        if err == "worker died":
                            s = replace(k)
                    elif s.proc.sentinel in ready or not s.proc.is_alive():
                        fail(i, f"worker died (exit code {s.proc.exitcode})", wall)
                        s = replace(k)
                    elif wall > timeout_s:
                        fail(i, f"timeout: killed after {wall:.1f} s (limit {timeout_s:g} s)", wall)
                        self.killed += 1
                        s = replace(k)
                    else:
                        continue
                    bar.update(1)
                    dispatch(s)
        except BaseException:
            self.close()
            raise
        finally:
            bar.close()
        return [r if r is not None else TaskResult(i, False, None, "not run") for i, r in enumerate(results)]


def run_tasks(
    fn: Callable[..., Any],
    tasks: Sequence[tuple[tuple, dict]],
    *,
    workers: int = 2,
    timeout_s: float = 120.0,
    progress: bool = True,
    desc: str = "SPICE",
    netlist_of: Callable[[int], str | None] | None = None,
) -> list[TaskResult]:
    """:meth:`WorkerPool.map` on a fresh pool of ``workers`` processes (``workers=1``: the serial baseline,
    same code path)."""
    with WorkerPool(workers) as pool:
        return pool.map(fn, tasks, timeout_s=timeout_s, progress=progress, desc=desc, netlist_of=netlist_of)


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
