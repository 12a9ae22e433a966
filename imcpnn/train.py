"""Training loop of the RC-Spike networks: config, checkpoint/resume, metrics, evaluation (arXiv 2412.09010v1 Sec. 3).

Defaults are the paper's RC-Spike settings: Adam, lr 1e-4, batch 32, gamma1 = 2.6, t_ref = 0.9,
tau_soft = 0.07, sigma_spike = 0.01 (training and test), train with M = 3 and a random DSTD offset, test with
M = 30 and a fixed offset (App. E).

The epoch loop is :func:`fit` (settings: :class:`FitConfig`): it trains any ``nn.Module`` that maps inputs to
output spike times, e.g. one built from :mod:`imcpnn.layers`; :func:`train` wraps it with a run folder.

Output folder (``out``):
  * ``config.json``: the :class:`TrainConfig`;
  * ``checkpoint.pt``: model + optimizer + RNG state + the finished epochs + the config, torch thread count and
    device type, rewritten atomically every epoch and read back with ``weights_only=True``
    (:mod:`imcpnn.store`);
  * ``metrics.json``: ``{"config": {...}, "epochs": [{"epoch": 1, "train_loss": ..., "test_accuracy": ...}]}``.

Resume: calling :func:`train` again with the same config and folder continues after the last finished epoch;
a checkpoint of another config, thread count or device type is refused (:class:`CheckpointError`).
Everything random is reproducible: the weights come from ``torch.manual_seed(seed)``, the mini-batch order of
epoch e from a generator seeded with (seed, e), and the DSTD offsets and spike noise from torch's global RNG,
whose state is saved in the checkpoint. A resumed run (also after ``kill -9``) therefore equals an uninterrupted
one bit for bit on CPU. Evaluation runs under a forked RNG seeded with ``seed``: it neither consumes nor depends
on the training RNG stream.

Example::

    from pathlib import Path

    import torch
    from imcpnn import train

    config = train.TrainConfig(dataset="iris", model="iris", epochs=2, batch_size=16)
    x, y = torch.rand(48, 4), torch.arange(48) % 3  # a synthetic stand-in for the Iris split
    metrics = train.train(config, "run", data=(x, y, x, y), progress=False)
    print(sorted(p.name for p in Path("run").iterdir()))  # ['checkpoint.pt', 'config.json', 'metrics.json']
    again = train.train(config, "run", data=(x, y, x, y), progress=False)  # finished: read back, not retrained
    assert train.deterministic_metrics(again) == train.deterministic_metrics(metrics)
    net = train.load_model("run")  # the trained IrisNet, in eval mode
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from imcpnn import models
from imcpnn.evaluate import _rng_devices, evaluate, evaluation_overrides, layer_spike_times  # noqa: F401 (re-export)
from imcpnn.functional import DSTD, Exact, parse_erev
from imcpnn.loss import early_spike_penalty, firing_regularizer, predict, spike_time_loss, weight_norm_penalty
from imcpnn.neuron import Neuron
from imcpnn.store import checkpoint as ckpt_io
from imcpnn.store.checkpoint import CheckpointError as CheckpointError  # public re-export

DATASETS = ("fmnist", "cifar10", "iris")
OFFSETS = ("random", "fixed")
LR_SCHEDULES = ("constant", "cosine")
CHECKPOINT = "checkpoint.pt"


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """The optimisation and loss settings of the training loop :func:`fit` (what it needs besides a model and
    data). Defaults are :class:`TrainConfig`'s, the paper's RC-Spike settings (arXiv 2412.09010v1 Sec. 3):
    Adam lr 1e-4, batch 32, tau_soft 0.07, gamma1 2.6, t_ref 0.9.

    Fields: ``epochs``, ``batch_size``, ``lr`` (Adam's, when :func:`fit` builds the optimizer), ``lr_schedule``
    (``"constant"`` or ``"cosine"`` over all steps of all epochs), ``seed`` (mini-batch order, augmentation and
    the evaluation RNG), the loss settings ``tau_soft``, ``gamma1``, ``t_ref`` (Eq. 49-52), ``gamma2`` (the TTFS
    firing regulariser Q, Eq. 53, read from ``model.last_io``), ``gamma_w`` / ``gamma_v`` (weight 2-norm P and
    early-spike penalty V, Eq. 57-58; V reads ``model.last_outputs`` when present, else the output times),
    ``augment`` (flip / rotate / crop image batches [B, C, H, W], :mod:`imcpnn.augment`) and ``t_silent``: the
    time a silent output (+inf, a TTFS neuron that never fired) counts at in the loss; ``None`` leaves +inf,
    which makes the loss non-finite (fine for RC-Spike outputs, which always fire).

    Example::

        import torch
        import imcpnn

        config = imcpnn.FitConfig(epochs=2, batch_size=16, lr=1e-3, lr_schedule="cosine")
        net = imcpnn.mlp(4.0, sizes=(8, 6, 2), test_steps=5)
        x, y = torch.rand(32, 8), torch.randint(0, 2, (32,))
        history = imcpnn.fit(net, (x, y), None, config, progress=False)  # no validation data
        print(history["epochs"][-1]["train_loss"], config.replace(lr=1e-4).lr)
        ttfs_config = imcpnn.FitConfig(gamma1=0.02, t_ref=3.2, gamma2=8e-6, t_silent=6.4)  # TTFS (App. C)
    """

    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-4
    lr_schedule: str = "constant"
    seed: int = 0
    tau_soft: float = 0.07
    gamma1: float = 2.6
    t_ref: float = 0.9
    gamma2: float = 0.0
    gamma_w: float = 0.0
    gamma_v: float = 0.0
    augment: bool = False
    t_silent: float | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and its allowed range."""
        for name in ("epochs", "batch_size"):
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        for name in ("lr", "tau_soft"):
            v = getattr(self, name)
            if not _is_real(v) or not v > 0:
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        for name in ("gamma1", "t_ref", "gamma2", "gamma_w", "gamma_v"):
            v = getattr(self, name)
            if not _is_real(v) or not v >= 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be True or False, got {self.augment!r}")
        if self.t_silent is not None and (not _is_real(self.t_silent) or not self.t_silent >= 0):
            raise ValueError(f"t_silent must be None or a finite number >= 0, got {self.t_silent!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> FitConfig:
        return dataclasses.replace(self, **changes)


def _as_fit_config(config: FitConfig | TrainConfig | None) -> FitConfig:
    """A :class:`FitConfig` from ``config`` (``None``: the defaults; a :class:`TrainConfig`: its fit_config())."""
    if config is None:
        return FitConfig()
    if isinstance(config, FitConfig):
        return config
    if isinstance(config, TrainConfig):
        return config.fit_config()
    raise TypeError(f"config must be a FitConfig (or a TrainConfig), got {type(config).__name__}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (and its cache key). Device and threads are not part of it.

    Example::

        from imcpnn import TrainConfig

        config = TrainConfig(model="mlp", dataset="fmnist", e_rev="2.8:-1.53", epochs=1, train_subset=100)
        print(config.neuron())  # E+ = 2.8, E- = -1.53; DSTD M = 3 (random offset) in training, M = 30 at test
        print(config.key(), config.fit_config().lr)  # the run's cache key; the loop's settings (FitConfig)
        assert TrainConfig.from_dict(config.to_dict()) == config  # what config.json holds
        try:
            TrainConfig(model="iris", dataset="fmnist")
        except ValueError as err:
            print(err)  # model 'iris' goes with dataset 'iris' only, ...
    """

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
        self.neuron()  # E+/E-, E_dis and the solvers: checked where the one Neuron is made
        if self.e_dis is not None and self.model == "ttfs-cnn":
            raise ValueError(f"e_dis must be None for model 'ttfs-cnn' (TTFS has no discharger), got {self.e_dis!r}")
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

    def fit_config(self) -> FitConfig:
        """The loop's settings of this run (:func:`fit`): silent outputs count at :func:`ttfs_silent_time` for
        model ``"ttfs-cnn"``; the RC-Spike models always fire (``t_silent=None``)."""
        shared = {f.name: getattr(self, f.name) for f in dataclasses.fields(FitConfig) if f.name != "t_silent"}
        return FitConfig(**shared, t_silent=ttfs_silent_time(self) if self.model == "ttfs-cnn" else None)

    def neuron(self) -> Neuron:
        """This run's E+/E-, E_dis and solvers as one :class:`imcpnn.neuron.Neuron`: exact for ``"iris"`` (five
        inputs), else DSTD(``steps``, ``offset``) in training and DSTD(``test_steps``, ``test_offset``) in
        evaluation (arXiv 2412.09010v1 App. E)."""
        if self.model == "iris":
            return Neuron(self.e_rev, self.e_dis, Exact(), Exact())
        return Neuron(self.e_rev, self.e_dis, DSTD(self.steps, self.offset), DSTD(self.test_steps, self.test_offset))

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
    """The config's network (weights drawn from torch's global RNG; seed it first), its neurons described by
    :meth:`TrainConfig.neuron`."""
    if config.model == "iris":
        return models.iris(config.neuron(), init_gain=config.init_gain, sigma_spike=config.sigma_spike)
    extra = {"t_ref": config.t_ref} if config.model == "ttfs-cnn" else {}
    return models.build(
        config.model,
        config.neuron(),
        dataset=config.dataset,
        sigma_spike=config.sigma_spike,
        width=config.width,
        init_gain=config.init_gain,
        **extra,
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
    :func:`load_checkpoint` (:class:`CheckpointError` naming the file when it is unusable).

    Example::

        import torch
        import imcpnn

        config = imcpnn.TrainConfig(dataset="iris", model="iris", epochs=1, batch_size=16)
        x, y = torch.rand(30, 4), torch.arange(30) % 3  # synthetic Iris-shaped data
        imcpnn.train.train(config, "run", data=(x, y, x, y), progress=False)
        net = imcpnn.load_model("run")  # rebuilt from the checkpoint's config, weights loaded, eval mode
        print(imcpnn.evaluate.evaluate(net, x, y))
    """
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


def objective(
    model: nn.Module, t_out: torch.Tensor, target: torch.Tensor, config: FitConfig | TrainConfig
) -> torch.Tensor:
    """The training objective of one mini-batch: the spike-time loss of arXiv 2412.09010v1 Eq. 49-52, plus
    gamma_w P + gamma_v V (Eq. 57-58, the Iris circuit run) when those are > 0, and gamma2 Q (Eq. 53, sign:
    :func:`firing_regularizer`) when gamma2 > 0; silent outputs (+inf) count at ``config.t_silent`` when set
    (:func:`ttfs_silent_time` for "ttfs-cnn"). ``config``: a :class:`FitConfig` (a :class:`TrainConfig` is
    converted with :meth:`TrainConfig.fit_config`)."""
    config = _as_fit_config(config)
    loss = spike_time_loss(
        t_out, target, tau_soft=config.tau_soft, gamma1=config.gamma1, t_ref=config.t_ref, t_silent=config.t_silent
    )
    if config.gamma2 > 0:
        loss = loss + firing_regularizer(getattr(model, "last_io", []), config.gamma2)
    if config.gamma_w > 0:
        loss = loss + config.gamma_w * weight_norm_penalty(model)
    if config.gamma_v > 0:
        loss = loss + config.gamma_v * early_spike_penalty(getattr(model, "last_outputs", [t_out]))
    return loss


def _lr_at(config: FitConfig, step: int, total_steps: int) -> float:
    if config.lr_schedule == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / total_steps))
    return config.lr


