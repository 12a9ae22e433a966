"""Notebook 08 (beyond the paper): the two Iris networks of notebook 07 on the sky130 circuit under process corners,
temperature and device mismatch, their energy per inference, and a voltage-dependent E(v) model.

arXiv 2412.09010v1 evaluates the Iris 5-5-5 circuit (Fig. 7, App. G) at one typical corner with nominal devices;
it names a membrane-dependent E±rev as future work (App. G, Fig. 17 text). Here, with the trained networks and the
tt / 27 °C current scales READ from notebook 07's ``iris_circuit.json`` (never retrained or re-searched):

* corners tt/ss/ff/sf/fs at 27 °C and tt at -40/27/85 °C, with the tt scales fixed and re-searched per condition
  (one common factor on the flow's tt scales, log-spaced search on training samples);
* Monte-Carlo mismatch: sky130's own mismatch models (``MC_MM_SWITCH=1``), one ``.option seed`` per instance;
* energy per inference from the currents of every source (:mod:`imcpnn.spice.energy`);
* E(v): polynomial fits of the synapse / discharger I(V) curves of notebook 06, evaluated with the ODE solver
  (:mod:`imcpnn.repro.circuit_robustness_summary`, which also summarises the runs).

Every simulation of one circuit condition (corner, temperature, mismatch seed, probes) runs in ONE job on the
project's executor (:class:`imcpnn.executor.Executor`): the deck is parsed once (~10 s) and each further sample
only alters the gate voltages and input spikes (~1.5 s). A failed or unmappable sample is counted and listed.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from imcpnn.executor import Executor
from imcpnn.repro import cache, profiles
from imcpnn.repro import iris_circuit as ic
from imcpnn.repro.profiles import env_settings
from imcpnn.search import CoarseToFine, search
from imcpnn.spice import iris as si
from imcpnn.spice import iris_sim
from imcpnn.spice.pdk import library_line

CORNER_SET = (("tt", 27.0), ("ss", 27.0), ("ff", 27.0), ("sf", 27.0), ("fs", 27.0), ("tt", -40.0), ("tt", 85.0))
FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # stage 1 of the refit search (x the flow's tt scales)
SETTINGS = {
    "smoke": {
        "conditions": (("ff", 27.0),),
        "flows": ("pnn",),
        "n_fixed": 1,
        "n_search": 1,
        "factors": (0.5, 1.0, 2.0),
        "refine": (),
        "n_refit_test": 1,
        "mismatch_n": 2,
        "mismatch_samples": 1,
        "energy_samples": 1,
        "noise_flow": False,
        "sigma_spike": 0.01,
        "workers": 2,
        "cost_batches": 1,
        "cost_batch": 10,
    },
    "quick": {
        "conditions": CORNER_SET[1:],
        "flows": ("ann", "pnn"),
        "n_fixed": 12,
        "n_search": 2,
        "factors": (0.25, 1.0, 4.0),
        "refine": (2.0,),
        "n_refit_test": 6,
        "mismatch_n": 20,
        "mismatch_samples": 3,
        "energy_samples": 3,
        "noise_flow": True,
        "sigma_spike": 0.01,
        "workers": 2,
        "cost_batches": 1,
    },
    "paper": {
        "conditions": CORNER_SET[1:],
        "flows": ("ann", "pnn"),
        "n_fixed": 50,
        "n_search": 10,
        "factors": FACTORS,
        "refine": (2**0.5, 2**0.25),
        "n_refit_test": 50,
        "mismatch_n": 200,
        "mismatch_samples": 50,
        "energy_samples": 50,
        "noise_flow": True,
        "sigma_spike": 0.01,
        "workers": 16,
        "cost_batches": 2,
    },
}
SIM_TIMEOUT_S = 300.0  # one simulation (healthy: 1-20 s on a busy 2-core CPU); simulate.py halts it past this
MISMATCH_SEED0 = 1000  # instance k uses .option seed = MISMATCH_SEED0 + k
MODEL_CHECK = "parameter checking"  # ngspice: "Fatal error: detected during BSIM4v5.5.0 parameter checking for"


# --------------------------------------------------------------------------------------------------
# inputs: notebook 07's networks and scales, the data, the circuit


def load_iris_circuit(profile: str) -> dict:
    """Notebook 07's results of this profile (else the repository's): trained weights, tt scales, test samples."""
    path = profiles.results_file(profile, "iris_circuit.json")
    res = json.loads(path.read_text())
    res["source"] = str(path.relative_to(profiles.repo_root()))
    return res


def balanced_subset(labels: np.ndarray, n: int) -> list[int]:
    """``n`` sample indices taken round-robin over the classes (in order of appearance): a class-balanced,
    deterministic subset of the test samples."""
    labels = np.asarray(labels)
    if not 1 <= n <= len(labels):
        raise ValueError(f"n must be in [1, {len(labels)}], got {n}")
    by_class = [list(np.flatnonzero(labels == c)) for c in dict.fromkeys(labels.tolist())]
    out: list[int] = []
    while len(out) < n:
        for idx in by_class:
            if idx and len(out) < n:
                out.append(int(idx.pop(0)))
    return sorted(out)


def network(flow: str, dev: dict, w1: np.ndarray, w2: np.ndarray) -> torch.nn.Module:
    """The deterministic (noise-free) Iris net of ``flow`` with the given weights, float64."""
    from imcpnn.models import iris

    e_rev, e_dis = (100.0, None) if flow == "ann" else ((dev["e_rev_pos"], dev["e_rev_neg"]), dev["e_dis"])
    model = iris(e_rev, e_dis=e_dis).double()
    layers = [m for m in model.modules() if hasattr(m, "weight") and isinstance(m.weight, torch.nn.Parameter)]
    with torch.no_grad():
        layers[0].weight.copy_(torch.as_tensor(w1, dtype=torch.float64))
        layers[1].weight.copy_(torch.as_tensor(w2, dtype=torch.float64))
    return model.eval()


# --------------------------------------------------------------------------------------------------
# the job: every simulation of one circuit condition, in one worker process


def _sample(job: dict, w1, w2, alpha, t_in, name: str, energy: bool = False) -> dict:
    """One sample on the job's circuit: ``{"ok", "t1", "t2", ...}`` or ``{"ok": False, "error", "unmappable"}``.
    Once the circuit has failed the simulator's model check (a property of the condition, not of the sample:
    samples differ only in source values), the job's later samples are recorded as failed with that error."""
    c, cond = job["circuit"], job["cond"]
    if job.get("fatal"):
        return {"ok": False, "unmappable": False, "error": f"not simulated: {job['fatal']}"}
    try:
        g1 = c["wmap"].gates(np.asarray(w1), *alpha, layer="hidden layer (layer 1)", prune_below_floor=True)
        g2 = c["wmap"].gates(np.asarray(w2), *alpha, layer="output layer (layer 2)", prune_below_floor=True)
    except ValueError as err:
        return {"ok": False, "unmappable": True, "error": f"unmappable: {err}"}
    neuron, tm = c["neuron"], c["timing"]
    deck = si.two_layer_netlist(
        g1,
        g2,
        np.asarray(t_in, dtype=float),
        job["models"],
        neuron=neuron,
        timing=tm,
        max_step=c["max_step"],
        reltol=c["reltol"],
        temp_c=cond["temp_c"],
        seed=cond["seed"],
        probes=cond["probes"],
    )
    alters = si.sample_alters(g1, g2, np.asarray(t_in, dtype=float), neuron.vdd, tm)
    rk = {"t_circ": neuron.t_circ, "vdd": neuron.vdd, "t_reset": tm.t_reset}
    ek = {"vdd": neuron.vdd, "v0": neuron.v0, "c_m": neuron.c_m, "timing": tm} if energy else None
    try:
        res = iris_sim.simulate_sample(deck, alters, job["key"], name, c["workdir"], rk, ek)
    except Exception as err:  # noqa: BLE001 - every failure is recorded with its netlist, never dropped
        msg = f"{type(err).__name__}: {err}"[:2000]
        if MODEL_CHECK in msg:
            job["fatal"] = f"the circuit failed the simulator's model check at {cond}: {msg}"
        return {"ok": False, "unmappable": False, "error": msg, "netlist": str(Path(c["workdir"]) / f"{name}.cir")}
    keep = ("t1", "t2", "v_end1", "v_end2", "energy")
    return {"ok": True, **{k: res[k] for k in keep if k in res}}


