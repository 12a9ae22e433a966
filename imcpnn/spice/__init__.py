"""SPICE interface: sky130 models, netlist builders, an ngspice runner (PySpice) and waveform readout.

The circuit is the RC-Spike IMC circuit of arXiv 2412.09010v1 Section 4 (Fig. 6, App. G), simulated at
**schematic** level with the real sky130 device models (the paper's numbers are post-layout). Submodules:

* :mod:`imcpnn.spice.pdk` – locate the sky130 models, write the trimmed fast include;
* :mod:`imcpnn.spice.netlist` – synapse / neuron / layer netlists and DC testbenches (SI units);
* :mod:`imcpnn.spice.simulate` – run a deck in ngspice, clear errors (missing ngspice, no convergence);
* :mod:`imcpnn.spice.readout` – λ fits, crossings, spike times, model-unit conversions (pure numpy);
* :mod:`imcpnn.spice.weightmap` – the one weight -> current -> gate-voltage map on simulated I(V_g) tables
  (Table 2, App. A.2; pure numpy);
* :mod:`imcpnn.spice.characterize` – Fig. 17/19/20 sweeps, calibration, the I(V_g) tables, transients;
* the notebook-06 experiments live in :mod:`imcpnn.repro.spice_devices`.

Importing this package does not import PySpice (GPL-3, an optional extra) or start ngspice; that happens
on the first simulation.
"""

from imcpnn.spice.pdk import CORNERS, library_line, model_dir, trimmed_library
from imcpnn.spice.readout import erev_from_lambdas, fit_lambda, spike_time
from imcpnn.spice.simulate import (
    SpiceLimitError,
    SpiceSimulationError,
    SpiceTimeoutError,
    SpiceUnavailableError,
    ngspice_status,
    require_ngspice,
    run_netlist,
)

__all__ = [
    "CORNERS",
    "library_line",
    "model_dir",
    "trimmed_library",
    "fit_lambda",
    "erev_from_lambdas",
    "spike_time",
    "SpiceSimulationError",
    "SpiceLimitError",
    "SpiceTimeoutError",
    "SpiceUnavailableError",
    "ngspice_status",
    "require_ngspice",
    "run_netlist",
]
