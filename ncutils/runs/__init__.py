"""The runner: grids of runs as Dask tasks, with a result store keyed by configuration and code.

- :class:`Grid` (a named list of configurations for one task) and :class:`GridResult`;
- :class:`ResultStore` (atomic JSON records, keyed by config hash + the task's code version);
- :func:`run_grid` (LocalCluster by default, ``"serial"``, a scheduler address or a Client),
  :func:`local_cluster`, :func:`connect`, :func:`jobqueue_client`.

The task contract (a task function, its config keys, :class:`Diverged`) is :mod:`ncutils.core.task`;
the runner knows no experiment: the book's grids are in :mod:`ncutils.book.experiments`.
"""

from ncutils.core.task import Diverged, Task, task
from ncutils.runs.execution import CLUSTER_CONFIG, WORKER_ENV, connect, execute, jobqueue_client, local_cluster, run_grid
from ncutils.runs.grid import STATUSES, Grid, GridError, GridProgress, GridResult, load_task
from ncutils.runs.store import DEFAULT_STORE, ResultStore

__all__ = ["CLUSTER_CONFIG", "DEFAULT_STORE", "STATUSES", "WORKER_ENV", "Diverged", "Grid", "GridError", "GridProgress",
           "GridResult",
           "ResultStore", "Task", "connect", "execute", "jobqueue_client", "load_task", "local_cluster", "run_grid",
           "task"]
