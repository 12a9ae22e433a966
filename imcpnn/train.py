"""Training loop of the RC-Spike networks: config, checkpoint/resume, metrics, evaluation (arXiv 2412.09010v1 Sec. 3).

Defaults are the paper's RC-Spike settings: Adam, lr 1e-4, batch 32, gamma1 = 2.6, t_ref = 0.9,
tau_soft = 0.07, sigma_spike = 0.01 (training and test), train with M = 3 and a random DSTD offset, test with
M = 30 and a fixed offset (App. E).

Output folder (``out``):
  * ``config.json``: the :class:`TrainConfig`;
  * ``checkpoint.pt``: model + optimizer + RNG state + the finished epochs + the config, torch thread count and
    device type, rewritten atomically every epoch and read back with ``weights_only=True``
    (:mod:`imcpnn._impl.checkpoint`);
  * ``metrics.json``: ``{"config": {...}, "epochs": [{"epoch": 1, "train_loss": ..., "test_accuracy": ...}]}``.

Resume: calling :func:`train` again with the same config and folder continues after the last finished epoch;
a checkpoint of another config, thread count or device type is refused (:class:`CheckpointError`).
Everything random is reproducible: the weights come from ``torch.manual_seed(seed)``, the mini-batch order of
epoch e from a generator seeded with (seed, e), and the DSTD offsets and spike noise from torch's global RNG,
whose state is saved in the checkpoint. A resumed run (also after ``kill -9``) therefore equals an uninterrupted
one bit for bit on CPU. Evaluation runs under a forked RNG seeded with ``seed``: it neither consumes nor depends
on the training RNG stream.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from imcpnn import models
from imcpnn._impl import checkpoint as ckpt_io
from imcpnn._impl.checkpoint import CheckpointError as CheckpointError  # public re-export
from imcpnn.evaluate import _rng_devices, evaluate, evaluation_overrides, layer_spike_times  # noqa: F401 (re-export)
from imcpnn.functional import DSTD, parse_erev
from imcpnn.loss import early_spike_penalty, firing_regularizer, predict, spike_time_loss, weight_norm_penalty

DATASETS = ("fmnist", "cifar10", "iris")
OFFSETS = ("random", "fixed")
LR_SCHEDULES = ("constant", "cosine")
CHECKPOINT = "checkpoint.pt"


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


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
    val_size: int = 0
    width: float = 1.0
    init_gain: float = 1.0
    tau_soft: float = 0.07
    gamma1: float = 2.6
    t_ref: float = 0.9
    # the TTFS firing regulariser Q (Eq. 53; model "ttfs-cnn", App. C: 8e-6); 0 elsewhere
    gamma2: float = 0.0
    # the Iris circuit experiment (arXiv 2412.09010v1 Table 2, Eq. 57-58): weight 2-norm P and early-spike
    # penalty V, and the discharger's firing-phase RC decay E_dis (App. A); 0 / None elsewhere
    gamma_w: float = 0.0
    gamma_v: float = 0.0
    e_dis: float | None = None
    # training-time data augmentation (flip, rotation, crop; imcpnn.augment), per mini-batch (Sec. 3.3 CNNs)
    augment: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "e_rev", parse_erev(self.e_rev))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and its allowed range."""
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.model not in models.MODELS:
            raise ValueError(f"model must be one of {models.MODELS}, got {self.model!r}")
        for steps, offset, prefix in ((self.steps, self.offset, ""), (self.test_steps, self.test_offset, "test_")):
            if offset not in OFFSETS:
                raise ValueError(f"{prefix}offset must be one of {OFFSETS}, got {offset!r}")
            try:
                DSTD(steps, offset)
            except ValueError as err:
                raise ValueError(f"{prefix}{err}") from None
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
        if not _is_int(self.val_size) or self.val_size < 0:
            raise ValueError(f"val_size must be an integer >= 0, got {self.val_size!r}")
        positive = ("lr", "width", "init_gain", "tau_soft")
        for name in positive:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 and math.isfinite(v)):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        if (self.dataset == "iris") != (self.model == "iris"):
            raise ValueError(f"model 'iris' goes with dataset 'iris' only, got {self.model!r} on {self.dataset!r}")
        if self.e_dis is not None and (
            isinstance(self.e_dis, bool)
            or not isinstance(self.e_dis, (int, float))
            or not self.e_dis > 1.0
            or math.isnan(self.e_dis)
        ):
            raise ValueError(f"e_dis must be None or a number in (1, inf], got {self.e_dis!r}")
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be True or False, got {self.augment!r}")
        for name in ("sigma_spike", "gamma1", "t_ref", "gamma_w", "gamma_v", "gamma2"):
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


