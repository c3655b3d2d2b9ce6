"""Benchmark: NC metrics of 60 000 × 512 features through the streaming accumulator, in bounded memory.

Run: ``.venv/bin/python -m bench.metrics_stream``. The features are generated batch by batch (seeded
by the batch index), so the full matrix never exists; numpy allocations are traced with tracemalloc.
Writes ``data/bench/metrics_stream.json``.
"""

from __future__ import annotations

import json
import time
import tracemalloc

import numpy as np

from ncutils.core import REPO_DIR
from ncutils.nc import streaming_nc_metrics

N, n, C, BATCH = 60_000, 512, 10, 1_000


def batches():
    centres = np.random.default_rng(0).standard_normal((C, n))
    for i in range(N // BATCH):
        rng = np.random.default_rng(i + 1)
        y = np.arange(i * BATCH, (i + 1) * BATCH) % C
        yield centres[y] + 0.5 * rng.standard_normal((BATCH, n)), y


def main() -> None:
    tracemalloc.start()
    t0 = time.perf_counter()
    metrics = streaming_nc_metrics(batches, C, n)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    out = {"samples": N, "features": n, "batch": BATCH, "seconds": seconds, "peak_traced_mb": peak,
           "full_matrix_mb": N * n * 8 / 2**20, "metrics": metrics}
    (REPO_DIR / "data" / "bench").mkdir(parents=True, exist_ok=True)
    (REPO_DIR / "data" / "bench" / "metrics_stream.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
