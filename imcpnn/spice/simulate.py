"""Run netlists in ngspice (shared library, driven through PySpice 1.5) and return the raw vectors.

PySpice is GPL-3.0 and an optional extra (``pip install imcpnn[spice]``): it is imported lazily here,
never when :mod:`imcpnn` is imported. ngspice itself comes from Debian (``apt-get install ngspice
libngspice0``). PySpice looks for ``libngspice.so`` (the ``libngspice0-dev`` symlink); we find the
versioned ``libngspice.so.0`` ourselves and pass it via ``NGSPICE_LIBRARY_PATH`` unless that is set.

Every run is bounded: a deck whose analysis would store more than ``max_points`` points (estimated from its
``.tran``/``.dc``/``.ac`` line; default 1e6, ``$IMCPNN_SPICE_MAX_POINTS``) is refused before it starts, and a
simulation still running after ``timeout_s`` (default 600 s, ``$IMCPNN_SPICE_TIMEOUT``) is halted. Both
raise :class:`SpiceSimulationError` subclasses naming the netlist file and the limit. A deck fails only on
ngspice's own error reports (``Error ...``, ``Fatal error``, ``doAnalyses: ...``, ``... aborted``), never on
the word "error" elsewhere (a title line ``* error budget`` is fine).
"""

from __future__ import annotations

import ctypes.util
import glob
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

APT_HINT = "apt-get install ngspice libngspice0"
ENV_LIBRARY = "NGSPICE_LIBRARY_PATH"
ENV_TIMEOUT = "IMCPNN_SPICE_TIMEOUT"
ENV_MAX_POINTS = "IMCPNN_SPICE_MAX_POINTS"
DEFAULT_TIMEOUT_S = 600.0
DEFAULT_MAX_POINTS = 1_000_000
# ngspice's own error reports (checked on ngspice 39): "Error on line 4 or its substitute:", "Error: unknown
# subckt: ...", "Fatal error: DC Transfer Function: ...", "doAnalyses: TRAN:  Timestep too small; ...",
# "run simulation(s) aborted". Titles and echoed lines ("Circuit: * error budget") do not start that way.
_ERROR_REPORT = re.compile(
    r"^\s*(?:(?:fatal\s+)?error\s*(?::|!|on\s+line\b)|doanalyses:|run\s+simulation\(s\)\s+aborted)",
    re.IGNORECASE,
)
_FATAL = _ERROR_REPORT  # old name (imcpnn.spice.iris); prefer ngspice_errors()
_SCALE = {
    "t": 1e12,
    "g": 1e9,
    "meg": 1e6,
    "k": 1e3,
    "mil": 25.4e-6,
    "m": 1e-3,
    "u": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
    "f": 1e-15,
    "a": 1e-18,
}
_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(meg|mil|[tgkmunpfa])?[a-z]*", re.IGNORECASE)
_LIB_GLOBS = (
    "/usr/lib/x86_64-linux-gnu/libngspice.so*",
    "/usr/lib/aarch64-linux-gnu/libngspice.so*",
    "/usr/lib/*/libngspice.so*",
    "/usr/lib/libngspice.so*",
    "/usr/local/lib/libngspice.so*",
)


class SpiceUnavailableError(RuntimeError):
    """ngspice, libngspice or PySpice is missing."""


class SpiceSimulationError(RuntimeError):
    """ngspice rejected a netlist or a simulation did not converge; ``netlist`` is the file to look at."""

    def __init__(self, message: str, netlist: Path | None = None):
        super().__init__(message)
        self.netlist = netlist


class SpiceLimitError(SpiceSimulationError):
    """A deck's analysis would store more points than ``max_points``; refused before it runs."""


class SpiceTimeoutError(SpiceSimulationError):
    """A simulation ran past ``timeout_s`` and was halted."""


_STATE: dict = {"ngspice": None}
_LOCK = threading.Lock()  # one process-wide ngspice instance: one run at a time


def _system_libngspice() -> str | None:
    for pattern in _LIB_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    name = ctypes.util.find_library("ngspice")
    return name


