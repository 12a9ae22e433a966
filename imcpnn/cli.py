"""The train command: ``python -m imcpnn train ...`` (also the ``imcpnn`` console script; ``imcpnn sweep`` runs
lists of the same flags, see :mod:`imcpnn.sweep`).

Example (the paper's Fashion-MNIST MLP at |E| = 4, M = 3, random offset, 50 epochs)::

    python -m imcpnn train --dataset fmnist --model mlp --erev 4 --steps 3 --offset random --epochs 50 \\
        --out runs/cli/fmnist_mlp_e4

The quick-profile headline run of notebooks/03_fmnist_mlp.py (89 % in 4 epochs on a CPU)::

    python -m imcpnn train --erev 4 --steps 3 --epochs 4 --batch-size 128 --lr 1e-3 --lr-schedule cosine \\
        --threads 1 --out runs/cli/fmnist_mlp_quick

Rerunning the same command resumes after the last finished epoch. Without ``--out`` the run folder is
``runs/cli/<hash of config, code fingerprint and data digest>``. REPRODUCTION.md is rendered by the
reproduction harness, ``python -m imcpnn.repro.report`` (the library does not import it).

Every bad input (a flag, the data, the run folder, its checkpoint) ends the command with a non-zero exit
status and one line on stderr naming the flag or file: status 2 for a bad flag, 1 for a failure at run time
(missing or corrupt data, an unusable checkpoint, a full disk), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from imcpnn.train import DATASETS, LR_SCHEDULES, OFFSETS, TrainConfig, default_config, parse_erev, train

PROG = "imcpnn train"
_FLAG = {"e_rev": "--erev"}  # config field -> flag where the names differ


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block): ``imcpnn train: error: argument --x: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Failure(Exception):
    """A bad input found after parsing: ``message`` (one line) and the exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) < 2000 else text[:2000] + " ..."


def _flagged(message: str) -> str:
    """Prefix a TrainConfig error (``lr must be ...``) with the flag of the field it names."""
    m = re.match(r"([a-z_0-9]+)\b", message)
    fields = set(TrainConfig.__dataclass_fields__)
    if m and m[1] in fields:
        return f"argument {_FLAG.get(m[1], '--' + m[1].replace('_', '-'))}: {message}"
    return message


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
    if s.strip().lower() in ("none", "all"):
        return None
    try:
        v = int(s)
    except ValueError:
        v = 0
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1 or 'all', got {s!r}")
    return v


def _out_path(s: str) -> Path:
    if not s.strip():
        raise argparse.ArgumentTypeError("must be a folder path, got ''")
    return Path(s).expanduser()


def _device(s: str) -> str:
    if s in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", s):
        return s
    raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, got {s!r}")


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


