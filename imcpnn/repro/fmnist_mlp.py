"""Fashion-MNIST RC-Spike MLP 784-400-400-10 (arXiv 2412.09010v1 Sec. 3.2, Fig. 4c-f; App. D Fig. 11a and
Table 3; App. E Fig. 13a; App. F Fig. 14a): the profile budgets, the training-run cache, the ANN / scaled-ANN
baselines and the statistics that decide whether a claim is resolved.

Training runs are cached with :mod:`imcpnn.repro.cache` (kind ``"train"``): the key is the :class:`TrainConfig`,
the code fingerprint (every ``imcpnn`` source, torch version, device type) and the digest of the exact tensors
trained and tested on. A finished run with the same key is read back; an unfinished one resumes in its folder
(:func:`imcpnn.train.train`); any code or data change trains again.

No test-set leakage: every choice (the scaled-ANN weight scales of App. F, the best |E| of Table 3) is made on a
validation split carved from the TRAINING set (``TrainConfig.val_size``, :func:`imcpnn.train.split_indices`)
and only then scored on the test subset.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imcpnn.executor import run_jobs
from imcpnn.repro import cache
from imcpnn.repro.profiles import env_settings
from imcpnn.search import CoarseToFine, search
from imcpnn.store import atomic_write_bytes, process_alive
from imcpnn.train import TrainConfig, evaluate, load_data, load_model, load_validation, resolve_device, train

_DATA_CACHE: dict[tuple, tuple[torch.Tensor, ...]] = {}
_VAL_CACHE: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

# ------------------------------------------------------------------------------------------------ budgets

#: Per profile: the base config of the sweeps, the headline overrides, and which (|E|, M, offset, sigma)
#: cells are trained with which seeds. ``paper`` is the paper's setting (Sec. 3.2: 60k/10k, 50 epochs, Adam
#: lr 1e-4, batch 32; 5 seeds in Fig. 4c). ``quick`` (about 25 min of one idle core): 6k training images
#: (1k more held out for validation), 3 epochs at lr 1e-3 (cosine), batch 128, test on 2k images at M = 30;
#: the headline is the |E| = 4, M = 3 cell of that grid; the Fig. 14a grid uses 0.2 steps (the paper: 0.1).
#: ``smoke`` takes seconds.
SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": dict(
        base=dict(
            train_subset=256,
            test_subset=128,
            val_size=64,
            epochs=1,
            batch_size=64,
            lr=1e-3,
            lr_schedule="cosine",
            test_steps=10,
        ),
        headline=dict(),
        grid_e=[4.0, 1.0],
        grid_m=[3, 6],
        penalty_m=[3],
        penalty_seeds=[0, 1],
        sweep_seeds=[0],
        m3_seeds=[0],
        m15_seeds=[0],
        f4_m3_e=[1.0, 4.0, 100.0],
        f4_m15_e=[1.0, 4.0],
        f4_m15=6,
        sigmas=[0.0, 0.04],
        sigma_e=[1.0, 4.0],
        sigma_steps=3,
        test_ms=[3, 10],
        test_repeats=2,
        scale_e=[1.0, 4.0],
        scale_n=64,
        scale_test_steps=5,
        coarse=(0.5, 2.0, 0.5),
        grid=(0.8, 1.2, 0.2),
        grid_e_ann=2.0,
        grid_n=64,
        ann_seeds=[0],
        hist_e=[1.0, 100.0],
        hist_n=128,
        m13_n=128,
    ),
    "quick": dict(
        base=dict(
            train_subset=6_000,
            test_subset=2_000,
            val_size=1_000,
            epochs=3,
            batch_size=128,
            lr=1e-3,
            lr_schedule="cosine",
            test_steps=30,
        ),
        headline=dict(),
        grid_e=[4.0, 2.0, 1.0],
        grid_m=[2, 3, 15],
        penalty_m=[2, 3],
        penalty_seeds=[0, 1, 2, 3, 4],
        sweep_seeds=[0],
        m3_seeds=[0, 1],
        m15_seeds=[0, 1],
        f4_m3_e=[1.0, 2.0, 4.0, 10.0, 100.0],
        f4_m15_e=[1.0, 4.0, 100.0],
        f4_m15=15,
        sigmas=[0.0, 0.005, 0.01, 0.02, 0.04],
        sigma_e=[1.0, 10.0],
        sigma_steps=10,
        test_ms=[2, 3, 5, 10, 15, 30],
        test_repeats=3,
        scale_e=[1.0, 4.0, 10.0],
        scale_n=300,
        scale_test_steps=10,
        coarse=(0.6, 3.0, 0.6),
        grid=(0.5, 3.1, 0.2),
        grid_e_ann=2.0,
        grid_n=100,
        ann_seeds=[0, 1],
        hist_e=[1.0, 2.0, 4.0, 10.0, 100.0],
        hist_n=1000,
        m13_n=1000,
    ),
    "paper": dict(
        base=dict(
            train_subset=None,
            test_subset=None,
            val_size=5_000,
            epochs=50,
            batch_size=32,
            lr=1e-4,
            lr_schedule="constant",
            test_steps=30,
        ),
        headline=dict(),
        grid_e=[4.0, 2.0, 1.0],
        grid_m=[2, 3, 4, 6, 10, 15, 30],
        penalty_m=[2, 3],
        penalty_seeds=[0, 1, 2, 3, 4],
        sweep_seeds=[0, 1, 2, 3, 4],
        m3_seeds=[0, 1, 2, 3, 4],
        m15_seeds=[0, 1, 2, 3, 4],
        f4_m3_e=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 30.7, 100.0],
        f4_m15_e=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 30.7, 100.0],
        f4_m15=15,
        sigmas=[0.0, 0.005, 0.01, 0.02, 0.04],
        sigma_e=[1.0, 2.0, 4.0, 7.4, 8.4, 15.0, 30.7, 100.0],
        sigma_steps=10,
        test_ms=[2, 3, 4, 6, 10, 15, 20, 30, 40],
        test_repeats=10,
        scale_e=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0],
        scale_n=5_000,
        scale_test_steps=30,
        coarse=(0.5, 3.0, 0.3),
        grid=(0.5, 3.0, 0.1),
        grid_e_ann=2.0,
        grid_n=5_000,
        ann_seeds=[0, 1, 2, 3, 4],
        hist_e=[1.0, 2.0, 4.0, 10.0, 100.0],
        hist_n=10_000,
        m13_n=10_000,
    ),
}


def settings(profile: str) -> dict[str, Any]:
    """The budget of ``profile`` (a copy)."""
    if profile not in SETTINGS:
        raise ValueError(f"profile must be one of {tuple(SETTINGS)}, got {profile!r}")
    return json.loads(json.dumps(SETTINGS[profile]))


def cell_seeds(s: dict[str, Any], e: float, m: int, offset: str) -> list[int]:
    """Seeds trained for one (|E|, M, offset) cell of Fig. 4c/e/f: most for the fixed-offset penalty at
    |E| = 1, M in ``penalty_m``; several for the random-offset M = 3 and M = ``f4_m15`` curves of Fig. 4f."""
    if e == 1.0 and m in s["penalty_m"]:
        return list(s["penalty_seeds"])
    if offset == "random" and m == 3 and e in s["f4_m3_e"]:
        return list(s["m3_seeds"])
    if offset == "random" and m == s["f4_m15"] and e in s["f4_m15_e"]:
        return list(s["m15_seeds"])
    return list(s["sweep_seeds"])


def grid_cells(s: dict[str, Any]) -> list[tuple[float, int, str, int]]:
    """Every (|E|, M, offset, seed) trained with sigma_spike = 0.01 (Fig. 4c-f): the M x offset grid at
    ``grid_e`` plus the |E| sweeps of Fig. 4f at M = 3 and M = ``f4_m15`` (random offset)."""
    cells = {
        (e, m, off, sd)
        for e in s["grid_e"]
        for m in s["grid_m"]
        for off in ("random", "fixed")
        for sd in cell_seeds(s, e, m, off)
    }
    cells |= {(e, 3, "random", sd) for e in s["f4_m3_e"] for sd in cell_seeds(s, e, 3, "random")}
    cells |= {(e, s["f4_m15"], "random", sd) for e in s["f4_m15_e"] for sd in cell_seeds(s, e, s["f4_m15"], "random")}
    return sorted(cells, key=lambda c: (c[1], c[0], c[2], c[3]))


# ------------------------------------------------------------------------------------------------ run cache


@dataclasses.dataclass
class RunResult:
    """A finished run: its config, folder and metrics."""

    config: TrainConfig
    path: Path
    metrics: dict[str, Any]

    @property
    def epochs(self) -> list[dict[str, Any]]:
        return self.metrics["epochs"]

    @property
    def final_accuracy(self) -> float:
        return float(self.epochs[-1]["test_accuracy"])

    @property
    def curve(self) -> list[float]:
        return [float(e["test_accuracy"]) for e in self.epochs]

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean([e["train_time_s"] for e in self.epochs]))

    def model(self, device: str | None = "cpu"):
        return load_model(self.path, device)


def cached_data(config: TrainConfig) -> tuple[torch.Tensor, ...]:
    """The (x_train, y_train, x_test, y_test) of a config, kept in memory: runs of a sweep share tensors."""
    key = (
        config.dataset,
        config.train_subset,
        config.test_subset,
        config.subset_seed,
        config.val_size,
        os.environ.get("IMCPNN_DATA"),
    )
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = load_data(config)
    return _DATA_CACHE[key]


def validation_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation split of ``config`` (carved from the training split; never trained or tested on)."""
    key = (config.dataset, config.train_subset, config.subset_seed, config.val_size, os.environ.get("IMCPNN_DATA"))
    if key not in _VAL_CACHE:
        _VAL_CACHE[key] = load_validation(config)
    return _VAL_CACHE[key]