def _runs(job: dict, task: dict, alpha, t_in_rows, tag: str, energy: bool = False) -> list[dict]:
    return [
        _sample(job, task["w1"], task["w2"], alpha, t, f"{job['tag']}_{task['flow']}_{tag}_{k}", energy)
        for k, t in enumerate(t_in_rows)
    ]


def factor_search(evaluate, factors, refine) -> tuple[float, list[float]]:
    """A log-spaced 1-D search on :func:`imcpnn.search.search`: ``evaluate`` (factor -> objective, inf when it
    cannot be evaluated) on every factor of ``factors``, then for each r of ``refine`` on best / r and best x r.
    The best is the first minimum among the finite values (1.0, the tt scales, while none is finite). Returns
    (the best factor; the factors evaluated, each once, rounded to 6 digits, in evaluation order)."""
    spec = CoarseToFine(steps=tuple(refine), scale="log", neighbours="axes", round_to=6, finite_only=True)
    res = search(lambda pts: [float(evaluate(p[0])) for p in pts], [(f,) for f in factors], spec, center=(1.0,))
    return res.best[0], [p[0] for p in res.points]


def _refit(job: dict, task: dict) -> dict:
    """The refit search (:func:`factor_search`) on training samples, then the test samples at the best factor
    (skipped when it is 1, unless ``always_test``: the fixed runs are those)."""
    a0 = task["alpha"]
    evals: dict[float, dict] = {}

    def evaluate(f: float) -> float:
        alpha = (a0[0] * f, a0[1] * f)
        rr = _runs(job, task, alpha, task["search_t_in"], f"search{len(evals)}")
        bad = [r for r in rr if not r["ok"]]
        unm = sum(r["unmappable"] for r in bad)
        t2 = np.array([r["t2"] for r in rr if r["ok"]])
        rm = ic.rmse_ns(np.asarray(task["search_model"]), t2) if not bad else math.inf
        evals[f] = {
            "factor": f,
            "alpha": list(alpha),
            "rmse_ns": rm,
            "failed": len(bad) - unm,
            "unmappable": unm,
            "errors": [r["error"] for r in bad if not r["unmappable"]][:3],
        }
        return rm

    f, _ = factor_search(evaluate, task["factors"], task["refine"])
    alpha = [a0[0] * f, a0[1] * f]
    test = _runs(job, task, alpha, task["test_t_in"], "refit") if f != 1.0 or task.get("always_test") else None
    return {
        "evaluations": list(evals.values()),
        "best_factor": f,
        "alpha": alpha,
        "test": test,
        "simulations": len(task["search_t_in"]) * sum(e["unmappable"] == 0 for e in evals.values()),
    }


