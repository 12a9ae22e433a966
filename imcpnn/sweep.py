"""``python -m imcpnn sweep``: the Cartesian product of ``train`` flags, run through :mod:`imcpnn.executor`.

Every flag of ``imcpnn train`` that is part of the run's config takes a comma-separated list; the sweep runs
every combination (in flag order, the last flag varying fastest). An asymmetric reversal potential is written
``E+:E-`` in a list (``--erev 4,2.8:-1.53``). Example::

    python -m imcpnn sweep --dataset fmnist --model mlp --erev 1,4,inf --steps 3 --epochs 1 \\
        --train-subset 500 --test-subset 200 --seed 0,1 --executor ray --workers 2 --out DIR

Output, all written by the driver (the workers need no shared filesystem):

* ``DIR/<key>/``: one run folder per job, as ``imcpnn train --out`` writes it (``config.json``,
  ``metrics.json``, ``checkpoint.pt`` with the final weights; :func:`imcpnn.train.load_model` reads it), written
  as soon as its job finishes. ``key`` hashes the config, the code fingerprint and the data digest, so a rerun
  computes only the jobs that are missing or stale (another config, other code, other data).
* ``DIR/sweep.json``: a list, one entry per job, ``{"config", "metrics", "status", "run"}`` (``metrics`` as in
  the train command's ``metrics.json``, with the per-epoch ``test_accuracy``); a failed job has ``"status":
  "failed"``, ``"metrics": null`` and its ``error`` and ``traceback``. The exit status is 1 if any job failed.

Every job trains with ``--threads`` torch threads (default 1 = its one declared CPU), so ``--executor local``
and ``--executor ray`` give bit-identical metrics on CPU. Jobs on CUDA (``--device cuda``, or ``auto`` on a
driver with CUDA) declare one GPU each.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import torch

from imcpnn.executor import EXECUTORS, RayNotInstalledError, run_jobs
from imcpnn.train import TrainConfig, default_config

PROG = "imcpnn sweep"
_NOT_SWEPT = {"device", "threads", "out", "no_progress", "help"}  # train flags that are not part of the config
_FIELD = {"erev": "e_rev"}  # flag dest -> TrainConfig field where the names differ
_DATA_FIELDS = ("dataset", "train_subset", "test_subset", "subset_seed", "val_size")  # what load_data depends on


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _train_actions() -> list[argparse.Action]:
    """The ``train`` subcommand's flags (imcpnn/cli.py is the one definition of them)."""
    from imcpnn.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [a for a in sub.choices["train"]._actions if a.dest not in _NOT_SWEPT]


def build_parser() -> tuple[argparse.ArgumentParser, list[argparse.Action]]:
    actions = _train_actions()
    p = _Parser(
        prog=PROG,
        description="Run the Cartesian product of train flags (comma-separated lists) through "
        "the local or Ray executor; writes DIR/sweep.json and one run folder per job.",
    )
    for a in actions:
        help_text = (a.help or "") + (" (comma-separated list)" if a.nargs != 0 else "")
        p.add_argument(
            *a.option_strings,
            dest=a.dest,
            default=None,
            help=help_text,
            **({"action": "store_true"} if a.nargs == 0 else {"type": str}),
        )
    p.add_argument("--out", required=True, help="sweep folder: DIR/sweep.json and DIR/<run key>/")
    p.add_argument("--executor", choices=EXECUTORS, default="local", help="local processes or a Ray cluster")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="local: processes (1 = in-process); ray: CPUs of a local cluster started when --ray-address is not given",
    )
    p.add_argument("--ray-address", default=None, help="'auto' joins the running Ray cluster; none starts a local one")
    p.add_argument("--max-retries", type=int, default=3, help="Ray: reruns of a job whose worker process died")
    p.add_argument("--device", default="auto", help="auto (CUDA when the driver has it), cpu, cuda")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (and CPUs declared) per job")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")
    return p, actions


def _values(action: argparse.Action, text: str) -> list[Any]:
    """Convert one comma-separated flag value with the train flag's own type and choices."""
    flag = action.option_strings[-1]
    out = []
    for item in text.split(","):
        item = item.strip()
        try:
            v = action.type(item) if action.type is not None else item
        except (argparse.ArgumentTypeError, ValueError, TypeError) as err:
            raise ValueError(f"argument {flag}: {err}") from None
        if action.choices is not None and v not in action.choices:
            raise ValueError(f"argument {flag}: invalid choice {item!r} (choose from {', '.join(action.choices)})")
        out.append(v)
    return out


def configs_from_args(args: argparse.Namespace, actions: list[argparse.Action]) -> list[TrainConfig]:
    """The Cartesian product of the given flags (others at the train defaults), duplicates removed, in order."""
    grid: list[tuple[str, list[Any]]] = []
    for a in actions:
        raw = getattr(args, a.dest)
        if a.nargs == 0:
            if raw:
                grid.append((a.dest, [True]))
        elif raw is not None:
            grid.append((a.dest, _values(a, raw)))
    configs: list[TrainConfig] = []
    for combo in itertools.product(*(v for _, v in grid)):
        kw = {_FIELD.get(k, k): v for (k, _), v in zip(grid, combo)}
        try:  # the other fields at the train command's defaults for this model
            c = default_config(**kw) if "model" in kw else default_config(**kw, model="mlp")
        except (ValueError, TypeError) as err:  # TypeError: a train flag that is not a config field
            raise ValueError(f"config {kw}: {err}") from None
        if c not in configs:
            configs.append(c)
    return configs


