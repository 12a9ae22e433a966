"""The one compute-or-load helper of the reproduction: training runs, benchmark points and SPICE results.

A result is reused only when its whole key matches (the project's honesty rule):

* ``kind``: what is computed (``"train"``, ``"dstd_cost"``, ``"spice_devices"``, ...);
* ``config``: every setting that defines it (a JSON-able dict);
* ``code``: :func:`imcpnn.store.code_fingerprint`, a hash of every ``imcpnn`` source file, the torch
  version and the device type, so that any code change recomputes;
* ``data``: the identity of the data it saw (:func:`data_digest` of the tensors, or ``None`` when the result
  uses no dataset).

Entries live under the profile's run folder (``runs/<profile>/<kind>/<hash>/``, ``build/smoke/runs/...`` for
``smoke``) and hold ``key.json`` beside the result. Set ``IMCPNN_RECOMPUTE=1`` to ignore every entry.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from imcpnn.repro import profiles
from imcpnn.store import code_fingerprint, stable_hash, tensor_digest

__all__ = ["CacheKey", "key_for", "entry_dir", "compute_or_load", "data_digest", "recompute_requested"]

T = TypeVar("T")
ENV_RECOMPUTE = "IMCPNN_RECOMPUTE"


@dataclasses.dataclass(frozen=True)
class CacheKey:
    """Everything a cached result depends on."""

    kind: str
    config: dict[str, Any]
    code: str
    data: str | None

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), default=str))

    def digest(self) -> str:
        return stable_hash(self.as_dict())


def data_digest(*tensors: torch.Tensor) -> str:
    """The identity of a dataset as the bytes of the tensors a computation sees (subsets included)."""
    return tensor_digest(*tensors)


def key_for(kind: str, config: dict[str, Any], *, data: str | None = None, device: str = "cpu") -> CacheKey:
    """The cache key of ``config`` computed by the current code on ``device`` from data ``data``."""
    if not kind or not isinstance(kind, str) or "/" in kind:
        raise ValueError(f"kind must be a non-empty name without '/', got {kind!r}")
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    return CacheKey(kind, json.loads(json.dumps(config, default=str)), code_fingerprint(device), data)


def entry_dir(key: CacheKey, profile: str) -> Path:
    """The folder of one cache entry: ``<runs of the profile>/<kind>/<hash of the key>``."""
    return profiles.output_dirs(profile).runs / key.kind / key.digest()


def recompute_requested() -> bool:
    return os.environ.get(ENV_RECOMPUTE, "").strip().lower() in ("1", "true", "yes")


def _write_json_atomic(path: Path, payload: Any) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(payload, indent=1, default=float) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def stored_key_matches(folder: Path, key: CacheKey) -> bool:
    """Whether ``folder/key.json`` holds exactly ``key``."""
    p = folder / "key.json"
    try:
        return json.loads(p.read_text()) == key.as_dict()
    except (OSError, json.JSONDecodeError):
        return False


def prepare(key: CacheKey, profile: str) -> Path:
    """Create the entry folder of ``key`` and record the key in it (for results that write their own files,
    such as training runs with checkpoints). Returns the folder."""
    folder = entry_dir(key, profile)
    folder.mkdir(parents=True, exist_ok=True)
    if not stored_key_matches(folder, key):
        _write_json_atomic(folder / "key.json", key.as_dict())
    return folder


def compute_or_load(
    kind: str,
    config: dict[str, Any],
    compute: Callable[[], T],
    *,
    profile: str,
    data: str | None = None,
    device: str = "cpu",
    recompute: bool | None = None,
) -> T:
    """``compute()`` (a JSON-able result), or its stored value when the full key matches.

    ``recompute=True`` (or ``IMCPNN_RECOMPUTE=1``) always computes and overwrites the entry.
    """
    key = key_for(kind, config, data=data, device=device)
    folder = entry_dir(key, profile)
    result_path = folder / "result.json"
    again = recompute_requested() if recompute is None else recompute
    if not again and result_path.is_file() and stored_key_matches(folder, key):
        try:
            return json.loads(result_path.read_text())["result"]
        except (OSError, json.JSONDecodeError, KeyError):
            pass  # a broken entry is recomputed
    result = compute()
    prepare(key, profile)
    _write_json_atomic(result_path, {"key": key.as_dict(), "result": result})
    return result
