"""Datasets for the training experiments: Fashion-MNIST, CIFAR-10 and Iris.

Public API::

    load_fashion_mnist(split="train", root=None, download=True, *, raw=False, subset=None, seed=0)
    load_cifar10(split="train", root=None, download=True, *, raw=False, subset=None, seed=0)
    load_iris(normalize=True), load_iris_split(test_size=50, seed=0)
    data_dir(), cache_dir(), subset_indices(n, subset, seed), make_loader(x, y, batch_size, ...)
    (file formats: :mod:`imcpnn.data.formats`; tensor cache and helpers: :mod:`imcpnn.data.tensors`)

Images come back as ``float32`` in [0, 1], [N, C, H, W] (``raw=True``: the stored ``uint8``), labels ``int64`` [N].

Where files are looked up
-------------------------
The data directory is ``$IMCPNN_DATA`` if set, else ``data/`` in the user cache folder (:func:`user_cache_dir`,
``~/.cache/imcpnn``); a checkout's ``make all`` points ``IMCPNN_DATA`` at its own ``data/``. Fashion-MNIST is
looked up in ``<data>/fashion-mnist/`` and in ``<data>/`` itself (canonical IDX names, ``.gz`` or
uncompressed). CIFAR-10 is looked up in ``<data>/`` and ``<data>/cifar-10/``, in this order of layouts:
``cifar-10-batches-py/`` (canonical pickled batches), ``cifar-10-python.tar.gz`` (read in place),
``cifar-10-images/{train,test}/<class>/*.{png,jpg}`` (image-folder tree) and ``cifar-10-images.tar.gz``
(that tree as a tarball, read in place; nothing is extracted into the data directory or the repository).

Downloads and checksums
-----------------------
If no usable copy is found and downloading is allowed (``download=True`` and ``$IMCPNN_OFFLINE`` not set to
``1``/``true``/``yes``), the canonical files are fetched over HTTPS into the data directory, or into
``<cache>/downloads/`` when the data directory is not writable. A download is streamed to a temporary file,
its MD5 is compared with the published sum (a mismatch raises :class:`ValueError` naming the file, the
expected and the actual sum, and the temporary file is removed), and only then moved into place.

Files that are already present are **not** checksummed: local copies (such as the offline stand-ins used in
CI) may legitimately differ byte for byte from the canonical downloads. They are validated by format instead
(IDX magic numbers and sizes, pickled-batch keys and shapes, image sizes); a corrupt file raises
:class:`ValueError` naming it. When nothing is found and the download is disabled or fails,
:class:`DatasetNotFoundError` (a :class:`FileNotFoundError`) names ``IMCPNN_DATA``, the expected files, and
why the download did not happen.

Caching: decoded datasets are stored as ``uint8`` tensors in :func:`cache_dir` (``$IMCPNN_CACHE``, else
``tensors/`` in :func:`user_cache_dir`; the Makefile sets ``build/cache``), keyed by dataset, split and the size and
modification time of every source file; changing a source file invalidates its entry.

Example::

    from imcpnn import data

    x, y = data.load_iris()  # scikit-learn's copy: no download; features min-max scaled to [0, 1]
    print(x.shape, y.bincount())  # torch.Size([150, 4]) tensor([50, 50, 50])
    x_tr, y_tr, x_te, y_te = data.load_iris_split(test_size=50, seed=0)  # stratified 100 / 50
    keep = data.subset_indices(len(y_tr), 20, seed=0)  # a seeded subset of 20 training samples
    xb, yb = next(iter(data.make_loader(x_tr[keep], y_tr[keep], batch_size=8, shuffle=True, seed=0)))
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import torch

from imcpnn.data.formats import (
    CIFAR10_BATCH_DIR,
    CIFAR10_BATCHES,
    CIFAR10_CLASSES,
    CIFAR10_IMAGE_DIR,
    _decode_cifar_batch_dir,
    _decode_cifar_batch_tarball,
    _decode_cifar_image_dir,
    _decode_cifar_image_tarball,
    _decode_fashion,
    read_idx,
)
from imcpnn.data.tensors import (
    _cached,
    _fingerprint,
    _finish,
    _temp_path,
    _tree_fingerprint,
    make_loader,
    subset_indices,
    to_float,
)

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "DatasetNotFoundError",
    "cache_dir",
    "data_dir",
    "load_cifar10",
    "load_fashion_mnist",
    "load_iris",
    "make_loader",
    "read_idx",
    "subset_indices",
    "to_float",
    "user_cache_dir",
]

ENV_DATA = "IMCPNN_DATA"
ENV_CACHE = "IMCPNN_CACHE"
ENV_OFFLINE = "IMCPNN_OFFLINE"
SPLITS = ("train", "test")
_TIMEOUT_S = 60.0

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# Published MD5 sums: github.com/zalandoresearch/fashion-mnist (README, "Get the Data"; torchvision uses the
# same) and www.cs.toronto.edu/~kriz/cifar.html. The README links a plain-HTTP S3 website endpoint, so we
# fetch the copies committed to that repository (data/fashion/) over HTTPS, with the bucket's HTTPS REST
# endpoint as a fallback; the MD5 check guards either source.
FASHION_MNIST_MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "https://fashion-mnist.s3.eu-central-1.amazonaws.com/",
)
FASHION_MNIST_FILES = {
    "train": (
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
    ),
    "test": (
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ),
}
FASHION_MNIST_SIZES = {"train": 60000, "test": 10000}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_TARBALL = "cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_IMAGE_TARBALL = "cifar-10-images.tar.gz"


class DatasetNotFoundError(FileNotFoundError):
    """No usable copy of a dataset was found and none could be downloaded."""


# --------------------------------------------------------------------------------------------------------
# Directories and argument checks


def user_cache_dir() -> Path:
    """The per-user cache folder of imcpnn: ``$XDG_CACHE_HOME/imcpnn``, else ``~/.cache/imcpnn`` (not created)."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base).expanduser() if base else Path.home() / ".cache") / "imcpnn"


