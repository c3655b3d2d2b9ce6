"""ncutils.runs on a real Dask LocalCluster: same results as serial, resume after SIGKILL, store, bad input,
the workers' environment."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from ncutils.runs import CLUSTER_CONFIG, WORKER_ENV, Grid, GridError, ResultStore, connect, local_cluster, run_grid
from tests.runs.tasks import demo_task


def demo(configs, name="demo-test") -> Grid:
    return Grid(name, demo_task, configs)


@pytest.fixture(scope="module")
def cluster_client():
    client, cluster = local_cluster(2)  # the cluster run_grid starts by default
    yield client
    client.close()
    cluster.close()


def results(grid_result) -> list:
    return [(r["config"], r["status"], r["result"]["x"] if r["result"] else None) for r in grid_result.records]


def test_local_cluster_equals_serial_and_second_submission_is_served_from_store(cluster_client, tmp_path, capsys) -> None:
    grid = demo([{"start": s, "steps": 30} for s in range(5)] + [{"start": 9, "steps": 10, "diverge": True}])
    serial = run_grid(grid, store=tmp_path / "serial", client="serial")
    parallel = run_grid(grid, store=tmp_path / "dask", client=cluster_client)
    assert results(parallel) == results(serial)
    assert [r["status"] for r in parallel.records].count("diverged") == 1  # recorded, not dropped
    assert "1 diverged" in parallel.summary()
    again = run_grid(grid, store=tmp_path / "dask", client=cluster_client)
    assert all(r["from_store"] for r in again.records)
    assert results(again) == results(parallel)
    assert "0 computed, 6 from the store" in again.summary()


def test_killed_worker_resumes_from_checkpoint(cluster_client, tmp_path) -> None:
    grid = demo([{"start": s, "steps": 40, "sleep": 0.05} for s in range(2)], name="demo-kill")
    pids = list(cluster_client.run(os.getpid).values())

    def kill_one() -> None:
        os.kill(pids[0], signal.SIGKILL)

    timer = threading.Timer(1.0, kill_one)  # both tasks are mid-way (each takes about 2 s)
    timer.start()
    killed = run_grid(grid, store=tmp_path / "store", client=cluster_client, progress=False)
    timer.join()
    reference = []
    for i, c in enumerate(grid.configs):
        (tmp_path / f"ref{i}").mkdir()
        reference.append(demo_task({**c, "sleep": 0.0}, tmp_path / f"ref{i}"))
    assert [r["status"] for r in killed.records] == ["ok", "ok"]
    assert [r["result"]["x"] for r in killed.records] == [r["x"] for r in reference]
    assert max(r["result"]["resumed_at"] for r in killed.records) > 0, "no run resumed from its checkpoint"


def test_bad_input_gives_clear_errors(tmp_path) -> None:
    with pytest.raises(GridError, match="unknown config key"):
        Grid("g", demo_task, [{"start": 1, "steps": 2, "colour": "red"}])
    t0 = time.perf_counter()
    with pytest.raises(GridError, match="cannot reach the Dask scheduler"):
        connect("tcp://127.0.0.1:9", timeout=2)
    assert time.perf_counter() - t0 < 20
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    if os.geteuid() == 0:  # root ignores permission bits: use a path under a file instead
        blocker = tmp_path / "file"
        blocker.write_text("x")
        read_only = blocker / "store"
    with pytest.raises(GridError, match="not writable"):
        ResultStore(read_only)
    with pytest.raises(GridError, match="cannot use task"):
        Grid("g", "tests.runs.tasks:no_such_task", [{}])
    with pytest.raises(GridError, match="not a task"):
        Grid("g", "tests.runs.tasks:not_a_task", [{}])


def test_local_cluster_workers_start_single_threaded_with_default_malloc_and_quiet_settings(cluster_client) -> None:
    def environment() -> dict:
        import dask
        from threadpoolctl import threadpool_info

        return {"env": {k: os.environ.get(k) for k in WORKER_ENV}, "blas_threads": [i["num_threads"] for i in threadpool_info()],
                "config": {k: dask.config.get(k) for k in CLUSTER_CONFIG}}

    killed = next(iter(cluster_client.run(os.getpid).values()))
    os.kill(killed, signal.SIGKILL)  # its nanny restarts it: with the same environment and settings?
    deadline = time.monotonic() + 60
    while len(pids := set(cluster_client.run(os.getpid, on_error="ignore").values()) - {killed}) < 2 \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(pids) == 2, "the killed worker was not restarted"
    workers = list(cluster_client.run(environment).values())
    assert len(workers) == 2
    for w in workers:
        # Dask's default MALLOC_TRIM_THRESHOLD_ made every large allocation an mmap (2x slower training)
        assert w["env"] == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                            "MALLOC_TRIM_THRESHOLD_": None}
        assert w["blas_threads"] and set(w["blas_threads"]) == {1}
        assert w["config"] == {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "1s",
                               "distributed.admin.system-monitor.interval": "2s",
                               "distributed.worker.memory.monitor-interval": "1s"}
