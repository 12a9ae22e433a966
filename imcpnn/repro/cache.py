"""The reproduction's compute-or-load: the library's run store (:mod:`imcpnn.store.runs`) bound to the profile
folders, for training runs, benchmark points and SPICE results.

A result is reused only when its whole key (kind, config, code fingerprint, data digest; see
:class:`imcpnn.store.runs.RunKey`) matches. Entries live under the profile's run folder
(``runs/<profile>/<kind>/<hash>/``, ``build/smoke/runs/...`` for ``smoke``) and hold ``key.json`` beside the
result. Set ``IMCPNN_RECOMPUTE=1`` to ignore every entry.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

from imcpnn.repro import profiles
from imcpnn.store import runs, tensor_digest
from imcpnn.store.runs import RunKey, claim, key_matches, run_key

__all__ = ["CacheKey", "key_for", "entry_dir", "compute_or_load", "data_digest", "recompute_requested"]

T = TypeVar("T")
ENV_RECOMPUTE = "IMCPNN_RECOMPUTE"


CacheKey = RunKey  # the harness's name of the store's key


def data_digest(*tensors: torch.Tensor) -> str:
    """The identity of a dataset as the bytes of the tensors a computation sees (subsets included)."""
    return tensor_digest(*tensors)


def key_for(kind: str, config: dict[str, Any], *, data: str | None = None, device: str = "cpu") -> CacheKey:
    """The cache key of ``config`` computed by the current code on ``device`` from data ``data``."""
    return run_key(kind, config, data=data, device=device)


def entry_dir(key: CacheKey, profile: str) -> Path:
    """The folder of one cache entry: ``<runs of the profile>/<kind>/<hash of the key>``."""
    return profiles.output_dirs(profile).runs / key.kind / key.digest()


def recompute_requested() -> bool:
    return os.environ.get(ENV_RECOMPUTE, "").strip().lower() in ("1", "true", "yes")


def stored_key_matches(folder: Path, key: CacheKey) -> bool:
    """Whether ``folder/key.json`` holds exactly ``key``."""
    return key_matches(folder, key)


def prepare(key: CacheKey, profile: str) -> Path:
    """Create the entry folder of ``key`` and record the key in it (for results that write their own files,
    such as training runs with checkpoints). Returns the folder."""
    return claim(entry_dir(key, profile), key)


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
    again = recompute_requested() if recompute is None else recompute
    return runs.compute_or_load(entry_dir(key, profile), key, compute, recompute=again)
