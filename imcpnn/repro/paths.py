"""Where the source checkout is (the one definition of the repository root)."""

from __future__ import annotations

from pathlib import Path


def source_root() -> Path | None:
    """The checkout holding ``pyproject.toml`` next to the ``imcpnn`` package, or None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def repo_root() -> Path:
    """The source checkout, else the current folder (where an installed package writes its outputs)."""
    return source_root() or Path.cwd()
