"""imcpnn.spice.simulate: bounded runs (timeout, size guard), ngspice error parsing, library-path errors.

The error-parsing and size-estimate tests use captured ngspice 39 output and need no simulator; the others
run the real ngspice (installed here and in CI, like tests/test_spice_ngspice.py: they fail, never skip,
when it is missing). Total SPICE time: a few seconds.
"""

from __future__ import annotations

import _ctypes
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imcpnn.spice import simulate as sim

ROOT = Path(__file__).resolve().parent.parent
RC_TRAN = "* rc\nR1 a b 1k\nC1 b 0 1n\nV1 a 0 pulse(0 1 0 1n 1n 1u 2u)\n.tran 1n 2u\n.end\n"
RUNAWAY = "* runaway\nR1 a b 1k\nC1 b 0 1n\nV1 a 0 sin(0 1 1meg)\n.tran 10p 1m\n.end\n"

# ngspice 39 output, captured through the shared library (stderr lines first, then stdout)
CAPTURED = {
    "title echo": [
        "Note: No compatibility mode selected!",
        "Circuit: * error budget",
        "Doing analysis at TEMP = 27.000000 and TNOM = 27.000000",
        "No. of Data Rows : 1",
    ],
    "bad element": [
        "warning, can't find model 'b' from line",
        "qx a b",
        "Error on line 4 or its substitute:",
        "qx a b",
        "could not find a valid modelname",
        "Circuit: * t",
    ],
    "unknown subckt": ["Error: unknown subckt: x1 a 0 nosuch", "Circuit: * t"],
    "missing include": ["Error: Could not find include file /nonexistent/file.lib"],
    "no convergence": [
        "Warning: singular matrix:  check node v1#branch",
        "Warning: Dynamic gmin stepping failed",
        "Warning: source stepping failed",
        "Error: Transient op failed, timestep too small",
        "doAnalyses: OP:  Timestep too small; cause unrecorded.",
        "run simulation(s) aborted",
        "DC solution failed -",
    ],
    "no such source": [
        "Fatal error: DC Transfer Function: Voltage source, current source, or resistor named "
        '"vnone" is not in the circuit',
        "doAnalyses: no such device",
        "run simulation(s) aborted",
    ],
    "recovered (warnings only)": [
        "Warning: singular matrix:  check node c",
        "Warning: Dynamic gmin stepping failed",
        "Supplies reduced to   0.1000% Warning: source stepping failed",
        "Note: Transient op finished successfully",
        "No. of Data Rows : 59",
    ],
}


@pytest.fixture(scope="module")
def ngspice():
    sim.require_ngspice()  # SpiceUnavailableError naming `apt-get install ngspice libngspice0`


# ------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "case, expected",
    [
        ("title echo", []),
        ("recovered (warnings only)", []),
        ("bad element", ["Error on line 4 or its substitute:", "qx a b", "could not find a valid modelname"]),
        ("unknown subckt", ["Error: unknown subckt: x1 a 0 nosuch"]),
        ("missing include", ["Error: Could not find include file /nonexistent/file.lib"]),
        (
            "no convergence",
            [
                "Error: Transient op failed, timestep too small",
                "doAnalyses: OP:  Timestep too small; cause unrecorded.",
                "run simulation(s) aborted",
            ],
        ),
        ("no such source", [CAPTURED["no such source"][0], "doAnalyses: no such device", "run simulation(s) aborted"]),
    ],
)
def test_only_ngspice_error_reports_count(case, expected):
    assert sim.ngspice_errors(CAPTURED[case]) == expected


def test_point_estimates():
    est = dict(
        sim.estimate_points(
            "* title .tran 1p 1\n.tran 10p 1m\n.tran 1n 2u 0 10n uic\n.TRAN 0.1u 10u 5u\n.dc Vd 0 1.8 0.05\n"
            ".dc V1 0 1 0.1 V2 0 2 1\n.ac dec 10 1 1meg\n.tran {tstep} 1m\n.tran 1mil 5ms ; comment\n"
        )
    )
    assert est.pop(".tran 10p 1m") == pytest.approx(1e8)
    assert est.pop(".tran 1n 2u 0 10n uic") == pytest.approx(2000)  # TSTEP is smaller than TMAX
    assert est.pop(".TRAN 0.1u 10u 5u") == pytest.approx(50)  # (TSTOP - TSTART) / 50 is the smaller step
    assert est.pop(".dc Vd 0 1.8 0.05") == pytest.approx(37)
    assert est.pop(".dc V1 0 1 0.1 V2 0 2 1") == pytest.approx(33)
    assert est.pop(".ac dec 10 1 1meg") == pytest.approx(60)
    assert est.pop(".tran 1mil 5ms") == pytest.approx(5e-3 / 25.4e-6)
    assert est == {}  # the title line and the {expression} line are not analyses we can estimate


@pytest.mark.parametrize(
    "kw, name",
    [({"timeout_s": 0}, "timeout_s"), ({"max_points": float("nan")}, "max_points"), ({"timeout_s": "10"}, "timeout_s")],
)
def test_bad_limits_name_the_argument(kw, name):
    with pytest.raises(ValueError, match=name):
        sim.run_netlist(RC_TRAN, "bad_limit", **kw)


def test_bad_limit_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("IMCPNN_SPICE_TIMEOUT", "ten minutes")
    with pytest.raises(ValueError, match=r"\$IMCPNN_SPICE_TIMEOUT must be a number > 0, got 'ten minutes'"):
        sim.run_netlist(RC_TRAN, "bad_env")