def circuit_job(job: dict) -> dict:
    """Run the tasks of one circuit condition in this process (module-level: the executor's job function).

    ``job``: ``{"tag", "key", "models", "cond": {corner, temp_c, seed, mismatch, probes}, "circuit": {wmap,
    neuron, timing, max_step, reltol, workdir}, "tasks": [...]}``; a task is ``{"kind": "runs" | "energy" |
    "refit", "flow", "w1", "w2", "alpha", "t_in"}`` (refit: ``search_t_in``, ``search_model``, ``factors``,
    ``refine``, ``test_t_in``). Returns ``{"tasks": [...], "wall_s"}``."""
    old = os.environ.get("IMCPNN_SPICE_TIMEOUT")
    os.environ["IMCPNN_SPICE_TIMEOUT"] = old or str(SIM_TIMEOUT_S)
    t0 = time.perf_counter()
    try:
        out = []
        for task in job["tasks"]:
            if task["kind"] == "refit":
                out.append(_refit(job, task))
            else:
                out.append(
                    {
                        "runs": _runs(
                            job, task, task["alpha"], task["t_in"], task["kind"], energy=task["kind"] == "energy"
                        )
                    }
                )
        return {"tasks": out, "wall_s": time.perf_counter() - t0, "tag": job["tag"], "fatal": job.get("fatal")}
    finally:
        if old is None:
            os.environ.pop("IMCPNN_SPICE_TIMEOUT", None)
        else:
            os.environ["IMCPNN_SPICE_TIMEOUT"] = old


def make_job(
    circuit: ic.Circuit,
    workdir: Path,
    tag: str,
    tasks: list[dict],
    *,
    corner: str = "tt",
    temp_c: float = 27.0,
    seed: int | None = None,
    probes: bool = False,
) -> dict:
    """A :func:`circuit_job` for one condition (``seed``: a mismatch instance)."""
    cond = {"corner": corner, "temp_c": float(temp_c), "seed": seed, "mismatch": seed is not None, "probes": probes}
    c = {
        "wmap": circuit.wmap,
        "neuron": circuit.neuron,
        "timing": circuit.timing,
        "max_step": circuit.max_step,
        "reltol": circuit.reltol,
        "workdir": str(workdir),
    }
    key = json.dumps([cond, repr(circuit.neuron), repr(circuit.timing), circuit.max_step, circuit.reltol])
    return {
        "tag": tag,
        "key": key,
        "models": library_line(corner, mismatch=seed is not None),
        "cond": cond,
        "circuit": c,
        "tasks": tasks,
    }


