"""Training loop of the RC-Spike networks: config, checkpoint/resume, metrics and evaluation (PAPER.md §3).

Defaults are the paper's RC-Spike settings: Adam, lr 1e-4, batch 32, gamma1 = 2.6, t_ref = 0.9,
tau_soft = 0.07, sigma_spike = 0.01 (training and test), train with M = 3 and a random DSTD offset, test with
M = 30 and a fixed offset (App. E).

Output folder (``out``):
  * ``config.json``: the :class:`TrainConfig`;
  * ``checkpoint.pt``: model + optimizer + RNG state + the finished epochs, rewritten atomically every epoch;
  * ``metrics.json``: ``{"config": {...}, "epochs": [{"epoch": 1, "train_loss": ..., "test_accuracy": ...}]}``.

Resume: calling :func:`train` again with the same config and folder continues after the last finished epoch.
Everything random is reproducible: the weights come from ``torch.manual_seed(seed)``, the mini-batch order of
epoch e from a generator seeded with (seed, e), and the DSTD offsets and spike noise from torch's global RNG,
whose state is saved in the checkpoint. A resumed run (also after ``kill -9``) therefore equals an uninterrupted
one bit for bit on CPU. Evaluation runs under a forked RNG seeded with ``seed``: it neither consumes nor depends
on the training RNG stream.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from imcpnn import models
from imcpnn.loss import predict, spike_time_loss

DATASETS = ("fmnist", "cifar10")
OFFSETS = ("random", "fixed")
LR_SCHEDULES = ("constant", "cosine")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_erev(value: Any) -> float | tuple[float, float]:
    """|E| (a number > 0, ``inf`` allowed) or a pair (E+, E-) with E+ > 0 > E-; strings like ``"4"``,
    ``"inf"`` or ``"2.8,-1.53"`` are accepted. Raises ValueError naming ``e_rev``."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"e_rev must be |E| > 0 or 'E+,E-' with E+ > 0 > E-, got {value!r}") from None
        value = nums[0] if len(nums) == 1 else tuple(nums)
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"e_rev must be |E| > 0 or a pair (E+, E-), got {value!r}")
        e_pos, e_neg = float(value[0]), float(value[1])
        if not (e_pos > 0 and e_neg < 0) or math.isnan(e_pos) or math.isnan(e_neg):
            raise ValueError(f"e_rev pair must satisfy E+ in (0, inf] and E- in [-inf, 0), got {value!r}")
        return (e_pos, e_neg)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"e_rev must be |E| in (0, inf] or a pair (E+, E-), got {value!r}")
    return float(value)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (and its cache key). Device and threads are not part of it."""

    dataset: str = "fmnist"
    model: str = "mlp"
    e_rev: float | tuple[float, float] = 4.0
    steps: int = 3
    offset: str = "random"
    test_steps: int = 30
    test_offset: str = "fixed"
    sigma_spike: float = 0.01
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-4
    lr_schedule: str = "constant"
    seed: int = 0
    train_subset: int | None = None
    test_subset: int | None = None
    subset_seed: int = 0
    width: float = 1.0
    init_gain: float = 1.0
    tau_soft: float = 0.07
    gamma1: float = 2.6
    t_ref: float = 0.9

    def __post_init__(self) -> None:
        object.__setattr__(self, "e_rev", parse_erev(self.e_rev))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and its allowed range."""
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.model not in models.MODELS:
            raise ValueError(f"model must be one of {models.MODELS}, got {self.model!r}")
        for name in ("steps", "test_steps"):
            v = getattr(self, name)
            if not _is_int(v) or v < 2:
                raise ValueError(f"{name} must be an integer >= 2, got {v!r}")
        for name in ("offset", "test_offset"):
            if getattr(self, name) not in OFFSETS:
                raise ValueError(f"{name} must be one of {OFFSETS}, got {getattr(self, name)!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        for name in ("train_subset", "test_subset"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 1):
                raise ValueError(f"{name} must be None or an integer >= 1, got {v!r}")
        positive = ("lr", "width", "init_gain", "tau_soft")
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        for name in ("sigma_spike", "gamma1", "t_ref"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["e_rev"] = list(self.e_rev) if isinstance(self.e_rev, tuple) else self.e_rev
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}; allowed: {sorted(names)}")
        return cls(**d)

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def key(self) -> str:
        """A stable 12-hex-digit hash of the config (the run cache key)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, allow_nan=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------------------
# data and model


def load_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test): float images in [0, 1], int64 labels; subsets per the config."""
    from imcpnn import data

    loader = data.load_fashion_mnist if config.dataset == "fmnist" else data.load_cifar10
    x_tr, y_tr = loader("train", subset=config.train_subset, seed=config.subset_seed)
    x_te, y_te = loader("test", subset=config.test_subset, seed=config.subset_seed)
    return x_tr, y_tr, x_te, y_te


def build_model(config: TrainConfig) -> models.SpikeNet:
    """The config's network (weights drawn from torch's global RNG; seed it first)."""
    return models.build(
        config.model, config.e_rev, dataset=config.dataset, steps=config.steps, test_steps=config.test_steps,
        offset=config.offset, test_offset=config.test_offset, sigma_spike=config.sigma_spike,
        width=config.width, init_gain=config.init_gain,
    )  # fmt: skip


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None``/``"auto"``: CUDA when present, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


# ---------------------------------------------------------------------------------------------------------
# evaluation


def _rng_devices(device: torch.device) -> list[int]:
    return [device.index or 0] if device.type == "cuda" else []


@contextlib.contextmanager
def evaluation_overrides(
    model: nn.Module,
    *,
    e_rev: Any = None,
    test_steps: int | None = None,
    test_offset: str | float | None = None,
    weight_scale: tuple[float, float] | None = None,
) -> Iterator[nn.Module]:
    """Temporarily evaluate ``model`` at another |E| (every layer's E+/E-), test-time M or offset, and with
    positive / negative weights scaled by (alpha+, alpha-) (App. F); everything is restored on exit."""
    layers = list(models.dstd_layers(model))
    saved = [(m.e_pos, m.e_neg, m.test_steps, m.test_offset) for m in layers]
    saved_w = [m.weight.detach().clone() for m in layers] if weight_scale is not None else None
    was_training = model.training
    try:
        if e_rev is not None:
            from imcpnn._impl.validate import reversal_potentials

            e_pos, e_neg = reversal_potentials(parse_erev(e_rev))
            for m in layers:
                m.e_pos, m.e_neg = e_pos, e_neg
        if test_steps is not None:
            if not _is_int(test_steps) or test_steps < 2:
                raise ValueError(f"test_steps must be an integer >= 2, got {test_steps!r}")
            for m in layers:
                m.test_steps = test_steps
        if test_offset is not None:
            if test_offset not in OFFSETS and not isinstance(test_offset, float):
                raise ValueError(f"test_offset must be one of {OFFSETS} or a float, got {test_offset!r}")
            for m in layers:
                m.test_offset = test_offset
        if weight_scale is not None:
            a_pos, a_neg = (float(a) for a in weight_scale)
            if not (a_pos > 0 and a_neg > 0 and math.isfinite(a_pos) and math.isfinite(a_neg)):
                raise ValueError(f"weight_scale must be two finite numbers > 0 (alpha+, alpha-), got {weight_scale!r}")
            with torch.no_grad():
                for m in layers:
                    w = m.weight
                    w.copy_(torch.where(w >= 0, w * a_pos, w * a_neg))
        model.eval()
        yield model
    finally:
        for m, (e_pos, e_neg, ts, to) in zip(layers, saved):
            m.e_pos, m.e_neg, m.test_steps, m.test_offset = e_pos, e_neg, ts, to
        if saved_w is not None:
            with torch.no_grad():
                for m, w in zip(layers, saved_w):
                    m.weight.copy_(w)
        model.train(was_training)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    e_rev: Any = None,
    test_steps: int | None = None,
    test_offset: str | float | None = None,
    weight_scale: tuple[float, float] | None = None,
    batch_size: int = 1000,
    seed: int = 0,
    return_outputs: bool = False,
) -> float | tuple[float, torch.Tensor]:
    """Test accuracy of ``model`` in eval mode (test M and offset of its layers unless overridden).

    ``e_rev``/``weight_scale`` evaluate the SAME trained weights at another |E| with positive / negative
    weights scaled by (alpha+, alpha-): the ANN and scaled-ANN baselines of App. F. The spike noise and any
    random test offset are drawn under a forked RNG seeded with ``seed``: repeatable, and the caller's RNG
    stream is untouched. With ``return_outputs`` also returns the output spike times [N, classes].
    """
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    device = next(model.parameters()).device
    outs, correct = [], 0
    overrides = evaluation_overrides(
        model, e_rev=e_rev, test_steps=test_steps, test_offset=test_offset, weight_scale=weight_scale
    )
    with overrides, torch.random.fork_rng(devices=_rng_devices(device)):
        torch.manual_seed(seed)
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size].to(device)
            t = model(xb)
            correct += int((predict(t).cpu() == y[i : i + batch_size]).sum())
            if return_outputs:
                outs.append(t.cpu())
    acc = correct / max(1, len(x))
    return (acc, torch.cat(outs)) if return_outputs else acc