# ------------------------------------------------------------------------------------- real ngspice


def test_title_with_the_word_error_runs(ngspice, tmp_path):
    out = sim.run_netlist(
        "* error budget: failed convergence abort\nR1 a 0 1k\nV1 a 0 1\n.op\n.end\n", "title", workdir=tmp_path
    )
    assert out["v(a)"][0] == pytest.approx(1.0) and out["v1#branch"][0] == pytest.approx(-1e-3)


def test_size_guard_refuses_before_running(ngspice, tmp_path, monkeypatch):
    t0 = time.perf_counter()
    with pytest.raises(sim.SpiceLimitError) as info:
        sim.run_netlist(RUNAWAY, "runaway", workdir=tmp_path)
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert str(tmp_path / "runaway.cir") in msg and "1e+08" in msg and "limit of 1e+06" in msg
    assert info.value.netlist == tmp_path / "runaway.cir" and info.value.netlist.exists()
    monkeypatch.setenv("IMCPNN_SPICE_MAX_POINTS", "1000")
    with pytest.raises(sim.SpiceLimitError, match=r"limit of 1e\+03 \(max_points or \$IMCPNN_SPICE_MAX_POINTS\)"):
        sim.run_netlist(RC_TRAN, "rc", workdir=tmp_path)
    assert len(sim.run_netlist(RC_TRAN, "rc", workdir=tmp_path, max_points=5000)["time"]) > 100


def test_timeout_halts_a_runaway_and_the_next_run_works(ngspice, tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(sim.SpiceTimeoutError) as info:
        sim.run_netlist(RUNAWAY, "runaway", workdir=tmp_path, timeout_s=1.0, max_points=1e9)
    wall = time.perf_counter() - t0
    assert wall < 15, wall  # halted, not run to the end (minutes and gigabytes)
    assert str(tmp_path / "runaway.cir") in str(info.value) and "1 s limit" in str(info.value)
    out = sim.run_netlist(RC_TRAN, "after_timeout", workdir=tmp_path)
    assert out["time"][-1] == pytest.approx(2e-6) and out["v(b)"].max() == pytest.approx(1 - np.exp(-1), abs=0.02)


def test_rerun_alters_the_loaded_circuit(ngspice, tmp_path):
    first = sim.run_netlist(RC_TRAN, "rc_alter", workdir=tmp_path)
    second = sim.rerun(["alter R1 4k"], tmp_path / "rc_alter.cir")
    v1 = np.interp(0.5e-6, first["time"], first["v(b)"])
    v2 = np.interp(0.5e-6, second["time"], second["v(b)"])
    assert v1 == pytest.approx(1 - np.exp(-0.5), abs=0.02) and v2 == pytest.approx(1 - np.exp(-0.125), abs=0.02)
    with pytest.raises(sim.SpiceTimeoutError):
        sim.run_netlist(RUNAWAY, "rc_big", workdir=tmp_path, max_points=1e9, timeout_s=0.5)


# ------------------------------------------------------------------------------------ library path


def _run_with_library(path: str) -> subprocess.CompletedProcess:
    code = (
        "from imcpnn.spice import simulate as s\n"
        "try:\n    s.run_netlist('* x\\nR1 a 0 1k\\nV1 a 0 1\\n.op\\n.end\\n', 'libtest')\n"
        "except s.SpiceUnavailableError as e:\n    print('SpiceUnavailableError:', e)\n"
    )
    env = {**os.environ, "NGSPICE_LIBRARY_PATH": path}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_library_path_to_a_missing_file_names_the_variable_and_the_file(monkeypatch):
    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", "/nonexistent/libngspice.so")
    named = "NGSPICE_LIBRARY_PATH=/nonexistent/libngspice.so: no such file"
    with pytest.raises(sim.SpiceUnavailableError, match=named):
        sim.require_ngspice()


def test_library_path_to_another_library_names_the_variable_and_the_file():
    other = _ctypes.__file__  # a shared library, but not ngspice
    r = _run_with_library(other)
    assert "Traceback" not in r.stderr, r.stderr
    named = f"SpiceUnavailableError: NGSPICE_LIBRARY_PATH={other}: {other} could not be loaded as the ngspice"
    assert named in r.stdout, r.stdout


_LOAD_LOOP = """
import sys
from pathlib import Path
from imcpnn.spice import simulate as sim

def rss_mb():
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) / 1024

work = Path(sys.argv[1])
big = "* many resistors\\n" + "".join(f"R{i} n{i} n{i + 1} 1k\\n" for i in range(20000)) + "V1 n0 0 1\\n.op\\n.end\\n"
sim.run_netlist(big, "big", workdir=work)
before = rss_mb()
for k in range(6):
    sim.run_netlist(big, f"big{k}", workdir=work)
print(rss_mb() - before)
"""


def test_each_load_frees_the_previous_circuit(ngspice, tmp_path):
    """Loading circuit after circuit must not keep them all (it grew ~80 MB per sky130 deck before `remcirc`).
    Measured in a fresh process: the pytest process's RSS also moves with what earlier tests loaded."""
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_LOOP, str(tmp_path)], capture_output=True, text=True, timeout=120, check=True
    )
    grown = float(out.stdout.strip().splitlines()[-1])
    assert grown < 15, f"RSS grew {grown:.0f} MB over 6 loads"