def find_libngspice() -> str | None:
    """Path of the ngspice shared library: ``$NGSPICE_LIBRARY_PATH``, else a system search, else None."""
    env = os.environ.get(ENV_LIBRARY)
    if env:
        return env if Path(env).is_file() else None
    return _system_libngspice()


def ngspice_status() -> dict:
    """What is installed: ``{"ngspice": path|None, "libngspice": path|None, "pyspice": version|None}``."""
    try:
        import importlib.metadata

        pyspice = importlib.metadata.version("PySpice")
    except Exception:  # noqa: BLE001 - any failure means "not usable"
        pyspice = None
    return {"ngspice": shutil.which("ngspice"), "libngspice": find_libngspice(), "pyspice": pyspice}


def require_ngspice() -> str:
    """Raise :class:`SpiceUnavailableError` naming the missing pieces; return the library path."""
    st = ngspice_status()
    lib = st["libngspice"]
    env = os.environ.get(ENV_LIBRARY)
    if env and lib is None:
        found = _system_libngspice()
        raise SpiceUnavailableError(
            f"{ENV_LIBRARY}={env}: no such file; point {ENV_LIBRARY} at the ngspice shared library"
            + (f" (this system has {found}) or unset it" if found else f", or install ngspice with `{APT_HINT}`")
        )
    if lib is None:
        raise SpiceUnavailableError(
            "the ngspice shared library (libngspice) was not found; install it with "
            f"`{APT_HINT}` (Debian/Ubuntu), or point NGSPICE_LIBRARY_PATH at libngspice.so"
        )
    if st["pyspice"] is None:
        raise SpiceUnavailableError("PySpice is not installed; install the extra with `pip install -e '.[spice]'`")
    return lib


def _ngspice():
    """The process-wide PySpice ``NgSpiceShared`` instance (created on first use)."""
    if _STATE["ngspice"] is not None:
        return _STATE["ngspice"]
    lib = require_ngspice()
    os.environ.setdefault(ENV_LIBRARY, lib)
    # PySpice 1.5 knows ngspice versions up to 34 and warns "Unsupported Ngspice version 39"; the
    # shared-library API we use (load circuit, run, read vectors) is unchanged, so silence that logger.
    # Its stderr echo (BSIM parameter warnings logged as errors) is noise too: our exceptions carry the
    # relevant ngspice lines.
    logging.getLogger("PySpice.Spice.NgSpice.Shared").setLevel(logging.CRITICAL)
    try:
        cls = _ngspice_class()
    except ImportError as exc:  # pragma: no cover - covered by require_ngspice
        raise SpiceUnavailableError(f"PySpice failed to import: {exc}") from exc
    path = os.environ[ENV_LIBRARY]
    cls.LIBRARY_PATH = path
    try:
        ng = cls.new_instance()
    except (OSError, AttributeError) as exc:  # AttributeError: a library without ngSpice_Init (not ngspice)
        found = _system_libngspice()
        hint = f"point {ENV_LIBRARY} at libngspice.so" + (f" (this system has {found})" if found else "")
        raise SpiceUnavailableError(
            f"{ENV_LIBRARY}={path}: {path} could not be loaded as the ngspice shared library "
            f"({str(exc).splitlines()[0][:160]}); {hint}, or install it with `{APT_HINT}`"
        ) from None
    ng._bg = threading.Condition()
    ng._bg_started = ng._bg_finished = False
    # libngspice evaluates the BSIM4 devices with OpenMP; on a small, busy machine its threads spin
    # against each other and one 3 µs neuron transient takes 10-30 s instead of 0.3 s. One thread.
    threads = int(os.environ.get("IMCPNN_NGSPICE_THREADS", "1"))
    ng.exec_command(f"set num_threads={threads}")
    _STATE["ngspice"] = ng
    return ng


