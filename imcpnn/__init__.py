"""imcpnn: physical neural networks of analog in-memory-computing circuits.

Functional core: :mod:`imcpnn.functional` (exact, ODE and DSTD solvers of the IMC-aware neuron).
Layers: :mod:`imcpnn.layers`. Loss: :mod:`imcpnn.loss`. SPICE interface: :mod:`imcpnn.spice`
(optional, needs PySpice and ngspice).
"""

from imcpnn import functional, layers, loss
from imcpnn.functional import membrane_trace, rc_spike, rc_spike_potential, ttfs

__version__ = "0.1.0"
__all__ = ["functional", "layers", "loss", "rc_spike_potential", "rc_spike", "ttfs", "membrane_trace", "__version__"]
