"""Throughput of independent SPICE transients through :mod:`imcpnn.executor`: serial vs local workers vs a local Ray,
and Ray's per-job overhead (the README's "Scale-out" numbers).

    .venv/bin/python scripts/bench_executor.py --jobs 16 --workers 2 --out build/bench_executor.json

Each job simulates one small RC-Spike layer (2 inputs x 2 neurons, random memory-gate voltages seeded by the job,
sky130 ``tt``) with :func:`imcpnn.spice.characterize.simulate_layer`, one ngspice per process (libngspice is not
re-entrant). Serial runs in this process (warmed by one job); local and Ray run on warm workers (one warm-up
job each, timed apart as start-up). The modes run in interleaved rounds (medians reported), all give the same
spike times (checked), and each reports the CPU its jobs got (``cores_used``). The overhead is the wall time
per no-op job. The 1-minute load average is sampled every 2 s throughout (a shared machine says so).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
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


def _timed(run, fn, jobs, **kw) -> tuple[float, list]:
    """Wall time of ``run(fn, jobs, progress=False, **kw)`` (run_jobs or an Executor's map) and the results."""
    t0 = time.perf_counter()
    recs = run(fn, jobs, progress=False, **kw)
    wall = time.perf_counter() - t0
    bad = [r["error"] for r in recs if r["status"] != "ok"]
    if bad:
        raise RuntimeError(f"{len(bad)} jobs failed: {bad[0]}")
    return wall, [r["result"] for r in recs]


class _Load(threading.Thread):
    """Samples the 1-minute load average every 2 s (the machine may be shared: the numbers say how busy)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(os.getloadavg()[0])
            self.stop.wait(2.0)

    def summary(self) -> dict:
        v = self.samples or [os.getloadavg()[0]]
        return {"min": min(v), "mean": sum(v) / len(v), "max": max(v), "samples": len(v)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds of serial / local / Ray")
    ap.add_argument("--noop-jobs", type=int, default=200)
    ap.add_argument("--out", default="build/bench_executor.json")
    a = ap.parse_args()
    jobs = list(range(a.jobs))
    warm = list(range(10_000, 10_000 + a.workers))  # other seeds: one warm-up job per worker
    res: dict = {
        "jobs": a.jobs,
        "workers": a.workers,
        "rounds": a.rounds,
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "load_avg_before": os.getloadavg(),
    }
    load = _Load()
    load.start()
    t0 = time.perf_counter()
    layer_job(-1 % 2**31)  # warm this process (imports, ngspice load, PDK library)
    one = time.perf_counter() - t0
    ray = X.import_ray()
    with X.Executor("local", a.workers) as local:  # workers started and warmed once, timed apart as start-up
        t0 = time.perf_counter()
        local.map(layer_job, warm, progress=False)
        res["local_startup_s"] = time.perf_counter() - t0 - one
        t0 = time.perf_counter()
        X.connect_ray(num_cpus=a.workers)
        _timed(X.run_jobs, noop, list(range(2 * a.workers)), executor="ray")  # start the workers
        _timed(X.run_jobs, layer_job, warm, executor="ray")  # warm each worker's ngspice (imports, PDK)
        res["ray_startup_s"] = time.perf_counter() - t0 - one
        runs: dict[str, list] = {"serial": [], "local": [], "ray": []}
        for _ in range(a.rounds):  # interleaved, so that a change of the machine's load hits every mode alike
            runs["serial"].append(_timed(X.run_jobs, layer_job, jobs))
            runs["local"].append(_timed(local.map, layer_job, jobs))
            runs["ray"].append(_timed(X.run_jobs, layer_job, jobs, executor="ray"))
        res["ray_noop_s_per_job"] = _timed(X.run_jobs, noop, list(range(a.noop_jobs)), executor="ray")[0] / a.noop_jobs
        res["local_noop_s_per_job"] = _timed(local.map, noop, list(range(a.noop_jobs)))[0] / a.noop_jobs
        res["inprocess_noop_s_per_job"] = _timed(X.run_jobs, noop, list(range(a.noop_jobs)))[0] / a.noop_jobs
    ray.shutdown()
    load.stop.set()
    load.join()
    spikes = [[r["t_spike"] for r in out] for mode in runs.values() for _, out in mode]
    res["identical"] = all(s == spikes[0] for s in spikes)
    for k, rr in runs.items():
        walls = [w for w, _ in rr]
        cpu = [sum(r["cpu_s"] for r in out) for _, out in rr]
        res[f"{k}_s_rounds"] = walls
        res[f"{k}_s"] = statistics.median(walls)
        res[f"{k}_jobs_per_s"] = a.jobs / res[f"{k}_s"]
        res[f"cpu_s_per_job_{k}"] = sum(cpu) / (a.jobs * len(cpu))
        res[f"cores_used_{k}"] = sum(cpu) / sum(walls)  # the CPU the jobs got: the machine is shared
    for k in ("local", "ray"):
        res[f"speedup_{k}"] = res["serial_s"] / res[f"{k}_s"]
        res[f"speedup_{k}_rounds"] = [s / w for s, w in zip(res["serial_s_rounds"], res[f"{k}_s_rounds"])]
    res["load_avg_after"] = os.getloadavg()
    res["load_avg_1min_during"] = load.summary()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
