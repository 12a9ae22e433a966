"""Command line: ``python -m imcpnn train ...`` (also the ``imcpnn`` console script).

Example (the paper's Fashion-MNIST MLP at |E| = 4, M = 3, random offset, 50 epochs)::

    python -m imcpnn train --dataset fmnist --model mlp --erev 4 --steps 3 --offset random --epochs 50 \\
        --out runs/cli/fmnist_mlp_e4

The quick-profile headline run of notebooks/03_fmnist_mlp.py (89 % in 4 epochs on a CPU)::

    python -m imcpnn train --erev 4 --steps 3 --epochs 4 --batch-size 128 --lr 1e-3 --lr-schedule cosine \\
        --threads 1 --out runs/cli/fmnist_mlp_quick

Rerunning the same command resumes after the last finished epoch. ``python -m imcpnn report`` renders
REPRODUCTION.md (same as ``python -m imcpnn.repro.report``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from imcpnn.train import DATASETS, LR_SCHEDULES, OFFSETS, TrainConfig, parse_erev, train


def _int_at_least(lo: int):
    def conv(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {s!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo}, got {s!r}")
        return v

    return conv


def _subset(s: str) -> int | None:
    if s.lower() in ("none", "all", "0"):
        return None
    return _int_at_least(1)(s)


def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {s!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {s!r}")
    return v


def _nonneg_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {s!r}") from None
    if not (v >= 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {s!r}")
    return v


def _erev(s: str):
    try:
        return parse_erev(s)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="imcpnn", description="IMC-aware physical neural networks (arXiv 2412.09010)")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train an RC-Spike network (resumes if --out holds the same run)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    t.add_argument("--dataset", choices=DATASETS, default=d.dataset)
    t.add_argument("--model", choices=("mlp", "vgg7"), default=d.model)
    t.add_argument("--erev", type=_erev, default=d.e_rev, help="|E| (e.g. 4, inf) or 'E+,E-' (e.g. 2.8,-1.53)")
    t.add_argument("--steps", type=_int_at_least(2), default=d.steps, help="DSTD grid points M in training")
    t.add_argument("--offset", choices=OFFSETS, default=d.offset, help="DSTD offset in training")
    t.add_argument("--test-steps", type=_int_at_least(2), default=d.test_steps, help="DSTD M at test")
    t.add_argument("--test-offset", choices=OFFSETS, default=d.test_offset, help="DSTD offset at test")
    t.add_argument("--sigma-spike", type=_nonneg_float, default=d.sigma_spike, help="spike-time noise std")
    t.add_argument("--epochs", type=_int_at_least(1), default=d.epochs)
    t.add_argument("--batch-size", type=_int_at_least(1), default=d.batch_size)
    t.add_argument("--lr", type=_positive_float, default=d.lr, help="Adam learning rate")
    t.add_argument("--lr-schedule", choices=LR_SCHEDULES, default=d.lr_schedule,
                   help="constant (the paper) or cosine decay to 0 over all epochs (our quick profile)")
    t.add_argument("--seed", type=_int_at_least(0), default=d.seed)
    t.add_argument("--train-subset", type=_subset, default=None, help="train on this many samples (default all)")
    t.add_argument("--test-subset", type=_subset, default=None, help="test on this many samples (default all)")
    t.add_argument("--subset-seed", type=_int_at_least(0), default=d.subset_seed)
    t.add_argument("--width", type=_positive_float, default=d.width, help="hidden-width multiplier")
    t.add_argument("--init-gain", type=_positive_float, default=d.init_gain)
    t.add_argument("--tau-soft", type=_positive_float, default=d.tau_soft)
    t.add_argument("--gamma1", type=_nonneg_float, default=d.gamma1)
    t.add_argument("--t-ref", type=_nonneg_float, default=d.t_ref)
    t.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    t.add_argument("--threads", type=_int_at_least(1), default=None, help="torch CPU threads")
    t.add_argument("--out", type=Path, default=None, help="run folder (default runs/cli/<config hash>)")
    t.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    sub.add_parser("report", help="render REPRODUCTION.md from results/*.json")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "report":
        from imcpnn.repro import report

        report.main([])
        return 0
    try:
        config = TrainConfig(
            dataset=args.dataset, model=args.model, e_rev=args.erev, steps=args.steps, offset=args.offset,
            test_steps=args.test_steps, test_offset=args.test_offset, sigma_spike=args.sigma_spike,
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, lr_schedule=args.lr_schedule, seed=args.seed,
            train_subset=args.train_subset, test_subset=args.test_subset, subset_seed=args.subset_seed,
            width=args.width, init_gain=args.init_gain, tau_soft=args.tau_soft, gamma1=args.gamma1,
            t_ref=args.t_ref,
        )  # fmt: skip
    except ValueError as err:
        parser.error(str(err))
    out = args.out or Path("runs") / "cli" / config.key()
    try:
        metrics = train(config, out, device=args.device, threads=args.threads, progress=not args.no_progress)
    except ValueError as err:
        parser.error(str(err))
    last = metrics["epochs"][-1]
    print(json.dumps({"out": str(out), "epochs": len(metrics["epochs"]), "test_accuracy": last["test_accuracy"],
                      "train_loss": last["train_loss"]}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
