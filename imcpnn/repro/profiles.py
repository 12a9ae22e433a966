"""Run profiles shared by every notebook and benchmark.

``smoke``: seconds, for tests and CI; outputs go under ``build/smoke/`` so that CI never overwrites the
committed figures. ``quick``: the default of ``make all``; finishes on a 2-core CPU. ``paper``: the
paper's full settings, sized for a GPU. ``quick`` and ``paper`` write to ``figures/`` and ``results/``.
"""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imcpnn.executor import EXECUTORS
from imcpnn.repro.paths import repo_root
from imcpnn.store import source_fingerprint

__all__ = [
    "PROFILES",
    "repo_root",
    "check_profile",
    "OutputDirs",
    "output_dirs",
    "machine_info",
    "save_figure",
    "write_json",
    "env_settings",
    "results_file",
]

PROFILES = ("smoke", "quick", "paper")


def check_profile(profile: str) -> str:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    return profile


@dataclass(frozen=True)
class OutputDirs:
    """Where a profile writes figures, results (JSON/CSV) and cached runs."""

    figures: Path
    results: Path
    runs: Path


def output_dirs(profile: str) -> OutputDirs:
    check_profile(profile)
    root = repo_root()
    if profile == "smoke":
        base = root / "build" / "smoke"
        dirs = OutputDirs(base / "figures", base / "results", base / "runs")
    else:
        dirs = OutputDirs(root / "figures", root / "results", root / "runs" / profile)
    for d in (dirs.figures, dirs.results, dirs.runs):
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def machine_info() -> dict:
    """A short description of the machine, stored beside every result."""
    import torch

    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def save_figure(fig, figures_dir: Path, name: str) -> Path:
    """Save ``fig`` as ``name``.png and ``name``.pdf under ``figures_dir``; returns the PNG path."""
    figures_dir.mkdir(parents=True, exist_ok=True)
    png = figures_dir / f"{name}.png"
    fig.savefig(png, dpi=150, bbox_inches="tight")
    fig.savefig(figures_dir / f"{name}.pdf", bbox_inches="tight")
    return png


def write_json(path: Path, payload: dict, *, profile: str) -> Path:
    """Write ``payload`` with the profile, the machine and the fingerprint of the code (every ``imcpnn`` source
    and the torch version) recorded beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    full = {"profile": profile, "machine": machine_info(), "code_fingerprint": source_fingerprint(), **payload}
    path.write_text(json.dumps(full, indent=2, sort_keys=False, default=float) + "\n")
    return path


def env_settings(default_workers: int = 1) -> dict[str, Any]:
    """The executor settings of ``make all EXECUTOR=ray WORKERS=2 RAY_ADDRESS=auto`` (the Makefile passes them to
    the notebooks as IMCPNN_EXECUTOR, IMCPNN_WORKERS, IMCPNN_RAY_ADDRESS): keyword arguments for
    :func:`run_jobs` / :class:`Executor`. Unset or empty: local, ``default_workers`` (a profile's own worker count,
    else 1), no address. A bad value: ValueError naming the variable."""
    if isinstance(default_workers, bool) or not isinstance(default_workers, int) or default_workers < 1:
        raise ValueError(f"default_workers must be an integer >= 1, got {default_workers!r}")
    executor = os.environ.get("IMCPNN_EXECUTOR", "").strip() or "local"
    if executor not in EXECUTORS:
        raise ValueError(f"IMCPNN_EXECUTOR must be one of {EXECUTORS}, got {executor!r}")
    text = os.environ.get("IMCPNN_WORKERS", "").strip() or str(default_workers)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"IMCPNN_WORKERS must be an integer >= 1, got {text!r}")
    address = os.environ.get("IMCPNN_RAY_ADDRESS", "").strip() or None
    return {"executor": executor, "workers": int(text), "ray_address": address}


def results_file(profile: str, name: str) -> Path:
    """``name`` among this profile's results, else the repository's ``results/`` (a later notebook reads an
    earlier one's output this way); FileNotFoundError naming the notebook that writes it."""
    for folder in (output_dirs(profile).results, repo_root() / "results"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(
        f"{name} was not found in {output_dirs(profile).results} or results/; run the notebook that writes it "
        "first (06_spice_devices for spice_devices.json and spice_curves.json, 07_iris_circuit for "
        "iris_circuit.json)"
    )
