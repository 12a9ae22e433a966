"""Notebook 07: the Iris 5-5-5 network on the sky130 circuit, ANN-to-IMC vs PNN-to-IMC (arXiv 2412.09010v1
Fig. 7, Fig. 15, Algorithms 5 and 6, Table 2, App. A, G).

* Data: Iris, stratified 100 train / 50 test (seed 0), features min-max scaled with the training samples,
  spike times t_i = x_i plus a bias spike at t = 0 (Eq. 56) (:func:`imcpnn.data.load_iris_split`).
* 3 classes on 5 outputs: class c is output neuron c (c = 0, 1, 2); outputs 3 and 4 are trained by the
  cross-entropy over all five outputs to stay late. The predicted class is the earliest output; a sample
  whose five outputs are all silent (t = 1) counts as wrong. Same rule for the model and for SPICE.
* ANN-to-IMC (Alg. 5): train at |E| = 100 with the ideal firing ramp; search (alpha+, alpha-) in SPICE.
* PNN-to-IMC (Alg. 6): train with E+/E- and E_dis of OUR characterisation (``results/spice_devices.json``,
  its ``model_mapping``: E = 1/(V_th lambda) with the transient threshold V_th = V0 - v_switch_eff, the
  threshold of the same weight -> current map); search one alpha.
* Both: Table 2's learning parameters (Adam lr 1e-3, batch 50, tau_soft 0.07, gamma_T 0.1, gamma_W 1e-2,
  gamma_V 0.2), the project's own :func:`imcpnn.train.train`.
* Objective: RMSE of the five output spike times, model (clipped to the firing phase, as the circuit) vs
  SPICE; scales chosen on TRAINING samples, RMSE reported on the 50 test samples. ``paper`` also searches
  on the test samples (what the paper seems to have done), reported under its own key.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from imcpnn import functional as F
from imcpnn.repro import cache, profiles
from imcpnn.repro.profiles import env_settings
from imcpnn.search import CoarseToFine, search
from imcpnn.spice import iris as si
from imcpnn.spice import iris_sim
from imcpnn.spice import netlist as nl
from imcpnn.spice.parallel import SpiceExecutor
from imcpnn.train import TrainConfig, load_data, load_model, train

PAPER = {"rmse_ann_to_imc_ns": 39.04, "rmse_pnn_to_imc_ns": 1.97, "ratio": 39.04 / 1.97}
SETTINGS = {
    "smoke": {
        "epochs": 20,
        "n_search": 0,
        "n_test": 1,
        "flows": ("pnn",),
        "workers": 1,
        "max_step": 5e-9,
        "reltol": 1e-3,
        "serial_probe": 0,
        "search": "none",
        "test_search": False,
    },
    "quick": {
        "epochs": 300,
        "n_search": 6,
        "n_test": 50,
        "flows": ("ann", "pnn"),
        "workers": 2,
        "max_step": 5e-9,
        "reltol": 1e-3,
        "serial_probe": 4,
        "search": "coarse_to_fine",
        "test_search": False,
    },
    "paper": {
        "epochs": 300,
        "n_search": 100,
        "n_test": 50,
        "flows": ("ann", "pnn"),
        "workers": 16,
        "max_step": 2e-9,
        "reltol": 1e-4,
        "serial_probe": 8,
        "search": "grid_1pct",
        "test_search": True,
    },
}
TRACE_POINTS = 700
TIMEOUT_S = 600.0  # per simulation (a healthy one takes 3-15 s on a busy 2-core CPU)


# --------------------------------------------------------------------------------------------------
# inputs: device characterisation, data, trained models


def device_values(profile: str) -> dict:
    """E+/E-/E_dis, V_th and V_b^dis from notebook 06's ``spice_devices.json`` (this profile's results, else
    the repository's ``results/``); computed with :mod:`imcpnn.repro.spice_devices` if neither exists."""
    try:
        path = profiles.results_file(profile, "spice_devices.json")
        summary, source = json.loads(path.read_text()), str(path.relative_to(profiles.repo_root()))
    except FileNotFoundError:
        from imcpnn.repro import spice_devices

        summary = cache.compute_or_load(
            "spice_devices", {"corner": "tt"}, lambda: spice_devices.device_characterization()[0], profile=profile
        )
        source = "computed (imcpnn.repro.spice_devices.device_characterization)"
    # the E values of the weight -> current map's threshold V_th = V0 - v_switch_eff (older files kept them
    # under "model_mapping"; newer ones at the top level, with the DC-threshold set under "e_from_dc_threshold")
    mm = summary.get("model_mapping", summary)
    dc = summary["e_from_dc_threshold"] if "e_from_dc_threshold" in summary else summary
    return {
        "e_rev_pos": float(mm["e_rev_pos"]),
        "e_rev_neg": float(mm["e_rev_neg"]),
        "e_dis": float(mm["e_dis"]),
        "v_th": float(summary["v_th_eff"]),
        "v_b_dis": float(summary["v_b_dis_calibrated"]),
        "source": source,
        "dc_threshold_values": {k: float(dc[k]) for k in ("e_rev_pos", "e_rev_neg", "e_dis")},
    }


