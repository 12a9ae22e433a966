"""The layout rules (ARCHITECTURE.md): the import-linter contracts in pyproject.toml hold, the library knows
nothing of its reproduction harness, and solver arguments are validated in one place."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "imcpnn"
LIBRARY = [p for p in PKG.rglob("*.py") if "repro" not in p.relative_to(PKG).parts]


def _lint_imports() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        found = shutil.which("lint-imports")
        if found is None:
            pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
        exe = Path(found)
    return str(exe)


def test_import_linter_contracts_hold():
    """Floors, the harness as a client of the public API, and no import cycles (what `make lint` checks)."""
    r = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "3 kept, 0 broken" in r.stdout, r.stdout[-2000:]


@pytest.mark.parametrize(
    "marker", ["IMCPNN_EXECUTOR", "IMCPNN_WORKERS", "IMCPNN_RAY_ADDRESS", "repo_root", "pyproject"]
)
def test_the_library_reads_no_makefile_variable_and_assumes_no_checkout(marker):
    """Data and run folders come from arguments, IMCPNN_DATA / IMCPNN_CACHE or the user cache, never from
    the Makefile's variables or a repository layout (those belong to imcpnn.repro)."""
    hits = [str(p.relative_to(PKG)) for p in LIBRARY if marker in p.read_text()]
    assert not hits, (marker, hits)


def test_steps_are_validated_in_one_place():
    """Only the solver description checks the DSTD grid size (arXiv 2412.09010v1 Eq. 34)."""
    hits = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if "steps < 2" in p.read_text()]
    assert hits == ["_impl/solvers.py"], hits
