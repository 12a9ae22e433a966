"""Identities for caches: a fingerprint of the code that computes a result and a digest of the data it saw.

A cached result may be reused only when its configuration, the code fingerprint and the data identity all
match (the project's honesty rule). Both live in the library so that the CLI's run folders and the
reproduction harness (:mod:`imcpnn.repro.cache`) use one definition.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

__all__ = ["code_fingerprint", "source_fingerprint", "tensor_digest", "stable_hash"]

_PACKAGE = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        h.update(str(path.relative_to(_PACKAGE)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def code_fingerprint(device: str | torch.device = "cpu") -> str:
    """16 hex digits over every ``imcpnn`` source file, the torch version and the device type.

    Any edit of the package, another torch or another device type (cpu / cuda) gives another fingerprint.
    """
    dev = torch.device(device).type
    blob = f"{_source_digest()}|torch {torch.__version__}|{dev}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def source_fingerprint() -> str:
    """16 hex digits over every ``imcpnn`` source file and the torch version (the code that wrote a results
    file, recorded beside it so that a report can tell results of the current code from older ones)."""
    return hashlib.sha256(f"{_source_digest()}|torch {torch.__version__}".encode()).hexdigest()[:16]


def tensor_digest(*tensors: torch.Tensor) -> str:
    """16 hex digits over the dtype, shape and bytes of ``tensors`` (the identity of the data a run saw)."""
    h = hashlib.sha256()
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"tensor_digest takes tensors, got {type(t).__name__}")
        c = t.detach().cpu().contiguous()
        h.update(f"{c.dtype}|{tuple(c.shape)}|".encode())
        h.update(c.view(torch.uint8).numpy().tobytes() if c.numel() else b"")
    return h.hexdigest()[:16]


def stable_hash(payload: Any) -> str:
    """12 hex digits of the canonical JSON of ``payload`` (sorted keys)."""
    blob = json.dumps(payload, sort_keys=True, allow_nan=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
