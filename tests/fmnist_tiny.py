"""A generated stand-in for Fashion-MNIST, so that no test depends on the network or on ``IMCPNN_DATA``.

The files have the canonical names, IDX format and sizes (60,000 / 10,000 images of 28 x 28, which
:func:`imcpnn.data.load_fashion_mnist` checks), but the pixels are synthetic: each image is a class template plus
sparse noise, so a small net learns it, and its first four pixels encode where it comes from (bytes of the index,
then 0 for the training split and 1 for the test split), so that a test can tell which samples a tensor holds.
Gzip keeps the files small (a few MB) and writing them takes about a second.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import torch

SIZES = {"train": 60_000, "test": 10_000}
PREFIX = {"train": "train", "test": "t10k"}


def _idx(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def split_arrays(split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, 28, 28] uint8, labels [N] uint8) of one split; ``seed`` changes every pixel and label."""
    n = SIZES[split]
    rng = np.random.default_rng([seed, split == "test"])
    templates = np.random.default_rng(seed).integers(0, 256, (10, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = templates[labels]
    images[rng.random((n, 28, 28), dtype=np.float32) < 0.03] = 255  # sparse salt noise
    i = np.arange(n)
    images[:, 0, 0], images[:, 0, 1], images[:, 0, 2] = i // 65536, (i // 256) % 256, i % 256
    images[:, 0, 3] = int(split == "test")
    return images, labels


def write(folder: Path, seed: int = 0) -> Path:
    """Write the four gzipped IDX files into ``folder/fashion-mnist``; returns ``folder``."""
    target = folder / "fashion-mnist"
    target.mkdir(parents=True, exist_ok=True)
    for split in SIZES:
        images, labels = split_arrays(split, seed)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            (target / f"{PREFIX[split]}-{kind}-ubyte.gz").write_bytes(gzip.compress(_idx(arr), 1, mtime=0))
    return folder


def identities(x: torch.Tensor) -> list[tuple[str, int]]:
    """(split, index) of every image of a float [N, 1, 28, 28] tensor loaded from these files."""
    px = (x[:, 0, 0, :4] * 255).round().to(torch.int64)
    idx = px[:, 0] * 65536 + px[:, 1] * 256 + px[:, 2]
    return [("test" if s else "train", int(i)) for s, i in zip(px[:, 3].tolist(), idx.tolist())]


_WRITTEN: dict[str, Path] = {}


def session_dataset(tmp_path_factory) -> Path:
    """The generated dataset of this pytest session (written once, shared by every test module)."""
    if "default" not in _WRITTEN:
        _WRITTEN["default"] = write(tmp_path_factory.mktemp("fmnist_tiny"))
    return _WRITTEN["default"]


def use(monkeypatch, folder: Path) -> Path:
    """Point ``IMCPNN_DATA`` (also for subprocesses) at ``folder``, offline, with a private decode cache."""
    monkeypatch.setenv("IMCPNN_DATA", str(folder))
    monkeypatch.setenv("IMCPNN_CACHE", str(folder / "cache"))
    monkeypatch.setenv("IMCPNN_OFFLINE", "1")
    return folder


def synthetic_data(n_train: int, n_test: int, seed: int = 0):
    """In-memory random images in [0, 1] and labels (x_train, y_train, x_test, y_test), 28x28, seeded."""
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_train + n_test, 1, 28, 28, generator=g)
    y = torch.randint(0, 10, (n_train + n_test,), generator=g)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]
