"""The TTFS CNN of arXiv 2412.09010v1 App. C (imcpnn.models.ttfs_cnn, the "ttfs-cnn" training objective and CLI
defaults) and its reproduction harness imcpnn.repro.ttfs_cnn: shapes, silent neurons (+inf) through pooling and
the loss, one training step, resume, the exact membrane traces and the claim rules."""

from __future__ import annotations

import math

import pytest
import torch

from imcpnn import functional as F
from imcpnn import models, train
from imcpnn.cli import build_parser
from imcpnn.repro import ttfs_cnn as T
from imcpnn.train import TTFS_DEFAULTS, default_config, objective


def tiny(**kw) -> train.TrainConfig:
    base = dict(width=0.25, steps=4, test_steps=6, train_subset=16, test_subset=8, epochs=1, batch_size=8, lr=1e-3)
    return default_config("ttfs-cnn", **{**base, **kw})


def images(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------------------ the network


def test_shapes_and_paper_architecture():
    net = models.ttfs_cnn(4.0, steps=4, test_steps=6, width=0.25)
    outs = net.layer_outputs(images(3))
    assert [tuple(o.shape) for o in outs] == [
        (3, 4, 28, 28),
        (3, 4, 28, 28),
        (3, 8, 14, 14),
        (3, 8, 14, 14),
        (3, 32),
        (3, 10),
    ]
    full = models.build("ttfs-cnn", 4.0)  # the paper's widths: Conv(16)-Conv(16)-PL-Conv(32)-Conv(32)-PL-128-10
    shapes = [tuple(m.weight.shape) for m in models.spiking_layers(full)]
    assert shapes == [(16, 1, 3, 3), (16, 16, 3, 3), (32, 16, 3, 3), (32, 32, 3, 3), (128, 32 * 7 * 7), (10, 128)]
    assert sum(isinstance(m, models.TimeMinPool2d) for m in full) == 2


def test_initialisation_follows_eq_107_and_makes_first_spikes_e_invariant():
    # U[0, w_max / N], w_max = -4 w* L^2 ln(1 - beta) / (beta t_ref^2), w* = 2, L = 6
    for e in (2.0, 31.6):
        beta = 1 / e
        want = -4 * 2 * 36 * math.log(1 - beta) / (beta * 3.2**2) / 9
        assert models.ttfs_init_bound(e, 9, 6, 3.2) == pytest.approx(want, rel=1e-12)
        w = next(models.spiking_layers(models.ttfs_cnn(e, width=0.25))).weight
        assert float(w.detach().min()) >= 0 and float(w.detach().max()) <= want
    assert models.ttfs_init_bound(math.inf, 9, 6, 3.2) == pytest.approx(4 * 2 * 36 / 3.2**2 / 9)
    with pytest.raises(ValueError, match="e_rev"):
        models.ttfs_init_bound(1.0, 9, 6, 3.2)
    # all weights positive: beta v = 1 - (1 - beta)^(integral of g0), so the first spike does not depend on E
    outs = []
    for e in (2.0, 31.6):
        torch.manual_seed(0)
        outs.append(models.ttfs_cnn(e, steps=4, test_steps=6, width=0.25).eval()(images(2)))
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-4, atol=1e-5)


def test_silent_neurons_propagate_through_pooling_and_the_loss():
    torch.manual_seed(0)
    net = models.ttfs_cnn(4.0, steps=4, test_steps=6, width=0.25, offset="fixed")
    conv2 = list(models.spiking_layers(net))[1]
    with torch.no_grad():
        conv2.weight[1] = 0.0  # channel 1 of conv2 never fires
    outs = net.layer_outputs(images(2))
    assert torch.isinf(outs[1][:, 1]).all() and torch.isfinite(outs[1][:, 0]).all()
    pooled = models.TimeMinPool2d(2)(outs[1])
    assert torch.isinf(pooled[:, 1]).all() and torch.isfinite(pooled[:, 0]).all()
    pool = models.TimeMinPool2d(2)(torch.tensor([[[[math.inf, 0.3], [math.inf, math.inf]]]]))
    assert pool.item() == pytest.approx(0.3)  # the earliest spike wins, silent ones are skipped
    # silence everything from conv1 on: every later layer (pooling included) is +inf, the loss stays finite
    with torch.no_grad():
        next(models.spiking_layers(net)).weight.zero_()
    outs = net.layer_outputs(images(2))
    assert all(torch.isinf(o).all() for o in outs)
    cfg = tiny(offset="fixed")
    t = net(images(2))
    loss = objective(net, t, torch.tensor([0, 3]), cfg)
    assert torch.isfinite(loss)
    # every output at t_silent = 2 t_ref: CE = ln 10 and temporal 10 (t_ref)^2 gamma1
    assert float(loss) == pytest.approx(math.log(10) + 0.02 * 10 * 3.2**2, rel=1e-5)
    loss.backward()
    assert all(torch.isfinite(m.weight.grad).all() for m in models.spiking_layers(net))


