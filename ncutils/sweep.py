"""Experiment grids on Dask distributed, with a result store keyed by config hash and code version.

A grid is a list of configurations and a task ``"module:function"`` with signature
``task(config: dict, workdir: pathlib.Path) -> dict``. Each run is a Dask task; results go to
the store as one JSON file per run, under the task's name and the key config-hash + code-version
(written atomically; two grids that share a run share its result), so a finished run is never computed
again and a grid computed elsewhere can be rendered from the store. ``workdir`` is stable across
retries: a task that checkpoints there resumes after its worker died. A task that raises
:class:`Diverged` is recorded as diverged, any other exception as failed; nothing is dropped.

Clients: ``None`` starts a ``LocalCluster`` sized to the machine (processes, one thread each, see
:func:`local_cluster`); ``"serial"`` runs in this process; a ``tcp://`` address connects to a running
scheduler; a ``distributed.Client`` is used as it is (e.g. one on a dask-jobqueue cluster, see
:func:`jobqueue_client`).

CLI: ``python -m ncutils.sweep run NAME --profile P [--scheduler ADDR | --jobqueue FILE.yaml]
[--store PATH] [--workers N]``, with grids registered in :mod:`ncutils.grids`.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ncutils._json import plain
from ncutils.versioning import REPO_DIR, code_version, config_hash

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

DEFAULT_STORE = REPO_DIR / "data" / "store"
STATUSES = ("ok", "failed", "diverged")


class Diverged(RuntimeError):
    """Raised by a task whose run diverged (NaN or inf loss)."""


class SweepError(RuntimeError):
    """A problem with a grid, a store or a cluster; the message names it and the fix."""


@dataclass
class Grid:
    """A named list of configurations run by one task; ``allowed_keys`` (if set) guards the configs."""

    name: str
    task: str
    configs: list[dict[str, Any]]
    allowed_keys: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if ":" not in self.task:
            raise SweepError(f"task {self.task!r} must be 'module:function'")
        if self.allowed_keys is not None:
            for cfg in self.configs:
                unknown = sorted(set(cfg) - self.allowed_keys)
                if unknown:
                    raise SweepError(f"grid {self.name}: unknown config key(s) {unknown}; allowed: {sorted(self.allowed_keys)}")


@dataclass
class GridResult:
    """The records of a grid, one per configuration, in the grid's order."""

    grid: Grid
    records: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def frame(self):
        """Records as a pandas DataFrame (config keys as columns, plus status, error, from_store)."""
        import pandas as pd

        return pd.DataFrame([{**r["config"], "status": r["status"], "error": r["error"],
                              "from_store": r["from_store"], "seconds": r.get("seconds")} for r in self.records])

    def ok(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] == "ok"]

    def summary(self) -> str:
        counts = {s: sum(r["status"] == s for r in self.records) for s in STATUSES}
        stored = sum(r["from_store"] for r in self.records)
        lines = [f"grid {self.grid.name}: {len(self.records)} runs, {len(self.records) - stored} computed, "
                 f"{stored} from the store; {counts['ok']} ok, {counts['failed']} failed, "
                 f"{counts['diverged']} diverged ({self.seconds:.1f} s)"]
        lines += [f"  {r['status']}: {r['config']}: {r['error']}" for r in self.records if r["status"] != "ok"]
        return "\n".join(lines)