def train_job(job: dict[str, Any], data: dict[str, tuple]) -> dict[str, Any]:
    """One training run on a worker (a module-level function: pickled by reference).

    Trains in a private temporary folder, then returns the metrics and the final checkpoint's bytes (through
    Ray's object store or the pool's pipe): the worker writes nothing the driver needs to read from disk.
    Refuses to run when the worker's imcpnn code differs from the driver's (the run key names the driver's code).
    """
    from imcpnn.store import code_fingerprint
    from imcpnn.train import CHECKPOINT, train

    device = job["device"]
    mine = code_fingerprint(device)
    if mine != job["code"]:
        raise RuntimeError(
            f"this worker runs other imcpnn code (fingerprint {mine}) than the driver "
            f"({job['code']}); install the same imcpnn on every node"
        )
    config = TrainConfig.from_dict(job["config"])
    threads_before = torch.get_num_threads()
    try:
        with tempfile.TemporaryDirectory(prefix="imcpnn_job_") as tmp:
            metrics = train(config, tmp, device=device, threads=job["threads"], progress=False, data=data[job["data"]])
            checkpoint = (Path(tmp) / CHECKPOINT).read_bytes()
    finally:
        torch.set_num_threads(threads_before)
    return {"metrics": metrics, "checkpoint": checkpoint}


def _write_bytes(path: Path, blob: bytes) -> None:
    from imcpnn.store import atomic_write_bytes

    atomic_write_bytes(path, lambda f: f.write(blob))


def _finished(run: Path, cfg: dict[str, Any], epochs: int) -> dict[str, Any] | None:
    """The stored metrics of a complete run folder with this config, else None."""
    try:
        m = json.loads((run / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    ok = m.get("config") == json.loads(json.dumps(cfg)) and len(m.get("epochs", [])) == epochs
    return m if ok and (run / "checkpoint.pt").is_file() else None


def sweep(
    configs: Sequence[TrainConfig],
    out: Path,
    *,
    executor: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
    max_retries: int = 3,
    device: str = "cpu",
    threads: int = 1,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run (or reuse) every config; write the run folders and ``out/sweep.json``; return its entries."""
    from imcpnn.store import atomic_json, run_key, tensor_digest
    from imcpnn.train import load_data

    out.mkdir(parents=True, exist_ok=True)
    data_by_id: dict[tuple, tuple[str, tuple]] = {}
    entries: list[dict[str, Any]] = []
    jobs: list[dict[str, Any]] = []
    for c in configs:
        ident = tuple(getattr(c, f) for f in _DATA_FIELDS)
        if ident not in data_by_id:
            tensors = load_data(c)
            data_by_id[ident] = (tensor_digest(*tensors), tensors)
        digest = data_by_id[ident][0]
        cfg = c.to_dict()
        rk = run_key("train", cfg, data=digest, device=device)
        key, code = rk.digest(), rk.code
        entry = {
            "config": cfg,
            "metrics": _finished(out / key, cfg, c.epochs),
            "run": key,
            "code": code,
            "data": digest,
        }
        entry["status"] = "cached" if entry["metrics"] is not None else "pending"
        entries.append(entry)
        if entry["metrics"] is None:
            jobs.append(
                {
                    "config": cfg,
                    "data": digest,
                    "device": device,
                    "threads": threads,
                    "code": code,
                    "entry": len(entries) - 1,
                }
            )
    needed = {j["data"] for j in jobs}
    shared = {"data": {d: t for d, t in data_by_id.values() if d in needed}}

    def store(record: dict[str, Any]) -> None:  # the driver writes each finished run at once
        entry = entries[record["config"]["entry"]]
        if record["status"] != "ok":
            entry.update(status="failed", error=record["error"], traceback=record["traceback"])
            return
        run = out / entry["run"]
        run.mkdir(parents=True, exist_ok=True)
        _write_bytes(run / "checkpoint.pt", record["result"]["checkpoint"])
        atomic_json(run / "config.json", entry["config"])
        atomic_json(run / "metrics.json", record["result"]["metrics"])
        entry.update(status="ok", metrics=record["result"]["metrics"])

    cuda = torch.device(device).type == "cuda"
    run_jobs(
        train_job,
        jobs,
        executor=executor,
        workers=workers,
        ray_address=ray_address,
        num_cpus=threads,
        num_gpus=1 if cuda else 0,
        max_retries=max_retries,
        shared=shared,
        progress=progress,
        desc="sweep",
        on_result=store,
    )
    text = json.dumps(entries, indent=2, allow_nan=True) + "\n"
    _write_bytes(out / "sweep.json", text.encode())
    return entries


def _device(text: str) -> str:
    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(text)
    except (RuntimeError, TypeError):
        raise ValueError(f"argument --device: must be auto, cpu, cuda or cuda:N, got {text!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"argument --device: must be auto, cpu, cuda or cuda:N, got {text!r}")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser, actions = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.workers < 1:
            raise ValueError(f"argument --workers: must be an integer >= 1, got {args.workers}")
        if args.threads < 1:
            raise ValueError(f"argument --threads: must be an integer >= 1, got {args.threads}")
        if args.max_retries < 0:
            raise ValueError(f"argument --max-retries: must be an integer >= 0, got {args.max_retries}")
        device = _device(args.device)
        configs = configs_from_args(args, actions)
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out).expanduser()
    try:
        entries = sweep(
            configs,
            out,
            executor=args.executor,
            workers=args.workers,
            ray_address=args.ray_address,
            max_retries=args.max_retries,
            device=device,
            threads=args.threads,
            progress=not args.no_progress,
        )
    except RayNotInstalledError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as err:
        print(f"{PROG}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    failed = [e for e in entries if e["status"] == "failed"]
    for e in failed:
        print(f"{PROG}: job {e['run']} failed: {e['error']}", file=sys.stderr)
    counts = {s: sum(e["status"] == s for e in entries) for s in ("ok", "cached", "failed")}
    print(json.dumps({"out": str(out / "sweep.json"), "jobs": len(entries), **counts}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