def job_results(records: list[dict]) -> list[dict]:
    """Each job's task results; a job that failed as a whole (dead worker, limit) gives every sample of its tasks
    as failed with the job's error (counted, never dropped)."""
    out = []
    for rec in records:
        if rec["status"] == "ok":
            out.append(rec["result"])
            continue
        err = {"ok": False, "unmappable": False, "error": f"job failed: {rec.get('error')}"}
        tasks = []
        for task in rec["config"]["tasks"]:
            rows = task["test_t_in"] if task["kind"] == "refit" else task["t_in"]
            runs = [dict(err) for _ in rows]
            tasks.append(
                {"runs": runs}
                if task["kind"] != "refit"
                else {"evaluations": [], "best_factor": None, "alpha": None, "test": runs, "simulations": 0}
            )
        out.append(
            {
                "tasks": tasks,
                "wall_s": rec.get("wall_s", 0.0),
                "job_error": rec.get("error"),
                "tag": rec["config"]["tag"],
                "fatal": None,
            }
        )
    return out


# --------------------------------------------------------------------------------------------------
# scores


def score(runs: list[dict], t_model: np.ndarray, labels: np.ndarray) -> dict:
    """RMSE (ns) of the output spike times against the model and the circuit's accuracy over the successful runs;
    failures counted and listed."""
    ok = np.array([r["ok"] for r in runs], dtype=bool)
    t2 = np.array([r["t2"] if r["ok"] else [np.nan] * 5 for r in runs])
    tm = np.asarray(t_model)
    return {
        "n": len(runs),
        "n_failed": int((~ok).sum()),
        "rmse_ns": ic.rmse_ns(tm[ok], t2[ok]) if ok.any() else math.nan,
        "acc": ic.accuracy(t2[ok], np.asarray(labels)[ok]) if ok.any() else math.nan,
        "t_spice_out": t2.tolist(),
        "failures": [
            {"sample": k, "error": r["error"], "netlist": r.get("netlist")} for k, r in enumerate(runs) if not r["ok"]
        ],
    }


def summary_flows(flows: dict) -> dict:
    """``{rmse_<flow>_ns, acc_<flow>}`` for ann and pnn (None where the flow did not run)."""
    out = {}
    for f in ("ann", "pnn"):
        s = flows.get(f)
        out[f"rmse_{f}_ns"] = s["rmse_ns"] if s else None
        out[f"acc_{f}"] = s["acc"] if s else None
    return out


def executor_settings(st: dict) -> dict:
    return env_settings(default_workers=st["workers"])


def run_batches(ex: Executor, jobs: list[dict], desc: str) -> tuple[list[dict], float]:
    """The jobs on the session's workers; a job whose worker process died (killed from outside, out of memory)
    is run once more, and the first error is kept beside its result (``retried``)."""
    t0 = time.perf_counter()
    rec = ex.map(circuit_job, jobs, timeout_s=SIM_TIMEOUT_S * 40, desc=desc)
    again = [i for i, r in enumerate(rec) if r["status"] != "ok" and "died" in str(r.get("error"))]
    if again:
        redo = ex.map(circuit_job, [jobs[i] for i in again], timeout_s=SIM_TIMEOUT_S * 40, desc=desc + " (retry)")
        for i, r in zip(again, redo, strict=True):
            rec[i] = {**r, "retried": rec[i].get("error")}
    out = job_results(rec)
    for r, o in zip(rec, out, strict=True):
        o["retried"] = r.get("retried")
    return out, time.perf_counter() - t0


def config_for_cache(profile: str, src: dict) -> dict:
    """Everything the results depend on besides the code: settings, 07's networks / scales / device values."""
    st = SETTINGS[profile]
    keys = ("w1", "w2", "alpha", "t_in", "labels", "t_model_out", "t_spice_out", "t_spice_hidden")
    fl = {f: {k: src["flows"][f][k] for k in keys} for f in src["flows"]}
    return {
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in st.items()},
        "iris_circuit": {"flows": fl, "device_values": src["device_values"], "settings": src["settings"]},
    }


# --------------------------------------------------------------------------------------------------
# the experiment


