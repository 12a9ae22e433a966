"""Throughput of independent SPICE transients through :mod:`imcpnn.executor`: serial vs local workers vs a local Ray,
and Ray's per-job overhead (the README's "Scale-out" numbers).

    .venv/bin/python scripts/bench_executor.py --jobs 24 --workers 2 --out build/bench_executor.json

Each job simulates one small RC-Spike layer (2 inputs x 2 neurons, random memory-gate voltages seeded by the job,
sky130 ``tt``) with :func:`imcpnn.spice.characterize.simulate_layer`, one ngspice per process (libngspice is not
re-entrant). The three runs give the same spike times (checked). The overhead is the wall time per no-op job.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from imcpnn import executor as X


def layer_job(seed: int) -> dict:
    """One transient: a 2 x 2 layer with seeded gate voltages; its output spike times (model units) and CPU time."""
    from imcpnn.spice import characterize as ch
    from imcpnn.spice import netlist as nl

    rng = np.random.default_rng(seed)
    vdd = nl.NeuronParams().vdd
    spec = nl.LayerSpec(v_gn=rng.uniform(0.4, 0.9, (2, 2)), v_gp=np.full((2, 2), vdd), t_in=rng.uniform(0, 0.5, 2))
    cpu0 = time.process_time()
    t_spike = ch.simulate_layer(spec, name=f"bench_{os.getpid()}_{seed}").t_spike.tolist()
    return {"t_spike": t_spike, "cpu_s": time.process_time() - cpu0}


def noop(job: int) -> int:
    return job


def _timed(fn, jobs, **kw) -> tuple[float, list]:
    t0 = time.perf_counter()
    recs = X.run_jobs(fn, jobs, progress=False, **kw)
    wall = time.perf_counter() - t0
    bad = [r["error"] for r in recs if r["status"] != "ok"]
    if bad:
        raise RuntimeError(f"{len(bad)} jobs failed: {bad[0]}")
    return wall, [r["result"] for r in recs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--noop-jobs", type=int, default=200)
    ap.add_argument("--out", default="build/bench_executor.json")
    a = ap.parse_args()
    jobs = list(range(a.jobs))
    layer_job(-1 % 2**31)  # warm this process (imports, ngspice load, PDK library)
    res: dict = {
        "jobs": a.jobs,
        "workers": a.workers,
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "load_avg_before": os.getloadavg(),
    }
    res["serial_s"], ref = _timed(layer_job, jobs)
    res["local_s"], loc = _timed(layer_job, jobs, workers=a.workers)  # includes starting the pool
    res["local_startup_s"] = _timed(layer_job, list(range(a.workers)), workers=a.workers)[0] - res["serial_s"] / a.jobs
    ray = X.import_ray()
    X.connect_ray(num_cpus=a.workers)
    _timed(noop, list(range(2 * a.workers)), executor="ray")  # start the workers
    _timed(layer_job, list(range(a.workers)), executor="ray")  # warm each worker's ngspice (imports, PDK)
    res["ray_s"], rr = _timed(layer_job, jobs, executor="ray")
    res["ray_noop_s_per_job"] = _timed(noop, list(range(a.noop_jobs)), executor="ray")[0] / a.noop_jobs
    res["local_noop_s_per_job"] = _timed(noop, list(range(a.noop_jobs)))[0] / a.noop_jobs
    ray.shutdown()
    res["identical"] = [r["t_spike"] for r in ref] == [r["t_spike"] for r in loc] == [r["t_spike"] for r in rr]
    res["cpu_s_per_job_serial"] = sum(r["cpu_s"] for r in ref) / a.jobs
    res["local_s_without_startup"] = res["local_s"] - res["local_startup_s"]
    res["load_avg_after"] = os.getloadavg()
    for k in ("serial", "local", "ray"):
        res[f"{k}_jobs_per_s"] = a.jobs / res[f"{k}_s"]
    res["speedup_local"] = res["serial_s"] / res["local_s"]
    res["speedup_ray"] = res["serial_s"] / res["ray_s"]
    res["speedup_local_without_startup"] = res["serial_s"] / res["local_s_without_startup"]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
