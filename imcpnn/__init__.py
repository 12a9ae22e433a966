"""imcpnn: physical neural networks of analog in-memory-computing circuits (arXiv 2412.09010v1).

The IMC-aware neuron (reversal potentials E+/E-, Eq. 7-11) as a functional core (:mod:`imcpnn.functional`:
exact, ODE and DSTD solvers), ``torch.nn`` layers (:mod:`imcpnn.layers`), the paper's networks
(:mod:`imcpnn.models`), the loss (:mod:`imcpnn.loss`), training (:func:`fit` for any module that returns
output spike times; :func:`imcpnn.train.train` for a named run with checkpoints) and evaluation
(:func:`imcpnn.evaluate.evaluate`). The SPICE interface,
:mod:`imcpnn.spice`, is imported on its own (it needs PySpice and ngspice).

Example::

    import torch
    import imcpnn

    net = imcpnn.mlp(imcpnn.Neuron(4.0, solver=imcpnn.DSTD(3)), sizes=(16, 8, 3))
    x, y = torch.rand(64, 16), torch.randint(0, 3, (64,))
    history = imcpnn.fit(net, (x, y), (x, y), imcpnn.FitConfig(epochs=2, lr=1e-3), progress=False)
    print(history["epochs"][-1]["test_accuracy"], imcpnn.evaluate.evaluate(net, x, y))
"""

from imcpnn import data, evaluate, functional, layers, loss, models, store, train
from imcpnn.functional import DSTD, ODE, Exact, membrane_trace, rc_spike, rc_spike_potential, ttfs
from imcpnn.models import build, iris, mlp, ttfs_cnn, vgg7
from imcpnn.neuron import Neuron
from imcpnn.train import FitConfig, TrainConfig, fit, load_model

__version__ = "0.1.0"
__all__ = [
    "DSTD",
    "ODE",
    "Exact",
    "FitConfig",
    "Neuron",
    "TrainConfig",
    "build",
    "data",
    "evaluate",
    "fit",
    "functional",
    "iris",
    "layers",
    "load_model",
    "loss",
    "membrane_trace",
    "mlp",
    "models",
    "rc_spike",
    "rc_spike_potential",
    "store",
    "train",
    "ttfs",
    "ttfs_cnn",
    "vgg7",
    "__version__",
]
