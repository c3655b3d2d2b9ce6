"""Benchmark: the chapters' grids through ``run_grid`` on a Dask LocalCluster against a plain process pool.

Run: ``.venv/bin/python -m bench.sweep_backends [--profile cpu] [--grids NAME,...] [--repeats 1] [--workers 2]``.
Writes ``data/bench/sweep_backends.json`` (one entry per profile, or per profile and ``--grids`` selection;
the other entries are kept) and prints a table.

The grids are the ones the chapters run (the experiments of :mod:`ncutils.book.experiments`, each
chapter's grid of its own name: a07's training sweep, b06's and b08's 2-layer networks, b07's adaptive
kernels; b07's network grid is a subset of b06's that the book serves from the store). Each is run with a fresh,
empty result store, by two backends with the same number of single-threaded workers:

- ``dask``: ``run_grid`` on :func:`ncutils.runs.local_cluster`, the cluster a chapter starts;
- ``pool``: the same :func:`ncutils.runs.execute` calls (run + store write, torch pinned to one thread)
  on a ``concurrent.futures.ProcessPoolExecutor`` whose workers are spawned, like Dask's, with the
  environment :data:`ncutils.runs.WORKER_ENV` (one BLAS thread, glibc's default malloc).

Start-up (until every worker is up, before any task import) and shut-down are timed apart from the
grid's run. The backends alternate (dask then pool, then pool then dask, ...) so that load from other
processes falls on both alike; the load average is recorded with every measurement.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from ncutils.book.experiments import EXPERIMENTS, plan
from ncutils.core import REPO_DIR, plain
from ncutils.runs import WORKER_ENV, Grid, ResultStore, execute, local_cluster, run_grid

OUT = REPO_DIR / "data" / "bench" / "sweep_backends.json"
BACKENDS = ("dask", "pool")
_barrier: Any = None  # the pool workers' start-up barrier (set by _pool_worker_init)


@contextlib.contextmanager
def _environ(env: dict[str, str | None]) -> Iterator[None]:
    """Set (or, for None, remove) environment variables of this process, then restore them."""
    def apply(values: dict[str, str | None]) -> None:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    saved = {k: os.environ.get(k) for k in env}
    apply(env)
    try:
        yield
    finally:
        apply(saved)


def _pool_worker_init(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def _pool_worker_ready(_: int) -> int:
    _barrier.wait(120)
    return os.getpid()


def _outcome(records: list[dict[str, Any]], t0: float, t1: float, t2: float, t3: float, load0: float) -> dict[str, Any]:
    return {"startup_s": t1 - t0, "run_s": t2 - t1, "close_s": t3 - t2, "total_s": t3 - t0,
            "task_seconds_sum": sum(r["seconds"] for r in records),
            "statuses": {s: sum(r["status"] == s for r in records) for s in {r["status"] for r in records}},
            "load_before": load0, "load_after": os.getloadavg()[0],
            "results": json.dumps({r["key"]: (r["status"], r["result"]) for r in records}, sort_keys=True, default=plain)}


def time_dask(grid: Grid, workers: int) -> dict[str, Any]:
    """Start a LocalCluster, run ``grid`` through ``run_grid`` with an empty store, close the cluster."""
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    client, cluster = local_cluster(workers)
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as store:
        records = run_grid(grid, store=store, client=client, progress=False).records
        t2 = time.perf_counter()
    client.close()
    cluster.close()
    return _outcome(records, t0, t1, t2, time.perf_counter(), load0)


def time_pool(grid: Grid, workers: int) -> dict[str, Any]:
    """Start a spawned process pool with the workers' environment, run ``grid``'s ``execute`` calls, shut it down."""
    load0, t0 = os.getloadavg()[0], time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with _environ(WORKER_ENV):
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_pool_worker_init, initargs=(ctx.Barrier(workers),))
        if len(set(pool.map(_pool_worker_ready, range(workers)))) != workers:
            raise RuntimeError("the pool did not start all its workers")
    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        store = ResultStore(root)
        futures = [pool.submit(execute, grid.task, c, str(store.root), str(store.workdirs), store.key(c, grid.task))
                   for c in grid.configs]
        records = [f.result() for f in futures]
        t2 = time.perf_counter()
    pool.shutdown()
    return _outcome(records, t0, t1, t2, time.perf_counter(), load0)


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per backend over the repeats, the ratios dask/pool, and whether both computed the same results."""
    out: dict[str, Any] = {}
    for backend, rs in runs.items():
        out[backend] = {k: statistics.median(r[k] for r in rs) for k in ("startup_s", "run_s", "close_s", "total_s",
                                                                       "task_seconds_sum")}
        out[backend]["statuses"] = rs[0]["statuses"]
        out[backend]["repeats"] = [{k: v for k, v in r.items() if k != "results"} for r in rs]
    out["dask_over_pool_run"] = out["dask"]["run_s"] / out["pool"]["run_s"]
    out["dask_over_pool_total"] = out["dask"]["total_s"] / out["pool"]["total_s"]
    out["same_results"] = all(r["results"] == runs["dask"][0]["results"] for rs in runs.values() for r in rs)
    return out


