"""The cost benchmark harness (imcpnn.repro.dstd_cost, _measure, dstd_cost_summary, dstd_cost_plots) on tiny sizes:
records, the floor, exponents, the matched ODE tolerance, verdicts, the JSON schema (no wall-clock assertions)."""

import dataclasses
import json
import sys

import pytest
import torch

from imcpnn.repro import _measure
from imcpnn.repro import dstd_cost as bench
from imcpnn.repro import dstd_cost_summary as summ
from imcpnn.repro.profiles import write_json
from imcpnn.repro.report import check_verdict

TINY = dataclasses.replace(
    bench.config_for("smoke"),
    n_in=(8, 16, 24),
    n_out=4,
    batch=2,
    samples=4,
    repeats=1,
    ode_n_in_max=16,
    ode_rtols=(1e-2,),
    accuracy_size=(2, 8, 3),
    target=(24, 4, 2),
    conv_batch=1,
    conv_width=1 / 32,
    conv_image=8,
    ttfs_conv_batch=1,
    ttfs_conv_width=0.125,
    ttfs_conv_image=4,
    ttfs_point=(16, 4, 2),
)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def payload():
    acc = bench.accuracy_match(TINY, CPU)
    sweeps = {m: bench.run_layer_sweep(m, TINY, CPU, acc["ode_options"]) for m in ("rc_spike", "ttfs")}
    p = {
        "schema": bench.SCHEMA_VERSION,
        "config": TINY.as_dict(),
        "device": "cpu",
        "device_name": "test",
        "threads": 1,
        "memory_method": _measure.memory_method(CPU),
        "accuracy_match": acc,
        "sweeps": sweeps,
        "conv": bench.run_conv(TINY, CPU),
        "summary": summ.summarize(sweeps, TINY),
        "conv_layers": bench.run_conv_layers("rc_spike", TINY, CPU),
        "ttfs_conv_layers": bench.run_conv_layers("ttfs", TINY, CPU),
        "ttfs_dense": bench.run_ttfs_dense(TINY, CPU),
        "ttfs_point": bench.run_ttfs_point(TINY, CPU),
    }
    p["paper_comparison"] = summ.paper_comparison(p)
    return p


def test_profiles_configs():
    for p in ("smoke", "quick", "paper"):
        cfg = bench.config_for(p)
        assert cfg.m_rc == 10 and cfg.m_ttfs == 20
        assert list(cfg.n_in) == sorted(cfg.n_in)
    quick = bench.config_for("quick")
    assert quick.n_in[0] <= 100 and quick.n_in[-1] >= 3000
    assert (quick.n_out, quick.batch, quick.samples) == (1000, 100, 1000)
    assert bench.config_for("paper").ode_n_in_max >= 1000  # the ODE is measured, not extrapolated, at N_in = 1000
    with pytest.raises(ValueError):
        bench.config_for("huge")


def test_records_and_caps(payload):
    for _model, sweep in payload["sweeps"].items():
        recs = sweep["records"]
        assert {r["method"] for r in recs} == {"exact", "dstd", "ode", "floor"}
        for r in recs:
            assert r["epoch_s"] == pytest.approx(r["time_s"] * TINY.samples / TINY.batch)
            if sys.platform.startswith("linux"):
                assert r["peak_bytes"] is not None
        assert {r["n_in"] for r in recs if r["method"] == "ode"} == {8, 16}  # capped by ode_n_in_max
        assert "ode_n_in_max" in sweep["stopped"]["ode"]


