"""Run-folder files of :func:`imcpnn.train.train`: atomic writes, safe checkpoint loading, resume checks.

* Writes go to ``<file>.tmp<PID>`` and are renamed into place, so a crash (``kill -9``, a full disk) leaves
  the previous file intact. A failed write removes its temporary file; the next start removes those of
  processes that are gone.
* Checkpoints are read with ``torch.load(weights_only=True)``: only tensors and plain data (dicts, lists,
  numbers, strings) are accepted, so a crafted file cannot run code. A corrupt, truncated or foreign file
  raises :class:`CheckpointError`, one line naming the file and saying to delete it to restart.
* A checkpoint records the run's config, the torch thread count and the device type. Results differ in the
  last bits between thread counts (about 5e-8 between 1 and 2 threads), so a resume that changes any of them
  is refused instead of silently mixing two settings in one learning curve.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import pickle
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

__all__ = [
    "CheckpointError",
    "FORMAT",
    "VERSION",
    "atomic_write_bytes",
    "atomic_json",
    "clean_stale_tmp",
    "load",
    "save",
    "check_resume",
    "rng_state",
    "set_rng_state",
]

FORMAT = "imcpnn-checkpoint"
VERSION = 1
MANAGED = ("checkpoint.pt", "metrics.json", "config.json")
_REQUIRED = ("config", "epochs", "model", "optimizer", "rng")
_TMP = re.compile(r"(?P<name>.+)\.tmp(?P<pid>\d+)")
_DISK_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class CheckpointError(ValueError):
    """A run-folder checkpoint that cannot be used (corrupt, truncated, foreign, another config or setting)."""


def _restart_hint(path: Path) -> str:
    return f"delete {path} (or the whole folder) to restart the run"


# ---------------------------------------------------------------------------------------------------------
# writing


def _tmp_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.tmp{os.getpid()}")


def atomic_write_bytes(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write ``path`` through a temporary file and an atomic rename; on any failure the temporary file is
    removed and ``path`` keeps its previous content. A full disk raises OSError naming ``path``."""
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(err, OSError) and err.errno in _DISK_FULL:
            raise OSError(
                err.errno,
                f"could not write {path}: {os.strerror(err.errno)}; free some space and rerun "
                "(the run resumes after its last finished epoch)",
            ) from None
        raise


def atomic_json(path: Path, payload: dict) -> None:
    """:func:`atomic_write_bytes` of indented JSON."""
    atomic_write_bytes(path, lambda f: f.write((json.dumps(payload, indent=2) + "\n").encode()))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a stale lock or temporary file of a dead process can be removed)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_tmp(folder: Path) -> list[Path]:
    """Remove ``<run file>.tmp<PID>`` files in ``folder`` whose process is gone (or is this one): the
    leftovers of a crash or a full disk. Files of another live process are kept. Returns what was removed."""
    removed: list[Path] = []
    if not Path(folder).is_dir():
        return removed
    for p in Path(folder).iterdir():
        m = _TMP.fullmatch(p.name)
        if m is None or m["name"] not in MANAGED or not p.is_file():
            continue
        pid = int(m["pid"])
        if pid != os.getpid() and process_alive(pid):
            continue
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p)
    return removed


