"""Keys and entries of the run store: a result is reused only when its whole key matches.

A :class:`RunKey` names what a result depends on (the project's honesty rule):

* ``kind``: what is computed (``"train"``, ``"dstd_cost"``, ``"spice_devices"``, ...);
* ``config``: every setting that defines it (a JSON-able dict);
* ``code``: :func:`imcpnn.store.code_fingerprint`, a hash of every ``imcpnn`` source file, the torch version
  and the device type, so that any code change recomputes;
* ``data``: the identity of the data it saw (:func:`imcpnn.store.tensor_digest` of the tensors, or ``None``).

An entry is a folder holding ``key.json`` beside the result: :func:`compute_or_load` for a JSON result, or
:func:`claim` for a computation that writes its own files (a training run with checkpoints). The CLI's run
folders (``imcpnn train`` without ``--out``), ``imcpnn sweep`` and the reproduction harness's cache all name
their folders by :meth:`RunKey.digest`.

Example::

    from pathlib import Path

    from imcpnn.store import runs

    key = runs.run_key("square", {"x": 3})
    folder = Path("store") / key.kind / key.digest()
    assert runs.compute_or_load(folder, key, lambda: {"y": 9}) == {"y": 9}
    assert runs.compute_or_load(folder, key, lambda: 1 / 0) == {"y": 9}  # read back, not recomputed
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from imcpnn.store.checkpoint import atomic_write_bytes
from imcpnn.store.fingerprint import code_fingerprint, stable_hash

__all__ = ["RunKey", "run_key", "key_matches", "claim", "compute_or_load"]

T = TypeVar("T")
KEY_FILE = "key.json"
RESULT_FILE = "result.json"


@dataclasses.dataclass(frozen=True)
class RunKey:
    """Everything a stored result depends on."""

    kind: str
    config: dict[str, Any]
    code: str
    data: str | None

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def digest(self) -> str:
        """A stable hash of the whole key: the entry's folder name."""
        return stable_hash(self.as_dict())


def run_key(kind: str, config: dict[str, Any], *, data: str | None = None, device: str = "cpu") -> RunKey:
    """The key of ``config`` computed by the current code on ``device`` from data ``data``."""
    if not kind or not isinstance(kind, str) or "/" in kind:
        raise ValueError(f"kind must be a non-empty name without '/', got {kind!r}")
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    return RunKey(kind, json.loads(json.dumps(config, default=str)), code_fingerprint(device), data)


def _write_json(path: Path, payload: Any) -> None:
    blob = (json.dumps(payload, indent=1, default=float) + "\n").encode()
    atomic_write_bytes(path, lambda f: f.write(blob))


def key_matches(folder: Path, key: RunKey) -> bool:
    """Whether ``folder/key.json`` holds exactly ``key``."""
    try:
        return json.loads((Path(folder) / KEY_FILE).read_text()) == key.as_dict()
    except (OSError, ValueError):
        return False


def claim(folder: Path, key: RunKey) -> Path:
    """Create the entry ``folder`` of ``key`` and record the key in it (for results that write their own
    files). Returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not key_matches(folder, key):
        _write_json(folder / KEY_FILE, key.as_dict())
    return folder


def compute_or_load(folder: Path, key: RunKey, compute: Callable[[], T], *, recompute: bool = False) -> T:
    """``compute()`` (a JSON-able result), or the value stored in ``folder`` when its key matches ``key``.

    ``recompute=True`` always computes and overwrites the entry; a broken entry is recomputed. Writes are
    atomic: an interrupted write leaves the previous entry (or none).
    """
    result_path = Path(folder) / RESULT_FILE
    if not recompute and result_path.is_file() and key_matches(folder, key):
        try:
            return json.loads(result_path.read_text())["result"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    result = compute()
    claim(folder, key)
    _write_json(result_path, {"key": key.as_dict(), "result": result})
    return result