def train_config(flow: str, dev: dict, epochs: int, seed: int = 0) -> TrainConfig:
    """Table 2's learning parameters; ``flow`` "ann" (|E| = 100, ideal ramp) or "pnn" (our E±, E_dis)."""
    if flow not in ("ann", "pnn"):
        raise ValueError(f"flow must be 'ann' or 'pnn', got {flow!r}")
    e_rev = 100.0 if flow == "ann" else (dev["e_rev_pos"], dev["e_rev_neg"])
    return TrainConfig(
        dataset="iris",
        model="iris",
        e_rev=e_rev,
        e_dis=None if flow == "ann" else dev["e_dis"],
        epochs=epochs,
        batch_size=50,
        lr=1e-3,
        tau_soft=0.07,
        gamma1=0.1,
        t_ref=0.9,
        gamma_w=1e-2,
        gamma_v=0.2,
        sigma_spike=0.0,
        seed=seed,
    )


def trained_model(config: TrainConfig, profile: str, data: tuple) -> tuple[torch.nn.Module, dict]:
    """Train ``config`` (or read the finished run back) under the profile's run cache."""
    key = cache.key_for("train", config.to_dict(), data=cache.data_digest(*data))
    folder = cache.prepare(key, profile)
    metrics = train(config, folder, device="cpu", threads=1, progress=False, data=data)
    return load_model(folder, "cpu"), metrics