def _inputs(profile: str, st: dict) -> dict:
    """07's networks, scales and test samples; the model times on the refit-search (training) samples."""
    from imcpnn.train import load_data

    src = load_iris_circuit(profile)
    dev, s07 = src["device_values"], src["settings"]
    flows = [f for f in st["flows"] if f in src["flows"]]
    if not flows:
        raise ValueError(f"{src['source']} holds the flows {list(src['flows'])}, none of {st['flows']}")
    x_tr, _, x_te, _ = load_data(ic.train_config("pnn", dev, 1))
    idx = np.sort(np.random.default_rng(0).permutation(len(x_tr))[: st["n_search"]])
    nets = {}
    for f in flows:
        fl = src["flows"][f]
        n = fl["n_test"]
        model = network(f, dev, np.array(fl["w1"]), np.array(fl["w2"]))
        t_model = np.array(fl["t_model_out"])[:n]
        _, out_te = ic.model_times(model, x_te[:n])
        _, out_s = ic.model_times(model, x_tr[idx])
        nets[f] = {
            "w1": fl["w1"],
            "w2": fl["w2"],
            "alpha": fl["alpha"],
            "t_in": np.array(fl["t_in"])[:n],
            "labels": np.array(fl["labels"])[:n],
            "t_model": t_model,
            "model": model,
            "t_spice_07": np.array(fl["t_spice_out"])[:n],
            "t_spice_hidden_07": np.array(fl["t_spice_hidden"])[:n],
            "model_check_max_abs": float(np.abs(out_te - t_model).max()),
            "search_t_in": ic.inputs(x_tr[idx].numpy()),
            "search_model": out_s,
        }
    return {
        "src": src,
        "dev": dev,
        "s07": s07,
        "flows": flows,
        "nets": nets,
        "search_idx": idx.tolist(),
        "x_tr": x_tr,
        "x_te": x_te,
    }


def _noise_net(profile: str, st: dict, inp: dict) -> dict:
    """The PNN trained with spike-time noise sigma_spike (07's settings otherwise); its own tt scale is searched
    like a refit (factors around 1) in the first batch."""
    import dataclasses

    from imcpnn.train import load_data

    dev = inp["dev"]
    cfg = dataclasses.replace(ic.train_config("pnn", dev, inp["s07"]["epochs"]), sigma_spike=st["sigma_spike"])
    data = load_data(cfg)
    torch.set_num_threads(1)
    model, metrics = ic.trained_model(cfg, profile, data)
    w1, w2 = ic.weights(model)
    det = network("pnn", dev, w1, w2)
    ref = inp["nets"]["pnn"]
    _, out_te = ic.model_times(det, inp["x_te"][: len(ref["t_in"])])
    _, out_s = ic.model_times(det, inp["x_tr"][inp["search_idx"]])
    return {
        "w1": w1.tolist(),
        "w2": w2.tolist(),
        "alpha": [1.0, 1.0],
        "t_in": ref["t_in"],
        "labels": ref["labels"],
        "t_model": out_te,
        "search_t_in": ref["search_t_in"],
        "search_model": out_s,
        "accuracy_model": ic.accuracy(out_te, ref["labels"]),
        "train_last": metrics["epochs"][-1],
        "sigma_spike": st["sigma_spike"],
    }


def _task(kind: str, flow: str, net: dict, rows: list[int], alpha=None) -> dict:
    return {
        "kind": kind,
        "flow": flow,
        "w1": net["w1"],
        "w2": net["w2"],
        "alpha": list(alpha if alpha is not None else net["alpha"]),
        "t_in": net["t_in"][rows].tolist(),
    }


def _refit_task(flow: str, net: dict, st: dict, rows: list[int], factors=None, refine=None) -> dict:
    return {
        "kind": "refit",
        "flow": flow,
        "w1": net["w1"],
        "w2": net["w2"],
        "alpha": list(net["alpha"]),
        "search_t_in": net["search_t_in"].tolist(),
        "search_model": np.asarray(net["search_model"]).tolist(),
        "factors": list(factors if factors is not None else st["factors"]),
        "refine": list(refine if refine is not None else st["refine"]),
        "test_t_in": net["t_in"][rows].tolist(),
    }


