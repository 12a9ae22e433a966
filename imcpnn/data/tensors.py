"""Tensor helpers of the data loaders: the decoded-tensor cache, uint8 -> float conversion, seeded subsets and a
seeded DataLoader. Re-exported by :mod:`imcpnn.data` (the public names)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

_CACHE_VERSION = 1


def _temp_path(dest: Path) -> Path:
    """A fresh hidden file name next to ``dest`` (created with the usual umask permissions)."""
    return dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part")


def _fingerprint(paths: Iterable[Path]) -> list[list[Any]]:
    out = []
    for p in paths:
        st = p.stat()
        out.append([str(p), st.st_size, st.st_mtime_ns])
    return out


def _tree_fingerprint(root: Path) -> list[list[Any]]:
    """Size and mtime of every file under ``root`` (relative names), in sorted order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath, name)
            st = p.stat()
            out.append([str(p.relative_to(root)), st.st_size, st.st_mtime_ns])
    return [[str(root), len(out), hashlib.sha1(json.dumps(out).encode()).hexdigest()]]


def _cached(
    dataset: str,
    split: str,
    source: list[list[Any]],
    decode: Callable[[], tuple[np.ndarray, np.ndarray]],
    directory: Path,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(uint8 images, int64 labels)`` from the cache, or ``decode()`` them and store them."""
    key = json.dumps({"v": _CACHE_VERSION, "dataset": dataset, "split": split, "source": source})
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    path = directory / f"{dataset}-{split}-{digest}.pt"
    if path.is_file():
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            if blob.get("key") == key:
                return blob["images"], blob["labels"]
        except Exception as err:  # noqa: BLE001 - a broken cache entry is rebuilt, never fatal
            warnings.warn(f"ignoring unreadable cache file {path}: {err}", stacklevel=3)
    images_np, labels_np = decode()
    images = torch.from_numpy(np.array(images_np, dtype=np.uint8, order="C", copy=True))
    labels = torch.from_numpy(np.array(labels_np, dtype=np.int64, copy=True))
    tmp: Path | None = None
    try:
        tmp = _temp_path(path)
        torch.save({"key": key, "images": images, "labels": labels}, tmp)
        os.replace(tmp, path)
    except OSError as err:
        warnings.warn(f"could not write cache file {path}: {err}", stacklevel=3)
        if tmp is not None:
            tmp.unlink(missing_ok=True)
    return images, labels


def to_float(images: torch.Tensor) -> torch.Tensor:
    """``uint8`` pixels to ``float32`` in ``[0, 1]``."""
    if images.dtype != torch.uint8:
        raise ValueError(f"images must be a uint8 tensor, got dtype {images.dtype}")
    return images.to(torch.float32).div_(255.0)


def subset_indices(n: int, subset: int | None, seed: int = 0) -> torch.Tensor:
    """Sorted indices of a seeded random choice of ``subset`` out of ``n`` samples (all if ``None``)."""
    if subset is None:
        return torch.arange(n)
    if isinstance(subset, bool) or not isinstance(subset, int) or not 1 <= subset <= n:
        raise ValueError(f"subset must be None or an int in [1, {n}], got {subset!r}")
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randperm(n, generator=gen)[:subset].sort().values


def _finish(
    images: torch.Tensor, labels: torch.Tensor, raw: bool, subset: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    if subset is not None:
        idx = subset_indices(len(labels), subset, seed)
        images, labels = images[idx], labels[idx]
    return (images if raw else to_float(images)), labels


def make_loader(
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A :class:`~torch.utils.data.DataLoader` over ``TensorDataset(x, y)``, seeded when shuffling."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    gen = torch.Generator().manual_seed(int(seed)) if shuffle else None
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, generator=gen, drop_last=drop_last)
