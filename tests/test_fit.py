"""imcpnn.train.fit: training a user's own spiking module (not built by imcpnn.models) on the spike-time loss."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from imcpnn import functional as F
from imcpnn.layers import RCSpikeLinear
from imcpnn.train import FitConfig, TrainConfig, default_config, fit

RECORD_KEYS = {"epoch", "train_loss", "train_accuracy", "test_accuracy", "train_time_s", "eval_time_s"}


class TwoLayer(nn.Module):
    """A user's RC-Spike net from two imcpnn.layers layers: input spike times [B, 8] -> output times [B, 2]."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = RCSpikeLinear(8, 16, e_rev=4.0, test_steps=10)
        self.out = RCSpikeLinear(16, 2, e_rev=4.0, test_steps=10)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(t))


class LinearThenSpike(nn.Module):
    """A user's module from torch.nn.Linear and the functional API: a non-spiking linear map squashed into
    [0, 1] as spike times, then one RC-Spike layer (exact solver) with its own weight parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.pre = nn.Linear(8, 12)
        self.weight = nn.Parameter(0.3 * torch.randn(2, 12))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        h = torch.sigmoid(self.pre(t))
        return 1.0 - F.rc_spike_potential(h, self.weight, 4.0, method="exact")  # unclipped firing time


def separable(n: int = 64, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of input spike times in [0, 1]: class 0 has inputs 0-3 early, class 1 inputs 4-7."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.where((y[:, None] == 0) == (torch.arange(8) < 4), 0.2, 0.7) + 0.1 * torch.rand(n, 8, generator=g)
    return x, y


def _params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in model.parameters()])


@pytest.mark.parametrize("module", [TwoLayer, LinearThenSpike])
def test_fit_trains_a_users_own_module(module, one_thread):
    torch.manual_seed(0)
    model = module()
    before = _params(model)
    config = FitConfig(epochs=6, batch_size=16, lr=3e-2)
    metrics = fit(model, separable(), separable(64, seed=1), config, progress=False)
    assert set(metrics) == {"config", "epochs"}
    assert metrics["config"] == config.to_dict()
    epochs = metrics["epochs"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3, 4, 5, 6]
    assert all(set(e) == RECORD_KEYS for e in epochs)
    assert all(math.isfinite(e["train_loss"]) for e in epochs)
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    assert epochs[-1]["test_accuracy"] >= 0.9 and epochs[-1]["train_accuracy"] >= 0.9  # chance is 0.5
    assert not torch.equal(before, _params(model))


def test_fit_without_validation_data(one_thread):
    torch.manual_seed(0)
    metrics = fit(TwoLayer(), separable(), config=FitConfig(epochs=2, batch_size=16, lr=1e-2), progress=False)
    assert [e["test_accuracy"] for e in metrics["epochs"]] == [None, None]
    assert all(set(e) == RECORD_KEYS for e in metrics["epochs"])


def test_fit_is_deterministic(one_thread):
    def run() -> tuple[list[dict], torch.Tensor]:
        torch.manual_seed(3)
        model = TwoLayer()
        config = FitConfig(epochs=3, batch_size=16, lr=1e-2, seed=5, lr_schedule="cosine")
        metrics = fit(model, separable(48), separable(32, seed=1), config, progress=False)
        records = [{k: v for k, v in e.items() if not k.endswith("_time_s")} for e in metrics["epochs"]]
        return records, _params(model)

    (ra, wa), (rb, wb) = run(), run()
    assert ra == rb
    assert torch.equal(wa, wb)


def test_on_epoch_is_called_once_per_epoch(one_thread):
    calls = []
    torch.manual_seed(0)
    model = TwoLayer()

    def hook(epoch, record, m, opt):
        assert m is model and isinstance(opt, torch.optim.Adam)
        calls.append((epoch, dict(record)))

    metrics = fit(
        model, separable(32), separable(16, 1), FitConfig(epochs=3, batch_size=16), progress=False, on_epoch=hook
    )
    assert [c[0] for c in calls] == [1, 2, 3]
    assert [c[1] for c in calls] == metrics["epochs"]


def test_fit_resumes_after_start_epoch_with_history(one_thread):
    torch.manual_seed(0)
    config = FitConfig(epochs=3, batch_size=16, lr=1e-2)
    old = [{"epoch": 1}, {"epoch": 2}]
    calls = []
    metrics = fit(
        TwoLayer(),
        separable(32),
        config=config,
        progress=False,
        start_epoch=2,
        history=old,
        on_epoch=lambda e, *_: calls.append(e),
    )
    assert calls == [3]
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    assert old == [{"epoch": 1}, {"epoch": 2}]  # the caller's list is not modified


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(epochs=0), "epochs"),
        (dict(batch_size=2.5), "batch_size"),
        (dict(lr=0.0), "lr"),
        (dict(lr=math.inf), "lr"),
        (dict(lr_schedule="step"), "lr_schedule"),
        (dict(seed=-1), "seed"),
        (dict(tau_soft=0.0), "tau_soft"),
        (dict(gamma1=-1.0), "gamma1"),
        (dict(t_ref=math.nan), "t_ref"),
        (dict(gamma2=-1e-6), "gamma2"),
        (dict(gamma_w=True), "gamma_w"),
        (dict(gamma_v=-0.1), "gamma_v"),
        (dict(augment=1), "augment"),
        (dict(t_silent=math.inf), "t_silent"),
    ],
)
def test_bad_config_values_name_the_field(kw, name):
    with pytest.raises(ValueError, match=name):
        FitConfig(**kw)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, d: fit(m, d[0], progress=False), "train_data"),
        (lambda m, d: fit(m, (d[0], d[1].float()), progress=False), "train_data"),
        (lambda m, d: fit(m, (d[0][:10], d[1]), progress=False), "train_data"),
        (lambda m, d: fit(m, d, (d[0], d[1][:3]), progress=False), "val_data"),
        (lambda m, d: fit(m, d, config=FitConfig(epochs=2), start_epoch=3, progress=False), "start_epoch"),
        (lambda m, d: fit(m, d, config=FitConfig(epochs=2), start_epoch=1, history=[], progress=False), "history"),
        (lambda m, d: fit(nn.Identity(), d, progress=False), "parameters"),
    ],
)
def test_bad_fit_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(TwoLayer(), separable(16))


def test_train_config_maps_to_fit_config():
    c = TrainConfig(epochs=7, batch_size=8, lr=3e-4, lr_schedule="cosine", seed=2, gamma_w=0.01, augment=True)
    f = c.fit_config()
    assert isinstance(f, FitConfig) and f.t_silent is None
    for name in ("epochs", "batch_size", "lr", "lr_schedule", "seed", "tau_soft", "gamma1", "t_ref", "gamma_w"):
        assert getattr(f, name) == getattr(c, name), name
    assert f.augment is True
    assert FitConfig() == TrainConfig().fit_config()  # the same defaults
    ttfs = default_config("ttfs-cnn")
    assert ttfs.fit_config().t_silent == 2.0 * ttfs.t_ref and ttfs.fit_config().gamma2 == ttfs.gamma2


def test_progress_prints_one_line_per_epoch(capsys, one_thread):
    torch.manual_seed(0)
    fit(TwoLayer(), separable(16), separable(8, 1), FitConfig(epochs=2, batch_size=16), name="demo")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[demo] epoch")]
    assert [line.split(":")[0] for line in lines] == ["[demo] epoch 1", "[demo] epoch 2"]
    assert all("test acc" in line for line in lines)