def split_indices(n_train: int, config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(trained-on indices, validation indices) into the training split of ``n_train`` samples.

    The validation split (``config.val_size`` samples, seeded by ``subset_seed``) is carved from the TRAINING
    split first; the trained-on subset (``train_subset``, or all the rest) is then drawn from what remains, so
    the two are disjoint and the test split is never touched. Both come back sorted. With ``val_size = 0``
    the trained-on subset is :func:`imcpnn.data.subset_indices` of the whole split, as without validation.
    """
    from imcpnn import data

    if config.val_size == 0:
        return data.subset_indices(n_train, config.train_subset, config.subset_seed), torch.zeros(0, dtype=torch.long)
    room = n_train - config.val_size
    if room < (config.train_subset or 1):
        raise ValueError(
            f"val_size must leave room for the training subset: val_size={config.val_size}, "
            f"train_subset={config.train_subset}, training split of {n_train} samples"
        )
    perm = torch.randperm(n_train, generator=torch.Generator().manual_seed(int(config.subset_seed) + 7_919))
    val, rest = perm[: config.val_size].sort().values, perm[config.val_size :]
    keep = data.subset_indices(room, config.train_subset, config.subset_seed)
    return rest[keep].sort().values, val


def _train_split(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    from imcpnn import data

    loader = data.load_fashion_mnist if config.dataset == "fmnist" else data.load_cifar10
    if config.val_size == 0:
        return loader("train", subset=config.train_subset, seed=config.subset_seed)
    return loader("train", raw=True)


def load_data(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test): float images in [0, 1], int64 labels; subsets per the config.

    With ``val_size > 0`` the trained-on images exclude the validation split (:func:`split_indices`).
    """
    from imcpnn import data

    if config.dataset == "iris":  # stratified 100 / 50 split, seeded by subset_seed
        return data.load_iris_split(50, config.subset_seed)
    loader = data.load_fashion_mnist if config.dataset == "fmnist" else data.load_cifar10
    x_tr, y_tr = _train_split(config)
    if config.val_size > 0:
        idx, _ = split_indices(len(y_tr), config)
        x_tr, y_tr = data.to_float(x_tr[idx]), y_tr[idx]
    x_te, y_te = loader("test", subset=config.test_subset, seed=config.subset_seed)
    return x_tr, y_tr, x_te, y_te


def load_validation(config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation split of ``config`` (carved from the training split, see :func:`split_indices`):
    float images in [0, 1] and int64 labels. Raises ValueError when ``val_size`` is 0."""
    from imcpnn import data

    if config.val_size == 0:
        raise ValueError("val_size must be >= 1 to load a validation split, got 0")
    x, y = _train_split(config)
    _, idx = split_indices(len(y), config)
    return data.to_float(x[idx]), y[idx]


#: The TTFS settings of arXiv 2412.09010v1 §3 / App. C (lr, gamma1, t_ref, tau_soft, gamma2, batch 32, 150
#: epochs; train M = 30, test M = 60 as in App. E), and no spike noise (App. C does not mention it for TTFS).
TTFS_DEFAULTS: dict[str, Any] = dict(
    lr=2e-4,
    gamma1=0.02,
    t_ref=3.2,
    tau_soft=0.07,
    gamma2=8e-6,
    batch_size=32,
    epochs=150,
    steps=30,
    test_steps=60,
    sigma_spike=0.0,
)


def default_config(model: str = "mlp", **changes: Any) -> TrainConfig:
    """The paper's settings for ``model`` (RC-Spike defaults, or :data:`TTFS_DEFAULTS` for ``"ttfs-cnn"``)."""
    base = dict(TTFS_DEFAULTS) if model == "ttfs-cnn" else {}
    return TrainConfig(model=model, **{**base, **changes})


def ttfs_silent_time(config: TrainConfig) -> float:
    """The time a silent TTFS output (+inf) gets in the loss: 2 t_ref (our choice; the paper is silent)."""
    return 2.0 * config.t_ref


def build_model(config: TrainConfig) -> models.SpikeNet:
    """The config's network (weights drawn from torch's global RNG; seed it first)."""
    if config.model == "iris":
        return models.iris(config.e_rev, e_dis=config.e_dis, init_gain=config.init_gain, sigma_spike=config.sigma_spike)
    if config.model == "ttfs-cnn":
        return models.build(
            config.model,
            config.e_rev,
            dataset=config.dataset,
            steps=config.steps,
            test_steps=config.test_steps,
            offset=config.offset,
            test_offset=config.test_offset,
            sigma_spike=config.sigma_spike,
            width=config.width,
            init_gain=config.init_gain,
            t_ref=config.t_ref,
        )
    return models.build(
        config.model,
        config.e_rev,
        dataset=config.dataset,
        steps=config.steps,
        test_steps=config.test_steps,
        offset=config.offset,
        test_offset=config.test_offset,
        sigma_spike=config.sigma_spike,
        width=config.width,
        init_gain=config.init_gain,
    )


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
# checkpoints


def load_checkpoint(out: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The checkpoint of run folder ``out`` (``None`` if it has none), read with ``weights_only=True``.

    Raises :class:`CheckpointError` (a ValueError; one line naming the file) when it is corrupt,
    truncated, holds anything but tensors and plain data, or is not an imcpnn training checkpoint.
    """
    return ckpt_io.load(Path(out) / CHECKPOINT)


def load_model(out: str | os.PathLike[str], device: str | torch.device | None = "cpu") -> models.SpikeNet:
    """The trained model of a run folder (its last finished epoch), in eval mode; read safely like
    :func:`load_checkpoint` (:class:`CheckpointError` naming the file when it is unusable)."""
    ckpt = load_checkpoint(out)
    if ckpt is None:
        raise FileNotFoundError(f"no {CHECKPOINT} in {out}")
    path = Path(out) / CHECKPOINT
    try:
        config = TrainConfig.from_dict(ckpt["config"])
        with torch.random.fork_rng(devices=[]):
            model = build_model(config)
        model.load_state_dict(ckpt["model"])
    except (ValueError, TypeError, RuntimeError, KeyError) as err:
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise CheckpointError(f"checkpoint {path} does not fit this imcpnn ({reason}); retrain the run") from None
    return model.to(resolve_device(device)).eval()


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1_000_003 + int(epoch))


# ---------------------------------------------------------------------------------------------------------
# training


def objective(model: nn.Module, t_out: torch.Tensor, target: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    """The training objective of one mini-batch: the spike-time loss of arXiv 2412.09010v1 Eq. 49-52, plus
    gamma_w P + gamma_v V (Eq. 57-58, the Iris circuit run) when those are > 0; for "ttfs-cnn" silent outputs
    (+inf) count at :func:`ttfs_silent_time` and gamma2 Q (Eq. 53, sign: :func:`firing_regularizer`) is added."""
    silent = ttfs_silent_time(config) if config.model == "ttfs-cnn" else None
    loss = spike_time_loss(
        t_out, target, tau_soft=config.tau_soft, gamma1=config.gamma1, t_ref=config.t_ref, t_silent=silent
    )
    if config.gamma2 > 0:
        loss = loss + firing_regularizer(getattr(model, "last_io", []), config.gamma2)
    if config.gamma_w > 0:
        loss = loss + config.gamma_w * weight_norm_penalty(model)
    if config.gamma_v > 0:
        loss = loss + config.gamma_v * early_spike_penalty(getattr(model, "last_outputs", [t_out]))
    return loss


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
    bar = tqdm(
        range(n_batches),
        desc=f"epoch {epoch}/{config.epochs}",
        disable=not progress,
        file=sys.stderr,
        mininterval=2.0,
        leave=False,
    )
    for b in bar:
        idx = perm[b * bs : (b + 1) * bs]
        xb, yb = x[idx].to(device), y[idx].to(device)
        if config.augment:  # its own generator: the global RNG stream is untouched
            from imcpnn.augment import augment_batch

            xb = augment_batch(xb, _epoch_generator(config.seed * 7_919 + b + 1, epoch))
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
        out: the run folder; created if missing. If it holds a run of another config, ValueError; if its
            checkpoint is unreadable, or was written under another thread count or device type,
            :class:`CheckpointError` (resume with the recorded setting, or delete the folder).
        device: ``"auto"`` (default: CUDA when present), ``"cpu"``, ``"cuda"``...
        threads: ``torch.set_num_threads`` for this run (``None`` leaves torch's setting).
        progress: show tqdm progress bars (on stderr).
        data: pre-loaded (x_train, y_train, x_test, y_test), else :func:`load_data`.
    """
    if not str(out).strip():
        raise ValueError("out must be a run folder path, got ''")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {out} exists and is not a folder; use another --out")
    out.mkdir(parents=True, exist_ok=True)
    dev = resolve_device(device)
    if threads is not None:
        if not _is_int(threads) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        torch.set_num_threads(threads)
    cfg = config.to_dict()
    ckpt_io.clean_stale_tmp(out)  # a crash or a full disk can leave <file>.tmp<PID> behind
    ckpt = load_checkpoint(out)
    cfg_path = out / "config.json"
    if cfg_path.exists():
        try:
            old = json.loads(cfg_path.read_text())
        except (ValueError, UnicodeDecodeError):
            old = None
        if not isinstance(old, dict):
            raise ValueError(f"{cfg_path} is not a run config (JSON object); delete the folder {out} to restart")
        if old != json.loads(json.dumps(cfg)):
            raise ValueError(
                f"out folder {out} holds a run with another config ({ckpt_io.config_diff(old, cfg)}); use another --out"
            )
    finished = ckpt is not None and len(ckpt["epochs"]) >= config.epochs
    if ckpt is not None:  # the checkpoint's own record decides, also when config.json is gone
        ckpt_io.check_resume(
            ckpt, out / CHECKPOINT, cfg, finished=finished, threads=torch.get_num_threads(), device=dev
        )
    else:
        ckpt_io.check_orphan_metrics(out)
    if not cfg_path.exists():
        ckpt_io.atomic_json(cfg_path, cfg)

    metrics = {"config": cfg, "epochs": list(ckpt["epochs"]) if ckpt else []}
    if finished:
        ckpt_io.atomic_json(out / "metrics.json", metrics)
        return metrics

    x_tr, y_tr, x_te, y_te = data if data is not None else load_data(config)
    torch.manual_seed(config.seed)
    model = build_model(config).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        ckpt_io.set_rng_state(ckpt["rng"], dev)
    x_te_dev, y_te_cpu = x_te.to(dev), y_te.cpu()
    start = len(metrics["epochs"])
    for epoch in range(start + 1, config.epochs + 1):
        t0 = time.perf_counter()
        train_loss, train_acc = train_epoch(model, opt, x_tr, y_tr, config, epoch, device=dev, progress=progress)
        t1 = time.perf_counter()
        test_acc = evaluate(model, x_te_dev, y_te_cpu, seed=config.seed)
        t2 = time.perf_counter()
        metrics["epochs"].append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "train_accuracy": train_acc,
                "test_accuracy": test_acc,
                "train_time_s": round(t1 - t0, 3),
                "eval_time_s": round(t2 - t1, 3),
            }
        )
        state = {
            "config": cfg,
            "epochs": metrics["epochs"],
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "rng": ckpt_io.rng_state(dev),
        }
        ckpt_io.save(out / CHECKPOINT, state, threads=torch.get_num_threads(), device=dev)
        ckpt_io.atomic_json(out / "metrics.json", metrics)
        if progress:
            print(
                f"[{out.name}] epoch {epoch}: loss {train_loss:.4f}, test acc {test_acc:.4f} "
                f"({t1 - t0:.1f} s train, {t2 - t1:.1f} s eval)",
                file=sys.stderr,
            )
    return metrics


def deterministic_metrics(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The epochs without their wall-clock fields (what must be equal between two identical runs)."""
    return [{k: v for k, v in e.items() if not k.endswith("_time_s")} for e in metrics["epochs"]]
