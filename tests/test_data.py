"""Tests of :mod:`imcpnn.data` on tiny synthetic files; the network is never used.

The last tests read the real offline copies when ``IMCPNN_DATA`` points at them (CI) and skip otherwise.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from imcpnn import data

TINY_SIZES = {"train": 6, "test": 4}


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fresh data and cache directories per test, downloads allowed, and any network access fails loudly."""
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setenv("IMCPNN_DATA", str(root))
    monkeypatch.setenv("IMCPNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("IMCPNN_OFFLINE", raising=False)
    monkeypatch.setattr(data, "FASHION_MNIST_SIZES", TINY_SIZES)

    def no_network(url: str):
        raise AssertionError(f"test tried to reach the network: {url}")

    monkeypatch.setattr(data, "_open_url", no_network)
    return root


# ---------------------------------------------------------------------------------------------------------
# Synthetic files


def idx_bytes(arr: np.ndarray, dtype_code: int = 0x08) -> bytes:
    header = bytes([0, 0, dtype_code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def write_idx(path: Path, arr: np.ndarray, **kw: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = idx_bytes(arr, **kw)
    path.write_bytes(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw)
    return path


def fashion_arrays(split: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + (split == "test"))
    n = TINY_SIZES[split]
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)


def write_fashion(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = fashion_arrays(split)
    prefix = "train" if split == "train" else "t10k"
    write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return images, labels


def cifar_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)


def write_image_tree(root: Path, split: str, per_class: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """PNGs under root/cifar-10-images/<split>/<class>/; returns the expected (images, labels)."""
    from PIL import Image

    images, labels = [], []
    for k, (cls, n) in enumerate(sorted(per_class.items(), key=lambda kv: data.CIFAR10_CLASSES.index(kv[0]))):
        folder = root / "cifar-10-images" / split / cls
        folder.mkdir(parents=True)
        arr = cifar_images(n, seed=k)
        for i in range(n):
            Image.fromarray(arr[i].transpose(1, 2, 0)).save(folder / f"{i:04d}.png")
        images.append(arr)
        labels += [data.CIFAR10_CLASSES.index(cls)] * n
    return np.concatenate(images), np.array(labels)


def batch_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    entry = {"batch_label": "synthetic", "data": images.reshape(len(images), -1), "labels": labels.tolist()}
    return pickle.dumps(entry, protocol=2)


def cifar_batches() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for i, name in enumerate([*data.CIFAR10_BATCHES["train"], *data.CIFAR10_BATCHES["test"]]):
        out[name] = cifar_images(2, seed=10 + i), np.array([i % 10, (i + 3) % 10])
    return out


# ---------------------------------------------------------------------------------------------------------
# IDX parsing


@pytest.mark.parametrize("name", ["x-images-idx3-ubyte.gz", "x-images-idx3-ubyte"])
def test_read_idx_roundtrip(tmp_path: Path, name: str) -> None:
    arr = np.arange(2 * 3 * 5, dtype=np.uint8).reshape(2, 3, 5)
    out = data.read_idx(write_idx(tmp_path / name, arr), ndim=3)
    assert out.shape == (2, 3, 5) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, arr)


@pytest.mark.parametrize(
    "corrupt, match",
    [
        (lambda raw: b"\x01" + raw[1:], "magic"),
        (lambda raw: raw[:2] + b"\x0d" + raw[3:], "magic"),  # float32 type code
        (lambda raw: raw[:-1], "payload"),
        (lambda raw: raw + b"\x00", "payload"),
        (lambda raw: raw[:6], "truncated header"),
    ],
)
def test_read_idx_corrupt(tmp_path: Path, corrupt, match: str) -> None:
    path = tmp_path / "bad-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(corrupt(idx_bytes(np.zeros(7, np.uint8)))))
    with pytest.raises(ValueError, match=match) as info:
        data.read_idx(path, ndim=1)
    assert "bad-labels-idx1-ubyte.gz" in str(info.value)


def test_read_idx_wrong_ndim_and_not_gzip(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "a.gz", np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="2 dimensions, expected 3"):
        data.read_idx(path, ndim=3)
    bad = tmp_path / "b-idx3-ubyte.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="b-idx3-ubyte.gz"):
        data.read_idx(bad)


# ---------------------------------------------------------------------------------------------------------
# Fashion-MNIST


@pytest.mark.parametrize("sub", ["fashion-mnist", "."])
@pytest.mark.parametrize("split", ["train", "test"])
def test_load_fashion_mnist(isolated: Path, sub: str, split: str) -> None:
    images, labels = write_fashion(isolated / sub, split)
    x, y = data.load_fashion_mnist(split, download=False)
    assert x.shape == (len(labels), 1, 28, 28) and x.dtype == torch.float32
    assert y.dtype == torch.int64 and y.tolist() == labels.tolist()
    torch.testing.assert_close(x, torch.from_numpy(images)[:, None].float() / 255)
    xr, _ = data.load_fashion_mnist(split, root=isolated, download=False, raw=True)
    assert xr.dtype == torch.uint8 and torch.equal(xr[:, 0], torch.from_numpy(images))
    torch.testing.assert_close(data.to_float(xr), x)


def test_fashion_mnist_bad_files(isolated: Path) -> None:
    folder = isolated / "fashion-mnist"
    images, labels = fashion_arrays("test")
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels[:-1])
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_fashion_mnist("test", download=False)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.full(len(labels), 10, np.uint8))
    with pytest.raises(ValueError, match="0..9"):
        data.load_fashion_mnist("test", download=False)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images[:, :27])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz.*\(28, 28\)"):
        data.load_fashion_mnist("test", download=False)


