"""Benchmark: the sweep runner's overhead per task, and Dask against a plain process pool.

Run: ``.venv/bin/python -m bench.sweep_overhead``. Writes ``data/bench/sweep_overhead.json``.
1. 200 no-op tasks through ``run_grid`` on a LocalCluster of 2 workers (store writes included),
   and the bare ``client.submit``/``gather`` round trip, in ms per task.
2. The same 6 CPU-bound runs (2-layer networks of chapter b06) through ``run_grid`` (LocalCluster, 2
   workers) and through ``concurrent.futures.ProcessPoolExecutor(2)``.
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

from bench.tasks import noop_task
from ncutils.core import REPO_DIR
from ncutils.paper_b import two_layer_training as fc2
from ncutils.runs import Grid, local_cluster, run_grid

N_NOOP = 200


def _fc2(config: dict) -> dict:
    import torch

    torch.set_num_threads(1)
    return fc2.run_config(config)


def main() -> None:
    client, cluster = local_cluster(2)
    try:
        client.gather(client.map(lambda i: i, range(20)))  # warm up
        t0 = time.perf_counter()
        client.gather(client.map(lambda i: i, range(N_NOOP), pure=False))
        bare = (time.perf_counter() - t0) / N_NOOP
        with tempfile.TemporaryDirectory() as store:
            grid = Grid("noop", noop_task, [{"i": i} for i in range(N_NOOP)])
            t0 = time.perf_counter()
            run_grid(grid, store=store, client=client, progress=False)
            with_store = (time.perf_counter() - t0) / N_NOOP
        configs = [{"N": 256, "d0": d0, "rep": r, "activation": "erf", "epochs": 1000} for d0 in (8, 32) for r in range(3)]
        with tempfile.TemporaryDirectory() as store:
            t0 = time.perf_counter()
            run_grid(Grid("fc2", fc2.run_config, configs), store=store, client=client, progress=False)
            dask_s = time.perf_counter() - t0
    finally:
        client.close()
        cluster.close()
    t0 = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_fc2, configs))
    pool_s = time.perf_counter() - t0
    out = {"noop_tasks": N_NOOP, "ms_per_task_bare_submit": 1e3 * bare, "ms_per_task_run_grid_with_store": 1e3 * with_store,
           "cpu_bound_runs": len(configs), "run_grid_seconds": dask_s, "process_pool_seconds": pool_s,
           "dask_over_pool": dask_s / pool_s}
    (REPO_DIR / "data" / "bench").mkdir(parents=True, exist_ok=True)
    (REPO_DIR / "data" / "bench" / "sweep_overhead.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
