"""The layout rules: the library never imports the reproduction package, and solver arguments are
validated in one place."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "imcpnn"
LIBRARY = [p for p in PKG.rglob("*.py") if "repro" not in p.relative_to(PKG).parts]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_library_never_imports_the_reproduction_package():
    offenders = {
        str(p.relative_to(PKG)): sorted(n for n in _imports(p) if n.startswith("imcpnn.repro")) for p in LIBRARY
    }
    assert LIBRARY and not {k: v for k, v in offenders.items() if v}


def test_public_modules_do_not_reach_into_solver_internals():
    """Layers and models go through the functional core (the Norse functional/module split)."""
    for name in ("layers.py", "models.py"):
        bad = sorted(n for n in _imports(PKG / name) if n.startswith("imcpnn._impl"))
        assert not bad, (name, bad)


def test_steps_are_validated_in_one_place():
    """Only the solver description checks the DSTD grid size (arXiv 2412.09010v1 Eq. 34)."""
    hits = [str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if "steps < 2" in p.read_text()]
    assert hits == ["_impl/solvers.py"], hits
