"""File formats of the datasets, decoded and validated (pure functions, no directories or downloads):
IDX (Fashion-MNIST), pickled CIFAR-10 batches (a directory or the canonical tarball) and CIFAR-10 image-folder
trees (a directory or a tarball, streamed). Every corrupt input raises ``ValueError`` naming the file.
Used by :mod:`imcpnn.data`, which finds the files and caches the decoded tensors.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CIFAR10_BATCH_DIR = "cifar-10-batches-py"
CIFAR10_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
CIFAR10_IMAGE_DIR = "cifar-10-images"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


_IDX_UBYTE = 0x08


def read_idx(path: str | os.PathLike[str], ndim: int | None = None) -> np.ndarray:
    """Read an IDX file of unsigned bytes (gzip-compressed if the name ends in ``.gz``).

    Validates the magic number (two zero bytes, type ``0x08``, the number of dimensions, optionally equal
    to ``ndim``) and that the payload holds exactly the product of the dimensions; anything else raises
    :class:`ValueError` naming the file.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path}: corrupt IDX file ({err})") from err
    if len(data) < 4:
        raise ValueError(f"{path}: corrupt IDX file (only {len(data)} bytes)")
    zero0, zero1, dtype, dims = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0 or dtype != _IDX_UBYTE or dims == 0:
        raise ValueError(
            f"{path}: bad IDX magic number 0x{int.from_bytes(data[:4], 'big'):08x} "
            f"(expected 0x000008NN, unsigned bytes with NN dimensions)"
        )
    if ndim is not None and dims != ndim:
        raise ValueError(f"{path}: IDX file has {dims} dimensions, expected {ndim}")
    header = 4 + 4 * dims
    if len(data) < header:
        raise ValueError(f"{path}: corrupt IDX file (truncated header)")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != expected:
        raise ValueError(f"{path}: IDX payload has {len(data) - header} bytes, the header {shape} needs {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _decode_fashion(images_path: Path, labels_path: Path, n: int | None) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[1:] != (28, 28):
        raise ValueError(f"{images_path}: images are {images.shape[1:]}, expected (28, 28)")
    if n is not None and images.shape[0] != n:
        raise ValueError(f"{images_path}: holds {images.shape[0]} images, expected {n}")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{labels_path}: holds {labels.shape[0]} labels for {images.shape[0]} images")
    if labels.size and labels.max() >= 10:
        raise ValueError(f"{labels_path}: labels must lie in 0..9, found {int(labels.max())}")
    return images[:, None, :, :], labels


def _unpickle_batch(f: IO[bytes], name: str) -> tuple[np.ndarray, np.ndarray]:
    """One canonical CIFAR-10 batch: a pickled dict with ``data`` [N, 3072] uint8 and ``labels``.

    The canonical format is a pickle, so only load batches from sources you trust.
    """
    try:
        entry = pickle.load(f, encoding="latin1")
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a corrupt batch
        raise ValueError(f"{name}: not a readable CIFAR-10 batch ({err})") from err
    if not isinstance(entry, dict) or "data" not in entry or "labels" not in entry:
        raise ValueError(f"{name}: CIFAR-10 batch must be a dict with 'data' and 'labels'")
    data = np.asarray(entry["data"])
    labels = np.asarray(entry["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{name}: 'data' must be uint8 [N, 3072], got {data.dtype} {list(data.shape)}")
    if labels.shape != (data.shape[0],):
        raise ValueError(f"{name}: {labels.shape[0]} labels for {data.shape[0]} images")
    if labels.size and (labels.min() < 0 or labels.max() >= 10):
        raise ValueError(f"{name}: labels must lie in 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _decode_cifar_batch_dir(d: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    parts = []
    for name in CIFAR10_BATCHES[split]:
        with open(d / name, "rb") as f:
            parts.append(_unpickle_batch(f, str(d / name)))
    return _concat(parts)


def _decode_cifar_batch_tarball(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    parts = []
    try:
        with tarfile.open(path, "r:gz") as tar:
            for name in CIFAR10_BATCHES[split]:
                member = f"{CIFAR10_BATCH_DIR}/{name}"
                try:
                    f = tar.extractfile(member)
                except KeyError:
                    f = None
                if f is None:
                    raise ValueError(f"{path}: has no member {member}")
                with f:
                    parts.append(_unpickle_batch(f, f"{path}:{member}"))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise ValueError(f"{path}: corrupt archive ({err})") from err
    return _concat(parts)


def _decode_image(data: bytes | Path, name: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as img:
            if img.size != (32, 32):
                raise ValueError(f"{name}: image is {img.size[0]}x{img.size[1]}, expected 32x32")
            arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"{name}: not a readable image ({err})") from err
    return arr.transpose(2, 0, 1)


def _class_index(class_name: str, where: str) -> int:
    try:
        return CIFAR10_CLASSES.index(class_name)
    except ValueError:
        raise ValueError(
            f"{where}: unknown CIFAR-10 class folder {class_name!r}; allowed: {', '.join(CIFAR10_CLASSES)}"
        ) from None


def _stack_images(items: list[tuple[int, str, np.ndarray]], where: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    if not items:
        raise ValueError(f"{where}: no {split} images (*.png, *.jpg) found")
    items.sort(key=lambda t: (t[0], t[1]))
    return np.stack([t[2] for t in items]), np.array([t[0] for t in items], dtype=np.int64)


def _progress(total: int | None, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="img", leave=False, mininterval=0.5)


def _decode_cifar_image_dir(d: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    split_dir = d / split
    files: list[tuple[int, Path]] = []
    for class_dir in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        label = _class_index(class_dir.name, str(class_dir))
        files += [(label, p) for p in sorted(class_dir.iterdir()) if p.suffix.lower() in _IMAGE_SUFFIXES]
    items = []
    with _progress(len(files), f"decoding CIFAR-10 {split}") as bar:
        for label, p in files:
            items.append((label, p.name, _decode_image(p, str(p))))
            bar.update()
    return _stack_images(items, str(split_dir), split)


def _image_members(tar: tarfile.TarFile, split: str) -> Iterator[tuple[tarfile.TarInfo, str, str]]:
    """Members ``.../cifar-10-images/<split>/<class>/<file>`` of a streamed tarball."""
    for member in tar:
        if not member.isfile():
            continue
        parts = Path(member.name).parts
        if len(parts) < 4 or parts[-4] != CIFAR10_IMAGE_DIR or parts[-3] != split:
            continue
        if Path(parts[-1]).suffix.lower() in _IMAGE_SUFFIXES and not parts[-1].startswith("."):
            yield member, parts[-2], parts[-1]


def _decode_cifar_image_tarball(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Decode one split straight from the tarball (streamed; nothing is extracted to disk)."""
    items = []
    try:
        with tarfile.open(path, "r|gz") as tar, _progress(None, f"decoding CIFAR-10 {split}") as bar:
            for member, class_name, file_name in _image_members(tar, split):
                f = tar.extractfile(member)
                if f is None:
                    continue
                label = _class_index(class_name, f"{path}:{member.name}")
                items.append((label, file_name, _decode_image(f.read(), f"{path}:{member.name}")))
                bar.update()
    except (tarfile.TarError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt archive ({err})") from err
    return _stack_images(items, f"{path}:{CIFAR10_IMAGE_DIR}/{split}", split)