def test_spike_window_clips_finite_times_only():
    w = models.SpikeWindow(2.0)
    out = w(torch.tensor([-0.1, 0.5, 3.0, math.inf]))
    assert out.tolist() == [0.0, 0.5, 2.0, math.inf]
    # a window end that float32 rounds UP (5.2666...): the clipped spike must still pass the next layer's check
    t_max = 1.0 + 4 * 3.2 / 6 * 2
    assert float(torch.tensor(t_max, dtype=torch.float32)) > t_max
    out = models.SpikeWindow(t_max)(torch.tensor([9.0]))
    assert float(out) <= t_max
    F.ttfs(out.view(1, 1), torch.ones(1, 1), 4.0, method="dstd", steps=3, offset="fixed", t_max=t_max)


def test_dstd_windows_follow_the_initialisation_delay_and_hold_the_spikes():
    # window of layer l: [0, 1 + (l - 1) t_ref / (L sqrt(w*))], the delay Eq. 106-107 gives (w* = 2, L = 6)
    net = models.ttfs_cnn(4.0, steps=10, test_steps=20, width=0.25)
    layers = list(models.spiking_layers(net))
    t_d = 3.2 / (6 * math.sqrt(2.0))
    assert [lay.t_max for lay in layers] == pytest.approx([1.0 + k * t_d for k in range(6)])
    # at init, image-like inputs (half background, t = 1): >= 90 % of every layer's incoming spikes lie inside its
    # window, and the grid is not mostly empty time: their 95 % quantile reaches past 22 % of the window (here
    # 27-75 %; the earlier windows 2 t_ref / L per layer reached only 12-19 % in the last three layers)
    x = images(8) * (torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1)) < 0.5)
    with torch.no_grad():
        ins = [1.0 - x] + net.eval().layer_outputs(x)
    for k, lay in enumerate(layers):
        t = ins[k].flatten()
        t = t[torch.isfinite(t)]
        assert float((t <= lay.t_max).float().mean()) >= 0.9, k
        if k > 0:
            assert float(t.quantile(0.95)) > 0.22 * lay.t_max, k


def test_objective_adds_the_firing_regularizer():
    torch.manual_seed(0)
    cfg = tiny(offset="fixed")
    net = train.build_model(cfg)
    t = net(images(2))
    y = torch.tensor([1, 2])
    with_q = objective(net, t, y, cfg)
    without = objective(net, t, y, cfg.replace(gamma2=0.0))
    q = sum(
        float((((ti.unsqueeze(1) < to.unsqueeze(2)) & torch.isfinite(ti).unsqueeze(1)) * w).sum((1, 2)).mean())
        for ti, w, to in net.last_io
    )
    assert len(net.last_io) == 2 and q > 0
    # the difference of two float32 losses: its rounding is a few ulp of the loss itself
    ulp = 4 * torch.finfo(torch.float32).eps * abs(float(without))
    assert float(with_q - without) == pytest.approx(-cfg.gamma2 * q, rel=1e-4, abs=ulp)


def test_one_training_step_reduces_the_loss_on_a_fixed_batch(one_thread):
    torch.manual_seed(0)
    cfg = tiny(offset="fixed")
    net = train.build_model(cfg).train()
    x, y = images(8, seed=1), torch.arange(8) % 10
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    before = objective(net, net(x), y, cfg)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = objective(net, net(x), y, cfg)
    assert float(after) < float(before) - 1e-4, (float(before), float(after))


