"""Model builders: shapes, noise placement, the unclipped readout, VGG7 forward/backward."""

import pytest
import torch

from imcpnn import models
from imcpnn.layers import RCSpikeConv2d, RCSpikeLinear, SpikeNoise, TimeMinPool2d


def test_mlp_structure_and_shapes():
    net = models.mlp(4.0)
    lin = [m for m in net if isinstance(m, RCSpikeLinear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(784, 400), (400, 400), (400, 10)]
    assert isinstance(lin[-1], models.RCSpikeReadout)
    # noise after every layer, none on the encoded input
    kinds = [type(m).__name__ for m in net]
    assert kinds[0] == "Encode" and kinds[1] != "SpikeNoise"
    assert sum(isinstance(m, SpikeNoise) for m in net) == 3
    assert [m.clamp for m in net if isinstance(m, SpikeNoise)] == [True, True, False]
    x = torch.rand(5, 1, 28, 28)
    assert net(x).shape == (5, 10)
    outs = net.layer_outputs(x)
    assert [o.shape[1] for o in outs] == [400, 400, 10]
    assert all(((o >= 0) & (o <= 1)).all() for o in outs[:-1])
    assert models.mlp(4.0, width=0.5)[1].out_features == 200


def test_readout_is_the_unclipped_ramp_time():
    torch.manual_seed(0)
    layer = models.RCSpikeReadout(20, 3, 2.0, steps=3, test_steps=8).eval()
    with torch.no_grad():
        layer.weight.mul_(20)  # potentials far outside [0, 1]
    t = torch.rand(4, 20)
    out = layer(t)
    assert torch.allclose(out, 1 - layer.potential(t))
    assert (out < 0).any() or (out > 1).any()


def test_train_eval_settings_and_noise_in_eval():
    net = models.mlp(2.0, steps=3, test_steps=30, sigma_spike=0.05)
    layers = list(models.spiking_layers(net))
    assert all(m.steps == 3 and m.test_steps == 30 and m.e_rev == (2.0, -2.0) for m in layers)
    net.eval()
    x = torch.rand(3, 1, 28, 28)
    assert not torch.equal(net(x), net(x))  # spike noise also at inference


def test_vgg7_builds_and_trains_one_step():
    torch.manual_seed(0)
    net = models.vgg7(4.0, steps=2, test_steps=3, width=1 / 16)
    convs = [m for m in net if isinstance(m, RCSpikeConv2d)]
    assert [m.out_channels for m in convs] == [4, 4, 8, 8, 16, 16]
    assert all(m.padding == 1 and m.kernel_size == 3 for m in convs)
    assert sum(isinstance(m, TimeMinPool2d) for m in net) == 3
    lin = [m for m in net if isinstance(m, RCSpikeLinear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(16 * 4 * 4, 32), (32, 10)]
    x = torch.rand(2, 3, 32, 32)
    out = net(x)
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    assert len(net.layer_outputs(x)) == 8
    assert models.build("vgg7", 4.0, dataset="fmnist", steps=2, width=1 / 16)(torch.rand(1, 1, 28, 28)).shape == (1, 10)


def test_bad_arguments():
    with pytest.raises(ValueError, match="sigma_spike"):
        models.mlp(4.0, sigma_spike=-1)
    with pytest.raises(ValueError, match="width"):
        models.mlp(4.0, width=0)
    with pytest.raises(ValueError, match="steps"):
        models.mlp(4.0, steps=1)
    with pytest.raises(ValueError, match="e_rev"):
        models.mlp(-4.0)
    with pytest.raises(ValueError, match="model"):
        models.build("resnet", 4.0)
    with pytest.raises(ValueError, match="dataset"):
        models.build("mlp", 4.0, dataset="svhn")
