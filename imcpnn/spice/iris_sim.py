"""One sample of the Iris circuit in a long-lived ngspice process (arXiv 2412.09010v1 Sec. 4, Fig. 7).

:func:`simulate_sample` loads the circuit once per process and then only alters the memory-gate voltages and
input spikes of each sample (:func:`imcpnn.spice.iris.sample_alters`), reads it out with
:func:`imcpnn.spice.iris.read_two_layer` and, on request, splits its energy with
:func:`imcpnn.spice.energy.two_layer_energy`. It is the job function the executor runs on its workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from imcpnn.spice.energy import two_layer_energy
from imcpnn.spice.iris import read_two_layer

__all__ = ["simulate_sample"]

_LOADED: dict = {"key": None}


def simulate_sample(
    deck: str,
    alters: Sequence[str],
    key: str,
    name: str,
    workdir: str,
    readout_kwargs: dict,
    energy_kwargs: dict | None = None,
) -> dict:
    """Simulate one sample and return :func:`read_two_layer` of it (with ``energy_kwargs``, a deck built with
    ``probes=True`` also gets ``"energy"``: :func:`imcpnn.spice.energy.two_layer_energy` with those arguments).

    The first call in a process loads ``deck`` (:func:`imcpnn.spice.simulate.run_netlist`); later calls with
    the same circuit ``key`` only apply ``alters`` (:func:`sample_alters`) and re-run the transient, which
    skips the parsing and sub-circuit expansion of the sky130 models (most of a fresh run's cost). The
    concrete deck is written to ``<workdir>/<name>.cir`` first and deleted on success, so that a failed or
    killed sample leaves its netlist behind.
    """
    from imcpnn.spice import simulate as sim

    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.cir"
    path.write_text(deck)
    if _LOADED["key"] != key:
        out = sim.run_netlist(deck, name, workdir=folder)
        _LOADED["key"] = key
    else:
        try:
            out = sim.rerun(alters, path) if hasattr(sim, "rerun") else _rerun(sim, alters, path)
        except Exception:
            _LOADED["key"] = None  # reload the circuit for the next sample
            raise
    res = read_two_layer(out, **readout_kwargs)
    if energy_kwargs is not None:
        res["energy"] = two_layer_energy(out, deck, **energy_kwargs)
    path.unlink(missing_ok=True)
    return res


def _rerun(sim, alters: Sequence[str], path: Path) -> dict[str, np.ndarray]:
    """Alter the loaded circuit and run its transient again; raise SpiceSimulationError on failure."""
    from PySpice.Spice.NgSpice.Shared import NgSpiceCommandError

    ng = sim._ngspice()
    ng.destroy()
    ng.clear_output()
    before = set(ng.plot_names)
    try:
        for cmd in alters:
            ng.exec_command(cmd)
    except NgSpiceCommandError as exc:
        _LOADED["key"] = None
        raise sim.SpiceSimulationError(f"ngspice rejected an alter for {path}: {exc}", netlist=path) from exc
    try:
        ng.run()
    except NgSpiceCommandError as exc:
        fatal = [line for line in [*ng._stdout, *ng._stderr] if sim._FATAL.search(line)]
        if fatal or not [p for p in ng.plot_names if p not in before and p != "const"]:
            _LOADED["key"] = None
            raise sim.SpiceSimulationError(
                f"ngspice failed for {path}:\n" + "\n".join(fatal[-15:]), netlist=path
            ) from exc
    names = [p for p in ng.plot_names if p not in before and p != "const"]
    if not names:
        _LOADED["key"] = None
        raise sim.SpiceSimulationError(f"ngspice produced no results for {path}", netlist=path)
    plot = ng.plot(None, names[0])
    out = {}
    for k, vec in plot.items():
        data = np.real(np.array(vec._data))
        k = str(k).lower()
        out[k] = data
        if not k.startswith(("v(", "i(")) and "#" not in k and k != "time":
            out[f"v({k})"] = data
    if len(out.get("time", [])) < 2:
        raise sim.SpiceSimulationError(f"the transient of {path} stopped at once", netlist=path)
    return out
