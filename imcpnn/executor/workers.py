"""The local process pool of :mod:`imcpnn.executor`: long-lived worker processes, one job at a time each, a
wall-clock limit per job.

Processes, never threads: libngspice is not re-entrant (one circuit per process, global state), and a worker
must not share torch / OpenMP state with the driver. Workers come from a ``forkserver`` (a clean server process
that imported :mod:`imcpnn.executor` once, so a worker starts in milliseconds, inherits nothing of the driver's
torch threads or ngspice, and keeps whatever it loads, e.g. one ngspice circuit, for the jobs that follow);
``spawn`` where forkserver is not available. A worker gets the driver's environment when it starts (as a spawned
process would), and ``shared`` once per batch.

A job that runs past ``timeout_s`` has its worker killed (SIGKILL to our own child, by pid) and replaced; the
job is recorded as failed (``"timeout after X s ..."``). A worker that dies is replaced and its job recorded as
failed; a job whose function raises is recorded as failed with its traceback. The other jobs go on.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

__all__ = ["ProcessPool", "call_job", "failure", "timed_out"]

START_TIMEOUT_S = 300.0  # a worker that has not started after this long is an error (imports on a busy machine)


def failure(exc: BaseException) -> dict[str, Any]:
    """A failed outcome with the error and the traceback of the exception being handled."""
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}


def timed_out(wall: float, limit: float, action: str) -> dict[str, Any]:
    """The failed outcome of a job stopped at its wall-clock limit (``action``: what was done to it)."""
    return {
        "status": "failed",
        "error": f"timeout after {wall:.1f} s (limit {limit:g} s; {action})",
        "traceback": "",
        "wall_s": wall,
    }


def call_job(fn: Callable[..., Any], job: Any, shared: dict[str, Any]) -> dict[str, Any]:
    """Run ``fn(job, **shared)``; its outcome as a partial record (an exception is caught, never raised)."""
    t0 = time.perf_counter()
    try:
        out = {"status": "ok", "result": fn(job, **shared)}
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its traceback
        out = failure(exc)
    out["wall_s"] = time.perf_counter() - t0
    return out


def _worker(conn: Connection) -> None:  # pragma: no cover - runs in a child process
    """Messages: ``("env", dict)``, ``("shared", blob)``, ``("job", index, blob)``, ``None`` (stop)."""
    if "torch" in sys.modules:  # imported by the forkserver: one thread per job slot (a job may set more)
        sys.modules["torch"].set_num_threads(1)
    conn.send("ready")
    shared: dict[str, Any] = {}
    shared_error: dict[str, Any] | None = None
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        if msg[0] == "env":
            os.environ.clear()
            os.environ.update(msg[1])
            continue
        if msg[0] == "shared":
            try:
                shared, shared_error = pickle.loads(msg[1]), None
            except Exception as exc:  # noqa: BLE001 - every job of this batch then fails with this error
                shared, shared_error = {}, {**failure(exc), "wall_s": 0.0}
            continue
        _, index, blob = msg
        if shared_error is not None:
            out = shared_error
        else:
            try:
                fn, job = pickle.loads(blob)
            except Exception as exc:  # noqa: BLE001 - e.g. the function's module does not import here
                out = {**failure(exc), "wall_s": 0.0}
            else:
                out = call_job(fn, job, shared)
        try:
            conn.send((index, out))
        except Exception as exc:  # noqa: BLE001 - an unpicklable result; nothing was sent yet
            conn.send((index, {**failure(exc), "wall_s": out.get("wall_s", 0.0)}))


def _context() -> Any:
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["imcpnn.executor"])  # effective when this process starts its forkserver
        return ctx
    return mp.get_context("spawn")  # pragma: no cover - platforms without fork


class _Slot:
    """One worker process and the job it is running."""

    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child,), daemon=True)
        self.proc.start()
        child.close()
        self.job: int | None = None
        self.t_start = 0.0
        self.ready = False
        self.batch = -1  # the batch whose ``shared`` this worker holds

    def wait_ready(self) -> None:
        """Block until the worker has started (so that start-up never counts as job time); send it our env."""
        if self.ready:
            return
        try:
            ok = self.conn.poll(START_TIMEOUT_S) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ok = False
        if not ok:
            self.kill()
            if self.proc.exitcode is None or self.proc.exitcode == -9:
                raise RuntimeError(f"a worker process did not start within {START_TIMEOUT_S:g} s")
            raise RuntimeError(
                f"a worker process exited while starting (exit code {self.proc.exitcode}; its error "
                "is on stderr; a script that starts workers needs `if __name__ == '__main__':` and "
                "must be a file)"
            )
        self.conn.send(("env", dict(os.environ)))
        self.ready = True

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()  # SIGKILL to our own child, by pid
        self.proc.join(timeout=5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.kill()
        else:
            self.conn.close()


def _died(s: _Slot, wall: float) -> dict[str, Any]:
    s.proc.join(timeout=5)
    return {"status": "failed", "error": f"worker died (exit code {s.proc.exitcode})", "traceback": "", "wall_s": wall}


class ProcessPool:
    """Up to ``workers`` long-lived worker processes, kept across :meth:`run` calls; :meth:`close` stops them."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._ctx = _context()
        self._slots: list[_Slot] = []
        self._batch = 0
        self.killed = 0  # workers killed because their job ran past its limit

    def close(self) -> None:
        for s in self._slots:
            s.stop()
        self._slots = []

    def run(
        self,
        fn: Callable[..., Any],
        jobs: Sequence[Any],
        shared: dict[str, Any],
        done: Callable[[int, dict[str, Any]], None],
        timeout_s: float | None,
    ) -> None:
        """Run ``fn(job, **shared)`` for every job; ``done(i, outcome)`` as each finishes (any order)."""
        self._batch += 1
        batch = self._batch
        shared_blob = pickle.dumps(shared, protocol=pickle.HIGHEST_PROTOCOL)
        while len(self._slots) < min(self.workers, len(jobs)):
            self._slots.append(_Slot(self._ctx))
        slots = self._slots
        todo = list(range(len(jobs)))[::-1]
        limit = float("inf") if timeout_s is None else float(timeout_s)

        def dispatch(s: _Slot) -> None:
            while todo:
                i = todo.pop()
                try:
                    blob = pickle.dumps((fn, jobs[i]), protocol=pickle.HIGHEST_PROTOCOL)
                except Exception as exc:  # noqa: BLE001 - an unpicklable job or function: recorded, not run
                    done(i, {**failure(exc), "wall_s": 0.0})
                    continue
                s.wait_ready()
                if s.batch != batch:
                    s.conn.send(("shared", shared_blob))
                    s.batch = batch
                s.job, s.t_start = i, time.perf_counter()
                s.conn.send(("job", i, blob))
                return

        def replace(k: int) -> _Slot:
            slots[k].kill()
            slots[k] = _Slot(self._ctx)
            return slots[k]

        try:
            for s in slots:
                dispatch(s)
            while any(s.job is not None for s in slots):
                busy = [s for s in slots if s.job is not None]
                now = time.perf_counter()
                wait_s = None if timeout_s is None else max(0.01, min(limit - (now - s.t_start) for s in busy))
                ready = wait([s.conn for s in busy] + [s.proc.sentinel for s in busy], timeout=wait_s)
                for k, s in enumerate(slots):
                    if s.job is None:
                        continue
                    i, wall = s.job, time.perf_counter() - s.t_start
                    if s.conn in ready:
                        try:
                            _, out = s.conn.recv()
                        except (EOFError, OSError):  # it died (its pipe closed)
                            out, s = _died(s, wall), replace(k)
                    elif s.proc.sentinel in ready or not s.proc.is_alive():
                        out, s = _died(s, wall), replace(k)
                    elif wall > limit:
                        out = timed_out(wall, limit, "its worker was killed")
                        self.killed += 1
                        s = replace(k)
                    else:
                        continue
                    slots[k].job = None
                    done(i, out)
                    dispatch(s)
        except BaseException:
            for s in slots:
                s.kill()
            self._slots = []
            raise
