"""Running a grid: every configuration not yet in the store, as Dask tasks (or serially here).

Each run is a Dask task that executes the grid's task (:mod:`ncutils.core.task`) and writes its
record to the store (:mod:`ncutils.runs.store`); ``workdir`` is stable across retries, so a task that
checkpoints there resumes after its worker died. A task that raises :class:`ncutils.core.Diverged` is
recorded as diverged, any other exception as failed; nothing is dropped.

Clients: ``None`` starts a ``LocalCluster`` sized to the machine (processes, one thread each, see
:func:`local_cluster`); ``"serial"`` runs in this process; a ``tcp://`` address connects to a running
scheduler; a ``distributed.Client`` is used as it is (e.g. one on a dask-jobqueue cluster, see
:func:`jobqueue_client`).
"""

from __future__ import annotations

import copy
import importlib.util
import os
import shutil
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ncutils.core.task import Diverged
from ncutils.runs.grid import Grid, GridError, GridProgress, GridResult, load_task
from ncutils.runs.store import DEFAULT_STORE, ResultStore

if TYPE_CHECKING:
    from distributed import Client, LocalCluster


def execute(task: str, config: dict[str, Any], store_root: str, workdirs: str, key: str) -> dict[str, Any]:
    """Run one configuration (in a worker) and store its record; exceptions become records."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if importlib.util.find_spec("torch"):  # one thread per worker, like BLAS above
        import torch

        torch.set_num_threads(1)
    store = ResultStore(store_root, workdirs)
    folder = ResultStore.folder(task)
    t0 = time.perf_counter()
    record = {"config": config, "key": key, "status": "ok", "result": None, "error": None}
    try:
        record["result"] = load_task(task)(config, store.workdir(folder, key))
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


def connect(scheduler: str, timeout: float = 20.0):
    """A client for a running scheduler, or a :class:`GridError` within ``timeout`` seconds (also when
    something answers at that address that is not a Dask scheduler and never completes the handshake)."""
    from distributed import Client

    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["client"] = Client(scheduler, timeout=f"{timeout}s")
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=attempt, daemon=True)  # a hung handshake must not keep the process alive
    thread.start()
    thread.join(timeout + 5.0)
    fix = "start one (dask scheduler) or omit --scheduler to run locally"
    if thread.is_alive():
        raise GridError(f"the Dask scheduler at {scheduler} did not complete the handshake within {timeout:g} s "
                        f"(is it a Dask scheduler?): {fix}")
    if "error" in outcome:
        exc = outcome["error"]
        raise GridError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s "
                        f"({type(exc).__name__}: {exc}): {fix}") from exc
    return outcome["client"]


JOBQUEUE_SUBMIT = {"slurm": "sbatch", "pbs": "qsub"}  # the command each kind submits its jobs with


def jobqueue_client(config_file: str | Path):
    """A client on a dask-jobqueue cluster from a YAML file: ``kind: slurm|pbs``, ``jobs: N`` and the
    cluster's keyword arguments under ``cluster:`` (cores, memory, queue, walltime, job_extra_directives...).
    Every problem of the file, and a missing submit command, is a :class:`GridError` before any job is submitted."""
    import dask_jobqueue
    import yaml
    from distributed import Client

    path = Path(config_file)
    if not path.is_file():
        raise GridError(f"jobqueue file {path} does not exist: pass a YAML file (see book/scaling.md)")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise GridError(f"jobqueue file {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(spec, dict):
        raise GridError(f"jobqueue file {path} must be a mapping with kind, jobs and cluster (see book/scaling.md)")
    kinds = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}
    if spec.get("kind") not in kinds:
        raise GridError(f"{path}: 'kind' must be one of {list(kinds)}, got {spec.get('kind')!r}")
    jobs, options = spec.get("jobs", 1), spec.get("cluster", {})
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise GridError(f"{path}: 'jobs' must be a positive integer, got {jobs!r}")
    if not isinstance(options, dict):
        raise GridError(f"{path}: 'cluster' must be a mapping of {kinds[spec['kind']].__name__}'s keyword arguments")
    submit = JOBQUEUE_SUBMIT[spec["kind"]]
    if shutil.which(submit) is None:
        raise GridError(f"{path} asks for a {spec['kind']} cluster but {submit!r} is not on this machine's PATH: "
                        "run on the cluster's login node, or omit --jobqueue to run locally")
    try:
        cluster = kinds[spec["kind"]](**options)
    except (TypeError, ValueError) as exc:
        raise GridError(f"{path}: bad cluster settings for {kinds[spec['kind']].__name__}: {exc}") from exc
    cluster.scale(jobs=jobs)
    return Client(cluster)


def run_grid(grid: Grid, *, store: ResultStore | str | Path | None = None, client: Any = None,
             progress: bool = True, retries: int = 3, workers: int | None = None,
             retry_failed: bool = False, on_progress: Callable[[GridProgress], None] | None = None) -> GridResult:
    """Run every configuration of ``grid`` not yet in the store, as Dask tasks; return all records.
    ``retry_failed`` computes again the runs whose stored record says ``failed`` (a changed code version
    does so anyway: it is part of every key). ``on_progress`` is called once the store has been read and
    after every finished run; ``progress`` prints a line per run on stderr."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise GridError(f"workers must be a positive integer, got {workers!r}")
    store = store if isinstance(store, ResultStore) else ResultStore(store or DEFAULT_STORE)
    load_task(grid.task)  # fail before submitting anything
    t0 = time.perf_counter()
    folder = ResultStore.folder(grid.task)
    keys = [store.key(c, grid.task) for c in grid.configs]
    records: dict[str, dict[str, Any]] = {}
    for k in keys:
        if (rec := store.get(folder, k)) is not None and not (retry_failed and rec["status"] == "failed"):
            records[k] = {**rec, "from_store": True}
    todo = [(c, k) for c, k in zip(grid.configs, keys) if k not in records]
    args = (str(store.root), str(store.workdirs))
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    stored = len(records)

    def report(computed: int) -> None:
        if on_progress is not None:
            on_progress(GridProgress(grid.name, len(keys), stored, computed, time.perf_counter() - t0))

    report(0)
    if todo:
        say(f"[grid] {grid.name}: {len(todo)} to run, {len(records)} from the store")
    if todo and client == "serial":
        for i, (c, k) in enumerate(todo, 1):
            records[k] = {**execute(grid.task, c, *args, k), "from_store": False}
            say(f"[grid] {i}/{len(todo)} {records[k]['status']} {c}")
            report(i)
    elif todo:
        from distributed import as_completed

        own = None
        if client is None:
            client, own = local_cluster(workers)
        elif isinstance(client, str):
            client = connect(client)
        call = uuid.uuid4().hex[:8]  # Dask keys unique to this call: a rerun never gets an old (failed) future back
        try:
            futures = {client.submit(execute, grid.task, c, *args, k, key=f"{grid.name}-{k}-{call}",
                                     retries=retries, pure=False, resources=_resources(c)): k for c, k in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                k = futures[fut]
                try:
                    records[k] = {**fut.result(), "from_store": False}
                except Exception as exc:  # the task died on every retry (e.g. killed each time)
                    config = next(c for c, kk in todo if kk == k)
                    records[k] = {"config": config, "key": k,
                                  "status": "failed", "result": None, "error": f"worker lost: {exc}", "from_store": False}
                say(f"[grid] {i}/{len(todo)} {records[k]['status']} {records[k]['config']}")
                report(i)
        finally:
            if own is not None:
                client.close()
                own.close()
    result = GridResult(grid, [records[k] for k in keys], time.perf_counter() - t0)
    say(result.summary())
    return result


def _resources(config: dict[str, Any]) -> dict[str, int] | None:
    return {"GPU": 1} if config.get("gpu") else None
