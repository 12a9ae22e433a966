"""SPICE devices experiment (imcpnn.repro.spice_devices): paper numbers from one module, verdicts (calibrated rows
marked as such), one source for E±, and a real small simulation through the cache."""

import json

import numpy as np
import pytest

from imcpnn.repro import paper, profiles
from imcpnn.repro import spice_devices as ex
from imcpnn.repro.profiles import OutputDirs
from imcpnn.repro.report import check_verdict


def test_paper_numbers_come_from_the_paper_module():
    assert ex.PAPER == paper.values(paper.SPICE_DEVICES)
    assert ex.PAPER["e_rev_pos"] == 2.80 and ex.PAPER["e_rev_neg"] == -1.53


def test_rel_verdict_bands():
    assert ex.rel_verdict(0.40, 0.41) == "reproduced"
    assert ex.rel_verdict(0.50, 0.41) == "partially"
    assert ex.rel_verdict(0.60, 0.41) == "not reproduced"
    assert ex.rel_verdict(-1.42, -1.53) == "reproduced"


@pytest.fixture(scope="module")
def smoke_result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("spice")
    mp = pytest.MonkeyPatch()
    mp.setattr(profiles, "output_dirs", lambda p: OutputDirs(tmp, tmp, tmp / "runs"))
    try:
        yield ex.compute("smoke")
    finally:
        mp.undo()


def test_smoke_simulation_one_source_for_e(smoke_result):
    s, nvm = smoke_result["summary"], smoke_result["nvm"]
    assert nvm["e_rev"] == pytest.approx([s["e_rev_pos"], s["e_rev_neg"]])  # the E± printed are the E± used
    assert nvm["e_dis"] == pytest.approx(s["e_dis"])
    assert set(s["lambda_n_by_vg"]) == {"0.45", "0.55"}  # the small smoke grid really ran
    assert 0.2 < s["lambda_n"] < 0.8 and 0.4 < s["lambda_p"] < 1.2  # physical range of sky130 at these sizes
    json.dumps(smoke_result["curves"])


def test_rows_mark_calibrated_quantities(smoke_result):
    rows = ex.paper_comparison(smoke_result["summary"], smoke_result["nvm"], "smoke")
    for r in rows:
        check_verdict(r["verdict"])
    by = {r["quantity"].split(" ")[0]: r["verdict"] for r in rows}
    assert by["lambda_dis"] == by["V_switch"] == by["E_dis"] == "calibrated to the paper (not a reproduction)"
    assert rows[-1]["verdict"].startswith("not comparable (different setting:")


def test_neuron_vs_model_on_two_workers_gives_the_in_process_numbers(smoke_result, monkeypatch):
    """The smoke run simulated its patterns in this process (the default); two local workers (make ... WORKERS=2)
    give the same spike times and potentials bit for bit."""
    nvm = smoke_result["nvm"]
    monkeypatch.setenv("IMCPNN_EXECUTOR", "local")
    monkeypatch.setenv("IMCPNN_WORKERS", "2")
    mapping = ex.mapping_from_summary(smoke_result["summary"])
    two = ex.neuron_vs_model(mapping, np.array(nvm["w"])[:2], np.array(nvm["t_in"])[:2])
    assert two["t_spice"] == nvm["t_spice"][:2] and two["v1_spice"] == nvm["v1_spice"][:2]
    assert two["trace"] == nvm["trace"]  # pattern 0's trace, from a worker
