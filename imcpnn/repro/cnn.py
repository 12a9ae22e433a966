"""Convolutional RC-Spike networks ("VGG7") on CIFAR-10 and Fashion-MNIST (arXiv 2412.09010v1 Sec. 3.3, Fig. 5b-d;
App. D Fig. 11b, Fig. 12a-b and Table 3; App. E Fig. 13b; App. F Fig. 14b): profile budgets, the runs of every
panel, the ANN / scaled-ANN baselines, and the statistics that decide the peak-at-finite-|E| claim.

Training runs go through the run cache of :mod:`imcpnn.repro.fmnist_mlp` (:func:`~imcpnn.repro.fmnist_mlp.run`:
config + code fingerprint + data digest + device type), so a finished run is read back and any change retrains.

No test-set leakage: the scaled-ANN weight scales (App. F) and the best |E| of Table 3 are chosen on a validation
split carved from the TRAINING set (``TrainConfig.val_size``); the test subset only scores the choice. The
peak-at-finite-|E| claim is tested as a PRE-REGISTERED paired comparison at the paper's peak |E| ~ 3 (its
Discussion), against |E| = 100 (the ANN limit) and |E| = 1, over the seeds of ``peak_seeds``.

Choices where the paper is silent (documented in :data:`SETTINGS` and the notebook): epochs, LR schedule, the
augmentation parameters (:mod:`imcpnn.augment`: flip p = 1/2, rotation within +-10 degrees, crop with 4-pixel
padding on CIFAR-10 and 3 on Fashion-MNIST), time-min pooling and zero padding (:mod:`imcpnn.models`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np

from imcpnn.repro import fmnist_mlp as X
from imcpnn.repro.profiles import env_settings
from imcpnn.train import TrainConfig, evaluate

# ------------------------------------------------------------------------------------------------ budgets

_COMMON = dict(model="vgg7", lr_schedule="cosine", offset="random", test_offset="fixed", augment=True)

#: Per profile. ``base``: the CIFAR-10 runs (sigma_spike 0.01); ``fmnist``: overrides for the F-MNIST CNN.
#: ``e_grid``/``sweep_m``: the Fig. 5d |E| sweep (random offset); ``peak_seeds``: seeds at the |E| that decide the
#: peak claim (``peak_e``, ``ann_e``, ``low_e``), one seed (``seeds``) elsewhere. ``m_grid`` x ``m_e`` x both
#: offsets: Fig. 5b-c. ``sig12``: Fig. 12 (widths relative to ``base.width``); ``sig11``: Fig. 11b (F-MNIST).
#: An empty list means "not in this profile" (the panel is produced in ``paper`` only).
#: ``workers``: the profile's default count of parallel training jobs, one torch thread each (``make ... WORKERS=``
#: overrides it; :func:`run_all`).
#: ``quick`` (about 20 min on an idle 2-core CPU: two jobs of one torch thread): VGG7 at width 0.125 (channels
#: 8-8-16-16-32-32, 64 hidden), 4k CIFAR-10 training images (+ 300 held out for validation; F-MNIST: 2k), 3 epochs,
#: NO augmentation, Adam lr 2e-3 with a cosine decay, batch 32, training M = 4, test on 400 images at M = 10.
#: How the quick budget was chosen (issue #13; every number on the VALIDATION split, never on test): the former
#: budget (2k images, 2 epochs = 126 Adam steps, augmented) left the nets at chance (~14 % test). Diagnosis: not a
#: model defect (the |E| -> inf limit of the same net, written as a plain clip(Wx, 0, 1) CNN, learns exactly as
#: slowly: 20-23 % validation after 250 steps), but too few optimiser steps, and augmentation slowing an
#: UNDERFITTING net (train accuracy <= validation accuracy). In that ANN-limit surrogate (seed 0, 300 validation
#: images): 375 steps on 4k images reach 40 % unaugmented vs 34 % augmented (5k images); fresh images beat
#: repeated epochs at equal steps (4k x 4 epochs 43 % vs 2k x 8 epochs 38 %); width 0.0625 is ~2x cheaper but
#: reaches only 26 % at 375 steps; lr 3e-3/4e-3 are within noise of 2e-3, and lr 5e-3 made the RC-Spike net
#: (|E| = 3, augmented) collapse to chance, so 2e-3 is kept. Checked on the RC-Spike nets themselves (seed 0,
#: validation): |E| = 3 and |E| = 100 reach 35 % and 26 % after 2 of the 3 epochs. The cost (~0.3 s per Adam step
#: of this net on one idle core) fixes the rest: 12 + 3 CIFAR-10 runs and 6 F-MNIST runs, two at a time.
#: ``paper``: width 1 and 2, 50k/10k
#: (5k of the training set held out), 100 epochs (our choice: v1 gives none), Adam lr 1e-4 constant, batch 32,
#: M = 10 (Fig. 11/12) or 15 and 4 (Fig. 5d), test M = 30, 5 seeds, the paper's grids, augmented.
SETTINGS: dict[str, dict[str, Any]] = {
    "smoke": dict(
        base=dict(
            _COMMON,
            dataset="cifar10",
            width=0.0625,
            train_subset=64,
            test_subset=32,
            val_size=32,
            epochs=1,
            batch_size=32,
            lr=2e-3,
            steps=4,
            test_steps=4,
        ),
        fmnist=dict(dataset="fmnist", train_subset=64, test_subset=32, val_size=32),
        e_grid=[1.0, 3.0, 100.0],
        sweep_m=[4],
        peak_e=3.0,
        ann_e=100.0,
        low_e=1.0,
        peak_seeds=[0, 1],
        seeds=[0],
        m_grid=[2, 4],
        m_e=[1.0],
        workers=1,
        sig12=dict(widths=[], sigmas=[], e=[], steps=4),
        sig11=dict(sigmas=[0.0], e=[1.0, 3.0], steps=4),
        scale_e=[1.0, 3.0],
        ann_models=2,
        scale_n=16,
        coarse=(0.5, 1.5, 0.5),
        f14_e=2.0,
        f14_alphas=(0.5, 1.5, 0.5),
        f13_ms=[2, 4],
        f13_repeats=2,
        f13_n=32,
    ),
    "quick": dict(
        base=dict(
            _COMMON,
            dataset="cifar10",
            width=0.125,
            train_subset=4_000,
            test_subset=400,
            val_size=300,
            epochs=3,
            batch_size=32,
            lr=2e-3,
            steps=4,
            test_steps=10,
            augment=False,
        ),
        fmnist=dict(dataset="fmnist", train_subset=2_000),
        workers=2,
        e_grid=[1.0, 2.0, 3.0, 4.0, 10.0, 100.0],
        sweep_m=[4],
        peak_e=3.0,
        ann_e=100.0,
        low_e=1.0,
        peak_seeds=[0, 1, 2],
        seeds=[0],
        m_grid=[2, 4],
        m_e=[1.0],
        sig12=dict(widths=[], sigmas=[], e=[], steps=10),
        sig11=dict(sigmas=[0.0, 0.04], e=[1.0, 3.0, 100.0], steps=4),
        scale_e=[1.0, 2.0, 4.0],
        ann_models=1,
        scale_n=100,
        coarse=(0.5, 1.5, 0.5),
        f14_e=2.0,
        f14_alphas=(0.5, 1.5, 0.5),
        f13_ms=[2, 4, 10, 30],
        f13_repeats=2,
        f13_n=200,
    ),
    "paper": dict(
        base=dict(
            _COMMON,
            dataset="cifar10",
            width=1.0,
            train_subset=None,
            test_subset=None,
            val_size=5_000,
            epochs=100,
            batch_size=32,
            lr=1e-4,
            lr_schedule="constant",
            steps=15,
            test_steps=30,
        ),
        fmnist=dict(dataset="fmnist"),
        workers=1,
        e_grid=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 30.7, 100.0],
        sweep_m=[15, 4],
        peak_e=3.0,
        ann_e=100.0,
        low_e=1.0,
        peak_seeds=[0, 1, 2, 3, 4],
        seeds=[0, 1, 2, 3, 4],
        m_grid=[2, 3, 4, 6, 10, 15, 30],
        m_e=[4.0, 2.0, 1.0],
        sig12=dict(
            widths=[1.0, 2.0],
            sigmas=[0.0, 0.005, 0.01, 0.02, 0.04],
            e=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 17.0, 30.7, 100.0],
            steps=10,
        ),
        sig11=dict(
            sigmas=[0.0, 0.005, 0.01, 0.02, 0.04], e=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 17.0, 30.7, 100.0], steps=10
        ),
        scale_e=[1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 10.0],
        ann_models=5,
        scale_n=5_000,
        coarse=(0.5, 3.0, 0.3),
        f14_e=2.0,
        f14_alphas=(0.5, 3.0, 0.1),
        f13_ms=[2, 3, 4, 6, 10, 15, 20, 30, 40],
        f13_repeats=10,
        f13_n=10_000,
    ),
}


def settings(profile: str) -> dict[str, Any]:
    """The budget of ``profile`` (a copy)."""
    if profile not in SETTINGS:
        raise ValueError(f"profile must be one of {tuple(SETTINGS)}, got {profile!r}")
    return json.loads(json.dumps(SETTINGS[profile]))


def base_config(s: dict[str, Any], dataset: str = "cifar10", **kw: Any) -> TrainConfig:
    """The base run of a profile on ``dataset`` (``cifar10`` or ``fmnist``), with ``kw`` overrides."""
    if dataset not in ("cifar10", "fmnist"):
        raise ValueError(f"dataset must be 'cifar10' or 'fmnist', got {dataset!r}")
    c = TrainConfig(**s["base"])
    if dataset == "fmnist":
        c = c.replace(**s["fmnist"])
    return c.replace(**kw)


def e_seeds(s: dict[str, Any], e: float) -> list[int]:
    """Seeds of the Fig. 5d sweep at |E| = ``e``: ``peak_seeds`` at the three |E| that decide the peak claim."""
    return list(s["peak_seeds"]) if e in (s["peak_e"], s["ann_e"], s["low_e"]) else list(s["seeds"])


def sweep_configs(s: dict[str, Any]) -> dict[tuple[int, float, int], TrainConfig]:
    """Fig. 5d: (M, |E|, seed) -> run (random offset, sigma 0.01)."""
    return {
        (m, e, sd): base_config(s, e_rev=e, steps=m, seed=sd)
        for m in s["sweep_m"]
        for e in s["e_grid"]
        for sd in e_seeds(s, e)
    }


def offset_configs(s: dict[str, Any]) -> dict[tuple[float, int, str], TrainConfig]:
    """Fig. 5b-c: (|E|, M, offset) -> run (seed 0)."""
    return {
        (e, m, off): base_config(s, e_rev=e, steps=m, offset=off)
        for e in s["m_e"]
        for m in s["m_grid"]
        for off in ("random", "fixed")
    }


def sigma_configs(s: dict[str, Any], dataset: str) -> dict[tuple[float, float, float], TrainConfig]:
    """Fig. 12a-b (``cifar10``; widths relative to the base width) or Fig. 11b (``fmnist``, base width):
    (width multiplier, sigma, |E|) -> run (random offset, seed 0)."""
    if dataset == "cifar10":
        sg, widths = s["sig12"], s["sig12"]["widths"]
    else:
        sg, widths = s["sig11"], [1.0]
    w0 = s["base"]["width"]
    return {
        (w, sigma, e): base_config(s, dataset, e_rev=e, steps=sg["steps"], sigma_spike=sigma, width=w0 * w)
        for w in widths
        for sigma in sg["sigmas"]
        for e in sg["e"]
    }


def all_configs(s: dict[str, Any]) -> list[TrainConfig]:
    """Every distinct run of the profile, the runs that decide the peak claim first."""
    out: list[TrainConfig] = []
    for group in (sweep_configs(s), offset_configs(s), sigma_configs(s, "fmnist"), sigma_configs(s, "cifar10")):
        out += [c for c in group.values() if c not in out]
    return out


def run_all(
    configs: Iterable[TrainConfig],
    profile: str,
    *,
    threads: int,
    device: str | None = None,
    progress: bool = True,
    workers: int = 1,
) -> dict[TrainConfig, X.RunResult]:
    """Train (or read back) every config through the run cache, the missing ones as independent jobs of the
    executor (:func:`imcpnn.repro.fmnist_mlp.run_many`; settings from ``make ... EXECUTOR= WORKERS=``, else
    ``workers`` local jobs: the profile's ``workers``); returns config -> result."""
    configs = list(configs)
    ex = env_settings(default_workers=workers)
    return dict(
        zip(
            configs,
            X.run_many(
                configs, profile, device=device, threads=threads, progress=progress, desc="CNN runs", executor=ex
            ),
            strict=True,
        )
    )


# ------------------------------------------------------------------------------------------------ analyses


def pct(results: Iterable[X.RunResult]) -> list[float]:
    """Final test accuracies in %."""
    return [100.0 * r.final_accuracy for r in results]


def peak_test(acc: dict[float, dict[int, float]], peak_e: float, ann_e: float, low_e: float) -> dict[str, Any]:
    """The peak-at-finite-|E| claim (Fig. 5d; Discussion: "maximized when |E| ~ 3"): paired per-seed gaps
    acc(peak_e) - acc(ann_e) and acc(peak_e) - acc(low_e) (in points), each with a 95 % t-interval.

    ``verdict``: "resolved" when both intervals lie above 0 (an interior peak), "resolved, opposite sign" when
    the first lies below 0 (the ANN limit is better: no benefit of the nonideality), else
    "not resolved at this budget".
    """
    vs_ann = X.paired_gap(acc[peak_e], acc[ann_e])
    vs_low = X.paired_gap(acc[peak_e], acc[low_e])
    a, b = X.sign_verdict(vs_ann), X.sign_verdict(vs_low)
    if a == "resolved" and b == "resolved":
        verdict = "resolved"
    elif a == "resolved, opposite sign":
        verdict = "resolved, opposite sign"
    else:
        verdict = "not resolved at this budget"
    return {"peak_e": peak_e, "vs_ann": vs_ann, "vs_low": vs_low, "verdict": verdict}


def best_e_on_validation(models: dict[float, list], val: tuple) -> tuple[float, dict[float, float]]:
    """The |E| whose models have the best mean VALIDATION accuracy (Table 3's "best |E|", chosen without the
    test set), and every mean validation accuracy (fractions)."""
    scores = {e: float(np.mean([evaluate(m, *val) for m in ms])) for e, ms in models.items()}
    return max(scores, key=lambda e: scores[e]), scores


def test_m_curve(model, x, y, ms: list[int], repeats: int) -> dict[int, list[float]]:
    """App. E (Fig. 13b): test accuracy (%) of one trained model at each test-time M, ``repeats`` evaluations
    (each with its own spike-noise seed)."""
    return {m: [100.0 * evaluate(model, x, y, test_steps=m, seed=r) for r in range(repeats)] for m in ms}


def scale_panel(
    model, val: tuple, test: tuple, e: float, alphas: list[float], *, test_steps: int | None = None
) -> dict[str, Any]:
    """App. F (Fig. 14b): the (alpha+, alpha-) grid of an ANN-trained model tested at |E| = ``e``; the marked
    point is the best on VALIDATION, the grid shown is the TEST accuracy (%)."""
    g_val = X.scale_grid(model, *val, e, alphas, test_steps=test_steps)
    g_test = X.scale_grid(model, *test, e, alphas, test_steps=test_steps)
    i, j = np.unravel_index(np.argmax(g_val), g_val.shape)
    return {
        "e_rev": e,
        "alphas": alphas,
        "test": (100 * g_test).tolist(),
        "val": (100 * g_val).tolist(),
        "best_on_validation": [alphas[i], alphas[j]],
        "test_at_best": 100 * float(g_test[i, j]),
        "test_at_1_1": 100 * float(g_test[alphas.index(1.0), alphas.index(1.0)]) if 1.0 in alphas else None,
    }


def cli_command(c: TrainConfig) -> str:
    """The ``python -m imcpnn train ...`` line that trains run ``c`` alone (same config, hence the same numbers on
    CPU with one thread), e.g. the quick profile's |E| = 3 run::

        python -m imcpnn train --dataset cifar10 --model vgg7 --width 0.125 --erev 3 --steps 4 --offset random \\
            --test-steps 10 --test-offset fixed --sigma-spike 0.01 --epochs 3 --batch-size 32 --lr 0.002 \\
            --lr-schedule cosine --seed 0 --train-subset 4000 --test-subset 400 --subset-seed 0 --val-size 300 \\
            --threads 1
    """
    e = c.e_rev if not isinstance(c.e_rev, tuple) else ",".join(f"{v:g}" for v in c.e_rev)
    parts = [
        "python -m imcpnn train",
        f"--dataset {c.dataset}",
        f"--model {c.model}",
        f"--width {c.width:g}",
        f"--erev {e:g}" if not isinstance(e, str) else f"--erev {e}",
        f"--steps {c.steps}",
        f"--offset {c.offset}",
        f"--test-steps {c.test_steps}",
        f"--test-offset {c.test_offset}",
        f"--sigma-spike {c.sigma_spike:g}",
        f"--epochs {c.epochs}",
        f"--batch-size {c.batch_size}",
        f"--lr {c.lr:g}",
        f"--lr-schedule {c.lr_schedule}",
        f"--seed {c.seed}",
        f"--train-subset {c.train_subset or 'all'}",
        f"--test-subset {c.test_subset or 'all'}",
        f"--subset-seed {c.subset_seed}",
        f"--val-size {c.val_size}",
    ]
    if c.augment:
        parts.append("--augment")
    return " ".join(parts + ["--threads 1"])


def describe(c: TrainConfig, seeds: Any = 1) -> str:
    """A short text of the settings that produced a number (for REPRODUCTION rows)."""
    n_tr = c.train_subset or ((50_000 if c.dataset == "cifar10" else 60_000) - c.val_size)
    n_te = c.test_subset or 10_000
    return (
        f"{c.dataset} VGG7 width {c.width:g}, {n_tr} train / {n_te} test images ({c.val_size} val), "
        f"{c.epochs} epochs, Adam lr {c.lr:g} {c.lr_schedule}, batch {c.batch_size}, M = {c.steps} "
        f"({c.offset}), test M = {c.test_steps}, sigma {c.sigma_spike:g}, augment {c.augment}; seeds: {seeds}"
    )