def train_epoch(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    config: FitConfig | TrainConfig,
    epoch: int,
    *,
    device: torch.device,
    progress: bool = False,
) -> tuple[float, float]:
    """One epoch (1-based ``epoch``) of mini-batch training in the seeded order of that epoch.

    ``config``: a :class:`FitConfig` (a :class:`TrainConfig` is converted with :meth:`TrainConfig.fit_config`).
    Returns (mean training loss, training accuracy). Raises FloatingPointError on a non-finite loss.
    """
    config = _as_fit_config(config)
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


def _check_pair(data: Any, name: str, *, int64: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``data`` as an (x, y) pair of tensors: inputs [N, ...] and class labels [N] (int64 if ``int64``, what the
    loss needs; else any integer type, enough for the accuracy)."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data)):
        raise ValueError(f"{name} must be an (x, y) pair of tensors, got {type(data).__name__}")
    x, y = data
    ok = y.dtype == torch.int64 if int64 else not (y.is_floating_point() or y.is_complex() or y.dtype == torch.bool)
    if y.dim() != 1 or not ok:
        kind = "int64" if int64 else "integer"
        raise ValueError(f"{name} labels y must be {kind} class indices of shape [N], got {y.dtype} {tuple(y.shape)}")
    if x.dim() == 0 or len(x) != len(y):
        raise ValueError(f"{name} x and y must have the same length, got {tuple(x.shape)} and {len(y)} labels")
    return x, y


def fit(
    model: nn.Module,
    train_data: tuple[torch.Tensor, torch.Tensor],
    val_data: tuple[torch.Tensor, torch.Tensor] | None = None,
    config: FitConfig | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    start_epoch: int = 0,
    history: list[dict[str, Any]] | None = None,
    on_epoch: Callable[[int, dict[str, Any], nn.Module, torch.optim.Optimizer], Any] | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """Train any ``nn.Module`` whose forward maps an input batch to output spike times [B, n_out] (the predicted
    class is the earliest spike, :func:`imcpnn.loss.predict`) on the spike-time loss of arXiv 2412.09010v1
    Sec. 3 (Eq. 49-52, plus the optional terms of :func:`objective`); returns the metrics dict.

    This is the epoch loop of :func:`train`, which adds the run folder, checkpoints and resume around it.

    Args:
        model: the network, trained in place (left in training mode).
        train_data: (x, y): inputs [N, ...] and int64 labels [N]; mini-batches are drawn in the seeded order of
            each epoch (from ``config.seed`` and the epoch number).
        val_data: (x, y) scored with :func:`imcpnn.evaluate.evaluate` (eval mode, forked RNG seeded with
            ``config.seed``) after every epoch; ``None``: no evaluation (``test_accuracy`` is ``None``).
        config: the :class:`FitConfig` (``None``: the defaults; a :class:`TrainConfig` is converted).
        optimizer: default ``torch.optim.Adam(model.parameters(), lr=config.lr)``; the learning rate of every
            parameter group is set per step by ``config.lr_schedule``.
        device: ``None`` trains where the model's parameters are; else ``"auto"``, ``"cpu"``, ``"cuda"``...
            and the model is moved there. Batches are moved to that device as they are drawn.
        progress: tqdm bars per epoch and one summary line per epoch, on stderr.
        start_epoch: the epochs already done (resume): trains epochs ``start_epoch + 1 .. config.epochs``.
        history: the records of those epochs, returned ahead of the new ones (its length must be
            ``start_epoch``); not modified.
        on_epoch: ``on_epoch(epoch, record, model, optimizer)`` after every epoch (e.g. to save a checkpoint).
        name: a label put in front of the summary lines.

    Returns:
        ``{"config": config.to_dict(), "epochs": [record, ...]}``, one record per epoch: ``epoch``,
        ``train_loss`` (mean over the epoch), ``train_accuracy``, ``test_accuracy`` (on ``val_data``; the name
        :func:`train` writes), ``train_time_s``, ``eval_time_s``.

    Raises:
        ValueError: bad data, ``start_epoch`` or ``history``, a model without parameters.
        FloatingPointError: a non-finite training loss.

    Example (a two-layer RC-Spike net of one's own, on inputs that are spike times in [0, 1])::

        import torch
        from torch import nn
        from imcpnn.layers import RCSpikeLinear
        from imcpnn.train import FitConfig, fit

        class TwoLayer(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = RCSpikeLinear(8, 16, e_rev=4.0, test_steps=10)
                self.out = RCSpikeLinear(16, 2, e_rev=4.0, test_steps=10)

            def forward(self, t):  # input spike times [B, 8] -> output spike times [B, 2]
                return self.out(self.hidden(t))

        y = torch.arange(64) % 2  # class 0: inputs 0-3 spike early; class 1: inputs 4-7
        x = torch.where((y[:, None] == 0) == (torch.arange(8) < 4), 0.2, 0.7) + 0.1 * torch.rand(64, 8)
        torch.manual_seed(0)
        metrics = fit(TwoLayer(), (x, y), (x, y), FitConfig(epochs=5, batch_size=16, lr=1e-2), progress=False)
        print(metrics["epochs"][-1]["test_accuracy"])  # 1.0
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    config = _as_fit_config(config)
    x, y = _check_pair(train_data, "train_data", int64=True)
    if len(y) == 0:
        raise ValueError("train_data must hold at least one sample, got 0")
    val = None if val_data is None else _check_pair(val_data, "val_data", int64=False)
    if not _is_int(start_epoch) or not 0 <= start_epoch <= config.epochs:
        raise ValueError(f"start_epoch must be an integer in [0, epochs={config.epochs}], got {start_epoch!r}")
    if history is not None and len(history) != start_epoch:
        raise ValueError(f"history must hold start_epoch={start_epoch} records, got {len(history)}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError(f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}")
    if on_epoch is not None and not callable(on_epoch):
        raise ValueError(f"on_epoch must be callable or None, got {type(on_epoch).__name__}")
    first = next(model.parameters(), None)
    if first is None:
        raise ValueError("model must have parameters to train, it has none")
    if device is None:
        dev = first.device
    else:
        dev = resolve_device(device)
        model.to(dev)
    opt = optimizer if optimizer is not None else torch.optim.Adam(model.parameters(), lr=config.lr)
    x_val, y_val = (val[0].to(dev), val[1].cpu()) if val is not None else (None, None)
    records = list(history) if history is not None else []
    tag = f"[{name}] " if name else ""
    for epoch in range(start_epoch + 1, config.epochs + 1):
        t0 = time.perf_counter()
        train_loss, train_acc = train_epoch(model, opt, x, y, config, epoch, device=dev, progress=progress)
        t1 = time.perf_counter()
        test_acc = evaluate(model, x_val, y_val, seed=config.seed) if val is not None else None
        t2 = time.perf_counter()
        record = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_accuracy": train_acc,
            "test_accuracy": test_acc,
            "train_time_s": round(t1 - t0, 3),
            "eval_time_s": round(t2 - t1, 3),
        }
        records.append(record)
        if on_epoch is not None:
            on_epoch(epoch, record, model, opt)
        if progress:
            scores = f"test acc {test_acc:.4f}" if test_acc is not None else f"train acc {train_acc:.4f}"
            print(
                f"{tag}epoch {epoch}: loss {train_loss:.4f}, {scores} ({t1 - t0:.1f} s train, {t2 - t1:.1f} s eval)",
                file=sys.stderr,
            )
    return {"config": config.to_dict(), "epochs": records}


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

    Example::

        import torch
        from imcpnn.train import TrainConfig, train

        config = TrainConfig(dataset="iris", model="iris", e_dis=3.0, epochs=1, batch_size=16)
        x, y = torch.rand(30, 4), torch.arange(30) % 3  # synthetic data in place of load_data(config)
        metrics = train(config, "run", data=(x, y, x, y), progress=False)
        print(metrics["epochs"][-1]["test_accuracy"])
        try:
            train(config.replace(lr=1e-3), "run", data=(x, y, x, y), progress=False)
        except ValueError as err:
            print(err)  # out folder run holds a run with another config (lr 0.0001 -> 0.001); use another --out
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

    def save_epoch(epoch: int, record: dict[str, Any], model: nn.Module, opt: torch.optim.Optimizer) -> None:
        metrics["epochs"].append(record)
        state = {
            "config": cfg,
            "epochs": metrics["epochs"],
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "rng": ckpt_io.rng_state(dev),
        }
        ckpt_io.save(out / CHECKPOINT, state, threads=torch.get_num_threads(), device=dev)
        ckpt_io.atomic_json(out / "metrics.json", metrics)

    fit(
        model,
        (x_tr, y_tr),
        (x_te, y_te),
        config.fit_config(),
        optimizer=opt,
        device=dev,
        progress=progress,
        start_epoch=len(metrics["epochs"]),
        history=metrics["epochs"],
        on_epoch=save_epoch,
        name=out.name,
    )
    return metrics


def deterministic_metrics(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The epochs without their wall-clock fields (what must be equal between two identical runs)."""
    return [{k: v for k, v in e.items() if not k.endswith("_time_s")} for e in metrics["epochs"]]
