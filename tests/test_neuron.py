"""The one neuron-parameter object (imcpnn.neuron.Neuron): validated once where made, taken by every layer,
model builder and run config (arXiv 2412.09010v1 Eq. 7-11, 82-85, App. E)."""

import math

import pytest
import torch

from imcpnn import models
from imcpnn.functional import DSTD, ODE, Exact
from imcpnn.layers import RCSpikeConv2d, RCSpikeLinear, TTFSConv2d, TTFSLinear
from imcpnn.neuron import Neuron
from imcpnn.train import TrainConfig, build_model


def test_forms_of_e_rev_and_defaults():
    assert Neuron(4).e_rev == 4.0 and (Neuron(4).e_pos, Neuron(4).e_neg) == (4.0, -4.0)
    n = Neuron("2.8:-1.53", e_dis=3, solver=DSTD(4))
    assert n.e_rev == (2.8, -1.53) and n.e_dis == 3.0 and isinstance(n.e_dis, float)
    assert n.test_solver == DSTD(30, "fixed")
    assert Neuron(math.inf).ideal and not Neuron(math.inf, e_dis=3.0).ideal
    assert Neuron(4, solver=Exact()).test_solver == Exact()
    assert Neuron((2.8, -1.53)) == Neuron("2.8:-1.53")
    assert str(n) == (
        "Neuron(E=2.8:-1.53, E_dis=3, solver=dstd(M=4, offset=random), test_solver=dstd(M=30, offset=fixed))"
    )
    assert n.replace(e_dis=None).e_dis is None


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"e_rev": -1.0}, "e_rev"),
        ({"e_rev": "2.8,-1.53"}, r"E\+:E-"),
        ({"e_rev": (-1.0, 2.0)}, "e_rev"),
        ({"e_dis": 1.0}, "e_dis"),
        ({"e_dis": True}, "e_dis"),
        ({"solver": "dstd"}, "solver"),
        ({"test_solver": 3}, "test_solver"),
    ],
)
def test_bad_values_are_refused_where_the_neuron_is_made(kwargs, named):
    with pytest.raises(ValueError, match=named):
        Neuron(**kwargs)


def test_a_layer_from_a_neuron_equals_one_from_the_keywords():
    n = Neuron((2.8, -1.53), e_dis=3.0, solver=DSTD(4, "fixed"), test_solver=DSTD(10, "fixed"))
    torch.manual_seed(0)
    a = RCSpikeLinear(6, 3, n)
    torch.manual_seed(0)
    b = RCSpikeLinear(6, 3, (2.8, -1.53), steps=4, offset="fixed", test_steps=10, e_dis=3.0)
    assert a.neuron == b.neuron == n
    t = torch.rand(5, 6)
    assert torch.equal(a(t), b(t))
    a.eval(), b.eval()
    assert torch.equal(a(t), b(t))


def test_solver_keywords_beside_a_neuron_are_refused():
    with pytest.raises(ValueError, match="steps inside the Neuron"):
        RCSpikeLinear(6, 3, Neuron(4), steps=5)
    with pytest.raises(ValueError, match="e_dis inside the Neuron"):
        RCSpikeLinear(6, 3, Neuron(4), e_dis=3.0)
    with pytest.raises(ValueError, match="e_dis inside the Neuron"):
        RCSpikeConv2d(2, 3, 3, Neuron(4), e_dis=3.0)
    with pytest.raises(ValueError, match="steps inside the Neuron"):
        models.vgg7(Neuron(4), steps=3)


def test_layers_refuse_a_neuron_they_cannot_be():
    with pytest.raises(ValueError, match="DSTD only"):
        RCSpikeConv2d(2, 3, 3, Neuron(4, solver=Exact()))
    with pytest.raises(ValueError, match="no discharger"):
        TTFSLinear(4, 2, Neuron(4, e_dis=3.0))
    with pytest.raises(ValueError, match="no discharger"):
        TTFSConv2d(2, 3, 3, Neuron(4, e_dis=3.0))
    assert TTFSLinear(4, 2, Neuron(4, solver=ODE())).solver == ODE()
    assert RCSpikeConv2d(2, 3, 3, Neuron(4, e_dis=2.0)).e_dis == 2.0


@pytest.mark.parametrize("model", ["mlp", "iris", "ttfs-cnn"])
def test_the_run_config_builds_its_model_through_the_neuron(model):
    """The same weights and outputs as the keyword path the builders had before the Neuron existed."""
    dataset = {"mlp": "fmnist", "iris": "iris", "ttfs-cnn": "fmnist"}[model]
    c = TrainConfig(model=model, dataset=dataset, e_rev=(2.8, -1.53), width=0.05, steps=3, test_steps=6)
    if model == "iris":
        c = c.replace(e_dis=3.0)
    torch.manual_seed(1)
    new = build_model(c)
    torch.manual_seed(1)
    if model == "iris":
        old = models.iris(c.e_rev, e_dis=3.0, init_gain=c.init_gain, sigma_spike=c.sigma_spike)
    else:
        kw = dict(steps=3, test_steps=6, offset=c.offset, test_offset=c.test_offset, sigma_spike=c.sigma_spike)
        kw.update(width=c.width, init_gain=c.init_gain, **({"t_ref": c.t_ref} if model == "ttfs-cnn" else {}))
        old = models.build(model, c.e_rev, dataset=dataset, **kw)
    for (k, v), (k2, v2) in zip(new.state_dict().items(), old.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k
    assert [layer.neuron for layer in models.spiking_layers(new)] == [
        layer.neuron for layer in models.spiking_layers(old)
    ]
    assert c.neuron().e_rev == (2.8, -1.53)


def test_ttfs_runs_refuse_a_discharger():
    with pytest.raises(ValueError, match="e_dis"):
        TrainConfig(model="ttfs-cnn", e_dis=3.0)
