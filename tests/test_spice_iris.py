"""The Iris 5-5-5 circuit builder (imcpnn.spice.iris) and SPICE tasks on the executor (imcpnn.spice.parallel).

No ngspice needed here: the netlist is checked as text, the weight map on synthetic I(V_g) curves, the executor
with plain Python tasks. One real simulation of the circuit runs in notebook 07's smoke profile.
"""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest

from imcpnn.spice import iris as si
from imcpnn.spice import netlist as nl
from imcpnn.spice.parallel import SpiceExecutor, run_tasks
from imcpnn.spice.weightmap import WeightMap


def synthetic_map() -> WeightMap:
    """Exponential (sub-threshold-like) I(V_g) maps: NMOS rising, PMOS falling with V_g."""
    vg_n = np.linspace(0.2, 0.9, 351)
    vg_p = np.linspace(0.9, 1.6, 351)
    return WeightMap(
        vg_n,
        1e-12 * np.exp((vg_n - 0.2) / 0.05),
        vg_p,
        1e-6 * np.exp(-(vg_p - 0.9) / 0.06),
        c_m=140e-15,
        v_th=0.93,
        t_circ=1e-6,
    )


def pwl_points(deck: str, name: str) -> list[tuple[float, float]]:
    line = next(ln for ln in deck.splitlines() if ln.split()[0] == name)
    nums = [float(x) for x in re.search(r"PWL\((.*)\)", line).group(1).split()]
    return list(zip(nums[::2], nums[1::2], strict=True))


def high_windows(points: list[tuple[float, float]], vdd: float = 1.8) -> list[tuple[float, float]]:
    """(start of rise, start of fall) of every high window of a PWL."""
    out, start = [], 0.0 if points[0][1] > vdd / 2 else None
    for (t0, v0), (_t1, v1) in zip(points, points[1:]):
        if v0 < vdd / 2 <= v1:
            start = t0
        elif v0 >= vdd / 2 > v1:
            out.append((start, t0))
            start = None
    return out


@pytest.fixture
def deck() -> str:
    wm = synthetic_map()
    rng = np.random.default_rng(0)
    g1 = wm.gates(rng.uniform(-1, 1, (5, 5)), layer="hidden")
    g2 = wm.gates(rng.uniform(-1, 1, (5, 5)), layer="output")
    return si.two_layer_netlist(g1, g2, np.array([0.1, 0.5, 0.9, 1.0, 0.0]), "* models")


def test_phases_are_pipelined(deck):
    tm = si.IrisTiming()
    win = {n: high_windows(pwl_points(deck, n)) for n in ("Vreset1", "Vphase1", "Vreset2", "Vphase2")}
    # hidden: reset, accumulation [acc1, fire1), firing from fire1; output accumulates while the hidden layer fires
    assert win["Vreset1"][0][0] == 0.0 and win["Vreset1"][0][1] < tm.acc1
    assert win["Vphase1"] == [(pytest.approx(tm.fire1), pytest.approx(tm.fire2 - tm.t_gap))]
    assert win["Vreset2"][0][0] == 0.0 and tm.acc1 < win["Vreset2"][0][1] < tm.acc2  # held through layer 1's acc.
    assert win["Vphase2"][0][0] == pytest.approx(tm.fire2)
    assert tm.acc2 == tm.fire1  # layer 2 accumulates exactly during layer 1's firing phase
    # the hidden layer resets (grounding its outputs) before the output layer's firing phase starts
    assert tm.fire2 - tm.t_gap < win["Vreset1"][1][0] < tm.fire2
    # complements are the inverse
    for n in ("Vreset1", "Vphase1", "Vreset2", "Vphase2"):
        assert [1.8 - v for _, v in pwl_points(deck, n)] == [v for _, v in pwl_points(deck, n + "b")]


def test_hidden_outputs_drive_output_selectors(deck):
    lines = deck.splitlines()
    # hidden neuron i's output node is h<i>; the spike-line driver makes h<i>b from it
    for i in range(5):
        assert any(ln.startswith(f"Xn1_{i} mem1_{i} h{i} phase1 phase1b reset1 reset1b") for ln in lines)
        assert f"Xd{i} h{i} h{i}b vdd vss imc_spkdrv" in lines
    # every output-layer synapse (i, j) is switched by h<j> / h<j>b, i.e. by the circuit's own spikes
    for i in range(5):
        for j in range(5):
            assert any(ln.startswith(f"Xs2_{i}_{j} mem2_{i} h{j} h{j}b ") for ln in lines)
            assert any(ln.startswith(f"Xs1_{i}_{j} mem1_{i} x{j} x{j}b ") for ln in lines)
    # no source drives a hidden spike line: nothing is re-injected between the layers
    assert not [ln for ln in lines if ln.startswith("V") and re.search(r"\sh\d+b?\s", ln)]