def test_resume_equals_uninterrupted(tmp_path, one_thread, monkeypatch):
    cfg = tiny(epochs=2, train_subset=None, test_subset=None)
    x, xt = images(16, seed=2), images(8, seed=3)
    data = (x, torch.arange(16) % 10, xt, torch.arange(8) % 10)
    full = train.train(cfg, tmp_path / "full", device="cpu", progress=False, data=data)
    real = train.train_epoch

    def stop_in_epoch_2(*a, **kw):
        if a[5] == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(train, "train_epoch", stop_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train.train(cfg, tmp_path / "resumed", device="cpu", progress=False, data=data)
    monkeypatch.setattr(train, "train_epoch", real)
    resumed = train.train(cfg, tmp_path / "resumed", device="cpu", progress=False, data=data)
    assert train.deterministic_metrics(resumed) == train.deterministic_metrics(full)
    a, b = train.load_model(tmp_path / "full"), train.load_model(tmp_path / "resumed")
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_cli_defaults_follow_the_model():
    args = build_parser("ttfs-cnn").parse_args(["train", "--model", "ttfs-cnn"])
    for k, v in TTFS_DEFAULTS.items():
        assert getattr(args, k) == v, k
    assert build_parser().parse_args(["train"]).lr == train.TrainConfig().lr
    with pytest.raises(ValueError, match="gamma2"):
        default_config("ttfs-cnn", gamma2=-1.0)


# ------------------------------------------------------------------------------------------ the harness


def test_exact_trace_matches_the_exact_spike_time():
    g = torch.Generator().manual_seed(0)
    t_in = torch.rand(20, generator=g, dtype=torch.float64)
    t_in[3] = math.inf
    w = torch.rand(4, 20, generator=g, dtype=torch.float64) * 0.6 - 0.1
    t_grid = torch.linspace(0, 3, 3001, dtype=torch.float64)
    v, t_fire = T.exact_trace(t_in, w, (2.0, -2.0), t_grid)
    exact = F.ttfs(t_in.unsqueeze(0), w, 2.0)[0]
    fires = torch.isfinite(exact)
    assert fires.any()
    assert torch.allclose(t_fire[fires], exact[fires], atol=2e-3)  # within the grid spacing 1e-3 (+ inputs)
    assert torch.isinf(t_fire[~fires]).all()
    assert float(v.min()) >= -2.0 and float(v.max()) <= 1.0 + 0.05
    # after the spike v is fixed to 0 (App. C)
    k = int((t_grid > t_fire[fires][0] + 0.01).nonzero()[0])
    assert (v[fires.nonzero()[0, 0], k:] == 0).all()


def test_claim_rules():
    flat = T.converged_at([3, 10, 30], [[0.50, 0.52], [0.80, 0.81], [0.805, 0.80]])
    assert flat["resolved"] and flat["x"] == 10
    assert T.convergence_verdict(flat, 20, [3, 10, 30]) == "reproduced"
    assert T.convergence_verdict(flat, 40, [3, 10, 30, 60, 80]) == "not reproduced"
    assert T.convergence_verdict(flat, 40, [3, 10, 30]) == "not resolved at this budget"  # outside the grid
    assert T.convergence_verdict(flat, 20, [3, 10, 20, 30]) == "reproduced"  # a neighbour of the paper's value
    assert T.convergence_verdict(flat, 40, [3, 10, 20, 40, 60]) == "not reproduced"
    assert not T.converged_at([3, 10], [[0.5], [0.8]])["resolved"]  # one seed: no noise estimate
    deg = T.ann_degradation({2.0: 0.3, 4.0: 0.6, 10.0: 0.84, 31.6: 0.85}, 1000)
    assert deg["holds"] and deg["decidable"]
    assert not T.ann_degradation({2.0: 0.3, 4.0: 0.8, 10.0: 0.84, 31.6: 0.85}, 1000)["holds"]
    early = T.ann_degradation({2.0: 0.2, 4.0: 0.25, 10.0: 0.37, 31.6: 0.46}, 200)  # the loss starts at |E| = 10
    assert (early["holds"], early["below_holds"], early["above_holds"]) == (False, True, False)
    assert not T.ann_degradation({2.0: 0.17, 10.0: 0.18, 31.6: 0.17}, 200)["decidable"]  # too close to chance
    # two identical gaps at chance level (zero-width t-interval) are not above the test-set noise
    assert not T.gap_exceeds_noise([0.03, 0.03], [0.11, 0.08, 0.11, 0.08], 200)
    assert T.gap_exceeds_noise([0.10, 0.12], [0.80, 0.70, 0.81, 0.69], 2000)


def test_settings_and_cells():
    for profile in ("smoke", "quick", "paper"):
        s = T.settings(profile)
        cfg = T.base_config(s)
        assert cfg.model == "ttfs-cnn" and cfg.gamma2 == TTFS_DEFAULTS["gamma2"]
        cells = T.cells(s)
        assert (s["ann_train_e"], s["sweep_m"][0], "random", s["seeds"][0]) in cells
        assert all((e, m, "fixed", sd) in cells for e in s["d_e"] for m in s["d_m"] for sd in s["seeds"])
        assert s["grid14_e"] in s["scale_e"]
    p = T.base_config(T.settings("paper"))
    assert (p.lr, p.batch_size, p.epochs, p.gamma1, p.t_ref, p.tau_soft, p.width) == (
        2e-4,
        32,
        150,
        0.02,
        3.2,
        0.07,
        1.0,
    )
    with pytest.raises(ValueError, match="profile"):
        T.settings("huge")