def netlist_dir() -> Path:
    """Where netlists are written (``$IMCPNN_SPICE_WORKDIR`` or a per-user temp folder)."""
    env = os.environ.get("IMCPNN_SPICE_WORKDIR")
    path = Path(env) if env else Path(tempfile.gettempdir()) / f"imcpnn-spice-{os.getuid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _ngspice_class():
    """PySpice's ``NgSpiceShared`` with a background-thread callback that records start and end of a
    ``bg_run`` (PySpice's own returns None where ngspice wants an int, and cannot be waited on)."""
    if "class" in _STATE:
        return _STATE["class"]
    from PySpice.Spice.NgSpice import Shared

    class _NgSpice(Shared.NgSpiceShared):
        _instances: dict = {}

        @staticmethod
        def _background_thread_running(exited, ngspice_id, user_data):  # noqa: ANN001 - cffi callback
            self = Shared.ffi.from_handle(user_data)
            with self._bg:
                if not exited:
                    self._bg_started = True
                elif self._bg_started:
                    self._bg_finished = True
                self._bg.notify_all()
            return 0

    _STATE["class"] = _NgSpice
    return _NgSpice


def ngspice_errors(lines: list[str]) -> list[str]:
    """ngspice's own error reports among its output ``lines``, each with the two lines that follow an
    ``Error on line N`` report (the offending line and the reason). Empty when there is none."""
    out: list[str] = []
    lines = [str(x).rstrip() for x in lines]
    for i, line in enumerate(lines):
        if _ERROR_REPORT.match(line):
            extra = lines[i + 1 : i + 3] if re.search(r"on\s+line", line, re.IGNORECASE) else []
            out += [x for x in [line, *extra] if x and x not in out]
    return out


def _spice_number(tok: str) -> float | None:
    m = _NUMBER.fullmatch(tok.strip())
    if m is None:
        return None
    return float(m[1]) * _SCALE.get((m[2] or "").lower(), 1.0)


def estimate_points(netlist: str) -> list[tuple[str, float]]:
    """(analysis line, estimated number of stored points) for each ``.tran``, ``.dc`` and ``.ac`` line.

    ``.tran TSTEP TSTOP [TSTART [TMAX]]``: (TSTOP - TSTART) / min(TSTEP, TMAX, (TSTOP - TSTART)/50), the
    fewest points ngspice's step limit allows (breakpoints and step rejections add more). ``.dc``: the
    product of the sweep sizes. ``.ac``: the frequency points. Lines with ``{expressions}`` are skipped.
    """
    found: list[tuple[str, float]] = []
    for raw in netlist.splitlines():
        line = raw.split(";")[0].strip()
        words = line.lower().split()
        if not words or words[0] not in (".tran", ".dc", ".ac") or "{" in line:
            continue
        if words[0] == ".tran":
            nums = [_spice_number(w) for w in words[1:] if w != "uic"]
            if len(nums) < 2 or any(v is None for v in nums):
                continue
            tstep, tstop = nums[0], nums[1]
            tstart = nums[2] if len(nums) > 2 else 0.0
            span = tstop - tstart
            steps = [v for v in (tstep, nums[3] if len(nums) > 3 else None, span / 50) if v is not None and v > 0]
            if span > 0 and steps:
                found.append((line, span / min(steps)))
        elif words[0] == ".dc":
            n, args = 1.0, words[1:]
            for k in range(0, len(args) - 3, 4):
                a, b, c = (_spice_number(w) for w in args[k + 1 : k + 4])
                if None in (a, b, c) or c == 0:
                    break
                n *= abs(b - a) / abs(c) + 1
            found.append((line, n))
        else:
            nums = [_spice_number(w) for w in words[2:5]]
            if len(words) >= 5 and None not in nums and nums[1] > 0 and nums[2] >= nums[1]:
                n, f0, f1 = nums
                per = {"lin": 1.0, "dec": math.log10(f1 / f0), "oct": math.log2(f1 / f0)}.get(words[1], 1.0)
                found.append((line, max(n, n * per)))
    return found