def data_dir() -> Path:
    """The data directory: ``$IMCPNN_DATA`` if set, else ``data/`` in :func:`user_cache_dir`.

    The library assumes no repository layout: a checkout's ``make all`` sets ``IMCPNN_DATA`` to its own
    ``data/`` folder. The directory is not created here and may be read-only.
    """
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser().resolve()
    return user_cache_dir() / "data"


def _is_writable(path: Path) -> bool:
    """Whether files can be created in directory ``path``.

    Besides ``os.access`` this requires a write bit in the mode, so a directory marked read-only
    (``r-x``) counts as read-only for root as well.
    """
    try:
        return os.access(path, os.W_OK | os.X_OK) and bool(path.stat().st_mode & 0o222)
    except OSError:
        return False


def _ensure_writable_dir(path: Path) -> bool:
    """Create ``path`` if needed (only below a writable ancestor); report whether it is writable."""
    if not path.exists():
        ancestor = next((p for p in path.parents if p.exists()), None)
        if ancestor is None or not _is_writable(ancestor):
            return False
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
    return path.is_dir() and _is_writable(path)


def cache_dir() -> Path:
    """The cache directory for decoded tensors (and downloads that cannot go to :func:`data_dir`).

    ``$IMCPNN_CACHE`` if set, else ``tensors/`` in :func:`user_cache_dir`. The directory is created if needed.
    """
    env = os.environ.get(ENV_CACHE)
    path = Path(env).expanduser().resolve() if env else user_cache_dir() / "tensors"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(map(repr, SPLITS))}; got {split!r}")
    return split


def _offline_reason(download: bool) -> str | None:
    """Why downloading is disabled, or ``None`` if it is allowed."""
    if not download:
        return "downloading is disabled (download=False)"
    value = os.environ.get(ENV_OFFLINE, "").strip().lower()
    if value in ("1", "true", "yes", "on"):
        return f"downloading is disabled ({ENV_OFFLINE}={os.environ[ENV_OFFLINE]})"
    return None


