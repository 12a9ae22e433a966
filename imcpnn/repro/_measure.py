"""Time and peak-memory probes of the cost benchmark (:mod:`imcpnn.repro.dstd_cost`, arXiv 2412.09010v1 Fig. 3c-f).

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` minus the allocation before the step; on CPU the process's
resident-set high-water mark (VmHWM, reset through /proc/self/clear_refs before each step, glibc's mmap threshold
pinned and its free memory trimmed, so that every tensor is an mmap that shows in RSS) minus the RSS before the step.
"""

from __future__ import annotations

import ctypes
import gc
import re
import time
from collections.abc import Callable
from pathlib import Path

import torch

__all__ = ["memory_method", "peak_memory", "time_step", "progress", "interleaved"]

_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD fixed: every tensor >= 128 KiB is its own mmap
        except OSError:
            _LIBC = False
    return _LIBC


def _proc_status(key: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) * 1024 if m else None


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def memory_method(device: torch.device) -> str:
    """Name of the peak-memory measurement used on ``device``."""
    if device.type == "cuda":
        return "torch.cuda.max_memory_allocated (minus allocated before the step)"
    return (
        "RSS high-water mark VmHWM (reset via /proc/self/clear_refs; glibc mmap threshold pinned, free memory trimmed) "
        "minus RSS before the step, minus file-backed pages (library code) paged in during the step"
    )


def peak_memory(fn: Callable[[], object], device: torch.device) -> tuple[float, float | None]:
    """Run ``fn`` once; return (seconds, peak extra bytes or None where unmeasurable)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize(device)
        dt = time.perf_counter() - t0
        return dt, float(torch.cuda.max_memory_allocated(device) - base)
    libc = _libc()
    if libc:
        libc.malloc_trim(0)
    ok = _reset_hwm()
    base, file0 = _proc_status("VmRSS"), _proc_status("RssFile")
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    peak, file1 = _proc_status("VmHWM"), _proc_status("RssFile")
    if not ok or base is None or peak is None:
        return dt, None
    loaded = max(file1 - file0, 0) if file0 is not None and file1 is not None else 0  # code pages paged in
    return dt, float(max(peak - base - loaded, 0))


def time_step(fn: Callable[[], object], device: torch.device) -> float:
    """Wall time of one call (synchronised on CUDA)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    t0 = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - t0


def progress(total: int, desc: str):
    """A tqdm bar (or None without tqdm)."""
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, leave=False)
    except ImportError:  # pragma: no cover
        return None


def interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, device: torch.device, desc: str = "", warmup: bool = True
) -> dict[str, dict]:
    """Time and peak memory of each step in ``fns``, the steps alternating inside every repeat (after one warm-up
    call each, unless ``repeats`` is 1: a single-shot smoke measurement):
    ``{name: {"times_s", "time_s" (fastest repeat), "median_s", "peak_bytes" (smallest)}}``.

    The fastest repeat is the least-disturbed estimate of a step's own cost on a shared CPU (other processes only
    ever add time; the convention of Python's timeit), so ratios are formed from it."""
    if warmup and repeats > 1:
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    mems: dict[str, list[float]] = {k: [] for k in fns}
    bar = progress(repeats * len(fns), desc) if desc else None
    for _ in range(repeats):
        for k, fn in fns.items():
            dt, mem = peak_memory(fn, device)
            times[k].append(dt)
            if mem is not None:
                mems[k].append(mem)
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return {
        k: {
            "times_s": times[k],
            "time_s": min(times[k]),
            "median_s": sorted(times[k])[len(times[k]) // 2],
            "peak_bytes": min(mems[k]) if mems[k] else None,
        }
        for k in fns
    }