def _limit(name: str, value: float | None, env: str, default: float) -> float:
    source = name
    if value is None:
        text = os.environ.get(env)
        if not text:
            return default
        source = f"${env}"
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{source} must be a number > 0, got {text!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{source} must be a finite number > 0, got {value!r}")
    return float(value)


def _halt(ng, wait_s: float = 30.0) -> bool:
    try:
        ng.exec_command("bg_halt")
    except Exception:  # noqa: BLE001 - PySpice flags ngspice's "pause requested" note; the halt happened
        pass
    with ng._bg:
        return ng._bg.wait_for(lambda: ng._bg_finished, wait_s)


def _run_bounded(ng, path: Path, timeout_s: float) -> None:
    """``bg_run`` the loaded deck and wait for it; halt it and raise :class:`SpiceTimeoutError` after
    ``timeout_s`` (also halts it on Ctrl-C, so that the next run starts clean)."""
    from PySpice.Spice.NgSpice.Shared import NgSpiceCommandError

    with ng._bg:
        ng._bg_started = ng._bg_finished = False
    try:
        try:
            ng.exec_command("bg_run")
        except NgSpiceCommandError:
            pass  # PySpice flags any stderr line (BSIM "Warning"s); ngspice's reports are parsed afterwards
        with ng._bg:
            done = ng._bg.wait_for(lambda: ng._bg_finished, timeout_s)
    except BaseException:
        _halt(ng)
        raise
    if done:
        return
    if not _halt(ng):
        _STATE["ngspice"] = None  # pragma: no cover - ngspice ignored bg_halt; do not reuse it
    raise SpiceTimeoutError(
        f"ngspice was still running the netlist {path} after the {timeout_s:g} s limit and was halted "
        f"(raise timeout_s or ${ENV_TIMEOUT}, or use a coarser time step)",
        netlist=path,
    )


def run_netlist(
    netlist: str,
    name: str = "circuit",
    *,
    workdir: Path | None = None,
    timeout_s: float | None = None,
    max_points: float | None = None,
) -> dict[str, np.ndarray]:
    """Simulate ``netlist`` (a complete SPICE deck with its analysis line) and return its vectors.

    The deck is first written to ``<workdir>/<name>.cir`` so that every error can name it. Returns a
    dict from lower-case vector names (``"time"``, ``"v(mem)"`` or ``"mem"``, ``"vdd#branch"``, ...) to
    real numpy arrays; node vectors are also available as ``"v(node)"``.

    Args:
        timeout_s: wall-clock limit of the simulation (default ``$IMCPNN_SPICE_TIMEOUT`` or 600 s); a run
            past it is halted and :class:`SpiceTimeoutError` raised.
        max_points: refuse (:class:`SpiceLimitError`) a deck whose analysis would store more points than
            this (default ``$IMCPNN_SPICE_MAX_POINTS`` or 1e6; see :func:`estimate_points`).

    Raises :class:`SpiceSimulationError` (with the netlist path) when ngspice reports an error in the deck
    or the run (no convergence), :class:`SpiceUnavailableError` when ngspice is missing.
    """
    timeout = _limit("timeout_s", timeout_s, ENV_TIMEOUT, DEFAULT_TIMEOUT_S)
    limit = _limit("max_points", max_points, ENV_MAX_POINTS, DEFAULT_MAX_POINTS)
    ng = _ngspice()
    folder = workdir if workdir is not None else netlist_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.cir"
    path.write_text(netlist if netlist.endswith("\n") else netlist + "\n")
    for line, n in estimate_points(netlist):
        if n > limit:
            raise SpiceLimitError(
                f"the netlist {path} asks for about {n:.3g} points ({line!r}), over the limit of {limit:.3g} "
                f"(max_points or ${ENV_MAX_POINTS}); use a larger step or a shorter analysis",
                netlist=path,
            )
    with _LOCK:
        return _simulate(ng, netlist, path, timeout)


def _simulate(ng, netlist: str, path: Path, timeout: float) -> dict[str, np.ndarray]:
    from PySpice.Spice.NgSpice.Shared import NgSpiceCircuitError, NgSpiceCommandError

    try:
        ng.destroy()  # free the previous plots
    except Exception:  # noqa: BLE001 - nothing loaded yet
        pass
    try:  # and the previous circuit: without this every load stays in memory (~80 MB per sky130 deck; measured)
        ng.exec_command("remcirc")
    except Exception:  # noqa: BLE001 - no circuit loaded yet
        pass
    before = set(ng.plot_names)
    try:
        ng.load_circuit(netlist)
    except (NgSpiceCircuitError, NgSpiceCommandError):
        pass  # PySpice flags any output line containing "error" (also the echoed title); parsed below
    except NameError as exc:
        raise SpiceSimulationError(f"ngspice rejected the netlist {path}:\n{_tail(ng)}", netlist=path) from exc
    errors = ngspice_errors([*ng._stderr, *ng._stdout])
    if errors:
        raise SpiceSimulationError(f"ngspice rejected the netlist {path}:\n" + "\n".join(errors[-15:]), netlist=path)
    _run_bounded(ng, path, timeout)
    return _collect(ng, before, path)


def rerun(alters: Sequence[str], path: Path, *, timeout_s: float | None = None) -> dict[str, np.ndarray]:
    """Apply ngspice commands ``alters`` (``alter``/``altermod``) to the circuit that the last
    :func:`run_netlist` loaded, run its analysis again and return the vectors like :func:`run_netlist`
    (same timeout and error reports; ``path`` is the netlist file named in errors)."""
    from PySpice.Spice.NgSpice.Shared import NgSpiceCommandError

    timeout = _limit("timeout_s", timeout_s, ENV_TIMEOUT, DEFAULT_TIMEOUT_S)
    ng = _ngspice()
    with _LOCK:
        ng.destroy()
        before = set(ng.plot_names)
        lines: list[str] = []
        for cmd in alters:
            try:
                ng.exec_command(cmd)
            except NgSpiceCommandError:
                pass  # any stderr line; ngspice's own reports are parsed below
            lines += [*ng._stderr, *ng._stdout]
        errors = ngspice_errors(lines)
        if errors:
            raise SpiceSimulationError(
                f"ngspice rejected an alter for {path}:\n" + "\n".join(errors[-15:]), netlist=path
            )
        _run_bounded(ng, path, timeout)
        return _collect(ng, before, path)


def _collect(ng, before: set[str], path: Path) -> dict[str, np.ndarray]:
    errors = ngspice_errors([*ng._stderr, *ng._stdout])
    if errors:
        raise SpiceSimulationError(
            f"ngspice simulation failed (no convergence?) for the netlist {path}:\n" + "\n".join(errors[-15:]),
            netlist=path,
        )
    names = [p for p in ng.plot_names if p not in before and p != "const"]
    err = _tail(ng)
    if not names:
        raise SpiceSimulationError(f"ngspice produced no results for the netlist {path}:\n{err}", netlist=path)
    plot = ng.plot(None, names[0])
    out: dict[str, np.ndarray] = {}
    for key, vec in plot.items():
        data = np.array(vec._data)
        if np.iscomplexobj(data):
            data = data.real
        k = str(key).lower()
        out[k] = data
        if not k.startswith(("v(", "i(")) and "#" not in k and k not in ("time", "v-sweep", "i-sweep"):
            out[f"v({k})"] = data
    if "time" in out and len(out["time"]) < 2:
        raise SpiceSimulationError(f"transient of {path} stopped at once:\n{err}", netlist=path)
    return out


def _tail(ng, n: int = 15) -> str:
    text = "\n".join([*ng._stdout[-n:], *ng._stderr[-n:]])
    return text.strip() or "(ngspice printed nothing)"


def timed_run(netlist: str, name: str = "circuit", **kw) -> tuple[dict[str, np.ndarray], float]:
    """:func:`run_netlist` plus its wall time in seconds."""
    t0 = time.perf_counter()
    out = run_netlist(netlist, name, **kw)
    return out, time.perf_counter() - t0