def rng_state(device: torch.device) -> dict[str, Any]:
    """torch's global RNG state(s) as tensors (loadable with ``weights_only=True``)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def save(path: Path, state: dict[str, Any], *, threads: int, device: torch.device) -> None:
    """Write a checkpoint atomically; ``state`` holds config, epochs, model, optimizer and rng."""
    payload = {"format": FORMAT, "version": VERSION, "threads": int(threads), "device": device.type, **state}
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = buf.getvalue()
    atomic_write_bytes(path, lambda f: f.write(data))


# ---------------------------------------------------------------------------------------------------------
# reading


def _reason(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, pickle.UnpicklingError) and "GLOBAL" in text:
        return "it holds objects other than tensors and plain data, refused for safety"
    if isinstance(err, EOFError) or "central directory" in text or "truncated" in text:
        return "the file is truncated"
    return "the file is corrupt or not a torch checkpoint"


def load(path: Path) -> dict[str, Any] | None:
    """The checkpoint at ``path`` (``None`` if there is none), read safely; :class:`CheckpointError`
    (one line naming the file) when it is unreadable or not an imcpnn training checkpoint."""
    path = Path(path)
    if not path.exists():
        return None
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} is not a file; {_restart_hint(path)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except OSError as err:
        reason = err.strerror or err
        raise CheckpointError(f"checkpoint {path} cannot be read ({reason}); {_restart_hint(path)}") from None
    except Exception as err:  # noqa: BLE001 - pickle/zip/EOF errors of any kind: one clear message
        raise CheckpointError(f"checkpoint {path} is unusable ({_reason(err)}); {_restart_hint(path)}") from None
    missing = [k for k in _REQUIRED if k not in obj] if isinstance(obj, dict) else list(_REQUIRED)
    if missing or (isinstance(obj, dict) and obj.get("format", FORMAT) != FORMAT):
        raise CheckpointError(
            f"checkpoint {path} is not an imcpnn training checkpoint (missing {', '.join(missing) or 'format'}); "
            f"{_restart_hint(path)}"
        )
    if not (
        isinstance(obj["config"], dict)
        and isinstance(obj["epochs"], list)
        and isinstance(obj["model"], dict)
        and isinstance(obj["rng"], dict)
        and isinstance(obj["rng"].get("cpu"), torch.Tensor)
    ):
        raise CheckpointError(f"checkpoint {path} has a malformed layout; {_restart_hint(path)}")
    return obj


def check_orphan_metrics(folder: Path) -> None:
    """Refuse to start over in a folder whose ``metrics.json`` lists finished epochs but whose checkpoint is
    gone (a restart would silently overwrite them)."""
    metrics = Path(folder) / "metrics.json"
    try:
        epochs = json.loads(metrics.read_text()).get("epochs") if metrics.is_file() else None
    except (OSError, ValueError, AttributeError):
        epochs = None
    if epochs:
        raise CheckpointError(
            f"{metrics} lists {len(epochs)} finished epoch(s) but {Path(folder) / 'checkpoint.pt'} "
            f"is missing; delete the folder {folder} to restart the run"
        )


def _normal(cfg: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(cfg))


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """``"lr 0.001 -> 0.0001, steps 3 -> 4"`` (the fields that differ)."""
    old, new = _normal(old), _normal(new)
    keys = sorted(set(old) | set(new))
    return ", ".join(
        f"{k} {old.get(k, '(unset)')!r} -> {new.get(k, '(unset)')!r}"
        for k in keys
        if old.get(k, "(unset)") != new.get(k, "(unset)")
    )


def check_resume(
    ckpt: dict[str, Any], path: Path, cfg: dict[str, Any], *, finished: bool, threads: int, device: torch.device
) -> None:
    """Refuse (:class:`CheckpointError`) a checkpoint of another config, and a resume of an unfinished run
    under another torch thread count or device type than the one that wrote it."""
    if _normal(ckpt["config"]) != _normal(cfg):
        raise CheckpointError(
            f"checkpoint {path} holds a run with another config ({config_diff(ckpt['config'], cfg)}); "
            f"use another --out, or {_restart_hint(path)}"
        )
    if finished:
        return  # nothing is trained: the setting of this call does not enter the results
    if "threads" not in ckpt:
        raise CheckpointError(
            f"checkpoint {path} was written by an older imcpnn that did not record its thread count; "
            f"{_restart_hint(path)}"
        )
    if int(ckpt["threads"]) != int(threads):
        raise CheckpointError(
            f"checkpoint {path} was written with {ckpt['threads']} torch thread(s) but this run uses {threads}; "
            f"results differ between thread counts: resume with threads={ckpt['threads']} "
            f"(--threads {ckpt['threads']}), or {_restart_hint(path)}"
        )
    if ckpt.get("device", device.type) != device.type:
        raise CheckpointError(
            f"checkpoint {path} was written on {ckpt['device']} but this run uses {device.type}; resume on "
            f"{ckpt['device']} (--device {ckpt['device']}), or {_restart_hint(path)}"
        )