@torch.no_grad()
def model_times(model: torch.nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(hidden, output) spike times [N, 5] in float64, the output clipped to the firing phase [0, 1] as in
    the circuit (Eq. 26-27)."""
    model = model.double().eval()
    hid, out = model.layer_outputs(x.double())
    return hid.numpy(), out.clamp(0.0, 1.0).numpy()


def weights(model: torch.nn.Module) -> tuple[np.ndarray, np.ndarray]:
    layers = [m for m in model.modules() if hasattr(m, "weight") and isinstance(m.weight, torch.nn.Parameter)]
    return layers[0].weight.detach().double().numpy(), layers[1].weight.detach().double().numpy()


# --------------------------------------------------------------------------------------------------
# circuit runs


class Circuit:
    """Everything that turns (weights, alpha, sample) into a simulation task."""

    def __init__(self, dev: dict, settings: dict, workdir: Path) -> None:
        from imcpnn.spice import characterize as ch
        from imcpnn.spice.pdk import library_line
        from imcpnn.spice.weightmap import WeightMap

        self.neuron = nl.NeuronParams().with_(v_b_dis=dev["v_b_dis"])
        gn, gp = ch.gate_map("n", v0=self.neuron.v0), ch.gate_map("p", v0=self.neuron.v0)
        self.wmap = WeightMap.from_gate_maps(
            gn, gp, c_m=self.neuron.c_m, v_th=dev["v_th"], t_circ=self.neuron.t_circ, vdd=self.neuron.vdd
        )
        self.timing = si.IrisTiming(t_circ=self.neuron.t_circ)
        self.models = library_line("tt")
        self.max_step, self.reltol = settings["max_step"], settings["reltol"]
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.key = str(hash((self.models, self.neuron, self.timing, self.max_step, self.reltol)))

    def task(self, w1, w2, t_in, alpha: tuple[float, float], name: str, trace_points: int = 0) -> tuple:
        # weights below the gate map's leakage floor (|w| < ~7e-5: < 0.1 ns of spike time) are switched off,
        # explicitly and counted in the results (``pruned``); weights above its range raise
        g1 = self.wmap.gates(w1, *alpha, layer="hidden layer (layer 1)", prune_below_floor=True)
        g2 = self.wmap.gates(w2, *alpha, layer="output layer (layer 2)", prune_below_floor=True)
        deck = si.two_layer_netlist(
            g1,
            g2,
            t_in,
            self.models,
            neuron=self.neuron,
            timing=self.timing,
            max_step=self.max_step,
            reltol=self.reltol,
        )
        alters = si.sample_alters(g1, g2, t_in, self.neuron.vdd, self.timing)
        rk = {
            "t_circ": self.neuron.t_circ,
            "vdd": self.neuron.vdd,
            "trace_points": trace_points,
            "t_reset": self.timing.t_reset,
        }
        return (deck, alters, self.key, name, str(self.workdir), rk), {}


def inputs(x: np.ndarray) -> np.ndarray:
    """Eq. 56: t_i = x_i (i = 0..3) plus the bias spike t_4 = 0."""
    x = np.asarray(x, dtype=float)
    return np.concatenate([x, np.zeros((len(x), 1))], axis=1)


def simulate_batch(pool: SpiceExecutor, circuit: Circuit, jobs: Sequence[tuple], desc: str) -> list:
    """Run ``jobs`` = [(w1, w2, t_in, alpha, name, trace_points)] on the pool; returns TaskResults. A job whose
    weights cannot be mapped (ValueError) comes back as a failed result with that error, not simulated."""
    tasks, idx, out = [], [], [None] * len(jobs)
    from imcpnn.spice.parallel import TaskResult

    for k, (w1, w2, t_in, alpha, name, tp) in enumerate(jobs):
        try:
            tasks.append(circuit.task(w1, w2, t_in, alpha, name, tp))
            idx.append(k)
        except ValueError as err:
            out[k] = TaskResult(k, False, None, f"unmappable: {err}")
    res = pool.map(
        iris_sim.simulate_sample,
        tasks,
        timeout_s=TIMEOUT_S,
        desc=desc,
        netlist_of=lambda i: str(circuit.workdir / f"{tasks[i][0][3]}.cir"),
    )
    for k, r in zip(idx, res, strict=True):
        r.index = k
        out[k] = r
    return out


def rmse_ns(a: np.ndarray, b: np.ndarray, t_circ: float = 1e-6) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)) * t_circ * 1e9)


def evaluate_scales(pool, circuit, w1, w2, x, t_model_out, cands: Sequence[tuple[float, float]], tag: str) -> list:
    """RMSE (ns) of the output spike times for each candidate (alpha+, alpha-) over the samples ``x``; a
    candidate with any failed or unmappable sample gets inf and its errors are listed."""
    t_in = inputs(x)
    jobs = [(w1, w2, t_in[s], c, f"{tag}_{k}_{s}", 0) for k, c in enumerate(cands) for s in range(len(x))]
    res = simulate_batch(pool, circuit, jobs, f"{tag}: {len(cands)} scales x {len(x)} samples")
    rows = []
    for k, c in enumerate(cands):
        rr = res[k * len(x) : (k + 1) * len(x)]
        bad = [r.error for r in rr if not r.ok]
        t_sp = np.array([r.value["t2"] for r in rr if r.ok])
        rm = rmse_ns(t_model_out, t_sp) if not bad else math.inf
        unm = sum(e.startswith("unmappable") for e in bad)
        rows.append(
            {
                "alpha": [float(c[0]), float(c[1])],
                "rmse_ns": rm,
                "failed": len(bad) - unm,
                "unmappable": unm,
                "errors": bad[:3],
            }
        )
    return rows


def coarse_to_fine(
    objective: Callable[[list], list[float]], center: Sequence[float], step: float, stages: int, shrink: float = 1 / 3
) -> tuple[list, list]:
    """The current-scale search of the Iris circuit (arXiv 2412.09010v1 Sec. 4, Fig. 7: the scale(s) that map the
    model's weights to the circuit's currents), in 1 or 2 dimensions, on :func:`imcpnn.search.search`: each stage
    evaluates, as ONE batch (one SPICE batch), the new points of the 3^d grid of spacing ``step`` around the
    incumbent (points rounded to 6 digits, positive only; the centre itself is new only in the first stage), then
    multiplies ``step`` by ``shrink``. The incumbent is the first minimum over every evaluation so far.
    ``objective`` maps a list of points to their values. Returns (points, values) of every evaluation."""
    d = len(center)
    if d not in (1, 2) or stages < 1 or not step > 0:
        raise ValueError(f"center must have 1 or 2 entries, stages >= 1, step > 0; got {center}, {stages}, {step}")
    steps = [step]
    for _ in range(stages - 1):
        steps.append(steps[-1] * shrink)  # step *= shrink, stage after stage (the same floats as a loop)
    # positive: a point rounded to 6 digits is > 0 exactly when it is >= 1e-6
    spec = CoarseToFine(steps=steps, neighbours="grid", bounds=(1e-6, math.inf), round_to=6, ties="first")
    res = search(objective, [], spec, center=tuple(float(c) for c in center))
    return res.points, res.values


def search_points(settings: dict, flow: str) -> dict:
    """The stated search: ``coarse_to_fine`` (quick: 1-D 2 stages from 1.0, steps 0.1 then 0.033, i.e. 5
    scales; 2-D 2 stages from (1, 1), steps 0.15 then 0.05, i.e. 17 scale pairs) or the paper's 1 % grid
    (1-D 0.80-1.30; 2-D 0.70-1.40 in both)."""
    if settings["search"] == "grid_1pct":
        g1 = np.round(np.arange(0.80, 1.3001, 0.01), 2)
        g2 = np.round(np.arange(0.70, 1.4001, 0.01), 2)
        pts = [(a, a) for a in g1] if flow == "pnn" else [(a, b) for a in g2 for b in g2]
        return {"kind": "grid_1pct", "points": pts}
    if flow == "pnn":
        return {"kind": "coarse_to_fine", "center": (1.0,), "step": 0.1, "stages": 2}
    return {"kind": "coarse_to_fine", "center": (1.0, 1.0), "step": 0.15, "stages": 2}


def scale_search(pool, circuit, w1, w2, x, t_model_out, settings: dict, flow: str, tag: str) -> dict:
    """Search the current scale(s) of ``flow`` on samples ``x``; returns the evaluations and the optimum."""
    plan = search_points(settings, flow)
    log: list[dict] = []

    def objective(cands: list) -> list[float]:
        full = [(c[0], c[0]) if len(c) == 1 else (c[0], c[1]) for c in cands]
        rows = evaluate_scales(pool, circuit, w1, w2, x, t_model_out, full, f"{tag}{len(log)}")  # unique names
        log.extend(rows)
        return [r["rmse_ns"] for r in rows]

    if plan["kind"] == "grid_1pct":
        objective([(a,) if flow == "pnn" else (a, b) for a, b in plan["points"]])
    else:
        coarse_to_fine(objective, plan["center"], plan["step"], plan["stages"])
    k = int(np.argmin([r["rmse_ns"] for r in log]))
    return {
        "plan": {k2: v for k2, v in plan.items() if k2 != "points"},
        "evaluations": log,
        "best_alpha": log[k]["alpha"],
        "best_rmse_ns": log[k]["rmse_ns"],
        "simulations": len(log) * len(x),
    }


# --------------------------------------------------------------------------------------------------
# the experiment


def accuracy(t_out: np.ndarray, y: np.ndarray) -> float:
    """Earliest output wins; a sample whose outputs are all silent (t >= 1) counts as wrong."""
    t = np.asarray(t_out, dtype=float)
    return float(np.mean((t.argmin(1) == np.asarray(y)) & (t.min(1) < 1.0)))


def _flow(pool, circuit, flow: str, model, data: tuple, settings: dict) -> dict:
    x_tr, y_tr, x_te, y_te = data
    n_te = settings["n_test"]
    x_te, y_te = x_te[:n_te], y_te[:n_te]
    w1, w2 = weights(model)
    hid_te, out_te = model_times(model, x_te)
    res: dict = {
        "w1": w1.tolist(),
        "w2": w2.tolist(),
        "weight_range_needed": [float(min(w1.min(), w2.min())), float(max(w1.max(), w2.max()))],
    }
    alpha = (1.0, 1.0)
    if settings["n_search"]:
        idx = np.sort(np.random.default_rng(0).permutation(len(x_tr))[: settings["n_search"]])
        _, out_s = model_times(model, x_tr[idx])
        s = scale_search(pool, circuit, w1, w2, x_tr[idx].numpy(), out_s, settings, flow, f"{flow}_train")
        s["samples"] = idx.tolist()
        res["search_train"] = s
        alpha = tuple(s["best_alpha"])
    t0 = time.perf_counter()
    t_in = inputs(x_te.numpy())
    tp = TRACE_POINTS if len(x_te) == 1 else 0  # one sample (smoke): keep its trace, no second run
    jobs = [(w1, w2, t_in[k], alpha, f"{flow}_test_{k}", tp) for k in range(len(x_te))]
    rr = simulate_batch(pool, circuit, jobs, f"{flow}: {len(jobs)} test samples at alpha={alpha}")
    wall = time.perf_counter() - t0
    ok = np.array([r.ok for r in rr])
    sp_out = np.array([r.value["t2"] if r.ok else [np.nan] * 5 for r in rr])
    sp_hid = np.array([r.value["t1"] if r.ok else [np.nan] * 5 for r in rr])
    diff = out_te - sp_out  # model - SPICE, model units
    # where the error arises (hidden layer, whose inputs are the data's exact spike times): the accumulation
    # (model v(1) vs SPICE v(1) = (V0 - V_end)/V_th) and the firing phase (Eq. 85 applied to SPICE's own v(1))
    v0, vth = circuit.neuron.v0, circuit.wmap.v_th
    v1_sp = np.array([(v0 - np.array(r.value["v_end1"])) / vth if r.ok else [np.nan] * 5 for r in rr])
    with torch.no_grad():
        lay1 = [m for m in model.modules() if hasattr(m, "potential")][0]
        v1_m = lay1.potential(model[0](x_te.double())).numpy()
        e_dis = lay1.e_dis
        t_fire_given_sp = F.firing_time(torch.tensor(np.nan_to_num(v1_sp)), e_dis).numpy()
    fired = ok[:, None] & (sp_hid < 0.999)
    per_sample = np.sqrt(np.nanmean(diff**2, axis=1)) * 1e3
    res.update(
        {
            "alpha": list(alpha),
            "n_test": int(len(x_te)),
            "n_failed": int((~ok).sum()),
            "pruned_synapses": {"hidden": circuit.wmap.pruned(w1, *alpha), "output": circuit.wmap.pruned(w2, *alpha)},
            "failures": [{"sample": r.index, "error": r.error, "netlist": r.netlist} for r in rr if not r.ok],
            "rmse_test_ns": rmse_ns(out_te[ok], sp_out[ok]) if ok.any() else math.nan,
            "rmse_test_classes_ns": rmse_ns(out_te[ok][:, :3], sp_out[ok][:, :3]) if ok.any() else math.nan,
            "rmse_hidden_ns": rmse_ns(hid_te[ok], sp_hid[ok]) if ok.any() else math.nan,
            "mean_error_ns": float(np.nanmean(diff) * 1e3),
            "mean_error_hidden_ns": float(np.nanmean(hid_te - sp_hid) * 1e3),
            "errors_ns": (diff[ok] * 1e3).ravel().tolist(),
            "per_sample_rmse_ns": per_sample.tolist(),
            "t_model_out": out_te.tolist(),
            "t_spice_out": sp_out.tolist(),
            "t_model_hidden": hid_te.tolist(),
            "t_spice_hidden": sp_hid.tolist(),
            "labels": y_te.tolist(),
            "t_in": t_in.tolist(),
            "v1_hidden_model": v1_m.tolist(),
            "v1_hidden_spice": v1_sp.tolist(),
            "v1_hidden_ratio_spice_over_model": _ratio(v1_m, v1_sp),
            "firing_phase_error_hidden_ns": {
                "mean": float(np.mean((t_fire_given_sp - sp_hid)[fired]) * 1e3) if fired.any() else math.nan,
                "rmse": rmse_ns(t_fire_given_sp[fired], sp_hid[fired]) if fired.any() else math.nan,
                "note": "Eq. 26/85 applied to SPICE's own v(1), minus SPICE's hidden spike time (fired neurons)",
            },
            "accuracy_model": accuracy(out_te, y_te.numpy()),
            "accuracy_spice": accuracy(sp_out[ok], y_te.numpy()[ok]) if ok.any() else math.nan,
            "test_wall_s": wall,
            "test_samples_per_s": len(jobs) / wall,
            "worst_sample": int(np.nanargmax(per_sample)) if ok.any() else None,
        }
    )
    if tp and rr[0].ok:
        res["trace"] = rr[0].value
    if settings["test_search"]:
        s = scale_search(pool, circuit, w1, w2, x_te.numpy(), out_te, settings, flow, f"{flow}_test")
        res["search_test"] = s
    return res


def _ratio(model: np.ndarray, spice: np.ndarray) -> float:
    """Least-squares slope of SPICE's v(1) on the model's, over neurons with model v(1) in (0.05, 1.36) (the
    fit range of the lambdas, where the linear E± model is meant to hold)."""
    m = np.isfinite(spice) & (model > 0.05) & (model < 1.36)
    return float(np.sum(model[m] * spice[m]) / np.sum(model[m] ** 2)) if m.any() else math.nan


def _throughput(circuit: Circuit, flow_res: dict, k: int) -> dict:
    """Serial throughput on ``k`` test samples, one worker, after one untimed warm-up sample."""
    w1, w2, t_in = np.array(flow_res["w1"]), np.array(flow_res["w2"]), np.array(flow_res["t_in"])
    a = tuple(flow_res["alpha"])
    with SpiceExecutor(workers=1) as pool:  # the serial baseline: one local worker process
        simulate_batch(pool, circuit, [(w1, w2, t_in[0], a, "serial_warmup", 0)], "serial warm-up")
        t0 = time.perf_counter()
        rr = simulate_batch(pool, circuit, [(w1, w2, t_in[i], a, f"serial_{i}", 0) for i in range(k)], "serial")
        wall = time.perf_counter() - t0
    return {"serial_samples_per_s": k / wall, "serial_samples": k, "serial_failed": sum(not r.ok for r in rr)}


def compute(profile: str, *, progress: bool = True) -> dict:
    """Train both flows, search their scales in SPICE, simulate the test samples; a JSON-able dict."""
    t_start = time.perf_counter()
    st = SETTINGS[profiles.check_profile(profile)]
    dev = device_values(profile)
    torch.set_num_threads(1)
    data = load_data(train_config("pnn", dev, 1))
    models_, metrics = {}, {}
    for flow in st["flows"]:
        models_[flow], metrics[flow] = trained_model(train_config(flow, dev, st["epochs"]), profile, data)
    t_train = time.perf_counter() - t_start
    circuit = Circuit(dev, st, profiles.output_dirs(profile).runs / "iris_circuit_netlists")
    flows: dict = {}
    executor = env_settings(default_workers=st["workers"])  # make EXECUTOR=... WORKERS=... RAY_ADDRESS=...
    with SpiceExecutor(**executor) as pool:
        for flow in st["flows"]:
            flows[flow] = _flow(pool, circuit, flow, models_[flow], data, st)
        jobs = []
        for flow in st["flows"]:
            f = flows[flow]
            if f["worst_sample"] is not None and "trace" not in f:
                k = f["worst_sample"]
                jobs.append(
                    (
                        np.array(f["w1"]),
                        np.array(f["w2"]),
                        np.array(f["t_in"][k]),
                        tuple(f["alpha"]),
                        f"{flow}_trace",
                        TRACE_POINTS,
                    )
                )
        traces = simulate_batch(pool, circuit, jobs, "traces of the worst samples") if jobs else []
        killed = pool.killed
    for flow, r in zip([j[4].split("_")[0] for j in jobs], traces, strict=True):
        flows[flow]["trace"] = r.value if r.ok else {"error": r.error}
    thr = _throughput(circuit, flows[st["flows"][-1]], st["serial_probe"]) if st["serial_probe"] else {}
    thr.update(
        {
            "parallel_workers": executor["workers"],
            "executor": executor["executor"],
            "parallel_samples_per_s": {f: flows[f]["test_samples_per_s"] for f in flows},
        }
    )
    searched = sum(flows[f].get("search_train", {}).get("simulations", 0) for f in flows)
    searched += sum(flows[f].get("search_test", {}).get("simulations", 0) for f in flows)
    out = {
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in st.items()},
        "device_values": dev,
        "train_metrics_last": {f: metrics[f]["epochs"][-1] for f in metrics},
        "flows": flows,
        "throughput": thr,
        "killed_workers": killed,
        "train_wall_s": t_train,
        "simulations": searched + sum(flows[f]["n_test"] for f in flows) + len(jobs),
        "wall_s": time.perf_counter() - t_start,
    }
    return summarize(out)


def summarize(out: dict) -> dict:
    """The headline keys of ``results/iris_circuit.json`` from the per-flow results."""
    fl, dev = out["flows"], out["device_values"]
    ann, pnn = fl.get("ann"), fl.get("pnn")
    r_ann = ann["rmse_test_ns"] if ann else None
    r_pnn = pnn["rmse_test_ns"] if pnn else None
    out.update(
        {
            "rmse_ann_to_imc_ns": r_ann,
            "rmse_pnn_to_imc_ns": r_pnn,
            "rmse_ratio": (r_ann / r_pnn) if (r_ann is not None and r_pnn) else None,
            "alpha_2d": ann["alpha"] if ann else None,
            "alpha_1d": pnn["alpha"][0] if pnn else None,
            "n_test": (pnn or ann)["n_test"],
            "e_rev_used": [dev["e_rev_pos"], dev["e_rev_neg"]],
            "e_dis_used": dev["e_dis"],
            "accuracy_model": {f: fl[f]["accuracy_model"] for f in fl},
            "accuracy_spice": {f: fl[f]["accuracy_spice"] for f in fl},
            "failed_simulations": sum(fl[f]["n_failed"] for f in fl)
            + sum(
                r["failed"]
                for f in fl
                for s in ("search_train", "search_test")
                for r in fl[f].get(s, {}).get("evaluations", [])
            ),
            "unmappable_sample_runs": sum(
                r.get("unmappable", 0)
                for f in fl
                for s in ("search_train", "search_test")
                for r in fl[f].get(s, {}).get("evaluations", [])
            ),
            "test_searched": {
                f: {"alpha": fl[f]["search_test"]["best_alpha"], "rmse_ns": fl[f]["search_test"]["best_rmse_ns"]}
                for f in fl
                if "search_test" in fl[f]
            }
            or "not computed in this profile (budget)",
            "class_mapping": "class c -> output neuron c (c = 0, 1, 2); outputs 3 and 4 trained to stay late; earliest "
            "output wins, all-silent = wrong",
        }
    )
    return out


def run(profile: str) -> dict:
    """:func:`compute` through the run cache (key: settings, device values, code fingerprint, data digest)."""
    st = SETTINGS[profiles.check_profile(profile)]
    dev = device_values(profile)
    data = load_data(train_config("pnn", dev, 1))
    config = {
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in st.items()},
        "device_values": {k: v for k, v in dev.items() if k != "source"},
        "train": {f: train_config(f, dev, st["epochs"]).to_dict() for f in st["flows"]},
    }
    return cache.compute_or_load(
        "iris_circuit", config, lambda: compute(profile), profile=profile, data=cache.data_digest(*data)
    )


def paper_comparison(res: dict) -> list[dict]:
    """REPRODUCTION.md rows: the RMSE ratio (the claim), both RMSEs, the scales, accuracies."""
    from imcpnn.repro.paper import IRIS_CIRCUIT as REF
    from imcpnn.repro.report import comparison_row

    st = res["settings"]
    ours = (
        f"{res['profile_label']}: schematic sky130 tt (our neuron sizing), {res['n_test']} test samples, "
        f"scales searched on {st['n_search']} training samples ({st['search']}), max step "
        f"{st['max_step'] * 1e9:g} ns, reltol {st['reltol']:g}; E from {res['device_values']['source']}"
    )
    diff = (
        "not comparable (different setting: our pre-layout schematic circuit with our own neuron sizing, not "
        "the paper's post-layout layout)"
    )
    rows = []
    ratio = res["rmse_ratio"]
    if ratio is not None:
        # reproduced: within a factor 1.5 of the paper's ratio; partially: the PNN is closer by a clear margin
        verdict = (
            "reproduced" if ratio >= REF["rmse_ratio"].value / 1.5 else "partially" if ratio >= 3 else "not reproduced"
        )
        rows.append(
            comparison_row(
                "Fig. 7d",
                "RMSE ratio ANN-to-IMC / PNN-to-IMC (test, output spikes)",
                REF["rmse_ratio"],
                round(ratio, 2),
                verdict,
                ours,
                unit="x",
                note="reproduced = within 1.5x of the paper's 19.8x, partially = >= 3x; the "
                "claim 'at least an order of magnitude' (>= 10x, also our target) is "
                f"{'met' if ratio >= 10 else 'NOT met'}",
            )
        )
        rows.append(
            comparison_row(
                "Fig. 7d (top)",
                "RMSE ANN-to-IMC, model vs SPICE",
                REF["rmse_ann_to_imc_ns"],
                round(res["rmse_ann_to_imc_ns"], 2),
                diff,
                ours,
                unit="ns",
            )
        )
    if res["rmse_pnn_to_imc_ns"] is not None:
        rows.append(
            comparison_row(
                "Fig. 7d (bottom)",
                "RMSE PNN-to-IMC, model vs SPICE",
                REF["rmse_pnn_to_imc_ns"],
                round(res["rmse_pnn_to_imc_ns"], 2),
                diff,
                ours,
                unit="ns",
            )
        )
    if res["alpha_2d"] is not None:
        rows.append(
            comparison_row(
                "Fig. 15a",
                "2-D current scale (alpha+, alpha-) at the optimum",
                "not printed",
                [round(a, 3) for a in res["alpha_2d"]],
                diff,
                ours,
            )
        )
    if res["alpha_1d"] is not None:
        rows.append(
            comparison_row(
                "Fig. 15b",
                "1-D current scale alpha at the optimum",
                "not printed",
                round(res["alpha_1d"], 3),
                diff,
                ours,
            )
        )
    if isinstance(res["test_searched"], dict):
        for f, v in res["test_searched"].items():
            rows.append(
                comparison_row(
                    "Fig. 7d / 15",
                    f"RMSE {f.upper()}-to-IMC with the scale searched ON THE TEST "
                    "samples (as the paper seems to have done)",
                    REF[f"rmse_{f}_to_imc_ns"],
                    round(v["rmse_ns"], 2),
                    diff,
                    ours,
                )
            )
    for f in res["accuracy_spice"]:
        rows.append(
            comparison_row(
                "Fig. 7 (not reported)",
                f"{f.upper()}-to-IMC test accuracy: model / SPICE",
                REF["accuracy"],
                f"{res['accuracy_model'][f]:.2%} / {res['accuracy_spice'][f]:.2%}",
                "beyond the paper",
                ours,
            )
        )
    return rows