def run_key(config: TrainConfig, data: tuple[torch.Tensor, ...], device: str | torch.device = "cpu") -> cache.CacheKey:
    """The cache key of a training run: config + code fingerprint + digest of its tensors + device type."""
    return cache.key_for("train", config.to_dict(), data=cache.data_digest(*data), device=torch.device(device).type)


def run_dir(config: TrainConfig, profile: str, *, device: str | None = None) -> Path:
    """The cache folder of ``config`` under ``profile`` with the current code and data."""
    return cache.entry_dir(run_key(config, cached_data(config), resolve_device(device)), profile)


def _finished(path: Path, config: TrainConfig) -> dict[str, Any] | None:
    try:
        metrics = json.loads((path / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return metrics if len(metrics.get("epochs", [])) >= config.epochs else None


def is_cached(config: TrainConfig, profile: str, *, device: str | None = None) -> bool:
    """True if :func:`run` would only read back a finished run (same config, code, data and device type)."""
    dev = resolve_device(device)
    key = run_key(config, cached_data(config), dev)
    path = cache.entry_dir(key, profile)
    return cache.stored_key_matches(path, key) and _finished(path, config) is not None


def _prepared(config: TrainConfig, profile: str, dev: torch.device) -> tuple[cache.CacheKey, Path, tuple]:
    """The run key, the (created) cache folder and the data of ``config``; ``IMCPNN_RECOMPUTE=1`` empties the
    folder first."""
    data = cached_data(config)
    key = run_key(config, data, dev)
    path = cache.entry_dir(key, profile)
    if cache.recompute_requested() and path.exists():
        shutil.rmtree(path)
    return key, cache.prepare(key, profile), data


def _train_in(
    path: Path, config: TrainConfig, data: tuple, dev: torch.device, threads: int | None, progress: bool
) -> dict[str, Any]:
    """Train ``config`` in ``path`` (or resume it, or read it back when finished); its metrics."""
    done = _finished(path, config)
    if done is not None:
        return done
    with run_lock(path):  # another process sharing the cache may have finished it meanwhile
        done = _finished(path, config)
        if done is not None:
            return done
        return train(config, path, device=dev, threads=threads, progress=progress, data=data)


def run(
    config: TrainConfig, profile: str, *, device: str | None = None, threads: int | None = None, progress: bool = True
) -> RunResult:
    """Train ``config`` in its cache folder (or resume it, or read it back when finished).

    ``IMCPNN_RECOMPUTE=1`` discards a stored run and trains it again.
    """
    dev = resolve_device(device)
    _, path, data = _prepared(config, profile, dev)
    return RunResult(config, path, _train_in(path, config, data, dev, threads, progress))


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """One training run of :func:`run_many` on a worker (a module-level function: pickled by reference).

    Refuses to run when the worker's run key (code fingerprint, data digest) differs from the driver's. With
    ``ship`` (a Ray cluster that may span machines) it trains in a private temporary folder and returns the run
    folder's files for the driver to write; otherwise it trains (or resumes) in the driver's cache folder.
    """
    config, dev = job["config"], torch.device(job["device"])
    data = cached_data(config)
    key = run_key(config, data, dev) if job["check"] else job["key"]  # in the driver's process: its own key
    if key != job["key"]:
        what = [f for f in ("code", "data", "config") if getattr(key, f) != getattr(job["key"], f)]
        raise RuntimeError(
            f"this worker's {' and '.join(what)} differ from the driver's run key (imcpnn sources "
            "edited since the driver started? then restart it; else install the same imcpnn and "
            "IMCPNN_DATA on every node)"
        )
    if not job["ship"]:
        return {"metrics": _train_in(Path(job["path"]), config, data, dev, job["threads"], job["progress"])}
    with tempfile.TemporaryDirectory(prefix="imcpnn_run_") as tmp:
        metrics = train(config, tmp, device=dev, threads=job["threads"], progress=False, data=data)
        files = {f.name: f.read_bytes() for f in Path(tmp).iterdir() if f.is_file()}
    return {"metrics": metrics, "files": files}


def run_many(
    configs: Sequence[TrainConfig],
    profile: str,
    *,
    device: str | None = None,
    threads: int | None = None,
    progress: bool = True,
    run_progress: bool = False,
    desc: str = "training runs",
    executor: dict[str, Any] | None = None,
) -> list[RunResult]:
    """:func:`run` for every config, the missing runs as independent jobs of :func:`imcpnn.executor.run_jobs`.

    ``executor``: ``run_jobs`` settings, by default :func:`imcpnn.repro.profiles.env_settings` (``make all
    EXECUTOR=... WORKERS=... RAY_ADDRESS=...``; unset: one after the other in this process, exactly :func:`run`).
    ``progress``: a bar over the runs; ``run_progress``: each run's own bars (in-process runs only). Finished
    runs are read back by the driver; every job declares ``threads`` CPUs (one GPU on CUDA). The driver
    owns the cache: it prepares each folder, and writes the files a shipped run returns. Any failed run raises
    RuntimeError naming it, after the others have finished. Returns the results in ``configs`` order.
    """
    settings = dict(executor or env_settings())
    dev = resolve_device(device)
    in_process = settings["executor"] == "local" and settings["workers"] == 1
    ship = settings["executor"] == "ray" and settings.get("ray_address") is not None
    results: dict[TrainConfig, RunResult] = {}
    jobs = []
    for c in dict.fromkeys(configs):
        key, path, data = _prepared(c, profile, dev)
        done = _finished(path, c)
        if done is not None:
            results[c] = RunResult(c, path, done)
        else:
            jobs.append(
                {
                    "config": c,
                    "device": str(dev),
                    "key": key,
                    "path": str(path),
                    "threads": threads,
                    "progress": run_progress and in_process,
                    "ship": ship,
                    "check": not in_process,
                }
            )
    failed = []

    def store(rec: dict[str, Any]) -> None:  # the driver writes a shipped run into its cache folder
        c, path = rec["config"]["config"], Path(rec["config"]["path"])
        if rec["status"] != "ok":
            failed.append(f"{c}: {rec['error']}\n{rec.get('traceback', '')}")
            return
        if rec["result"].get("files") and _finished(path, c) is None:
            names = sorted(rec["result"]["files"], key=lambda n: n == "metrics.json")  # metrics.json last
            for name in names:
                atomic_write_bytes(path / name, lambda f, b=rec["result"]["files"][name]: f.write(b))
        results[c] = RunResult(c, path, rec["result"]["metrics"])

    run_jobs(
        run_job,
        jobs,
        **settings,
        num_cpus=threads or 1,
        num_gpus=1 if dev.type == "cuda" else 0,
        progress=progress,
        desc=desc,
        on_result=store,
    )
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(jobs)} training runs failed; the first: {failed[0]}")
    return [results[c] for c in configs]


@contextlib.contextmanager
def run_lock(folder: Path, *, poll_s: float = 2.0, grace_s: float = 30.0) -> Iterator[None]:
    """Hold ``folder/.lock`` (created exclusively, holding our pid) so that two processes sharing the run cache
    never train the same run at once: the second waits, then reads the finished run back. The lock of a process
    that is gone is taken over; an unreadable one is respected for ``grace_s`` seconds."""
    lock = folder / ".lock"
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid, age = int(lock.read_text().strip() or 0), time.time() - lock.stat().st_mtime
            except (OSError, ValueError):
                pid, age = 0, 0.0
            if (pid and process_alive(pid)) or (not pid and age < grace_s):
                time.sleep(poll_s)
            else:
                lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        break
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------- App. F baselines


def scale_values(lo: float = 0.5, hi: float = 2.0, step: float = 0.1) -> list[float]:
    """The App. F scaling grid: lo, lo + step, ..., hi (rounded to avoid float drift)."""
    if not (0 < lo <= hi and step > 0):
        raise ValueError(f"need 0 < lo <= hi and step > 0, got lo={lo}, hi={hi}, step={step}")
    n = int(round((hi - lo) / step)) + 1
    return [round(lo + i * step, 10) for i in range(n)]


def scale_grid(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    e_rev: Any,
    alphas: list[float],
    *,
    test_steps: int | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Accuracy on the full (alpha+, alpha-) grid: array [len(alphas) (alpha+), len(alphas) (alpha-)]."""
    acc = np.zeros((len(alphas), len(alphas)))
    for i, a_pos in enumerate(alphas):
        for j, a_neg in enumerate(alphas):
            acc[i, j] = evaluate(
                model, x, y, e_rev=e_rev, test_steps=test_steps, weight_scale=(a_pos, a_neg), seed=seed
            )
    return acc


def scale_search(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    e_rev: Any,
    *,
    step: float = 0.1,
    start: tuple[float, float] = (1.0, 1.0),
    lo: float = 0.1,
    hi: float = 5.0,
    test_steps: int | None = None,
    seed: int = 0,
    max_evals: int = 200,
) -> tuple[tuple[float, float], float, int]:
    """Greedy walk of App. F (arXiv 2412.09010v1, the scaled-ANN weight scales) on the ``step`` grid of
    (alpha+, alpha-), on :func:`imcpnn.search.search`: from ``start`` (rounded to 10 digits), move to the best of
    the 8 neighbours within [lo, hi] (1e-9 slack) while it is strictly better (ties among neighbours: the largest
    point; a tie with the current point: stay); no stage starts once ``max_evals`` points were evaluated, each
    point is evaluated once. Returns ((alpha+, alpha-), accuracy, number of evaluations)."""

    def objective(points: list) -> list[float]:
        return [evaluate(model, x, y, e_rev=e_rev, test_steps=test_steps, weight_scale=p, seed=seed) for p in points]

    spec = CoarseToFine(
        steps=(step,),
        neighbours="grid",
        minimise=False,
        bounds=(lo - 1e-9, hi + 1e-9),
        repeat_until_no_gain=True,
        max_evals=max_evals,
        round_to=10,
        ties="largest",
    )
    res = search(objective, [start], spec)
    return res.best, res.best_value, len(res.points)


def coarse_to_fine_scales(
    model,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    e_rev: Any,
    *,
    coarse: tuple[float, float, float] = (0.5, 3.0, 0.5),
    test_steps: int | None = None,
    seed: int = 0,
) -> tuple[tuple[float, float], float, int]:
    """The scaled-ANN weight scales of App. F, chosen on VALIDATION data: the best point of a coarse
    (alpha+, alpha-) grid, then a greedy walk on the 0.1 grid from it. Returns (scales, validation accuracy,
    evaluations)."""
    alphas = scale_values(*coarse)

    def objective(points: list) -> list[float]:
        return [
            evaluate(model, x_val, y_val, e_rev=e_rev, test_steps=test_steps, weight_scale=p, seed=seed) for p in points
        ]

    # the coarse grid (alpha+ outer, as :func:`scale_grid`) is one batch of start points and no stage: its best,
    # the first on ties (numpy's argmax over the grid)
    grid = search(objective, [(a, b) for a in alphas for b in alphas], CoarseToFine(minimise=False, round_to=10))
    scales, acc, n = scale_search(model, x_val, y_val, e_rev, start=grid.best, test_steps=test_steps, seed=seed)
    return scales, acc, n + len(grid.points)


def ann_baselines(
    models: list,
    e_values: list[float],
    val: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    *,
    coarse: tuple[float, float, float],
    search_steps: int | None,
) -> dict[float, dict[str, Any]]:
    """The ANN (models trained at |E| = 100, tested at |E|) and scaled-ANN baselines of Fig. 4f / App. F.

    The scales come from :func:`coarse_to_fine_scales` on ``val`` (at test M ``search_steps``); both
    baselines are then scored on ``test`` at the models' own test M. Per |E|: per-model test accuracies
    (fractions) and the chosen scales.
    """
    out: dict[float, dict[str, Any]] = {}
    for e in e_values:
        ann, scaled, scales = [], [], []
        for m in models:
            ann.append(evaluate(m, *test, e_rev=e))
            sc, _, _ = coarse_to_fine_scales(m, *val, e, coarse=coarse, test_steps=search_steps)
            scales.append(list(sc))
            scaled.append(evaluate(m, *test, e_rev=e, weight_scale=sc))
        out[e] = {"ann": ann, "scaled_ann": scaled, "scales": scales}
    return out


def best_on_validation(models: dict[Any, Any], val: tuple[torch.Tensor, torch.Tensor]) -> tuple[Any, dict]:
    """The key of the model with the best VALIDATION accuracy (ties: the first), and every validation
    accuracy (fractions). Used for "best |E|" choices (Table 3) so that the test set chooses nothing."""
    scores = {k: evaluate(m, *val) for k, m in models.items()}
    best = max(scores, key=lambda k: scores[k])
    return best, scores


# ------------------------------------------------------------------------------------------------ statistics


def t_interval(values: list[float] | np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Mean, sample std and the Student-t confidence interval of the mean of ``values`` (n >= 2; for n = 1
    the interval is unbounded)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    if v.size == 0:
        raise ValueError("values must hold at least one number")
    mean = float(v.mean())
    if v.size < 2:
        return {"mean": mean, "std": float("nan"), "lo": -math.inf, "hi": math.inf, "n": 1}
    std = float(v.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1)) * std / math.sqrt(v.size)
    return {"mean": mean, "std": std, "lo": mean - half, "hi": mean + half, "n": int(v.size)}


def sign_verdict(ci: dict[str, float], *, expected: str = "positive") -> str:
    """ "resolved" when the CI excludes 0 on the expected side, "resolved, opposite sign" when it excludes 0
    on the other side, else "not resolved at this budget"."""
    if expected not in ("positive", "negative"):
        raise ValueError(f"expected must be 'positive' or 'negative', got {expected!r}")
    pos, neg = ci["lo"] > 0, ci["hi"] < 0
    if (pos and expected == "positive") or (neg and expected == "negative"):
        return "resolved"
    if pos or neg:
        return "resolved, opposite sign"
    return "not resolved at this budget"


def equivalence_verdict(ci: dict[str, float], margin: float) -> str:
    """ "resolved" (equal within ``margin``) when the whole CI lies in [-margin, margin]; "resolved, not equal"
    when it lies entirely outside; else "not resolved at this budget"."""
    if ci["lo"] >= -margin and ci["hi"] <= margin:
        return "resolved"
    if ci["lo"] > margin or ci["hi"] < -margin:
        return "resolved, not equal"
    return "not resolved at this budget"


def paired_gap(a: dict[int, float], b: dict[int, float]) -> dict[str, Any]:
    """Per-seed differences a[s] - b[s] (in the given unit) over the seeds both have, with a t-interval."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise ValueError("a and b share no seed")
    diffs = [a[s] - b[s] for s in seeds]
    return {"seeds": seeds, "diffs": diffs, **t_interval(diffs)}


def welch_gap(a: list[float], b: list[float]) -> dict[str, Any]:
    """mean(a) - mean(b) with a Welch t-interval (unpaired samples; each needs n >= 2, else unbounded)."""
    from scipy import stats

    va, vb = np.asarray(a, float), np.asarray(b, float)
    mean = float(va.mean() - vb.mean())
    if va.size < 2 or vb.size < 2:
        return {"mean": mean, "lo": -math.inf, "hi": math.inf, "na": int(va.size), "nb": int(vb.size)}
    sa, sb = va.var(ddof=1) / va.size, vb.var(ddof=1) / vb.size
    se = math.sqrt(sa + sb)
    dof = (sa + sb) ** 2 / (sa**2 / (va.size - 1) + sb**2 / (vb.size - 1)) if se > 0 else 1.0
    half = float(stats.t.ppf(0.975, dof)) * se
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "na": int(va.size), "nb": int(vb.size)}


def slope_interval(x: list[float], y: list[float]) -> dict[str, float]:
    """Least-squares slope of y on x with its 95 % t-interval (n - 2 degrees of freedom)."""
    from scipy import stats

    res = stats.linregress(np.asarray(x, float), np.asarray(y, float))
    half = float(stats.t.ppf(0.975, len(x) - 2)) * float(res.stderr) if len(x) > 2 else math.inf
    return {"mean": float(res.slope), "lo": float(res.slope) - half, "hi": float(res.slope) + half, "n": len(x)}


def default_threads() -> int:
    """CPU threads for notebook runs: ``$IMCPNN_THREADS`` if set, else 1 (robust on a shared small CPU)."""
    v = os.environ.get("IMCPNN_THREADS")
    return int(v) if v else 1