# ----------------------------------------------------------------- the store
class ResultStore:
    """JSON results under ``root`` (a local folder or an fsspec URL shared by the workers)."""

    def __init__(self, root: str | Path = DEFAULT_STORE, workdirs: str | Path | None = None) -> None:
        import fsspec

        self.root = str(root).rstrip("/")
        self.fs, self.path = fsspec.core.url_to_fs(self.root)
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        local = "file" in protocols
        self.workdirs = Path(workdirs) if workdirs else (Path(self.path) / "_work" if local else REPO_DIR / "data" / "runs")
        try:
            self.fs.makedirs(self.path, exist_ok=True)
            probe = f"{self.path}/.write-test-{os.getpid()}"
            self.fs.pipe_file(probe, b"ok")
            self.fs.rm_file(probe)
        except (OSError, PermissionError) as exc:
            raise SweepError(f"result store {self.root} is not writable ({exc}): pass a writable --store PATH") from exc

    @staticmethod
    def key(config: dict[str, Any]) -> str:
        return f"{config_hash(config)}-{code_version()}"

    def _file(self, grid: str, key: str) -> str:
        return f"{self.path}/{grid}/{key}.json"

    def get(self, grid: str, key: str) -> dict[str, Any] | None:
        f = self._file(grid, key)
        return json.loads(self.fs.cat_file(f)) if self.fs.exists(f) else None

    def put(self, grid: str, key: str, record: dict[str, Any]) -> None:
        """Write atomically: a temporary file renamed into place, so readers never see half a result."""
        f = self._file(grid, key)
        self.fs.makedirs(f.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{f}.tmp-{os.getpid()}-{time.monotonic_ns()}"
        self.fs.pipe_file(tmp, json.dumps(record, default=plain).encode())
        self.fs.mv(tmp, f)

    def workdir(self, grid: str, key: str) -> Path:
        d = self.workdirs / grid / key
        d.mkdir(parents=True, exist_ok=True)
        return d


# ----------------------------------------------------------------- running a task
def resolve_task(path: str) -> Callable[[dict, Path], dict]:
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise SweepError(f"cannot import task {path!r}: {exc}") from exc


def execute(task: str, config: dict[str, Any], store_root: str, workdirs: str, folder: str, key: str) -> dict[str, Any]:
    """Run one configuration (in a worker) and store its record; exceptions become records."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if importlib.util.find_spec("torch"):  # one thread per worker, like BLAS above
        import torch

        torch.set_num_threads(1)
    store = ResultStore(store_root, workdirs)
    t0 = time.perf_counter()
    record = {"config": config, "key": key, "status": "ok", "result": None, "error": None}
    try:
        record["result"] = resolve_task(task)(config, store.workdir(folder, key))
    except Diverged as exc:
        record.update(status="diverged", error=str(exc))
    except Exception as exc:  # recorded, never dropped
        record.update(status="failed", error=f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=3)[-400:]}")
    record["seconds"] = time.perf_counter() - t0
    store.put(folder, key, record)
    return record


# The environment the LocalCluster's worker processes start with (Dask's nanny "pre-spawn" environment,
# set before the interpreter starts, as BLAS and glibc read it only then): one OpenMP/BLAS thread per
# worker, and glibc's own malloc tuning. ``None`` removes Dask's default MALLOC_TRIM_THRESHOLD_=65536,
# which also switches off glibc's adaptive mmap threshold, so that every allocation over 128 KiB is a
# fresh mmap: it doubled the CPU time of chapter b06's network training (book/scaling.md). As in Dask,
# a variable already set in this process's environment wins over these values.
WORKER_ENV: dict[str, str | None] = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                                     "MALLOC_TRIM_THRESHOLD_": None}
# Dask settings of the LocalCluster: its periodic work that takes CPU and the GIL from the runs for what a
# cluster without dashboard never shows (the statistical profiler samples every thread's stack every 10 ms,
# the system monitor runs every 500 ms, the event-loop health check every 20 ms) or needs less often (the
# memory limits, checked every 100 ms). It made the smoke runs of chapter a07 11 % slower than in a plain
# process pool; 4 % remain with these settings (book/scaling.md).
CLUSTER_CONFIG: dict[str, Any] = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
                                  "distributed.admin.system-monitor.interval": "2s",
                                  "distributed.worker.memory.monitor-interval": "1s"}


def local_cluster(workers: int | None = None) -> tuple[Client, LocalCluster]:
    """A ``(client, cluster)`` pair on a new LocalCluster of ``workers`` single-threaded worker processes
    (default: the machine's cores, at most 8) started with :data:`WORKER_ENV` and :data:`CLUSTER_CONFIG`;
    close the client, then the cluster."""
    import dask
    from distributed import Client, LocalCluster

    n = workers or max(1, min(len(os.sched_getaffinity(0)), 8))
    env = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENV.items()}
    with dask.config.set({**CLUSTER_CONFIG, **env}):  # read when the scheduler, nannies and workers start
        # config: a copy for the workers the nannies restart (they would share the global one, which this block restores)
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40,
                               config=copy.deepcopy(dask.config.config))
    return Client(cluster), cluster


def connect(scheduler: str, timeout: float = 5.0):
    """A client for a running scheduler, failing fast with a clear message."""
    from distributed import Client

    try:
        return Client(scheduler, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as exc:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s: "
                         f"start one (dask scheduler) or omit --scheduler to run locally") from exc


def jobqueue_client(config_file: str | Path):
    """A client on a dask-jobqueue cluster from a YAML file: ``kind: slurm|pbs``, ``jobs: N`` and the
    cluster's keyword arguments under ``cluster:`` (cores, memory, queue, walltime, job_extra_directives...)."""
    import dask_jobqueue
    import yaml
    from distributed import Client

    spec = yaml.safe_load(Path(config_file).read_text())
    kinds = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}
    if spec.get("kind") not in kinds:
        raise SweepError(f"{config_file}: 'kind' must be one of {list(kinds)}")
    cluster = kinds[spec["kind"]](**spec.get("cluster", {}))
    cluster.scale(jobs=int(spec.get("jobs", 1)))
    return Client(cluster)


def run_grid(grid: Grid, *, store: ResultStore | str | Path | None = None, client: Any = None,
             progress: bool = True, retries: int = 3, workers: int | None = None) -> GridResult:
    """Run every configuration of ``grid`` not yet in the store, as Dask tasks; return all records."""
    store = store if isinstance(store, ResultStore) else ResultStore(store or DEFAULT_STORE)
    resolve_task(grid.task)  # fail before submitting anything
    t0 = time.perf_counter()
    keys = [store.key(c) for c in grid.configs]
    records: dict[str, dict[str, Any]] = {}
    for k in keys:
        if (rec := store.get(grid.task.replace(":", "."), k)) is not None:
            records[k] = {**rec, "from_store": True}
    todo = [(c, k) for c, k in zip(grid.configs, keys) if k not in records]
    args = (str(store.root), str(store.workdirs), grid.task.replace(":", "."))  # results are shared by task
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    if todo:
        say(f"[sweep] {grid.name}: {len(todo)} to run, {len(records)} from the store")
    if todo and client == "serial":
        for i, (c, k) in enumerate(todo, 1):
            records[k] = {**execute(grid.task, c, *args, k), "from_store": False}
            say(f"[sweep] {i}/{len(todo)} {records[k]['status']} {c}")
    elif todo:
        from distributed import as_completed

        own = None
        if client is None:
            client, own = local_cluster(workers)
        elif isinstance(client, str):
            client = connect(client)
        try:
            futures = {client.submit(execute, grid.task, c, *args, k, key=f"{grid.name}-{k}",
                                     retries=retries, pure=False, resources=_resources(c)): k for c, k in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                k = futures[fut]
                try:
                    records[k] = {**fut.result(), "from_store": False}
                except Exception as exc:  # the task died on every retry (e.g. killed each time)
                    config = next(c for c, kk in todo if kk == k)
                    records[k] = {"config": config, "key": k,
                                  "status": "failed", "result": None, "error": f"worker lost: {exc}", "from_store": False}
                say(f"[sweep] {i}/{len(todo)} {records[k]['status']} {records[k]['config']}")
        finally:
            if own is not None:
                client.close()
                own.close()
    result = GridResult(grid, [records[k] for k in keys], time.perf_counter() - t0)
    say(result.summary())
    return result


def _resources(config: dict[str, Any]) -> dict[str, int] | None:
    return {"GPU": 1} if config.get("gpu") else None


def main(argv: list[str] | None = None) -> int:
    import argparse

    from ncutils.grids import GRIDS, build_grid

    parser = argparse.ArgumentParser(prog="python -m ncutils.sweep")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run a registered grid")
    p.add_argument("name", help=f"one of {sorted(GRIDS)}")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--jobqueue", help="YAML file describing a dask-jobqueue cluster (Slurm, PBS)")
    p.add_argument("--store", default=str(DEFAULT_STORE), help="result store: a folder or an fsspec URL")
    p.add_argument("--workers", type=int, help="LocalCluster workers (default: the machine's cores)")
    sub.add_parser("list", help="list the registered grids")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            print("\n".join(sorted(GRIDS)))
            return 0
        client = jobqueue_client(args.jobqueue) if args.jobqueue else args.scheduler
        result = run_grid(build_grid(args.name, args.profile), store=args.store, client=client, workers=args.workers)
        return 0 if all(r["status"] == "ok" for r in result.records) else 1
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
