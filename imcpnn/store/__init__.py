"""The run store: what makes a long computation safe to interrupt and honest to reuse.

* :mod:`imcpnn.store.fingerprint`: the identity of a result, i.e. a fingerprint of the code that computes it
  (:func:`code_fingerprint`), a digest of the data it saw (:func:`tensor_digest`) and a stable hash of its
  configuration (:func:`stable_hash`). A cached result is reused only when all three match.
* :mod:`imcpnn.store.runs`: keys (:class:`RunKey`: kind, config, code, data) and entries of the store
  (:func:`compute_or_load`, :func:`claim`): a result is reused only when its whole key matches.
* :mod:`imcpnn.store.checkpoint`: run-folder files, i.e. atomic writes (:func:`atomic_write_bytes`,
  :func:`atomic_json`), checkpoints read with ``weights_only=True`` (no pickle of untrusted data), and the
  resume checks that refuse a foreign checkpoint (:class:`CheckpointError`).

:func:`imcpnn.train.train` (the ``imcpnn train`` run folder), ``imcpnn sweep`` and the reproduction harness's
cache all build on these names.

Example::

    from pathlib import Path

    import torch
    from imcpnn import store

    ident = {"config": {"lr": 1e-4}, "code": store.code_fingerprint(), "data": store.tensor_digest(torch.zeros(3))}
    key = store.stable_hash(ident)
    Path("run").mkdir(exist_ok=True)
    store.atomic_json(Path("run") / "key.json", {"key": key})  # written to run/key.json.tmp<PID>, then renamed
"""

from __future__ import annotations

from imcpnn.store.checkpoint import CheckpointError, atomic_json, atomic_write_bytes, process_alive
from imcpnn.store.fingerprint import code_fingerprint, source_fingerprint, stable_hash, tensor_digest
from imcpnn.store.runs import RunKey, claim, compute_or_load, key_matches, run_key

__all__ = [
    "CheckpointError",
    "RunKey",
    "claim",
    "compute_or_load",
    "key_matches",
    "run_key",
    "atomic_json",
    "atomic_write_bytes",
    "code_fingerprint",
    "process_alive",
    "source_fingerprint",
    "stable_hash",
    "tensor_digest",
]