@pytest.mark.parametrize("loader", [data.load_fashion_mnist, data.load_cifar10])
def test_bad_split(loader) -> None:
    with pytest.raises(ValueError, match=r"split must be one of 'train', 'test'; got 'val'"):
        loader("val", download=False)


def test_offline_error_names_env_and_files(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(data.DatasetNotFoundError) as info:
        data.load_fashion_mnist("test", download=False)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for part in ("IMCPNN_DATA", str(isolated), "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert part in msg
    assert "download failed" in msg and "download=False" in msg

    monkeypatch.setenv("IMCPNN_OFFLINE", "1")
    with pytest.raises(data.DatasetNotFoundError, match="IMCPNN_OFFLINE=1") as info:
        data.load_cifar10("train")  # download=True, but the environment forbids it
    msg = str(info.value)
    for part in ("IMCPNN_DATA", "cifar-10-python.tar.gz", "cifar-10-batches-py", "cifar-10-images.tar.gz"):
        assert part in msg


def test_download_failure_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(url: str):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(data, "_open_url", unreachable)
    with pytest.raises(data.DatasetNotFoundError, match="no route to host") as info:
        data.load_fashion_mnist("train")
    assert "IMCPNN_DATA" in str(info.value) and "train-images-idx3-ubyte.gz" in str(info.value)


def serve(files: dict[str, bytes], log: list[str]):
    """A stand-in for ``_open_url`` that serves local bytes by file name."""

    def open_url(url: str) -> io.BytesIO:
        log.append(url)
        return io.BytesIO(files[url.rsplit("/", 1)[-1]])

    return open_url


def test_download_checksum_mismatch(isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    write_fashion(src, "test")
    payload = {p.name: p.read_bytes() for p in src.iterdir()}
    monkeypatch.setattr(data, "_open_url", serve(payload, []))
    with pytest.raises(ValueError) as info:
        data.load_fashion_mnist("test")
    msg = str(info.value)
    name = "t10k-images-idx3-ubyte.gz"
    assert name in msg
    assert "bef4ecab320f06d8554ea6380940ec79" in msg  # the published sum
    assert hashlib.md5(payload[name]).hexdigest() in msg  # the actual one
    assert list((isolated / "fashion-mnist").iterdir()) == []  # nothing moved into place, no .part left


def serve_with_matching_sums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, dict, list]:
    """Serve tiny Fashion-MNIST test files and make their MD5 sums the 'published' ones."""
    src = tmp_path / "src"
    images, _ = write_fashion(src, "test")
    payload = {p.name: p.read_bytes() for p in src.iterdir()}
    sums = tuple((n, hashlib.md5(payload[n]).hexdigest()) for n, _ in data.FASHION_MNIST_FILES["test"])
    monkeypatch.setitem(data.FASHION_MNIST_FILES, "test", sums)
    log: list[str] = []
    monkeypatch.setattr(data, "_open_url", serve(payload, log))
    return images, payload, log


def test_download_verified_then_moved(isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    images, payload, log = serve_with_matching_sums(tmp_path, monkeypatch)
    x, _ = data.load_fashion_mnist("test", raw=True)
    assert torch.equal(x[:, 0], torch.from_numpy(images))
    assert all(u.startswith("https://") for u in log) and len(log) == 2
    assert sorted(p.name for p in (isolated / "fashion-mnist").iterdir()) == sorted(payload)
    data.load_fashion_mnist("test")  # now local: no second download
    assert len(log) == 2


def test_download_goes_to_cache_when_data_dir_read_only(
    isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve_with_matching_sums(tmp_path, monkeypatch)
    isolated.chmod(0o555)  # read-only, for root too (data.py honours the mode bits)
    try:
        data.load_fashion_mnist("test")
    finally:
        isolated.chmod(0o755)
    assert not (isolated / "fashion-mnist").exists()
    assert (tmp_path / "cache" / "downloads" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file()


# ---------------------------------------------------------------------------------------------------------
# CIFAR-10


def test_cifar_image_folder_and_tarball(isolated: Path, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    images, labels = write_image_tree(tree, "train", {"truck": 2, "airplane": 3, "cat": 1})
    write_image_tree(tree, "test", {"dog": 2})
    (isolated / "cifar-10-images").symlink_to(tree / "cifar-10-images")
    x, y = data.load_cifar10("train", download=False, raw=True)
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.uint8
    assert y.tolist() == [0, 0, 0, 3, 9, 9] == labels.tolist()
    assert torch.equal(x, torch.from_numpy(images))  # PNG is lossless
    xt, yt = data.load_cifar10("test", download=False)
    assert xt.shape == (2, 3, 32, 32) and xt.dtype == torch.float32 and yt.tolist() == [5, 5]

    (isolated / "cifar-10-images").unlink()
    with tarfile.open(isolated / "cifar-10-images.tar.gz", "w:gz") as tar:
        tar.add(tree / "cifar-10-images", arcname="cifar-10-images")
    x2, y2 = data.load_cifar10("train", download=False, raw=True)
    assert torch.equal(x2, x) and torch.equal(y2, y)
    assert sorted(p.name for p in isolated.iterdir()) == ["cifar-10-images.tar.gz"]  # nothing extracted


def test_cifar_image_folder_errors(isolated: Path) -> None:
    from PIL import Image

    folder = isolated / "cifar-10-images" / "train" / "kitten"
    folder.mkdir(parents=True)
    Image.new("RGB", (32, 32)).save(folder / "0.png")
    with pytest.raises(ValueError, match="kitten.*airplane"):
        data.load_cifar10("train", download=False)
    folder.rename(folder.with_name("cat"))
    Image.new("RGB", (28, 32)).save(folder.with_name("cat") / "1.png")
    with pytest.raises(ValueError, match=r"1\.png.*expected 32x32"):
        data.load_cifar10("train", download=False)


@pytest.mark.parametrize("layout", ["dir", "tarball"])
def test_cifar_pickled_batches(isolated: Path, layout: str) -> None:
    batches = cifar_batches()
    if layout == "dir":
        folder = isolated / "cifar-10" / "cifar-10-batches-py"  # the cifar-10/ subfolder is searched too
        folder.mkdir(parents=True)
        for name, (img, lab) in batches.items():
            (folder / name).write_bytes(batch_bytes(img, lab))
    else:
        with tarfile.open(isolated / "cifar-10-python.tar.gz", "w:gz") as tar:
            for name, (img, lab) in batches.items():
                blob = batch_bytes(img, lab)
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(blob)
                tar.addfile(info, io.BytesIO(blob))
    for split in ("train", "test"):
        x, y = data.load_cifar10(split, download=False, raw=True)
        parts = [batches[n] for n in data.CIFAR10_BATCHES[split]]
        assert torch.equal(x, torch.from_numpy(np.concatenate([p[0] for p in parts])))
        assert y.tolist() == np.concatenate([p[1] for p in parts]).tolist()
    assert x.shape == (2, 3, 32, 32)


def test_cifar_corrupt_batch(isolated: Path) -> None:
    folder = isolated / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8)}))
    with pytest.raises(ValueError, match="test_batch.*'labels'"):
        data.load_cifar10("test", download=False)
    (folder / "test_batch").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="test_batch"):
        data.load_cifar10("test", download=False)


def test_cifar_download_checksum_mismatch(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(data, "_open_url", serve({"cifar-10-python.tar.gz": b"not the archive"}, []))
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz.*c58f30108f718f92721af3b95e74349a") as info:
        data.load_cifar10("test")
    assert hashlib.md5(b"not the archive").hexdigest() in str(info.value)
    assert list(isolated.iterdir()) == []


# ---------------------------------------------------------------------------------------------------------
# Cache


def test_cache_skips_decoding(isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_fashion(isolated, "train")
    calls: list[Path] = []
    decode = data._decode_fashion

    def counting(images_path: Path, *args):
        calls.append(images_path)
        return decode(images_path, *args)

    monkeypatch.setattr(data, "_decode_fashion", counting)
    x1, y1 = data.load_fashion_mnist("train", download=False)
    x2, y2 = data.load_fashion_mnist("train", download=False)
    assert len(calls) == 1 and torch.equal(x1, x2) and torch.equal(y1, y2)
    (entry,) = (tmp_path / "cache").glob("*.pt")
    assert entry.name.startswith("fashion-mnist-train-")

    images_file = isolated / "train-images-idx3-ubyte.gz"
    os.utime(images_file, ns=(1, 1))  # a changed source invalidates the entry
    data.load_fashion_mnist("train", download=False)
    assert len(calls) == 2


def test_cache_cifar_image_folder(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_image_tree(isolated, "test", {"ship": 2})
    calls: list[str] = []
    decode = data._CIFAR_DECODERS["image-dir"]

    def counting(path: Path, split: str):
        calls.append(split)
        return decode(path, split)

    monkeypatch.setitem(data._CIFAR_DECODERS, "image-dir", counting)
    x1, _ = data.load_cifar10("test", download=False)
    x2, _ = data.load_cifar10("test", download=False)
    assert calls == ["test"] and torch.equal(x1, x2)
    write_image_tree(isolated, "test", {"frog": 1})  # a new image invalidates the entry
    x3, y3 = data.load_cifar10("test", download=False)
    assert calls == ["test", "test"] and len(x3) == 3 and y3.tolist() == [6, 8, 8]


def test_unreadable_cache_is_rebuilt(isolated: Path, tmp_path: Path) -> None:
    write_fashion(isolated, "test")
    x1, _ = data.load_fashion_mnist("test", download=False)
    (entry,) = (tmp_path / "cache").glob("*.pt")
    entry.write_bytes(b"broken")
    with pytest.warns(UserWarning, match="unreadable cache"):
        x2, _ = data.load_fashion_mnist("test", download=False)
    assert torch.equal(x1, x2)


# ---------------------------------------------------------------------------------------------------------
# Subsets, loaders, Iris, directories


def test_subset(isolated: Path) -> None:
    idx = data.subset_indices(100, 10, seed=3)
    assert idx.tolist() == sorted(set(idx.tolist())) and len(idx) == 10
    assert torch.equal(idx, data.subset_indices(100, 10, seed=3))
    assert not torch.equal(idx, data.subset_indices(100, 10, seed=4))
    assert torch.equal(data.subset_indices(5, None), torch.arange(5))
    for bad in (0, 101, 2.5, True):
        with pytest.raises(ValueError, match="subset"):
            data.subset_indices(100, bad)
    write_fashion(isolated, "train")
    x, y = data.load_fashion_mnist("train", download=False)
    xs, ys = data.load_fashion_mnist("train", download=False, subset=3, seed=1)
    sel = data.subset_indices(len(y), 3, seed=1)
    assert torch.equal(xs, x[sel]) and torch.equal(ys, y[sel])


def test_make_loader() -> None:
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    batches = list(data.make_loader(x, y, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    a = torch.cat([b[1] for b in data.make_loader(x, y, 4, shuffle=True, seed=1)])
    b = torch.cat([b[1] for b in data.make_loader(x, y, 4, shuffle=True, seed=1)])
    assert torch.equal(a, b) and sorted(a.tolist()) == list(range(10))
    with pytest.raises(ValueError, match="batch_size"):
        data.make_loader(x, y, 0)
    with pytest.raises(ValueError, match="same length"):
        data.make_loader(x, y[:3], 2)


def test_iris() -> None:
    x, y = data.load_iris()
    assert x.shape == (150, 4) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [50, 50, 50]
    assert torch.equal(x.min(0).values, torch.zeros(4)) and torch.equal(x.max(0).values, torch.ones(4))
    raw, _ = data.load_iris(normalize=False)
    torch.testing.assert_close(raw[0], torch.tensor([5.1, 3.5, 1.4, 0.2]))
    with pytest.raises(ValueError, match="normalize"):
        data.load_iris(normalize="yes")  # type: ignore[arg-type]


def test_directories(isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert data.data_dir() == isolated.resolve()
    assert data.cache_dir() == (tmp_path / "cache").resolve()
    monkeypatch.delenv("IMCPNN_DATA")
    monkeypatch.delenv("IMCPNN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    # the library assumes no repository layout: without the variables everything lives in the user cache
    assert data.user_cache_dir() == tmp_path / "xdg" / "imcpnn"
    assert data.data_dir() == tmp_path / "xdg" / "imcpnn" / "data"
    assert data.cache_dir() == tmp_path / "xdg" / "imcpnn" / "tensors" and data.cache_dir().is_dir()
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data.user_cache_dir() == Path.home() / ".cache" / "imcpnn"
