"""imcpnn.spice.energy: the trapezoid integral, the source table of a deck, a capacitor charged through a switch
from an ideal source (ngspice; E = C V^2 delivered, half stored), and the Iris breakdown on synthetic currents."""

from __future__ import annotations

import numpy as np
import pytest

from imcpnn.spice import energy as en
from imcpnn.spice import iris as si
from imcpnn.spice import simulate as sim


def test_integrate_is_exact_on_linear_pieces_and_cuts_the_window():
    t = np.array([0.0, 1.0, 3.0, 4.0])
    y = np.array([0.0, 2.0, 2.0, 0.0])
    assert en.integrate(t, y) == pytest.approx(1.0 + 4.0 + 1.0)
    assert en.integrate(t, y, (0.5, 3.5)) == pytest.approx(0.75 + 4.0 + 0.75)
    with pytest.raises(ValueError, match="window must satisfy"):
        en.integrate(t, y, (1.0, 5.0))
    with pytest.raises(ValueError, match="equal length"):
        en.integrate(t, y[:-1])


def test_deck_sources_lists_the_top_level_sources_only():
    deck = "* t\n.subckt a x y\nVin x y 0\n.ends a\nV1 n1 0 1.8\nVam n1 n2 0\nvb n3 n4 PULSE(0 1 1n)\nX1 n2 0 a\n.end\n"
    assert en.deck_sources(deck) == {
        "v1": ("n1", "0", "1.8"),
        "vam": ("n1", "n2", "0"),
        "vb": ("n3", "n4", "pulse(0 1 1n)"),
    }


def test_capacitor_charged_through_a_switch_takes_cv2_from_the_source_and_stores_half():
    sim.require_ngspice()
    c, v = 1e-12, 1.0
    deck = (
        "\n".join(
            [
                "* ideal source -> switch -> capacitor",
                f"Vs s 0 {v}",
                "Vctl ctl 0 PULSE(0 1 10n 0.1n 0.1n 1 2)",
                "S1 s cap ctl 0 sw",
                ".model sw sw vt=0.5 vh=0.1 ron=1k roff=1e12",
                f"C1 cap 0 {c} ic=0",
                ".save i(vs) i(vctl) v(s) v(ctl) v(cap)",
                ".tran 0.01n 60n 0 0.05n uic",
                ".end",
            ]
        )
        + "\n"
    )
    out = sim.run_netlist(deck, "cap_switch")
    e = en.energy_by_source(out, deck)
    stored = 0.5 * c * out["v(cap)"][-1] ** 2
    assert out["v(cap)"][-1] == pytest.approx(v, rel=1e-6)  # 50 RC: fully charged
    assert e["vs"] == pytest.approx(c * v**2, rel=1e-3)  # the source delivers C V^2 ...
    assert stored == pytest.approx(0.5 * e["vs"], rel=1e-3)  # ... half of it stored, half burnt in the switch
    assert abs(e["vctl"]) < 1e-3 * c * v**2  # the switch's control draws nothing


def test_synaptic_events_count_arriving_spikes_times_fan_out():
    assert en.synaptic_events([0.1, 0.5, 1.0, 1.0, 0.0], [1.0, 0.2, 1.0, 1.0, 0.9]) == 3 * 5 + 2 * 5


def test_two_layer_breakdown_on_synthetic_currents_sums_every_source():
    """Constant currents on a probed Iris deck: each block's energy is V I T, the groups sum to the total."""
    off = (np.zeros((5, 5)), np.full((5, 5), 1.8))
    deck = si.two_layer_netlist(off, off, np.full(5, 1.0), "* models", probes=True)
    tm = si.IrisTiming()
    t = np.linspace(0.0, tm.t_end, 101)
    out = {"time": t}
    srcs = en.deck_sources(deck)
    for name, (pos, neg, _) in srcs.items():
        out[f"{name}#branch"] = np.zeros_like(t)
        for node in (pos, neg):
            if node != "0":
                out[f"v({node})"] = np.zeros_like(t)
    for lay in (1, 2):
        for i in range(5):
            out[f"v(mem{lay}_{i})"] = np.full_like(t, 1.3)
            for k in si.NEURON_PROBES:
                out[f"v.xn{lay}_{i}.vam_{k}#branch"] = np.zeros_like(t)
    out["v(vdd)"], out["v(v0)"] = np.full_like(t, 1.8), np.full_like(t, 1.3)
    out["vdd#branch"] = np.full_like(t, -3e-6)  # VDD delivers 3 µA: 1 µA to synapse array 1, 2 µA to the logic
    out["vam_syn1#branch"], out["vam_neu1#branch"] = np.full_like(t, 1e-6), np.full_like(t, 2e-6)
    out["v.xn1_0.vam_logic#branch"] = np.full_like(t, 2e-6)
    out["vv0#branch"], out["vam_chg1#branch"] = np.full_like(t, -1e-6), np.full_like(t, 1e-6)
    res = en.two_layer_energy(out, deck, vdd=1.8, v0=1.3, c_m=140e-15)
    b, T = res["breakdown"], tm.t_end
    assert b["synapse_arrays"]["layer1_vdd"] == pytest.approx(1.8e-6 * T)
    assert b["neurons"]["logic"] == pytest.approx(3.6e-6 * T)
    assert b["neurons"]["other_neuron_vdd"] == pytest.approx(0.0, abs=1e-20)
    assert b["neurons"]["charging_v0_layer1"] == pytest.approx(1.3e-6 * T)
    assert b["neurons"]["charging_v0_layer2_after_window"] == 0.0  # the membranes sit at V0
    assert res["total_j"] == pytest.approx((5.4e-6 + 1.3e-6) * T)
    assert res["check"]["vdd_delivered_j"] == pytest.approx(res["check"]["vdd_split_j"])
    assert res["membrane_cv2_j"] == pytest.approx(10 * 140e-15 * 1.3**2)
    del out["vam_syn1#branch"]
    with pytest.raises(KeyError, match="vam_syn1"):
        en.two_layer_energy(out, deck, vdd=1.8, v0=1.3, c_m=140e-15)
