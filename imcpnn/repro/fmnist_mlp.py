"""Run-by-config cache and the App. F baselines used by the notebooks.

``run(config, profile)`` trains ``config`` in ``runs/<profile>/<config hash>/`` (``build/smoke/runs/...`` for
the smoke profile), or just reads it back when that run has finished: re-executing a notebook only re-plots.
An interrupted run resumes (see :mod:`imcpnn.train`).

Baselines (App. F, PAPER.md §3.7): the "ANN" is a model trained at |E| = 100 and evaluated at other |E|; the
"scaled ANN" is the same model with positive / negative weights scaled by (alpha+, alpha-), chosen per |E| on
a 0.1 grid (:func:`scale_grid` for the full grid, :func:`scale_search` for a cheaper greedy walk on it).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from imcpnn.repro import profiles
from imcpnn.train import TrainConfig, evaluate, load_data, load_model, train

_DATA_CACHE: dict[tuple, tuple[torch.Tensor, ...]] = {}


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


def run_dir(config: TrainConfig, profile: str) -> Path:
    """``<runs of the profile>/<config hash>``."""
    return profiles.output_dirs(profile).runs / config.key()


def cached_data(config: TrainConfig) -> tuple[torch.Tensor, ...]:
    """Load (and keep in memory) the data of a config: runs of a sweep share their tensors."""
    key = (config.dataset, config.train_subset, config.test_subset, config.subset_seed)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = load_data(config)
    return _DATA_CACHE[key]


def run(
    config: TrainConfig,
    profile: str,
    *,
    device: str | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> RunResult:
    """Train ``config`` (or resume it, or read it back when finished) under the profile's run cache."""
    path = run_dir(config, profile)
    done = path / "metrics.json"
    if done.exists():
        import json

        metrics = json.loads(done.read_text())
        if len(metrics.get("epochs", [])) >= config.epochs:
            return RunResult(config, path, metrics)
    metrics = train(config, path, device=device, threads=threads, progress=progress, data=cached_data(config))
    return RunResult(config, path, metrics)


def is_cached(config: TrainConfig, profile: str) -> bool:
    """True if ``run(config, profile)`` would only read back a finished run."""
    p = run_dir(config, profile) / "metrics.json"
    if not p.exists():
        return False
    import json

    return len(json.loads(p.read_text()).get("epochs", [])) >= config.epochs


def scale_values(lo: float = 0.5, hi: float = 2.0, step: float = 0.1) -> list[float]:
    """The App. F scaling grid: lo, lo + step, ..., hi (rounded to avoid float drift)."""
    if not (0 < lo <= hi and step > 0):
        raise ValueError(f"need 0 < lo <= hi and step > 0, got lo={lo}, hi={hi}, step={step}")
    n = int(round((hi - lo) / step)) + 1
    return [round(lo + i * step, 10) for i in range(n)]


def scale_grid(model, x: torch.Tensor, y: torch.Tensor, e_rev: Any, alphas: list[float], *,
               test_steps: int | None = None, seed: int = 0) -> np.ndarray:  # fmt: skip
    """Accuracy on the full (alpha+, alpha-) grid: array [len(alphas) (alpha+), len(alphas) (alpha-)]."""
    acc = np.zeros((len(alphas), len(alphas)))
    for i, a_pos in enumerate(alphas):
        for j, a_neg in enumerate(alphas):
            acc[i, j] = evaluate(model, x, y, e_rev=e_rev, test_steps=test_steps, weight_scale=(a_pos, a_neg),
                                 seed=seed)  # fmt: skip
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
    """Greedy walk on the 0.1 grid of (alpha+, alpha-): from ``start``, move to the best of the 8 neighbours
    while it improves (ties: stay). Returns ((alpha+, alpha-), accuracy, number of evaluations)."""
    cache: dict[tuple[float, float], float] = {}

    def acc(p: tuple[float, float]) -> float:
        if p not in cache:
            cache[p] = evaluate(model, x, y, e_rev=e_rev, test_steps=test_steps, weight_scale=p, seed=seed)
        return cache[p]

    cur = (round(start[0], 10), round(start[1], 10))
    best = acc(cur)
    while len(cache) < max_evals:
        nbrs = [(round(cur[0] + da * step, 10), round(cur[1] + db * step, 10))
                for da in (-1, 0, 1) for db in (-1, 0, 1) if (da, db) != (0, 0)]  # fmt: skip
        nbrs = [p for p in nbrs if lo - 1e-9 <= p[0] <= hi + 1e-9 and lo - 1e-9 <= p[1] <= hi + 1e-9]
        scored = [(acc(p), p) for p in nbrs]
        a, p = max(scored)
        if a <= best:
            break
        best, cur = a, p
    return cur, best, len(cache)


def subset(x: torch.Tensor, y: torch.Tensor, n: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` samples (all if None)."""
    return (x, y) if n is None else (x[:n], y[:n])


def default_threads() -> int:
    """CPU threads for notebook runs: ``$IMCPNN_THREADS`` if set, else 1 (robust on a shared small CPU)."""
    v = os.environ.get("IMCPNN_THREADS")
    return int(v) if v else 1
