"""The cost benchmark harness on tiny sizes: sane records, the floor, exponents, the JSON schema (no wall-clock
assertions)."""

import dataclasses
import json
import sys

import pytest
import torch

from imcpnn.repro import dstd_cost as bench
from imcpnn.repro.profiles import write_json

TINY = dataclasses.replace(
    bench.config_for("smoke"),
    n_in=(8, 16, 24), n_out=4, batch=2, samples=4, repeats=1, ode_n_in_max=16, ode_rtols=(1e-2,),
    accuracy_size=(2, 8, 3), target=(24, 4, 2), conv_batch=1, conv_widths=(2, 2, 2, 2, 2, 2, 4), conv_image=8,
)  # fmt: skip
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def payload():
    acc = bench.accuracy_match(TINY, CPU)
    sweeps = {m: bench.run_layer_sweep(m, TINY, CPU, acc["ode_options"]) for m in ("rc_spike", "ttfs")}
    return {
        "schema": bench.SCHEMA_VERSION, "config": TINY.as_dict(), "device": "cpu", "device_name": "test",
        "threads": 1, "memory_method": bench.memory_method(CPU), "accuracy_match": acc, "sweeps": sweeps,
        "conv": bench.run_conv(TINY, CPU), "summary": bench.summarize(sweeps, TINY),
    }  # fmt: skip


def test_profiles_configs():
    for p in ("smoke", "quick", "paper"):
        cfg = bench.config_for(p)
        assert cfg.m_rc == 10 and cfg.m_ttfs == 20
        assert list(cfg.n_in) == sorted(cfg.n_in)
    quick = bench.config_for("quick")
    assert quick.n_in[0] <= 100 and quick.n_in[-1] >= 3000
    assert (quick.n_out, quick.batch, quick.samples) == (1000, 100, 1000)
    with pytest.raises(ValueError):
        bench.config_for("huge")


def test_records_are_sane(payload):
    for _model, sweep in payload["sweeps"].items():
        recs = sweep["records"]
        methods = {r["method"] for r in recs}
        assert methods == {"exact", "dstd", "ode", "floor"}, methods
        for r in recs:
            assert r["time_s"] > 0 and r["epoch_s"] == pytest.approx(r["time_s"] * 2)
            if sys.platform.startswith("linux"):
                assert r["peak_bytes"] is not None and r["peak_bytes"] >= 0
        assert {r["n_in"] for r in recs if r["method"] == "ode"} == {8, 16}  # capped by ode_n_in_max
        assert "ode" in sweep["stopped"]


def test_peak_memory_sees_an_allocation():
    if not sys.platform.startswith("linux"):
        pytest.skip("RSS high-water mark needs /proc")

    def alloc():
        x = torch.ones(8 * 2**20 // 4)  # 8 MiB
        return float(x.sum())

    dt, mem = bench.peak_memory(alloc, CPU)
    assert dt > 0
    if mem is not None:
        assert 6 * 2**20 < mem < 64 * 2**20


def test_floor_step_and_layer_step():
    floor = bench.make_floor_step(6, 3, 2, 4, CPU, torch.float32)
    floor()
    t = torch.rand(2, 6)
    w = torch.rand(3, 6, requires_grad=True)
    for model in ("rc_spike", "ttfs"):
        for method in ("exact", "dstd"):
            bench.make_layer_step(model, method, t, w, TINY)()
            assert w.grad is not None and torch.isfinite(w.grad).all()


def test_fit_exponent():
    ns = [10, 20, 40, 80]
    assert bench.fit_exponent(ns, [3 * n**2 for n in ns]) == pytest.approx(2.0)
    assert bench.fit_exponent([10], [1.0]) is None
    assert bench.fit_exponent([10, 20], [None, 1.0]) is None


def test_summary_and_json_schema(payload, tmp_path):
    s = payload["summary"]
    assert set(s["exponents"]) == {"rc_spike", "ttfs"}
    assert {"time", "memory", "n_in"} <= set(s["exponents"]["rc_spike"]["dstd"])
    row = s["ratios"]["rc_spike"][-1]
    assert row["exact_over_dstd_time"] > 0 and row["dstd_over_floor_time"] > 0
    tg = s["targets"]
    for key in ("exact_over_dstd_time", "dstd_over_floor_time", "ode_over_dstd_time"):
        assert {"value", "target", "met"} <= set(tg[key]), key
    assert tg["ode_over_dstd_time"]["measured"] is False  # ODE stopped at N_in = 16 < 24: extrapolated
    acc = payload["accuracy_match"]
    assert acc["dstd_err"] > 0 and acc["ode_options"]["rtol"] == 1e-2
    conv = payload["conv"]
    assert set(conv["results"]) == {"dstd", "ann", "floor"}
    assert conv["dstd_over_ann"] > 0 and conv["dstd_over_floor"] > 0
    path = write_json(tmp_path / "dstd_cost.json", payload, profile="smoke")
    back = json.loads(path.read_text())
    assert back["schema"] == bench.SCHEMA_VERSION and back["profile"] == "smoke"
    assert back["sweeps"]["ttfs"]["records"][0]["method"] in ("exact", "dstd", "ode", "floor")


def test_plot_writes_figures(payload, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    figs = bench.plot(payload, tmp_path)
    assert set(figs) == {"fig3cd_rcspike_cost", "fig3ef_ttfs_cost", "fig_conv_cost"}
    assert (tmp_path / "fig3cd_rcspike_cost.png").exists()
    assert bench.format_summary(payload).startswith("device:")
