"""Spike-time loss (arXiv 2412.09010v1 Eq. 49-53) and prediction by the earliest output spike.

Sign convention (our reading: the v1 text lost the minus signs): the class probabilities are
S_i = softmax(-t_i / tau_soft), so the EARLIEST output spike gets the largest probability, and the loss is the
cross-entropy -sum_i kappa_i ln S_i with one-hot kappa. The temporal penalty gamma1 sum_i (t_i - t_ref)^2 keeps
output times near t_ref. Both are averaged over the batch.

Example::

    import torch
    from imcpnn import loss

    t_out = torch.rand(8, 3, requires_grad=True)  # output spike times [batch, classes]
    target = torch.randint(0, 3, (8,))
    c = loss.spike_time_loss(t_out, target)  # Eq. 49-52 at the RC-Spike defaults (tau_soft 0.07, gamma1 2.6)
    c.backward()
    pred = loss.predict(t_out)  # the earliest spike is the class
    silent = torch.tensor([[0.5, float("inf")]])  # a TTFS output that never fired counts at t_silent
    c_ttfs = loss.spike_time_loss(silent, torch.tensor([0]), gamma1=0.02, t_ref=3.2, t_silent=6.4)
"""

from __future__ import annotations

import torch
from torch.nn import functional as tnf


def _finite(t: torch.Tensor, t_silent: float) -> torch.Tensor:
    """Replace +inf (a TTFS neuron that never fired) by the finite time ``t_silent``."""
    return torch.where(torch.isfinite(t), t, torch.full_like(t, t_silent))


def spike_time_loss(
    t_out: torch.Tensor,
    target: torch.Tensor,
    *,
    tau_soft: float = 0.07,
    gamma1: float = 2.6,
    t_ref: float = 0.9,
    t_silent: float | None = None,
) -> torch.Tensor:
    """C = CE(softmax(-t/tau_soft), target) + gamma1 * sum_i (t_i - t_ref)^2, mean over the batch.

    ``t_out`` [batch, classes]; ``target`` int64 [batch]. Defaults are the RC-Spike settings (§3). For TTFS
    pass ``t_silent`` (e.g. a time after the last layer's window): non-firing outputs are treated as spiking
    then, so the loss stays finite.
    """
    if t_out.dim() != 2:
        raise ValueError(f"t_out must have shape [batch, classes], got {tuple(t_out.shape)}")
    if target.shape != t_out.shape[:1]:
        raise ValueError(f"target must have shape [{t_out.shape[0]}], got {tuple(target.shape)}")
    if tau_soft <= 0:
        raise ValueError(f"tau_soft must be > 0, got {tau_soft!r}")
    if t_silent is not None:
        t_out = _finite(t_out, t_silent)
    ce = tnf.cross_entropy(-t_out / tau_soft, target)
    temporal = (t_out - t_ref).square().sum(1).mean()
    return ce + gamma1 * temporal


def causal_weight_sum(t_in: torch.Tensor, weight: torch.Tensor, t_out: torch.Tensor) -> torch.Tensor:
    """Q for one TTFS layer (Eq. 53): sum over neurons i of the weights w_ij of inputs j that arrived before
    neuron i fired (all finite inputs for a silent neuron), averaged over the batch.

    Sign (our reading; ambiguous in v1 Eq. 53): the regulariser promotes firing, so the training objective ADDS
    ``-gamma2 * Q`` (see :func:`firing_regularizer`), which raises the causal weights.
    """
    causal = (t_in.unsqueeze(1) < t_out.unsqueeze(2)) & torch.isfinite(t_in).unsqueeze(1)  # [B, O, N]
    return (causal.to(weight.dtype) * weight.unsqueeze(0)).sum((1, 2)).mean()


def firing_regularizer(layer_io: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], gamma2: float) -> torch.Tensor:
    """-gamma2 * sum_l Q_l over (t_in, weight, t_out) of every dense TTFS layer (gamma2 = 8e-6 in §3)."""
    return -gamma2 * sum(causal_weight_sum(t_in, w, t_out) for t_in, w, t_out in layer_io)


def weight_norm_penalty(model: torch.nn.Module) -> torch.Tensor:
    """P = sum over layers of ||w||_2^2 (arXiv 2412.09010v1 Eq. 57): keeps the circuit's currents small."""
    return sum(p.square().sum() for name, p in model.named_parameters() if name.endswith("weight"))


def early_spike_penalty(layer_times: list[torch.Tensor]) -> torch.Tensor:
    """V = sum over layers and neurons of (t_i - 1)^2, mean over the batch (Eq. 58): discourages early spikes,
    which are hard for the circuit. ``layer_times``: each layer's output times [batch, n]."""
    return sum((t - 1.0).square().sum(1).mean() for t in layer_times)


def predict(t_out: torch.Tensor) -> torch.Tensor:
    """The predicted class: the earliest output spike."""
    return t_out.argmin(1)