def _root_dir(root: str | os.PathLike[str] | None) -> Path:
    return Path(root).expanduser().resolve() if root is not None else data_dir()


def _not_found(dataset: str, split: str, dirs: Iterable[Path], expected: Iterable[str], why: str) -> Exception:
    env = os.environ.get(ENV_DATA)
    env_text = f"{ENV_DATA}={env}" if env else f"{ENV_DATA} is not set"
    looked = ", ".join(str(d) for d in dict.fromkeys(dirs))
    return DatasetNotFoundError(
        f"{dataset} ({split} split) not found. Looked in: {looked} ({env_text}). "
        f"Expected files: {', '.join(expected)}. The download failed: {why}. "
        f"Put the files into a directory and point {ENV_DATA} at it, or allow the download."
    )


# --------------------------------------------------------------------------------------------------------
# Download


def _open_url(url: str) -> IO[bytes]:
    """Open ``url`` for reading (module-level so tests can replace it)."""
    return urllib.request.urlopen(url, timeout=_TIMEOUT_S)  # noqa: S310 - fixed https URLs


def _download(url: str, dest: Path, md5: str) -> Path:
    """Fetch ``url`` into a temporary file next to ``dest``, check its MD5, then move it to ``dest``.

    Raises :class:`ValueError` (naming the file, the expected and the actual sum) on a mismatch and
    :class:`OSError` (e.g. ``urllib.error.URLError``) if the transfer fails; no partial file is left.
    """
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_path(dest)
    digest = hashlib.md5()
    try:
        with open(tmp, "xb") as out, _open_url(url) as response:
            headers = getattr(response, "headers", None)
            length = headers.get("Content-Length") if headers is not None else None
            total = int(length) if length else None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, leave=False) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        actual = digest.hexdigest()
        if actual != md5:
            raise ValueError(
                f"checksum mismatch for {dest.name} (downloaded from {url}): expected md5 {md5}, got {actual}"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _download_dir(preferred: Path, name: str) -> Path:
    """Where downloads go: ``preferred`` if writable, else ``<cache>/downloads/<name>``."""
    return preferred if _ensure_writable_dir(preferred) else cache_dir() / "downloads" / name


def _fetch_any(urls: Iterable[str], dest: Path, md5: str) -> None:
    """Try each mirror in turn; raise ``OSError`` listing every failure if none works.

    A checksum mismatch (``ValueError``) is not a transport failure and propagates at once.
    """
    errors = []
    for url in urls:
        try:
            _download(url, dest, md5)
            return
        except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, resets, short reads
            errors.append(f"{url}: {err}")
    raise OSError("; ".join(errors))


# --------------------------------------------------------------------------------------------------------
# Fashion-MNIST (IDX)


def _find_pair(dirs: Iterable[Path], names: tuple[str, str]) -> tuple[Path, Path] | None:
    """The first directory holding both files (``.gz`` or uncompressed)."""
    for d in dirs:
        found = []
        for name in names:
            for candidate in (d / name, d / name.removesuffix(".gz")):
                if candidate.is_file():
                    found.append(candidate)
                    break
        if len(found) == 2:
            return found[0], found[1]
    return None


def load_fashion_mnist(
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    *,
    raw: bool = False,
    subset: int | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST images ``[N, 1, 28, 28]`` and labels ``[N]`` (int64, 0-9).

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        root: data directory; default :func:`data_dir`. Files are looked up in ``root/fashion-mnist/``
            and ``root/`` under their canonical names (``train-images-idx3-ubyte.gz`` etc.).
        download: fetch the canonical files if missing (also disabled by ``IMCPNN_OFFLINE=1``). Downloads
            are checked against the published MD5 sums; files already present are validated by format only.
        raw: return ``uint8`` pixels instead of ``float32`` in ``[0, 1]``.
        subset: keep a seeded random choice of this many samples (in dataset order); ``None`` keeps all.
        seed: seed of that choice.

    Raises:
        ValueError: bad arguments, corrupt files, or a checksum mismatch of a download.
        DatasetNotFoundError: no files and the download was disabled or failed.
    """
    _check_split(split)
    base = _root_dir(root)
    files = FASHION_MNIST_FILES[split]
    names = (files[0][0], files[1][0])
    dirs = [base / "fashion-mnist", base, cache_dir() / "downloads" / "fashion-mnist"]
    pair = _find_pair(dirs, names)
    if pair is None:
        why = _offline_reason(download)
        if why is None:
            target = _download_dir(base / "fashion-mnist", "fashion-mnist")
            try:
                for name, md5 in files:
                    if not (target / name).is_file():
                        _fetch_any([m + name for m in FASHION_MNIST_MIRRORS], target / name, md5)
                pair = (target / names[0], target / names[1])
            except OSError as err:
                why = str(err)
        if pair is None:
            raise _not_found("Fashion-MNIST", split, dirs, names, why or "unknown error")
    images_path, labels_path = pair
    n = FASHION_MNIST_SIZES[split]
    images, labels = _cached(
        "fashion-mnist",
        split,
        _fingerprint(pair),
        lambda: _decode_fashion(images_path, labels_path, n),
        cache_dir(),
    )
    return _finish(images, labels, raw, subset, seed)


# --------------------------------------------------------------------------------------------------------
# CIFAR-10


@dataclass(frozen=True)
class _CifarSource:
    kind: str  # "batch-dir" | "batch-tar" | "image-dir" | "image-tar"
    path: Path


def _find_cifar(dirs: Iterable[Path], split: str) -> _CifarSource | None:
    for d in dirs:
        batch_dir = d / CIFAR10_BATCH_DIR
        if all((batch_dir / name).is_file() for name in CIFAR10_BATCHES[split]):
            return _CifarSource("batch-dir", batch_dir)
        if (d / CIFAR10_TARBALL).is_file():
            return _CifarSource("batch-tar", d / CIFAR10_TARBALL)
        if (d / CIFAR10_IMAGE_DIR / split).is_dir():
            return _CifarSource("image-dir", d / CIFAR10_IMAGE_DIR)
        if (d / CIFAR10_IMAGE_TARBALL).is_file():
            return _CifarSource("image-tar", d / CIFAR10_IMAGE_TARBALL)
    return None


_CIFAR_DECODERS: dict[str, Callable[[Path, str], tuple[np.ndarray, np.ndarray]]] = {
    "batch-dir": _decode_cifar_batch_dir,
    "batch-tar": _decode_cifar_batch_tarball,
    "image-dir": _decode_cifar_image_dir,
    "image-tar": _decode_cifar_image_tarball,
}


def load_cifar10(
    split: str = "train",
    root: str | os.PathLike[str] | None = None,
    download: bool = True,
    *,
    raw: bool = False,
    subset: int | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10 images ``[N, 3, 32, 32]`` and labels ``[N]`` (int64, 0-9 in :data:`CIFAR10_CLASSES` order).

    Args:
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        root: data directory; default :func:`data_dir`. Looked up in ``root/`` and ``root/cifar-10/``:
            ``cifar-10-batches-py/``, ``cifar-10-python.tar.gz``, ``cifar-10-images/{train,test}/<class>/``
            or ``cifar-10-images.tar.gz`` (first match wins; archives are read in place). Image folders
            are read in class order, then file-name order.
        download: fetch ``cifar-10-python.tar.gz`` (MD5-checked) if nothing is found; also disabled by
            ``IMCPNN_OFFLINE=1``. Files already present are validated by format only.
        raw: return ``uint8`` pixels instead of ``float32`` in ``[0, 1]``.
        subset: keep a seeded random choice of this many samples (in dataset order); ``None`` keeps all.
        seed: seed of that choice.

    The first load of an image-folder copy decodes every image (a few seconds for the full set, with a
    progress bar); later loads read the tensor cache.

    Raises:
        ValueError: bad arguments, corrupt files, or a checksum mismatch of a download.
        DatasetNotFoundError: no files and the download was disabled or failed.
    """
    _check_split(split)
    base = _root_dir(root)
    dirs = [base, base / "cifar-10", cache_dir() / "downloads" / "cifar-10"]
    source = _find_cifar(dirs, split)
    if source is None:
        why = _offline_reason(download)
        if why is None:
            target = _download_dir(base, "cifar-10")
            try:
                _fetch_any([CIFAR10_URL], target / CIFAR10_TARBALL, CIFAR10_MD5)
                source = _CifarSource("batch-tar", target / CIFAR10_TARBALL)
            except OSError as err:
                why = str(err)
        if source is None:
            expected = (
                f"{CIFAR10_BATCH_DIR}/",
                CIFAR10_TARBALL,
                f"{CIFAR10_IMAGE_DIR}/",
                CIFAR10_IMAGE_TARBALL,
            )
            raise _not_found("CIFAR-10", split, dirs, expected, why or "unknown error")
    if source.kind == "batch-dir":
        fingerprint = _fingerprint(source.path / n for n in CIFAR10_BATCHES[split])
    elif source.kind == "image-dir":
        fingerprint = _tree_fingerprint(source.path / split)
    else:
        fingerprint = _fingerprint([source.path])
    decoder = _CIFAR_DECODERS[source.kind]
    images, labels = _cached(
        "cifar-10", split, [[source.kind], *fingerprint], lambda: decoder(source.path, split), cache_dir()
    )
    return _finish(images, labels, raw, subset, seed)


# --------------------------------------------------------------------------------------------------------
# Iris


def load_iris(normalize: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Iris (150 samples, 4 features, 3 classes) from scikit-learn.

    Returns ``float32`` features ``[150, 4]`` and ``int64`` labels ``[150]``. With ``normalize=True`` each
    feature is min-max scaled to ``[0, 1]`` over the whole set, as in the circuit experiment.
    """
    if not isinstance(normalize, bool):
        raise ValueError(f"normalize must be True or False, got {normalize!r}")
    from sklearn.datasets import load_iris as _sk_load_iris

    bunch = _sk_load_iris()
    x = torch.as_tensor(np.asarray(bunch.data), dtype=torch.float32)
    y = torch.as_tensor(np.asarray(bunch.target), dtype=torch.int64)
    if normalize:
        lo, hi = x.min(dim=0).values, x.max(dim=0).values
        x = (x - lo) / (hi - lo)
    return x, y


def load_iris_split(
    test_size: int = 50, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Iris split stratified into 150 - ``test_size`` training and ``test_size`` test samples (fixed ``seed``).

    Features are min-max scaled to [0, 1] with the TRAINING samples' minima and maxima (the test samples never
    influence the encoding); test values outside the training range are clipped to [0, 1] (Eq. 56 needs spike
    times in the phase). Returns (x_train, y_train, x_test, y_test), float32 [N, 4] and int64 [N].
    """
    if isinstance(test_size, bool) or not isinstance(test_size, int) or not 3 <= test_size <= 147:
        raise ValueError(f"test_size must be an integer in [3, 147], got {test_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    from sklearn.model_selection import train_test_split

    x, y = load_iris(normalize=False)
    idx_tr, idx_te = train_test_split(np.arange(len(y)), test_size=test_size, stratify=y.numpy(), random_state=seed)
    idx_tr, idx_te = np.sort(idx_tr), np.sort(idx_te)
    x_tr, x_te = x[idx_tr], x[idx_te]
    lo, hi = x_tr.min(dim=0).values, x_tr.max(dim=0).values
    x_tr = (x_tr - lo) / (hi - lo)
    x_te = ((x_te - lo) / (hi - lo)).clamp(0.0, 1.0)
    return x_tr, y[idx_tr], x_te, y[idx_te]