def build_parser(model: str = "mlp") -> argparse.ArgumentParser:
    """The CLI; its defaults are the paper's settings of ``model`` (``default_config``: TTFS ones for
    ``ttfs-cnn``)."""
    d = default_config(model if model in ("mlp", "vgg7", "ttfs-cnn") else "mlp")
    p = _Parser(
        prog="imcpnn",
        description="IMC-aware physical neural networks (arXiv 2412.09010)",
        epilog="REPRODUCTION.md: python -m imcpnn.repro.report",
    )
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser(
        "train",
        help="train an RC-Spike network (resumes if --out holds the same run)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    t.add_argument("--dataset", choices=DATASETS, default=d.dataset)
    t.add_argument(
        "--model",
        choices=("mlp", "vgg7", "ttfs-cnn"),
        default=d.model,
        help="defaults of the other flags follow the model (TTFS settings for ttfs-cnn)",
    )
    t.add_argument("--erev", type=_erev, default=d.e_rev, help="|E| (e.g. 4, inf) or 'E+:E-' (e.g. 2.8:-1.53)")
    t.add_argument("--steps", type=_int_at_least(2), default=d.steps, help="DSTD grid points M in training")
    t.add_argument("--offset", choices=OFFSETS, default=d.offset, help="DSTD offset in training")
    t.add_argument("--test-steps", type=_int_at_least(2), default=d.test_steps, help="DSTD M at test")
    t.add_argument("--test-offset", choices=OFFSETS, default=d.test_offset, help="DSTD offset at test")
    t.add_argument("--sigma-spike", type=_nonneg_float, default=d.sigma_spike, help="spike-time noise std")
    t.add_argument("--epochs", type=_int_at_least(1), default=d.epochs)
    t.add_argument("--batch-size", type=_int_at_least(1), default=d.batch_size)
    t.add_argument("--lr", type=_positive_float, default=d.lr, help="Adam learning rate")
    t.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default=d.lr_schedule,
        help="constant (the paper) or cosine decay to 0 over all epochs (our quick profile)",
    )
    t.add_argument("--seed", type=_int_at_least(0), default=d.seed)
    t.add_argument("--train-subset", type=_subset, default=None, help="train on this many samples (default all)")
    t.add_argument("--test-subset", type=_subset, default=None, help="test on this many samples (default all)")
    t.add_argument("--subset-seed", type=_int_at_least(0), default=d.subset_seed)
    t.add_argument("--width", type=_positive_float, default=d.width, help="hidden-width multiplier")
    t.add_argument(
        "--val-size",
        type=_int_at_least(0),
        default=d.val_size,
        help="hold out this many TRAINING samples for validation (excluded from training)",
    )
    t.add_argument("--augment", action="store_true", help="flip / rotate / crop every mini-batch (imcpnn.augment)")
    t.add_argument("--init-gain", type=_positive_float, default=d.init_gain)
    t.add_argument("--tau-soft", type=_positive_float, default=d.tau_soft)
    t.add_argument("--gamma1", type=_nonneg_float, default=d.gamma1)
    t.add_argument("--t-ref", type=_nonneg_float, default=d.t_ref)
    t.add_argument("--gamma2", type=_nonneg_float, default=d.gamma2, help="TTFS firing regulariser Q (Eq. 53)")
    t.add_argument("--device", type=_device, default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    t.add_argument("--threads", type=_int_at_least(1), default=None, help="torch CPU threads")
    t.add_argument(
        "--out", type=_out_path, default=None, help="run folder (default runs/cli/<hash of config, code and data>)"
    )
    t.add_argument("--no-progress", action="store_true", help="no tqdm bars")
    return p


def _check_out(out: Path) -> None:
    """The run folder: creatable, a folder, writable; else :class:`_Failure` naming ``--out``."""
    if out.exists() and not out.is_dir():
        raise _Failure(f"argument --out: {out} exists and is not a folder", 2)
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise _Failure(f"argument --out: cannot write to the folder {out} ({err.strerror or err})", 2) from None


def _load_data(config: TrainConfig):
    from imcpnn.data import DatasetNotFoundError
    from imcpnn.train import load_data

    try:
        return load_data(config)
    except DatasetNotFoundError as err:
        raise _Failure(_one_line(err)) from None
    except ValueError as err:
        msg = _one_line(err)
        m = re.search(r"subset must be .*in \[1, (\d+)\]", msg)
        if m:  # name the flag whose subset is larger than the dataset
            n = int(m[1])
            flag = "--train-subset" if (config.train_subset or 0) > n else "--test-subset"
            raise _Failure(f"argument {flag}: must be at most {n} for {config.dataset} ({msg})", 2) from None
        raise _Failure(msg) from None
    except OSError as err:
        raise _Failure(f"reading the {config.dataset} data failed: {_one_line(err)}") from None


def _default_out(config: TrainConfig, data, device: str) -> Path:
    """``runs/cli/<hash>``: config + code fingerprint + data digest (a cached run may be reused only if all
    three match)."""
    from imcpnn.store import run_key, tensor_digest

    return Path("runs") / "cli" / run_key("train", config.to_dict(), data=tensor_digest(*data), device=device).digest()


def _train(args: argparse.Namespace) -> tuple[dict, Path]:
    try:
        config = TrainConfig(
            dataset=args.dataset,
            model=args.model,
            e_rev=args.erev,
            steps=args.steps,
            offset=args.offset,
            test_steps=args.test_steps,
            test_offset=args.test_offset,
            sigma_spike=args.sigma_spike,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            lr_schedule=args.lr_schedule,
            seed=args.seed,
            train_subset=args.train_subset,
            test_subset=args.test_subset,
            subset_seed=args.subset_seed,
            width=args.width,
            init_gain=args.init_gain,
            tau_soft=args.tau_soft,
            gamma1=args.gamma1,
            t_ref=args.t_ref,
            val_size=args.val_size,
            augment=args.augment,
            gamma2=args.gamma2,
        )
    except ValueError as err:
        raise _Failure(_flagged(_one_line(err)), 2) from None
    from imcpnn.train import resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as err:
        raise _Failure(f"argument --device: {_one_line(err)}", 2) from None
    from imcpnn.train import CheckpointError, load_checkpoint

    if args.out is not None:
        _check_out(args.out)
        try:
            load_checkpoint(args.out)  # an unusable checkpoint fails before the data are loaded
        except CheckpointError as err:
            raise _Failure(_one_line(err)) from None
    data = _load_data(config)
    out = args.out if args.out is not None else _default_out(config, data, device)
    _check_out(out)
    try:
        metrics = train(config, out, device=device, threads=args.threads, progress=not args.no_progress, data=data)
    except CheckpointError as err:
        raise _Failure(_one_line(err)) from None
    except ValueError as err:
        raise _Failure(_flagged(_one_line(err)), 2) from None
    except FloatingPointError as err:
        raise _Failure(f"training diverged: {_one_line(err)} (try a smaller --lr)") from None
    except OSError as err:
        raise _Failure(_one_line(err)) from None
    except KeyboardInterrupt:
        raise _Failure(
            f"interrupted; rerun the same command to resume {out} after its last finished epoch", 130
        ) from None
    return metrics, out


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model", default="mlp")
    parser = build_parser(pre.parse_known_args(argv)[0].model)
    args = parser.parse_args(argv)
    try:
        metrics, out = _train(args)
    except _Failure as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return err.status
    last = metrics["epochs"][-1]
    print(
        json.dumps(
            {
                "out": str(out),
                "epochs": len(metrics["epochs"]),
                "test_accuracy": last["test_accuracy"],
                "train_loss": last["train_loss"],
            }
        )
    )
    return 0