def test_alters_reproduce_the_deck_values(deck):
    wm = synthetic_map()
    rng = np.random.default_rng(0)
    g1 = wm.gates(rng.uniform(-1, 1, (5, 5)), layer="hidden")
    g2 = wm.gates(rng.uniform(-1, 1, (5, 5)), layer="output")
    t_in = np.array([0.1, 0.5, 0.9, 1.0, 0.0])
    alters = si.sample_alters(g1, g2, t_in, 1.8, si.IrisTiming())
    src = {ln.split()[0].lower(): ln for ln in deck.splitlines() if ln.startswith("V")}
    assert len(alters) == 2 * 5 + 2 * 2 * 25
    for cmd in alters:
        m = re.fullmatch(r"alter @(\S+)\[(dc|pulse)\] = \[? ?(.*?) ?\]?", cmd)
        name, kind, value = m.groups()
        if kind == "dc":
            assert float(src[name].split()[-1]) == pytest.approx(float(value))
        else:
            assert f"PULSE({value})" in src[name]


def test_weight_gate_round_trip():
    wm = synthetic_map()
    rng = np.random.default_rng(1)
    w = rng.uniform(-3, 3, (5, 5))
    w[0, 0] = 0.0
    for alpha in ((1.0, 1.0), (1.2, 0.8)):
        v_gn, v_gp = wm.gates(w, *alpha)
        assert v_gn[0, 0] == 0.0 and v_gp[0, 0] == 1.8  # w = 0: both pairs off
        assert np.all(v_gn[w < 0] == 0.0) and np.all(v_gp[w > 0] == 1.8)
        np.testing.assert_allclose(wm.weights(v_gn, v_gp, *alpha), w, rtol=2e-3, atol=1e-9)
    # the current really is alpha C_m V_th |w| / T_circ on the map
    v_gn, _ = wm.gates(np.array([[2.0]]), 1.1, 1.0)
    i = 1e-12 * np.exp((v_gn[0, 0] - 0.2) / 0.05)
    assert i == pytest.approx(1.1 * 140e-15 * 0.93 * 2.0 / 1e-6, rel=2e-3)


def test_out_of_range_weight_names_layer_synapse_and_range():
    wm = synthetic_map()
    hi = wm.weight_range()["neg"][1]
    w = np.zeros((5, 5))
    w[1, 2] = -1.5 * hi
    with pytest.raises(
        ValueError,
        match=r"output layer: weight w\[1, 2\].*input 2 to neuron 1.*negative-weight "
        r"current range.*\|w\| in \[",
    ):
        wm.gates(w, layer="output layer")
    # a scale pushes a representable weight out of range too, and is named
    w[1, 2] = -0.9 * hi
    wm.gates(w)
    with pytest.raises(ValueError, match=r"alpha = \(1, 1.5\)"):
        wm.gates(w, 1.0, 1.5)
    with pytest.raises(ValueError, match="alpha_pos"):
        wm.gates(w, 0.0, 1.0)
    # below the leakage floor: an error by default, an explicit, counted switch-off on request
    lo = wm.weight_range()["pos"][0]
    w = np.zeros((5, 5))
    w[2, 3], w[0, 0] = 0.5 * lo, 0.3
    with pytest.raises(ValueError, match=r"w\[2, 3\]"):
        wm.gates(w)
    v_gn, v_gp = wm.gates(w, prune_below_floor=True)
    assert v_gn[2, 3] == 0.0 and v_gp[2, 3] == 1.8 and v_gn[0, 0] > 0.2
    assert wm.pruned(w) == {"count": 1, "max_abs_w": pytest.approx(0.5 * lo)}
    w[1, 1] = 1.01 * wm.weight_range()["pos"][1]
    with pytest.raises(ValueError, match=r"w\[1, 1\]"):
        wm.gates(w, prune_below_floor=True)