def test_peak_memory_sees_an_allocation():
    if not sys.platform.startswith("linux"):
        pytest.skip("RSS high-water mark needs /proc")

    def alloc():
        x = torch.ones(8 * 2**20 // 4)  # 8 MiB
        return float(x.sum())

    _, mem = _measure.peak_memory(alloc, CPU)
    assert mem is not None and 6 * 2**20 < mem < 64 * 2**20
    _, small = _measure.peak_memory(lambda: torch.ones(16).sum(), CPU)
    assert small < 2 * 2**20  # a 64-byte tensor does not show as megabytes


def test_floor_step_and_layer_step():
    floor = bench.make_floor_step(6, 3, 2, 4, CPU, torch.float32)
    floor()
    t = torch.rand(2, 6)
    w = torch.rand(3, 6, requires_grad=True)
    for model in ("rc_spike", "ttfs"):
        for method in ("exact", "dstd"):
            bench.make_layer_step(model, method, t, w, TINY)()
            assert w.grad is not None and torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_fit_exponent():
    ns = [10, 20, 40, 80]
    assert summ.fit_exponent(ns, [3 * n**2 for n in ns]) == pytest.approx(2.0)
    assert summ.fit_exponent([10], [1.0]) is None
    assert summ.fit_exponent([10, 20], [None, 1.0]) is None


def test_match_tolerance_interpolates_to_equal_error():
    ode = [{"rtol": 1e-1, "atol": 1e-3, "err": 1e-2}, {"rtol": 1e-3, "atol": 1e-5, "err": 1e-4}]
    m = bench.match_tolerance(ode, 1e-3)  # halfway in log error -> halfway in log rtol
    assert m["kind"] == "interpolated to equal error" and m["rtol"] == pytest.approx(1e-2)
    more = bench.match_tolerance(ode, 1.0)
    assert more["kind"] == "ode more accurate at every tolerance" and more["rtol"] == 1e-1
    less = bench.match_tolerance(ode, 1e-6)
    assert less["kind"] == "ode less accurate at every tolerance" and less["rtol"] == 1e-3
    with pytest.raises(ValueError, match="dstd_err"):
        bench.match_tolerance(ode, 0.0)


def test_ratio_verdict():
    assert summ.ratio_verdict(30.0, 30.0) == "reproduced"
    assert summ.ratio_verdict(16.0, 30.0) == "reproduced"
    assert summ.ratio_verdict(27.0, 1000.0) == "partially"
    assert summ.ratio_verdict(0.9, 30.0) == "not reproduced"


def test_summary_comparison_and_json_schema(payload, tmp_path):
    s = payload["summary"]
    assert set(s["exponents"]) == {"rc_spike", "ttfs"}
    assert {"time", "memory", "n_in"} <= set(s["exponents"]["rc_spike"]["dstd"])
    tg = s["targets"]
    assert {"exact_over_dstd_time", "dstd_over_floor_time", "ode_over_dstd_time"} <= set(tg)
    assert tg["ode_over_dstd_time"]["measured"] is False  # ODE stopped at N_in = 16 < 24: extrapolated
    assert tg["ode_over_dstd_time"]["note"].startswith("EXTRAPOLATION")
    acc = payload["accuracy_match"]
    assert acc["ode_options"]["rtol"] == acc["match"]["rtol"] and "err" in acc["match"]
    rows = payload["paper_comparison"]
    for r in rows:
        check_verdict(r["verdict"])
        assert r["ours_settings"]
    ode_row = next(r for r in rows if "ODE" in r["quantity"])
    assert "EXTRAPOLATED" in ode_row["ours"]
    ttfs_rows = [r for r in rows if r["figure"] == "Fig. 3f" and "(measured)" not in r["quantity"]]
    assert ttfs_rows and all(f"N_in = {TINY.n_in[-1]}" in r["quantity"] for r in ttfs_rows)
    conv = payload["conv"]
    assert set(conv["results"]) == {"dstd", "ann", "floor"} and "vgg7" in conv["architecture"]
    path = write_json(tmp_path / "dstd_cost.json", payload, profile="smoke")
    back = json.loads(path.read_text())
    assert back["schema"] == bench.SCHEMA_VERSION and back["profile"] == "smoke" and "machine" in back


def test_unresolved_ode_gets_a_row_saying_so(payload):
    import copy

    p = copy.deepcopy(payload)
    del p["summary"]["targets"]["ode_over_dstd_time"]
    row = next(r for r in summ.paper_comparison(p) if "ODE" in r["quantity"])
    assert row["ours"] == "not resolved at this budget" and "N_in = [8, 16]" in row["note"]


def test_conv_nets_mirror_vgg7():
    pnn, ann, floor = bench.conv_nets(TINY, CPU, torch.float32)
    convs = [m for m in ann.modules() if isinstance(m, torch.nn.Conv2d)]
    fconvs = [m for m in floor.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6 and [2 * c.out_channels for c in convs] == [c.out_channels for c in fconvs]
    x = torch.rand(2, 3, TINY.conv_image, TINY.conv_image)
    assert pnn(x).shape == ann(x).shape == (2, 10)


def test_run_goes_through_the_cache(tmp_path, monkeypatch):
    from imcpnn.repro import profiles
    from imcpnn.repro.profiles import OutputDirs

    monkeypatch.setattr(profiles, "output_dirs", lambda p: OutputDirs(tmp_path, tmp_path, tmp_path / "runs"))
    cfg = dataclasses.replace(TINY, n_in=(8, 16), target=(16, 4, 2), models=("rc_spike",))
    first = bench.run("quick", cfg=cfg, conv=False, ttfs=False, device="cpu")
    again = bench.run("quick", cfg=cfg, conv=False, ttfs=False, device="cpu")  # every part loaded: same measurements
    assert again["sweeps"] == first["sweeps"] and again["accuracy_match"] == first["accuracy_match"]
    fresh = bench.run("quick", cfg=cfg, conv=False, ttfs=False, device="cpu", recompute=True)
    assert fresh["sweeps"]["rc_spike"]["records"][0]["times_s"] != first["sweeps"]["rc_spike"]["records"][0]["times_s"]
    assert len(list((tmp_path / "runs" / "dstd_cost").iterdir())) == 2  # accuracy match + one sweep


def test_plot_writes_figures(payload, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from imcpnn.repro.dstd_cost_plots import plot

    figs = plot(payload, tmp_path)
    assert set(figs) == {"fig3cd_rcspike_cost", "fig3ef_ttfs_cost", "fig_conv_cost", "fig_conv_layers_cost"}
    assert (tmp_path / "fig3cd_rcspike_cost.png").exists()
    replot = plot(payload, tmp_path, replot=True)
    assert set(replot) == {f"{k}_replot" for k in figs}
    assert "RE-PLOT" in replot["fig_conv_cost_replot"].texts[0].get_text()
    assert summ.format_summary(payload).startswith("device:")


def test_floor_ratio_uses_the_fastest_repeat_of_each_side():
    from imcpnn.repro.dstd_cost_summary import floor_ratio

    dstd = {"time_s": 0.30, "times_s": [0.30, 0.12, 0.50]}  # one undisturbed repeat, two slowed down
    floor = {"time_s": 0.10, "times_s": [0.10, 0.08, 0.20]}
    assert floor_ratio(dstd, floor) == pytest.approx(0.12 / 0.08)
    assert floor_ratio({"time_s": 0.3}, {"time_s": 0.1}) == pytest.approx(3.0)  # records without repeats


def test_conv_layers_and_fused_parts(payload):
    cl, tl = payload["conv_layers"], payload["ttfs_conv_layers"]
    assert len(cl["layers"]) == 6 and len(tl["layers"]) == 4  # VGG7 and the TTFS CNN of App. C
    assert cl["steps"] == TINY.conv_steps and tl["steps"] == TINY.m_ttfs
    assert [x["size"] for x in cl["layers"]] == [8, 8, 4, 4, 2, 2]  # pooling halves the input size
    for part in (cl, tl):
        for x in part["layers"]:
            assert set(x["results"]) == {"fused", "plain", "floor"}
            assert x["fused_over_floor"] > 0 and x["plain_over_floor"] > 0
            assert min(x["results"]["fused"]["times_s"]) == x["results"]["fused"]["time_s"]  # fastest repeat
        assert part["max_fused_over_floor"] == max(x["fused_over_floor"] for x in part["layers"])
    td, tp = payload["ttfs_dense"], payload["ttfs_point"]
    assert (td["n_in"], td["n_out"], td["batch"]) == TINY.target and 0 <= td["fired_fraction"] <= 1
    assert (tp["n_in"], tp["n_out"], tp["batch"]) == TINY.ttfs_point and tp["exact_over_dstd_time"] > 0
    assert payload["conv"]["floor_over_ann"] > 0
    rows = payload["paper_comparison"]
    own = [r for r in rows if r["figure"] == "(ours)" and "target <=" in r["ours"]]
    assert len(own) == 4  # VGG7 network, RC conv layers, TTFS conv layers, TTFS dense
    point = [r for r in rows if f"N_in = {TINY.ttfs_point[0]} (measured)" in r["quantity"]]
    assert len(point) >= 1 and all("lower bound" in r["note"] for r in point)  # batch 2 < 100


def test_target_text_says_missed():
    assert summ._target(1.2, 1.3).endswith("met)") and "MISSED" in summ._target(1.4, 1.3)
