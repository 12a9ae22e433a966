"""Notebook 08's summaries (:mod:`imcpnn.repro.circuit_robustness` runs the circuits): the corner / temperature
rows, the mismatch distributions, the energy breakdown, the voltage-dependent E(v) model (a polynomial fit of
notebook 06's I(V) curves evaluated with the ODE solver; arXiv 2412.09010v1 names a membrane-dependent E±rev as
future work, App. G / Fig. 17 text) and the REPRODUCTION.md rows (all "beyond the paper")."""

from __future__ import annotations

import json
import math
import re
import time

import numpy as np
import torch

from imcpnn import functional as F
from imcpnn.repro import iris_circuit as ic
from imcpnn.spice.energy import synaptic_events
from imcpnn.spice.readout import fit_relative_poly

# the membrane range of the E(v) fits, in model units u = (V0 - V)/V_th: from 0.2 V_th above V0 (negative weights
# push the membrane up) to just past the threshold u = 1 (where the firing phase ends)
FIT_U = (-0.2, 1.05)
DEGREES = (1, 2, 3)


# --------------------------------------------------------------------------------------------------
# corners and temperature


def score_times(t_spice: np.ndarray, t_model: np.ndarray, labels: np.ndarray) -> dict:
    """RMSE (ns) and circuit accuracy over the rows without NaN (a failed simulation is a NaN row); ``n_silent``:
    the simulated samples in which no output neuron fires within the window (every time clipped to 1, Eq. 27), so
    that their RMSE only measures the model's distance to the window's end."""
    t_spice, t_model = np.asarray(t_spice, dtype=float), np.asarray(t_model, dtype=float)
    ok = np.all(np.isfinite(t_spice), axis=1)
    return {
        "n": int(len(ok)),
        "n_failed": int((~ok).sum()),
        "rmse_ns": ic.rmse_ns(t_model[ok], t_spice[ok]) if ok.any() else math.nan,
        "acc": ic.accuracy(t_spice[ok], np.asarray(labels)[ok]) if ok.any() else math.nan,
        "n_silent": int(np.all(t_spice[ok] >= 1.0, axis=1).sum()),
    }


def _score_runs(runs: list[dict], t_model: np.ndarray, labels: np.ndarray) -> dict:
    t2 = np.array([r["t2"] if r["ok"] else [np.nan] * 5 for r in runs])
    out = score_times(t2, t_model, labels)
    out["failures"] = [
        {"sample": k, "error": r["error"], "netlist": r.get("netlist")} for k, r in enumerate(runs) if not r["ok"]
    ]
    out["unmappable"] = sum(bool(r.get("unmappable")) for r in runs)
    return out


def _row(corner: str, temp: float, scales: str, per_flow: dict, **extra) -> dict:
    row = {
        "corner": corner,
        "temp_c": temp,
        "scales": scales,
        "n_test": max((s["n"] for s in per_flow.values()), default=0),
    }
    for f in ("ann", "pnn"):
        s = per_flow.get(f)
        row[f"rmse_{f}_ns"] = s["rmse_ns"] if s else None
        row[f"acc_{f}"] = s["acc"] if s else None
        row[f"silent_{f}"] = s.get("n_silent") if s else None
    row["flows"] = per_flow
    row.update(extra)
    return row