@torch.no_grad()
def layer_spike_times(model: models.SpikeNet, x: torch.Tensor, *, batch_size: int = 1000, seed: int = 0,
                      e_rev: Any = None) -> list[torch.Tensor]:  # fmt: skip
    """Every RC-Spike layer's output spike times on ``x`` in eval mode (for the histograms of Fig. 4d)."""
    device = next(model.parameters()).device
    per_layer: list[list[torch.Tensor]] = []
    with evaluation_overrides(model, e_rev=e_rev), torch.random.fork_rng(devices=_rng_devices(device)):
        torch.manual_seed(seed)
        for i in range(0, len(x), batch_size):
            outs = model.layer_outputs(x[i : i + batch_size].to(device))
            if not per_layer:
                per_layer = [[] for _ in outs]
            for acc, o in zip(per_layer, outs):
                acc.append(o.flatten(1).cpu())
    return [torch.cat(p) for p in per_layer]


# ---------------------------------------------------------------------------------------------------------
# checkpoints


def _atomic_write_bytes(path: Path, write) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _atomic_json(path: Path, payload: dict) -> None:
    _atomic_write_bytes(path, lambda f: f.write((json.dumps(payload, indent=2) + "\n").encode()))


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])


def load_checkpoint(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    path = Path(out) / "checkpoint.pt"
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def load_model(out: str | os.PathLike[str], device: str | torch.device | None = "cpu") -> models.SpikeNet:
    """The trained model of a run folder (its last finished epoch), in eval mode."""
    ckpt = load_checkpoint(out)
    if ckpt is None:
        raise FileNotFoundError(f"no checkpoint.pt in {out}")
    config = TrainConfig.from_dict(ckpt["config"])
    with torch.random.fork_rng(devices=[]):
        model = build_model(config)
    model.load_state_dict(ckpt["model"])
    return model.to(resolve_device(device)).eval()


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


# ---------------------------------------------------------------------------------------------------------
# training


def objective(model: nn.Module, t_out: torch.Tensor, target: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """The training objective of one mini-batch: the spike-time loss of arXiv 2412.09010v1 Eq. 49-52."""
    return spike_time_loss(t_out, target, tau_soft=config.tau_soft, gamma1=config.gamma1, t_ref=config.t_ref)


def _lr_at(config: TrainConfig, step: int, total_steps: int) -> float:
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    return config.lr


def train_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    epoch: int,
    *,
    device: torch.device,
    progress: bool = False,
) -> tuple[float, float]:
    """One epoch (1-based ``epoch``) of mini-batch training in the seeded order of that epoch.

    Returns (mean training loss, training accuracy). Raises FloatingPointError on a non-finite loss.
    """
    n, bs = len(x), config.batch_size
    n_batches = math.ceil(n / bs)
    total_steps = n_batches * config.epochs
    model.train()
    perm = torch.randperm(n, generator=_epoch_generator(config.seed, epoch))
    loss_sum, correct = 0.0, 0
    bar = tqdm(range(n_batches), desc=f"epoch {epoch}/{config.epochs}", disable=not progress,
               file=sys.stderr, mininterval=2.0, leave=False)  # fmt: skip
    for b in bar:
        idx = perm[b * bs : (b + 1) * bs]
        xb, yb = x[idx].to(device), y[idx].to(device)
        t_out = model(xb)
        loss = objective(model, t_out, yb, config)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite training loss at epoch {epoch}, batch {b}")
        for group in opt.param_groups:
            group["lr"] = _lr_at(config, (epoch - 1) * n_batches + b, total_steps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += float(loss.detach()) * len(idx)
        correct += int((predict(t_out.detach()) == yb).sum())
        if progress and b % 20 == 0:
            bar.set_postfix(loss=f"{loss_sum / min(n, (b + 1) * bs):.3f}")
    bar.close()
    return loss_sum / n, correct / n


def train(
    config: TrainConfig,
    out: str | os.PathLike[str],
    *,
    device: str | torch.device | None = None,
    threads: int | None = None,
    progress: bool = True,
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Train (or resume) the run ``config`` in folder ``out``; returns the metrics dict.

    Args:
        config: the run.
        out: the run folder; created if missing. If it holds a run of another config, ValueError.
        device: ``"auto"`` (default: CUDA when present), ``"cpu"``, ``"cuda"``...
        threads: ``torch.set_num_threads`` for this run (``None`` leaves torch's setting).
        progress: show tqdm progress bars (on stderr).
        data: pre-loaded (x_train, y_train, x_test, y_test), else :func:`load_data`.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    if threads is not None:
        if not _is_int(threads) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        torch.set_num_threads(threads)
    cfg = config.to_dict()
    cfg_path = out / "config.json"
    if cfg_path.exists():
        old = json.loads(cfg_path.read_text())
        if old != json.loads(json.dumps(cfg)):
            raise ValueError(f"out folder {out} holds a run with another config; use another --out")
    else:
        _atomic_json(cfg_path, cfg)

    ckpt = load_checkpoint(out)
    metrics = {"config": cfg, "epochs": list(ckpt["epochs"]) if ckpt else []}
    if ckpt is not None and len(ckpt["epochs"]) >= config.epochs:
        _atomic_json(out / "metrics.json", metrics)
        return metrics

    x_tr, y_tr, x_te, y_te = data if data is not None else load_data(config)
    torch.manual_seed(config.seed)
    model = build_model(config).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        _set_rng_state(ckpt["rng"], dev)
    x_te_dev, y_te_cpu = x_te.to(dev), y_te.cpu()
    start = len(metrics["epochs"])
    for epoch in range(start + 1, config.epochs + 1):
        t0 = time.perf_counter()
        train_loss, train_acc = train_epoch(model, opt, x_tr, y_tr, config, epoch, device=dev, progress=progress)
        t1 = time.perf_counter()
        test_acc = evaluate(model, x_te_dev, y_te_cpu, seed=config.seed)
        t2 = time.perf_counter()
        metrics["epochs"].append({
            "epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc,
            "test_accuracy": test_acc, "train_time_s": round(t1 - t0, 3), "eval_time_s": round(t2 - t1, 3),
        })  # fmt: skip
        state = {
            "config": cfg, "epochs": metrics["epochs"], "model": model.state_dict(),
            "optimizer": opt.state_dict(), "rng": _rng_state(dev),
        }  # fmt: skip
        _atomic_write_bytes(out / "checkpoint.pt", lambda f, s=state: torch.save(s, f))
        _atomic_json(out / "metrics.json", metrics)
        if progress:
            print(f"[{out.name}] epoch {epoch}: loss {train_loss:.4f}, test acc {test_acc:.4f} "
                  f"({t1 - t0:.1f} s train, {t2 - t1:.1f} s eval)", file=sys.stderr)  # fmt: skip
    return metrics


def deterministic_metrics(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The epochs without their wall-clock fields (what must be equal between two identical runs)."""
    return [{k: v for k, v in e.items() if not k.endswith("_time_s")} for e in metrics["epochs"]]
