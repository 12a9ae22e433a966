"""imcpnn.spice.pdk's variation switches against the real ngspice: sky130's mismatch models draw a deviation per
device instance and per seed (the same seed reproduces it), ``.temp`` moves the devices, and the two-layer Iris deck
carries both options. Small .op decks (~0.1 s each) apart from one single-neuron transient."""

from __future__ import annotations

import numpy as np
import pytest

from imcpnn.spice import iris as si
from imcpnn.spice import netlist as nl
from imcpnn.spice import simulate as sim
from imcpnn.spice.pdk import library_line, model_dir, seed_line, temp_line


@pytest.fixture(scope="module", autouse=True)
def ngspice_ready():
    sim.require_ngspice()
    model_dir()


def _three_nmos(models: str, *extra: str) -> str:
    """Three identical NMOS (W = 1 µm, L = 0.25 µm, V_g = 0.5 V, V_d = 1.3 V); their drain currents."""
    lines = ["* three identical NMOS", models]
    for k in range(3):
        lines += [f"Vd{k} d{k} 0 1.3", nl.mos(f"M{k}", f"d{k}", "g", "0", "0", nl.NFET, 1e-6, 250e-9)]
    return "\n".join([*lines, "Vg g 0 0.5", *extra, ".op", ".end"]) + "\n"


def _currents(deck: str, name: str) -> np.ndarray:
    out = sim.run_netlist(deck, name)
    return np.array([-out[f"vd{k}#branch"][0] for k in range(3)])


def test_mismatch_draws_per_device_and_per_seed_and_the_seed_reproduces():
    nominal = _currents(_three_nmos(library_line("tt")), "mm_nominal")
    assert np.ptp(nominal) == 0.0  # identical devices without mismatch
    a = _currents(_three_nmos(library_line("tt", mismatch=True), seed_line(11)), "mm_seed11")
    b = _currents(_three_nmos(library_line("tt", mismatch=True), seed_line(12)), "mm_seed12")
    a2 = _currents(_three_nmos(library_line("tt", mismatch=True), seed_line(11)), "mm_seed11_again")
    # every instance draws its own deviation: the three devices of one deck differ (by percent, not round-off)
    assert np.ptp(a) / nominal[0] > 0.01 and np.ptp(b) / nominal[0] > 0.01, (a, b)
    assert np.all(np.abs(a - b) / nominal[0] > 1e-3), (a, b)  # another seed: other draws
    np.testing.assert_array_equal(a, a2)  # the same seed: the same instance
    assert np.all(np.abs(a - nominal) / nominal > 1e-3)


def test_temperature_moves_the_devices_and_27_is_the_default():
    base = _currents(_three_nmos(library_line("tt")), "temp_default")
    at27 = _currents(_three_nmos(library_line("tt"), temp_line(27)), "temp_27")
    hot = _currents(_three_nmos(library_line("tt"), temp_line(85)), "temp_85")
    cold = _currents(_three_nmos(library_line("tt"), temp_line(-40)), "temp_m40")
    np.testing.assert_allclose(at27, base, rtol=1e-9)
    assert hot[0] > 1.5 * base[0] and cold[0] < base[0] / 1.5, (cold, base, hot)  # subthreshold: strongly thermal


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "7"])
def test_seed_line_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed must be an integer >= 1"):
        seed_line(bad)


@pytest.mark.parametrize("bad", [-60, 151, float("nan"), "27", None])
def test_temp_line_rejects_bad_temperatures(bad):
    with pytest.raises(ValueError, match=r"temp_c must be a temperature in \[-55, 150\]"):
        temp_line(bad)


def _iris_deck(**kw) -> str:
    off = (np.zeros((5, 5)), np.full((5, 5), 1.8))
    return si.two_layer_netlist(off, off, np.array([0.1, 0.5, 0.9, 1.0, 0.0]), "* models", **kw)


def test_two_layer_deck_carries_temperature_seed_and_probes_only_when_asked():
    plain = _iris_deck()
    assert ".temp" not in plain and "seed" not in plain and "Vam_" not in plain and "i(" not in plain
    deck = _iris_deck(temp_c=85.0, seed=7, probes=True)
    assert ".temp 85" in deck.splitlines() and ".option seed=7" in deck.splitlines()
    # probes: every block on its own supply node behind a 0-V ammeter, and every source's current saved
    for name, base, block in (("syn1", "vdd", "syn1"), ("drv", "vdd", "drv"), ("chg2", "v0", "chg2")):
        assert f"Vam_{name} {base} {base}_{block} 0" in deck.splitlines()
    inst = [ln.split() for ln in deck.splitlines() if ln[:2] in ("Xs", "Xn", "Xd")]
    assert all("vdd" not in toks for toks in inst), "an instance still hangs on the shared VDD"
    save = next(ln for ln in deck.splitlines() if ln.startswith(".save"))
    for src in ("i(Vdd)", "i(Vv0)", "i(Vphase2b)", "i(Vx3b)", "i(Vgp2_4_4)", "i(v.xn2_4.vam_logic)"):
        assert src in save, src


def test_neuron_probes_leave_the_spike_time_unchanged():
    """One neuron with two synapses, without and with the ammeters inside the neuron: the same spike time, and
    the ammeters see the sensing inverter's and the logic's supply currents."""
    neuron = nl.NeuronParams().with_(v_b_dis=0.5643)
    spec = nl.LayerSpec([[0.55, 0.0]], [[1.8, 1.2]], [0.2, 0.6], neuron=neuron)
    plain = nl.layer_netlist(spec, library_line("tt"), max_step=5e-9)
    probed = plain.replace(nl.neuron_subckt(neuron), nl.neuron_subckt(neuron, probes=True))
    assert probed != plain
    probed = probed.replace(".save ", ".save i(v.xn0.vam_sense) i(v.xn0.vam_logic) i(v.xn0.vam_dis) ")
    tm = spec.timing
    a, b = sim.run_netlist(plain, "probe_off"), sim.run_netlist(probed, "probe_on")
    from imcpnn.spice.readout import spike_time

    ta = spike_time(a["time"], a["v(out0)"], t_phase=tm.t_fire, t_circ=tm.t_circ)
    tb = spike_time(b["time"], b["v(out0)"], t_phase=tm.t_fire, t_circ=tm.t_circ)
    assert 0 < ta < 1 and abs(ta - tb) < 1e-4, (ta, tb)  # < 0.1 ns of a 1 µs phase
    for k in ("sense", "logic", "dis"):
        assert np.max(np.abs(b[f"v.xn0.vam_{k}#branch"])) > 1e-9, k  # > 1 nA flows through each
