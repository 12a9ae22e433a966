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

from imcpnn._impl.fingerprint import source_fingerprint
from imcpnn._impl.paths import repo_root

__all__ = [
    "PROFILES",
    "repo_root",
    "check_profile",
    "OutputDirs",
    "output_dirs",
    "machine_info",
    "save_figure",
    "write_json",
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
