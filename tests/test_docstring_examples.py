"""Every exported name of :mod:`imcpnn` documents itself with an ``Example::`` block that runs as is.

The blocks are parsed from the docstrings (the indented reST literal block after a line ``Example::``, or
``Example (what it shows)::``) and executed, each in a fresh namespace, in a temporary working folder, with
``torch.manual_seed(0)`` and one torch thread. An example that raises fails its test.
"""

from __future__ import annotations

import inspect
import re
import textwrap
import time
import types

import pytest
import torch

import imcpnn

#: A line that opens an example: ``Example::`` or ``Example (a two-layer net)::``.
_HEADER = re.compile(r"^\s*Example\b.*::\s*$")
#: The most one example may take (they are meant to run in well under a second; this only catches a runaway).
_MAX_SECONDS = 10.0


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def examples(doc: str | None) -> list[str]:
    """The code of every ``Example::`` block of ``doc``, dedented, in order."""
    lines = inspect.cleandoc(doc or "").splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        if not _HEADER.match(lines[i]):
            i += 1
            continue
        base = _indent(lines[i])
        i += 1
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            body.append(lines[i])
            i += 1
        code = textwrap.dedent("\n".join(body)).strip("\n")
        if code:
            blocks.append(code + "\n")
    return blocks


def _documented() -> dict[str, object]:
    """Every exported name (but ``__version__``), the package itself, and the two functions that share their
    module's name (``imcpnn.evaluate.evaluate``, ``imcpnn.train.train``)."""
    names = {"imcpnn": imcpnn}
    names.update({n: getattr(imcpnn, n) for n in imcpnn.__all__ if n != "__version__"})
    names["evaluate.evaluate"] = imcpnn.evaluate.evaluate
    names["train.train"] = imcpnn.train.train
    return names


DOCUMENTED = _documented()


def _run(name: str, code: str) -> None:
    namespace = {"__name__": f"imcpnn_example_{name.replace('.', '_')}"}
    exec(compile(code, f"<example of {name}>", "exec"), namespace)


@pytest.fixture
def example_env(tmp_path, monkeypatch):
    """A fresh working folder, a seeded RNG and one torch thread (restored afterwards)."""
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield tmp_path
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_example_runs(name, example_env):
    blocks = examples(DOCUMENTED[name].__doc__)
    if not blocks:
        pytest.fail(f"{name} has no Example:: block in its docstring")
    for k, code in enumerate(blocks):
        torch.manual_seed(0)
        start = time.perf_counter()
        try:
            _run(name, code)
        except Exception as err:
            pytest.fail(f"example {k + 1} of {name} raised {type(err).__name__}: {err}\n\n{code}")
        took = time.perf_counter() - start
        assert took < _MAX_SECONDS, f"example {k + 1} of {name} took {took:.1f} s; keep examples tiny"


def test_every_exported_name_has_an_example():
    missing = [n for n, obj in DOCUMENTED.items() if not examples(obj.__doc__)]
    assert not missing, f"exported names without an Example:: block: {missing}"
    exported = {n for n in imcpnn.__all__ if n != "__version__"}
    assert exported <= set(DOCUMENTED)
    # the exported modules are checked through their own (module) docstrings, not only their functions'
    modules = {n for n in exported if isinstance(getattr(imcpnn, n), types.ModuleType)}
    assert {"data", "evaluate", "functional", "layers", "loss", "models", "store", "train"} <= modules


def test_parser_reads_the_indented_block_only():
    doc = """Summary.

    Example (with a note)::

        x = 1

        y = x + 1
    Not code.

    Example::
        assert False
    """
    assert examples(doc) == ["x = 1\n\ny = x + 1\n", "assert False\n"]
    assert examples("No example here.\n\n    Args::\n\n        z = 0\n") == []


def test_a_failing_example_fails(example_env):
    (code,) = examples("Doc.\n\nExample::\n\n    import torch\n    torch.zeros(2) + torch.zeros(3)\n")
    with pytest.raises(RuntimeError):
        _run("broken", code)