def corner_rows(st: dict, nets: dict, flows: list[str], res: list[dict], sub: dict) -> list[dict]:
    """The ``corners`` list: tt / 27 °C from notebook 07 (the same circuit and settings; its scales ARE the
    search at tt, so its refit row equals its fixed row), then every condition with fixed and refit scales. Fixed
    rows on the samples ``sub["fixed"]`` (tt also on all of 07's, ``all_test``), refit rows on ``sub["refit"]``."""
    fx, r = np.asarray(sub["fixed"]), np.asarray(sub["refit"])
    pos = [sub["fixed"].index(k) for k in sub["refit"]]  # the refit samples among the fixed runs

    def tt_on(rows: np.ndarray) -> dict:
        out = {
            f: score_times(nets[f]["t_spice_07"][rows], nets[f]["t_model"][rows], nets[f]["labels"][rows])
            for f in flows
        }
        for f in flows:
            out[f]["alpha"] = list(nets[f]["alpha"])
        return out

    src = "notebook 07's test runs (same circuit and simulator settings)"
    rows = [
        _row(
            "tt", 27.0, "fixed", tt_on(fx), source=src, all_test=summ(tt_on(np.arange(len(nets[flows[0]]["labels"]))))
        ),
        _row(
            "tt",
            27.0,
            "refit",
            tt_on(r),
            source=src + "; the tt scales are 07's own search",
            fixed_same_samples=summ(tt_on(r)),
        ),
    ]
    for c, (corner, temp) in enumerate(st["conditions"]):
        fixed, refit, same, search = {}, {}, {}, {}
        for j, f in enumerate(flows):
            tasks = res[c * len(flows) + j]["tasks"]
            net = nets[f]
            fixed[f] = _score_runs(tasks[0]["runs"], net["t_model"][fx], net["labels"][fx])
            fixed[f]["alpha"] = list(net["alpha"])
            fixed[f]["t_spice_out"] = [x["t2"] if x["ok"] else [math.nan] * 5 for x in tasks[0]["runs"]]
            rf = tasks[1]
            test = rf["test"] if rf["test"] is not None else [tasks[0]["runs"][k] for k in pos]
            refit[f] = _score_runs(test, net["t_model"][r], net["labels"][r])
            refit[f].update({"alpha": rf["alpha"], "factor": rf["best_factor"]})
            same[f] = _score_runs([tasks[0]["runs"][k] for k in pos], net["t_model"][r], net["labels"][r])
            search[f] = {"evaluations": rf["evaluations"], "simulations": rf["simulations"]}
        fatal = [res[c * len(flows) + j].get("fatal") for j in range(len(flows))]
        why = {"not_simulable": next(x for x in fatal if x)} if any(fatal) else {}
        rows.append(_row(corner, temp, "fixed", fixed, **why))
        rows.append(_row(corner, temp, "refit", refit, fixed_same_samples=summ(same), search=search, **why))
    return rows


def not_simulable_reason(error: str) -> str:
    """A one-line reason from a condition's model-check failure (:data:`imcpnn.repro.circuit_robustness.MODEL_CHECK`
    errors carry ngspice's whole message)."""
    m = re.search(r"detected during (\S+) parameter checking", error)
    if m:
        return (
            f"ngspice's {m.group(1)} parameter check refused a model card of this corner (a fatal model error, "
            "not a convergence failure); every run of this condition counted as failed"
        )
    return error.strip().splitlines()[0][:200] if error.strip() else "no reason recorded"


def summ(per_flow: dict) -> dict:
    return {
        k: v
        for f in ("ann", "pnn")
        for k, v in ((f"rmse_{f}_ns", per_flow.get(f, {}).get("rmse_ns")), (f"acc_{f}", per_flow.get(f, {}).get("acc")))
    }


# --------------------------------------------------------------------------------------------------
# mismatch


def mismatch_summary(st: dict, nets: dict, flows: list[str], res: list[dict], rows: list[int], noise) -> dict:
    """Per-instance RMSE and accuracy of every flow on the mismatch subset; the nominal circuit beside."""
    r = np.asarray(rows)
    allf = [*flows, *(["pnn_noise"] if noise is not None else [])]
    out: dict = {"n": len(res), "seeds": None, "samples": list(rows), "n_samples": len(rows)}
    for j, f in enumerate(allf):
        net = nets[f] if f != "pnn_noise" else noise
        tm, lab = np.asarray(net["t_model"])[r], np.asarray(net["labels"])[r]
        sc = [_score_runs(inst["tasks"][j]["runs"], tm, lab) for inst in res]
        out[f"rmse_{f}_ns"] = [s["rmse_ns"] for s in sc]
        out[f"acc_{f}"] = [s["acc"] for s in sc]
        out[f"failed_{f}"] = sum(s["n_failed"] for s in sc)
        out.setdefault("failures", []).extend(x for s in sc for x in s["failures"])
        if f != "pnn_noise":
            out[f"nominal_{f}"] = score_times(net["t_spice_07"][r], tm, lab)
    if noise is not None and "pnn" in flows:
        out["noise_vs_pnn"] = paired_difference(out["rmse_pnn_ns"], out["rmse_pnn_noise_ns"])
    if noise is None:
        out["noise_trained_pnn"] = "not run at this budget (settings noise_flow = False)"
    else:
        test = noise["tt_search"]["test"]
        nom = _score_runs(test, np.asarray(noise["t_model"])[r], np.asarray(noise["labels"])[r])
        out["noise_trained_pnn"] = {
            "sigma_spike": noise["sigma_spike"],
            "alpha_tt": noise["alpha"],
            "accuracy_model_test": noise["accuracy_model"],
            "nominal": nom,
            "tt_search": {k: v for k, v in noise["tt_search"].items() if k != "test"},
            "train_last": noise["train_last"],
        }
    return out


