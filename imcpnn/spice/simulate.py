"""Run netlists in ngspice (shared library, driven through PySpice 1.5) and return the raw vectors.

PySpice is GPL-3.0 and an optional extra (``pip install imcpnn[spice]``): it is imported lazily here,
never when :mod:`imcpnn` is imported. ngspice itself comes from Debian (``apt-get install ngspice
libngspice0``). PySpice looks for ``libngspice.so`` (the ``libngspice0-dev`` symlink); we find the
versioned ``libngspice.so.0`` ourselves and pass it via ``NGSPICE_LIBRARY_PATH`` unless that is set.
"""

from __future__ import annotations

import ctypes.util
import glob
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

APT_HINT = "apt-get install ngspice libngspice0"
_FATAL = re.compile(r"error|too small|singular|converge|abort|failed|no such", re.IGNORECASE)
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


_STATE: dict = {"ngspice": None}


def find_libngspice() -> str | None:
    """Path of the ngspice shared library: ``$NGSPICE_LIBRARY_PATH``, else a system search, else None."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        return env if Path(env).exists() else None
    for pattern in _LIB_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    name = ctypes.util.find_library("ngspice")
    return name


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
    os.environ.setdefault("NGSPICE_LIBRARY_PATH", lib)
    # PySpice 1.5 knows ngspice versions up to 34 and warns "Unsupported Ngspice version 39"; the
    # shared-library API we use (load circuit, run, read vectors) is unchanged, so silence that logger.
    # Its stderr echo (BSIM parameter warnings logged as errors) is noise too: our exceptions carry the
    # relevant ngspice lines.
    logging.getLogger("PySpice.Spice.NgSpice.Shared").setLevel(logging.CRITICAL)
    try:
        from PySpice.Spice.NgSpice.Shared import NgSpiceShared
    except ImportError as exc:  # pragma: no cover - covered by require_ngspice
        raise SpiceUnavailableError(f"PySpice failed to import: {exc}") from exc
    NgSpiceShared.LIBRARY_PATH = os.environ["NGSPICE_LIBRARY_PATH"]
    try:
        ng = NgSpiceShared.new_instance()
    except OSError as exc:
        raise SpiceUnavailableError(
            f"could not load libngspice from {NgSpiceShared.LIBRARY_PATH}: {exc}; install it with `{APT_HINT}`"
        ) from exc
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


def run_netlist(netlist: str, name: str = "circuit", *, workdir: Path | None = None) -> dict[str, np.ndarray]:
    """Simulate ``netlist`` (a complete SPICE deck with its analysis line) and return its vectors.

    The deck is first written to ``<workdir>/<name>.cir`` so that every error can name it. Returns a
    dict from lower-case vector names (``"time"``, ``"v(mem)"`` or ``"mem"``, ``"vdd#branch"``, ...) to
    real numpy arrays; node vectors are also available as ``"v(node)"``. Raises
    :class:`SpiceSimulationError` (with the netlist path) when ngspice rejects the deck or does not
    converge, :class:`SpiceUnavailableError` when ngspice is missing.
    """
    ng = _ngspice()
    folder = workdir if workdir is not None else netlist_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.cir"
    path.write_text(netlist if netlist.endswith("\n") else netlist + "\n")
    from PySpice.Spice.NgSpice.Shared import NgSpiceCircuitError, NgSpiceCommandError

    try:
        ng.destroy()  # free the previous plots (remcirc is not available in shared mode)
    except Exception:  # noqa: BLE001 - nothing loaded yet
        pass
    before = set(ng.plot_names)
    try:
        ng.load_circuit(netlist)
    except (NgSpiceCircuitError, NgSpiceCommandError, NameError) as exc:
        raise SpiceSimulationError(
            f"ngspice rejected the netlist {path}:\n{_tail(ng)}", netlist=path
        ) from exc
    load_errors = [line for line in [*ng._stdout, *ng._stderr] if "error" in line.lower()]
    if load_errors:
        raise SpiceSimulationError(
            f"ngspice rejected the netlist {path}:\n" + "\n".join(load_errors[-15:]), netlist=path
        )
    try:
        ng.run()
    except (NgSpiceCommandError, NameError) as exc:
        # PySpice flags any stderr line (e.g. BSIM "Checking parameters ... Warning") as a failure; only
        # lines that name an error, a convergence failure or an abort count.
        fatal = [line for line in [*ng._stdout, *ng._stderr] if _FATAL.search(line)]
        if fatal or not [p for p in ng.plot_names if p not in before and p != "const"]:
            raise SpiceSimulationError(
                f"ngspice simulation failed (no convergence?) for the netlist {path}:\n"
                + ("\n".join(fatal[-15:]) or _tail(ng)),
                netlist=path,
            ) from exc
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