def compute(profile: str) -> dict:
    """Corners / temperature (fixed and refit scales), mismatch, energy and the E(v) model; a JSON-able dict."""
    from imcpnn.repro import circuit_robustness_summary as crm

    t_start = time.perf_counter()
    st = SETTINGS[profiles.check_profile(profile)]
    inp = _inputs(profile, st)
    flows, nets = inp["flows"], inp["nets"]
    workdir = profiles.output_dirs(profile).runs / "circuit_robustness_netlists"
    circuit = ic.Circuit(inp["dev"], inp["s07"], workdir)  # 07's gate map (tt), V_b^dis, timing, step, reltol
    labels = nets[flows[0]]["labels"]
    n_test = len(labels)
    # class-balanced subsets of the test samples; round-robin, so each smaller one lies inside the fixed rows' one
    sub = {
        k: balanced_subset(labels, min(st[s], n_test))
        for k, s in (
            ("fixed", "n_fixed"),
            ("refit", "n_refit_test"),
            ("mismatch", "mismatch_samples"),
            ("energy", "energy_samples"),
        )
    }
    noise = _noise_net(profile, st, inp) if st["noise_flow"] else None
    jobs_a = []
    for corner, temp in st["conditions"]:
        for f in flows:
            tasks = [_task("runs", f, nets[f], sub["fixed"]), _refit_task(f, nets[f], st, sub["refit"])]
            jobs_a.append(make_job(circuit, workdir, f"{corner}{temp:g}_{f}", tasks, corner=corner, temp_c=temp))
    jobs_a.append(
        make_job(circuit, workdir, "energy", [_task("energy", f, nets[f], sub["energy"]) for f in flows], probes=True)
    )
    if noise is not None:
        nt = _refit_task("pnn_noise", noise, st, sub["mismatch"], factors=(0.8, 0.9, 1.0, 1.1, 1.2), refine=(1.033,))
        jobs_a.append(make_job(circuit, workdir, "noise_tt", [{**nt, "always_test": True}]))

    def mismatch_jobs(alpha_noise) -> list[dict]:
        out = []
        for k in range(st["mismatch_n"]):
            tasks = [_task("runs", f, nets[f], sub["mismatch"]) for f in flows]
            if noise is not None:
                tasks.append(_task("runs", "pnn_noise", noise, sub["mismatch"], alpha=alpha_noise))
            out.append(make_job(circuit, workdir, f"mm{k}", tasks, seed=MISMATCH_SEED0 + k))
        return out

    with Executor(**executor_settings(st)) as ex:
        if noise is None:
            res, wall = run_batches(ex, jobs_a + mismatch_jobs(None), "08: circuit conditions (one job each)")
            res_a, res_b = res[: len(jobs_a)], res[len(jobs_a) :]
        else:
            res_a, wall_a = run_batches(ex, jobs_a, "08: corners, energy, noise-trained scale")
            nz = res_a[-1]["tasks"][0]
            noise["alpha"] = nz["alpha"] or [1.0, 1.0]
            noise["tt_search"] = {k: nz[k] for k in ("evaluations", "best_factor", "alpha", "simulations", "test")}
            res_b, wall_b = run_batches(ex, mismatch_jobs(noise["alpha"]), "08: mismatch instances")
            wall = wall_a + wall_b
    out = {
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in st.items()},
        "source": inp["src"]["source"],
        "source_machine": inp["src"].get("machine"),
        "device_values": inp["dev"],
        "flows": flows,
        "subsets": sub,
        "search_samples": inp["search_idx"],
        "model_check_max_abs": {f: nets[f]["model_check_max_abs"] for f in flows},
        "corners": crm.corner_rows(st, nets, flows, res_a, sub),
        "mismatch": crm.mismatch_summary(st, nets, flows, res_b, sub["mismatch"], noise),
        "energy": crm.energy_summary(nets, flows, res_a[len(st["conditions"]) * len(flows)], sub["energy"], circuit),
        "nonlinear_e": crm.nonlinear_e(profile, inp, st),
        "sim_wall_s": wall,
    }
    out["mismatch"]["seeds"] = [MISMATCH_SEED0 + k for k in range(st["mismatch_n"])]
    out.update(crm.counts(res_a + res_b, wall, executor_settings(st)))
    out["wall_s"] = time.perf_counter() - t_start
    return out


def run(profile: str) -> dict:
    """:func:`compute` through the run cache (key: settings, 07's networks and scales, code fingerprint)."""
    src = load_iris_circuit(profile)
    curves = json.loads(profiles.results_file(profile, "spice_curves.json").read_text())
    config = config_for_cache(profile, src)
    config["spice_curves"] = {k: curves[k] for k in ("synapse_n", "synapse_p", "discharger")}
    return cache.compute_or_load("circuit_robustness", config, lambda: compute(profile), profile=profile)