def paired_difference(a: list[float], b: list[float]) -> dict:
    """Per-instance b - a over the instances where both are finite: the median difference, how many instances b
    is lower in, and a two-sided exact sign test (ties dropped) - the same mismatch instances, so paired."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    d = d[np.isfinite(d)]
    lower, higher = int((d < 0).sum()), int((d > 0).sum())
    n = lower + higher
    k = min(lower, higher)
    p = min(1.0, 2.0 * sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n) if n else math.nan
    return {
        "n_pairs": int(d.size),
        "median_diff_ns": float(np.median(d)) if d.size else math.nan,
        "b_lower_in": lower,
        "b_higher_in": higher,
        "sign_test_p": p,
    }


# --------------------------------------------------------------------------------------------------
# energy


def _mean_nested(dicts: list[dict]) -> dict:
    out = {}
    for k, v in dicts[0].items():
        out[k] = _mean_nested([d[k] for d in dicts]) if isinstance(v, dict) else float(np.mean([d[k] for d in dicts]))
    return out


def energy_summary(nets: dict, flows: list[str], res: dict, rows: list[int], circuit) -> dict:
    """Per flow: energy per inference (J, mean over the samples), per synaptic event (J/SOP), the breakdown,
    the membranes' C V0^2, and the checks (ammeters vs supplies; spike times vs 07's runs without probes)."""
    out = {}
    for j, f in enumerate(flows):
        runs = res["tasks"][j]["runs"]
        ok = [(k, x) for k, x in zip(rows, runs, strict=True) if x["ok"]]
        net = nets[f]
        if not ok:
            out[f] = {"error": "every energy run failed", "failures": [x["error"] for x in runs]}
            continue
        es = [x["energy"] for _, x in ok]
        sops = [synaptic_events(net["t_in"][k], x["t1"]) for k, x in ok]
        spikes = sum(int(np.sum(np.array(x["t1"]) < 1.0) + np.sum(np.array(x["t2"]) < 1.0)) for _, x in ok)
        tot = np.array([e["total_j"] for e in es])
        d_out = np.concatenate([np.array(x["t2"]) - net["t_spice_07"][k] for k, x in ok]) * 1e3
        d_hid = np.concatenate([np.array(x["t1"]) - net["t_spice_hidden_07"][k] for k, x in ok]) * 1e3
        split = max(
            max(
                abs(e["check"]["vdd_split_j"] - e["check"]["vdd_delivered_j"]) / abs(e["check"]["vdd_delivered_j"]),
                abs(e["check"]["v0_split_j"] - e["check"]["v0_delivered_j"]) / abs(e["check"]["v0_delivered_j"]),
            )
            for e in es
        )
        out[f] = {
            "per_inference_j": float(tot.mean()),
            "per_inference_j_samples": tot.tolist(),
            "per_sop_j": float(tot.sum() / sum(sops)),
            "sops_per_inference": float(np.mean(sops)),
            "breakdown": _mean_nested([e["breakdown"] for e in es]),
            "group_totals": _mean_nested([e["group_totals"] for e in es]),
            "discharger_dissipated_j": float(np.mean([e["discharger_dissipated_j"] for e in es])),
            "logic_j_per_output_spike": float(sum(e["breakdown"]["neurons"]["logic"] for e in es) / max(spikes, 1)),
            "neuron_spikes_per_inference": spikes / len(ok),
            "membrane_cv2_j": es[0]["membrane_cv2_j"],
            "samples": [k for k, _ in ok],
            "n_failed": len(runs) - len(ok),
            "ammeter_split_max_rel_error": split,
            "probes_vs_07_max_abs_ns": {"output": float(np.abs(d_out).max()), "hidden": float(np.abs(d_hid).max())},
            "probes_vs_07_rms_ns": {
                "output": float(np.sqrt(np.mean(d_out**2))),
                "hidden": float(np.sqrt(np.mean(d_hid**2))),
            },
            "window_s": circuit.timing.t_end,
            "alpha": list(net["alpha"]),
        }
    return out


# --------------------------------------------------------------------------------------------------
# E(v): polynomial fits of the I(V) curves, the model evaluated with the ODE solver


def fit_curves(curves: dict, dev: dict, degree: int, v0: float = 1.3) -> dict:
    """h_pos, h_neg (median coefficients over the gate voltages of notebook 06's synapse curves, like its λ) and
    h_dis (the discharger curve nearest the calibrated V_b^dis), each I(V)/I(V0) as a polynomial of u."""
    v_th = dev["v_th"]
    v_range = (v0 - FIT_U[1] * v_th, v0 - FIT_U[0] * v_th)
    out: dict = {"degree": degree, "v_range": list(v_range), "u_range": list(FIT_U), "v_th": v_th}
    for key, name in (("synapse_n", "h_pos"), ("synapse_p", "h_neg")):
        c = curves[key]
        fits = [
            fit_relative_poly(np.array(c["v"]), np.abs(np.array(i)), v0=v0, v_th=v_th, degree=degree, v_range=v_range)
            for i in c["i"]
        ]
        out[name] = np.median([f.coef for f in fits], axis=0).tolist()
        out[f"{name}_rms_rel"] = float(np.median([f.rms_rel for f in fits]))
    d = curves["discharger"]
    k = int(np.argmin(np.abs(np.array(d["v_b_dis"]) - dev["v_b_dis"])))
    fd = fit_relative_poly(
        np.array(d["v"]), np.abs(np.array(d["i"][k])), v0=v0, v_th=v_th, degree=degree, v_range=v_range
    )
    out.update({"h_dis": list(fd.coef), "h_dis_rms_rel": fd.rms_rel, "v_b_dis_curve": float(d["v_b_dis"][k])})
    return out


def poly_times(t_in: torch.Tensor, w1, w2, h: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """(hidden, output) spike times of the two-layer net with polynomial h's (ODE solver), output clipped."""
    w1, w2 = torch.as_tensor(w1, dtype=torch.float64), torch.as_tensor(w2, dtype=torch.float64)
    hid = F.firing_time_poly(F.rc_spike_potential_poly(t_in, w1, h["h_pos"], h["h_neg"]), h["h_dis"])
    return hid, F.firing_time_poly(F.rc_spike_potential_poly(hid, w2, h["h_pos"], h["h_neg"]), h["h_dis"])


def _epoch_cost(t_in: torch.Tensor, w1, w2, h: dict | None, dev: dict, batches: int, batch: int = 50) -> float:
    """Seconds per training epoch over ``t_in`` (forward + backward of a loss, batches of ``batch``), measured on
    the first ``batches`` batches and scaled to the epoch: the exact linear model (``h`` None) or the
    ODE-evaluated polynomial one (float64, the ODE solver's default tolerances)."""
    w1 = torch.as_tensor(w1, dtype=torch.float64).clone().requires_grad_(True)
    w2 = torch.as_tensor(w2, dtype=torch.float64).clone().requires_grad_(True)
    e_rev, e_dis = (dev["e_rev_pos"], dev["e_rev_neg"]), dev["e_dis"]
    starts = list(range(0, len(t_in), batch))
    t0 = time.perf_counter()
    for b in starts[:batches]:
        x = t_in[b : b + batch]
        if h is None:
            out = F.rc_spike(F.rc_spike(x, w1, e_rev, e_dis=e_dis), w2, e_rev, e_dis=e_dis)
        else:
            out = poly_times(x, w1, w2, h)[1]
        out.square().sum().backward()
    return (time.perf_counter() - t0) / min(batches, len(starts)) * len(starts)


def nonlinear_e(profile: str, inp: dict, st: dict) -> dict:
    """RMSE of the PNN against the SAME tt SPICE runs (notebook 07's test runs) with the trained linear E± (exact
    solver), the linear model through the ODE solver, and polynomial E(v) fits of degree 1-3 (ODE solver)."""
    from imcpnn.repro.profiles import results_file

    if "pnn" not in inp["nets"]:
        return {"error": "the PNN flow did not run in this profile"}
    net, dev = inp["nets"]["pnn"], inp["dev"]
    curves = json.loads(results_file(profile, "spice_curves.json").read_text())
    t_in = torch.as_tensor(net["t_in"], dtype=torch.float64)
    sp_out, sp_hid = net["t_spice_07"], net["t_spice_hidden_07"]
    ok = np.all(np.isfinite(sp_out), axis=1)
    lin = {
        "h_pos": [1.0, -1.0 / dev["e_rev_pos"]],
        "h_neg": [1.0, -1.0 / dev["e_rev_neg"]],
        "h_dis": [1.0, -1.0 / dev["e_dis"]],
    }
    hid_l, out_l = (x.detach().numpy() for x in poly_times(t_in, net["w1"], net["w2"], lin))
    hid_m, _ = ic.model_times(net["model"], inp["x_te"][: len(t_in)])
    res: dict = {
        "rmse_pnn_linear_ns": ic.rmse_ns(net["t_model"][ok], sp_out[ok]),
        "rmse_pnn_linear_ode_ns": ic.rmse_ns(out_l[ok], sp_out[ok]),
        "rmse_hidden_linear_ns": ic.rmse_ns(hid_m[ok], sp_hid[ok]),
        "linear_ode_vs_exact_max_abs": float(max(np.abs(out_l - net["t_model"]).max(), np.abs(hid_l - hid_m).max())),
        "n_test": int(ok.sum()),
        "spice_runs": "notebook 07's tt / 27 °C test runs of the PNN (fixed scales)",
        "linear_e": lin,
        "by_degree": {},
    }
    for d in DEGREES:
        h = fit_curves(curves, dev, d)
        hid, out = (x.detach().numpy() for x in poly_times(t_in, net["w1"], net["w2"], h))
        res["by_degree"][str(d)] = {
            **h,
            "rmse_out_ns": ic.rmse_ns(out[ok], sp_out[ok]),
            "rmse_hidden_ns": ic.rmse_ns(hid[ok], sp_hid[ok]),
        }
    q = res["by_degree"]["2"]
    res["rmse_pnn_nonlinear_ns"] = q["rmse_out_ns"]
    res["rmse_hidden_nonlinear_ns"] = q["rmse_hidden_ns"]
    x_tr = torch.cat([inp["x_tr"].double(), torch.zeros(len(inp["x_tr"]), 1, dtype=torch.float64)], 1)
    nb, bs = st["cost_batches"], st.get("cost_batch", 50)
    res["training_cost_s_per_epoch"] = {
        "exact_linear": _epoch_cost(x_tr, net["w1"], net["w2"], None, dev, nb, bs),
        "ode_quadratic": _epoch_cost(x_tr, net["w1"], net["w2"], q, dev, nb, bs),
        "samples": len(x_tr),
        "batch": bs,
        "batches_timed": nb,
        "note": "forward + backward of the two-layer net, timed on the first batches and scaled to the training "
        "set; this machine, 1 thread, float64, the ODE solver's default tolerances",
    }
    return res


# --------------------------------------------------------------------------------------------------
# bookkeeping and the REPRODUCTION.md rows


def counts(res: list[dict], wall: float, executor: dict) -> dict:
    """Simulations run, failed and unmappable (never dropped), and the measured cost per simulation;
    ``failed_elsewhere``: the failures outside the conditions the simulator refused as a whole."""
    runs: list = []
    failed = failed_elsewhere = 0
    for job in res:
        mine = []
        for t in job["tasks"]:
            mine += (t.get("runs") or []) + (t.get("test") or [])
            mine += [None] * t.get("simulations", 0)  # the refit searches' runs (counted, scored inside)
        n = sum(1 for r in mine if r is not None and not r["ok"] and not r.get("unmappable"))
        n += sum(e["failed"] for t in job["tasks"] for e in t.get("evaluations", []))
        failed += n
        failed_elsewhere += 0 if job.get("fatal") else n
        runs += mine
    sims = [r for r in runs if r is None or not r.get("unmappable")]
    job_wall = sum(job["wall_s"] for job in res)
    return {
        "simulations": len(sims),
        "failed_simulations": failed,
        "failed_elsewhere": failed_elsewhere,
        "unmappable_sample_runs": sum(1 for r in runs if r is not None and r.get("unmappable")),
        "jobs": len(res),
        "job_errors": [j["job_error"] for j in res if j.get("job_error")],
        "jobs_retried": {j["tag"]: j["retried"] for j in res if j.get("retried")},
        "job_wall_s": {j["tag"]: round(j["wall_s"], 1) for j in res},
        "conditions_not_simulable": [{"job": j["tag"], "error": j["fatal"]} for j in res if j.get("fatal")],
        "worker_s_per_simulation": job_wall / max(len(sims), 1),
        "executor": executor,
    }


def _f(x, nd: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def _pct(x) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def _silent_text(r: dict) -> str:
    """Where samples had no output spike at all: their count per flow (their RMSE is the distance of the model's
    times to the window's end, so two conditions that both silence the circuit give the same RMSE)."""
    ann, pnn = r.get("silent_ann"), r.get("silent_pnn")
    if not ann and not pnn:
        return ""
    return (
        f"; no output spike in the window (all clipped to t = 1) in {ann or 0} / {pnn or 0} of the "
        f"{r['n_test']} samples"
    )


def paper_comparison(res: dict) -> list[dict]:
    """REPRODUCTION.md rows, all "beyond the paper" (the paper evaluates tt / 27 °C, nominal devices only)."""
    from imcpnn.repro.report import comparison_row

    st, rows = res["settings"], []
    base = (
        f"{res['profile_label']}: notebook 07's networks and tt scales ({res['source']}), schematic sky130, "
        f"{st['workers']} workers"
    )
    nr = "not reported"
    by = {(r["corner"], r["temp_c"], r["scales"]): r for r in res["corners"]}
    for (corner, temp, scales), r in by.items():
        if scales != "fixed":
            continue
        rf = by.get((corner, temp, "refit"), {})
        same = rf.get("fixed_same_samples", {})
        fac = {f: v.get("factor") for f, v in rf.get("flows", {}).items()}
        ours = (
            f"fixed: RMSE ANN {_f(r['rmse_ann_ns'])} / PNN {_f(r['rmse_pnn_ns'])} ns, acc {_pct(r['acc_ann'])} / "
            f"{_pct(r['acc_pnn'])} ({r['n_test']} test); refit: RMSE {_f(rf.get('rmse_ann_ns'))} / "
            f"{_f(rf.get('rmse_pnn_ns'))} ns, acc {_pct(rf.get('acc_ann'))} / {_pct(rf.get('acc_pnn'))} "
            f"({rf.get('n_test')} test; fixed on those: {_f(same.get('rmse_ann_ns'))} / "
            f"{_f(same.get('rmse_pnn_ns'))} ns)"
        )
        if r.get("all_test"):
            a = r["all_test"]
            ours += f"; all test samples: {_f(a['rmse_ann_ns'])} / {_f(a['rmse_pnn_ns'])} ns"
        ours += _silent_text(r)
        if r.get("not_simulable"):
            ours = f"not simulable: {not_simulable_reason(r['not_simulable'])}"
        rows.append(
            comparison_row(
                "beyond Fig. 7d",
                f"corner {corner}, {temp:g} °C: ANN-to-IMC / PNN-to-IMC",
                nr,
                ours,
                "beyond the paper",
                base + f"; refit factors {fac}",
                note="refit = one common factor on the flow's tt scales, searched on "
                f"{st['n_search']} training samples",
            )
        )
    mm = res["mismatch"]
    parts = []
    for f in ("ann", "pnn", "pnn_noise"):
        if f"rmse_{f}_ns" in mm:
            r_, a_ = np.array(mm[f"rmse_{f}_ns"], dtype=float), np.array(mm[f"acc_{f}"], dtype=float)
            parts.append(
                f"{f.upper()}: RMSE median {np.nanmedian(r_):.1f} ns (range {np.nanmin(r_):.1f}-"
                f"{np.nanmax(r_):.1f}), accuracy median {np.nanmedian(a_):.0%} (min {np.nanmin(a_):.0%})"
            )
    rows.append(
        comparison_row(
            "beyond Fig. 7d",
            f"device mismatch, {mm['n']} Monte-Carlo instances (sky130 mismatch models), tt scales fixed",
            nr,
            "; ".join(parts),
            "beyond the paper",
            base + f"; {mm['n_samples']} test samples per instance",
        )
    )
    nz = mm["noise_trained_pnn"]
    if isinstance(nz, str):
        ours = nz
    else:
        pv, nom_p = mm.get("noise_vs_pnn", {}), mm.get("nominal_pnn", {})
        med = {f: _f(float(np.nanmedian(mm[f"rmse_{f}_ns"]))) for f in ("pnn_noise", "pnn")}
        ours = (
            f"sigma {nz['sigma_spike']}: nominal tt RMSE {_f(nz['nominal']['rmse_ns'])} ns (PNN sigma 0: "
            f"{_f(nom_p.get('rmse_ns'))} ns) on the {mm['n_samples']} samples; under mismatch median "
            f"{med['pnn_noise']} vs {med['pnn']} ns; "
            f"lower in {pv.get('b_lower_in')} of {pv.get('n_pairs')} instances, median paired difference "
            f"{pv.get('median_diff_ns', math.nan):+.1f} ns (two-sided sign test p = "
            f"{pv.get('sign_test_p', math.nan):.2g})"
        )
    rows.append(
        comparison_row(
            "beyond Fig. 7d / §3 noise",
            "PNN trained with spike-time noise sigma_spike: robustness to mismatch",
            nr,
            ours,
            "beyond the paper",
            base
            + (
                "" if isinstance(nz, str) else "; the noise-trained PNN's own tt scale searched on the training samples"
            ),
        )
    )
    for f, e in res["energy"].items():
        if "per_inference_j" not in e:
            continue
        g = e["group_totals"]
        rows.append(
            comparison_row(
                "beyond Fig. 7",
                f"{f.upper()}-to-IMC energy per inference / per synaptic event",
                nr,
                f"{e['per_inference_j'] * 1e12:.2f} pJ / {e['per_sop_j'] * 1e15:.0f} fJ per "
                f"SOP (synapses {g['synapse_arrays'] * 1e12:.2f}, neurons "
                f"{g['neurons'] * 1e12:.2f}, control {g['control'] * 1e12:.3f} pJ)",
                "beyond the paper",
                base + f"; tt 27 °C, mean over {len(e['samples'])} test samples, window {e['window_s'] * 1e6:.1f} µs",
                note=f"membranes' C V0^2 = {e['membrane_cv2_j'] * 1e12:.2f} pJ",
            )
        )
    ne = res["nonlinear_e"]
    if "rmse_pnn_nonlinear_ns" in ne:
        rows.append(
            comparison_row(
                "beyond Fig. 7d (App. G future work)",
                "PNN-to-IMC RMSE: linear E± vs quadratic E(v) (same weights, scales and SPICE runs)",
                nr,
                f"{ne['rmse_pnn_linear_ns']:.2f} ns vs {ne['rmse_pnn_nonlinear_ns']:.2f} ns "
                f"(hidden layer {ne['rmse_hidden_linear_ns']:.2f} vs "
                f"{ne['rmse_hidden_nonlinear_ns']:.2f} ns)",
                "beyond the paper",
                base + f"; fits over u in {ne['by_degree']['2']['u_range']}, ODE solver",
            )
        )
    return rows