def test_netlist_rejects_bad_inputs():
    g = (np.zeros((5, 5)), np.full((5, 5), 1.8))
    with pytest.raises(ValueError, match="t_in"):
        si.two_layer_netlist(g, g, np.array([0.0, 0.2, 1.3, 0.0, 0.0]), "* m")
    with pytest.raises(ValueError, match="v_gates2"):
        si.two_layer_netlist(g, (np.zeros((4, 5)), np.zeros((4, 5))), np.zeros(5), "* m")
    with pytest.raises(ValueError, match="timing.t_circ"):
        si.two_layer_netlist(g, g, np.zeros(5), "* m", timing=si.IrisTiming(t_circ=2e-6))


def _boom(x: int) -> int:
    raise RuntimeError(f"bad task {x}")


def test_executor_kills_a_runaway_worker_and_records_failures():
    with SpiceExecutor(workers=2) as pool:
        pids = pool.map(os.getpid, [((), {}), ((), {})], timeout_s=60, progress=False)
        assert all(r.ok for r in pids)
        t0 = time.perf_counter()
        res = pool.map(
            time.sleep,
            [((0.05,), {}), ((60,), {}), ((0.05,), {})],
            timeout_s=2.0,
            progress=False,
            netlist_of=lambda i: f"deck{i}.cir",
        )
        assert time.perf_counter() - t0 < 30  # not waited for
        assert [r.ok for r in res] == [True, False, True]
        assert res[1].error.startswith("timeout") and res[1].netlist == "deck1.cir"
        assert pool.killed == 1
        after = pool.map(os.getpid, [((), {}), ((), {})], timeout_s=60, progress=False)
    killed = set(r.value for r in pids) - set(r.value for r in after)
    assert len(killed) == 1  # exactly one worker was replaced
    with pytest.raises(ProcessLookupError):
        os.kill(killed.pop(), 0)


def test_executor_records_exceptions_in_order_and_serial_equals_parallel():
    tasks = [((i,), {}) for i in range(4)]
    res = run_tasks(_boom, tasks, workers=2, timeout_s=60, progress=False)
    assert [r.index for r in res] == [0, 1, 2, 3]
    assert all(not r.ok and r.error == f"RuntimeError: bad task {r.index}" for r in res)
    serial = run_tasks(abs, [((-i,), {}) for i in range(5)], workers=1, timeout_s=60, progress=False)
    parallel = run_tasks(abs, [((-i,), {}) for i in range(5)], workers=2, timeout_s=60, progress=False)
    assert [r.value for r in serial] == [r.value for r in parallel] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="workers"):
        run_tasks(abs, tasks, workers=0)
    with pytest.raises(ValueError, match="timeout_s"):
        run_tasks(abs, tasks, timeout_s=0)


def test_read_two_layer_on_synthetic_waveforms():
    tm = si.IrisTiming()
    t = np.linspace(0, tm.t_end, 4001)
    out = {"time": t}
    for i in range(5):
        out[f"v(mem1_{i})"] = np.full_like(t, 1.0)
        out[f"v(mem2_{i})"] = np.full_like(t, 1.1)
        out[f"v(h{i})"] = np.where(t > tm.fire1 + 0.1 * (i + 1) * tm.t_circ, 1.8, 0.0)
        out[f"v(o{i})"] = np.where(t > tm.fire2 + 0.15 * (i + 1) * tm.t_circ, 1.8, 0.0)
    r = si.read_two_layer(out, t_circ=tm.t_circ, vdd=1.8)
    np.testing.assert_allclose(r["t1"], [0.1, 0.2, 0.3, 0.4, 0.5], atol=2e-3)
    np.testing.assert_allclose(r["t2"][:4], [0.15, 0.3, 0.45, 0.6], atol=2e-3)
    out["v(mem2_0)"] = out["v(mem2_0)"] * np.nan
    with pytest.raises(ValueError, match="NaN"):
        si.read_two_layer(out, t_circ=tm.t_circ, vdd=1.8)


def test_spike_driver_is_an_inverter():
    sub = si.spike_driver_subckt(nl.DEFAULT_NEURON)
    assert sub.splitlines()[0] == ".subckt imc_spkdrv spk spkb vdd vss"
    assert "XP spkb spk vdd vdd" in sub and "XN spkb spk vss vss" in sub
