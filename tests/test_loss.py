"""Spike-time loss, TTFS firing regulariser Q and prediction (imcpnn.loss, arXiv 2412.09010v1 Eq. 49-53)."""

import math

import pytest
import torch

from imcpnn.loss import causal_weight_sum, firing_regularizer, predict, spike_time_loss


def test_loss_prefers_the_earliest_correct_spike():
    target = torch.tensor([1])
    early = spike_time_loss(torch.tensor([[0.9, 0.2, 0.9]]), target, gamma1=0.0)
    late = spike_time_loss(torch.tensor([[0.2, 0.9, 0.9]]), target, gamma1=0.0)
    assert early < late
    t = torch.tensor([[0.5, 0.5, 0.5]], requires_grad=True)
    spike_time_loss(t, target, gamma1=0.0).backward()
    assert t.grad[0, 1] > 0 and t.grad[0, 0] < 0  # descent moves the correct spike earlier, others later
    assert predict(torch.tensor([[0.9, 0.2, 0.5]])).item() == 1
    # temporal penalty: zero at t_ref
    base = spike_time_loss(torch.full((1, 3), 0.9), target, gamma1=0.0)
    assert spike_time_loss(torch.full((1, 3), 0.9), target, gamma1=2.6) == pytest.approx(base.item())
    # silent TTFS outputs are kept finite
    assert torch.isfinite(spike_time_loss(torch.tensor([[math.inf, 0.3, 1.0]]), target, t_silent=2.0))


def test_causal_weight_sum():
    t_in = torch.tensor([[0.1, 0.5, math.inf]])
    w = torch.tensor([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    t_out = torch.tensor([[0.3, math.inf]])
    # neuron 0 saw input 0 only; neuron 1 never fired and saw inputs 0 and 1
    assert causal_weight_sum(t_in, w, t_out).item() == pytest.approx(1.0 + 3.0)
    assert firing_regularizer([(t_in, w, t_out)], 0.5).item() == pytest.approx(-2.0)


def test_loss_is_cross_entropy_of_negative_times_plus_temporal_penalty():
    t = torch.tensor([[0.2, 0.7, 1.1], [0.9, 0.1, 0.5]])
    y = torch.tensor([0, 2])
    tau, g1, t_ref = 0.07, 2.6, 0.9
    logp = torch.log_softmax(-t / tau, 1)
    expected = -(logp[0, 0] + logp[1, 2]) / 2 + g1 * ((t - t_ref) ** 2).sum(1).mean()
    got = spike_time_loss(t, y, tau_soft=tau, gamma1=g1, t_ref=t_ref)
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"t_out": torch.rand(3)}, "t_out"),
        ({"target": torch.tensor([0, 1])}, "target"),
        ({"tau_soft": 0.0}, "tau_soft"),
    ],
)
def test_loss_rejects_bad_input(kwargs, match):
    args = {"t_out": torch.rand(3, 4), "target": torch.tensor([0, 1, 2])}
    tau = kwargs.pop("tau_soft", 0.07)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        spike_time_loss(args["t_out"], args["target"], tau_soft=tau)