def machine() -> dict[str, Any]:
    """The machine and the versions the numbers were taken with."""
    import dask
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": len(os.sched_getaffinity(0)), "python": platform.python_version(),
            "dask": dask.__version__, "torch": torch.__version__}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep_backends")
    parser.add_argument("--profile", default="cpu")
    chapters_grids = ",".join(sorted(EXPERIMENTS))
    parser.add_argument("--grids", default=chapters_grids, help="comma-separated chapters with an experiment (default: all)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    grids = [g for name in args.grids.split(",") for g in plan(name, args.profile) if g.name == name]
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {g.name: {b: [] for b in BACKENDS} for g in grids}
    started, load0 = time.strftime("%Y-%m-%d %H:%M:%S"), os.getloadavg()
    timers = {"dask": time_dask, "pool": time_pool}
    for rep in range(args.repeats):
        for i, grid in enumerate(grids):
            for backend in BACKENDS if (rep + i) % 2 == 0 else BACKENDS[::-1]:
                r = timers[backend](grid, args.workers)
                runs[grid.name][backend].append(r)
                print(f"[bench] {grid.name} {backend}: start-up {r['startup_s']:.1f} s, run {r['run_s']:.1f} s "
                      f"(load {r['load_before']:.2f})", flush=True)
    result = {"started": started, "load_average_at_start": load0, "load_average_at_end": os.getloadavg(),
              "machine": machine(), "workers": args.workers, "repeats": args.repeats,
              "grids": {g.name: {"configs": len(g.configs), **summarise(runs[g.name])} for g in grids}}
    for b in BACKENDS:
        result[f"{b}_total_s"] = sum(result["grids"][g.name][b]["total_s"] for g in grids)
    result["dask_over_pool_total"] = result["dask_total_s"] / result["pool_total_s"]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(OUT.read_text()) if OUT.exists() else {}
    entry = args.profile if args.grids == chapters_grids else f"{args.profile} ({args.grids})"
    saved[entry] = result
    OUT.write_text(json.dumps(saved, indent=1))
    print(f"\nprofile {args.profile}, {args.workers} workers, medians of {args.repeats}; load average at start "
          f"{load0[0]:.2f}, at end {result['load_average_at_end'][0]:.2f}")
    print(f"{'grid':22} {'runs':>4} | {'dask start':>10} {'run':>8} {'close':>6} | {'pool start':>10} {'run':>8} "
          f"{'close':>6} | {'run ratio':>9} {'total ratio':>11} | same results")
    for g in grids:
        s = result["grids"][g.name]
        d, p = s["dask"], s["pool"]
        print(f"{g.name:22} {len(g.configs):>4} | {d['startup_s']:>10.1f} {d['run_s']:>8.1f} {d['close_s']:>6.1f} | "
              f"{p['startup_s']:>10.1f} {p['run_s']:>8.1f} {p['close_s']:>6.1f} | {s['dask_over_pool_run']:>9.2f} "
              f"{s['dask_over_pool_total']:>11.2f} | {s['same_results']}")
    print(f"all grids: dask {result['dask_total_s']:.1f} s, pool {result['pool_total_s']:.1f} s "
          f"(ratio {result['dask_over_pool_total']:.2f}); written to {OUT.relative_to(REPO_DIR)}")


if __name__ == "__main__":
    main()
