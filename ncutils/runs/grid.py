"""A grid: a named list of configurations that one task runs; and the records it produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ncutils.core.task import Task, resolve_task

STATUSES = ("ok", "failed", "diverged")


class GridError(RuntimeError):
    """A problem with a grid, a store or a cluster; the message names it and the fix."""


@dataclass
class Grid:
    """A named list of configurations run by one task (a :class:`ncutils.core.Task` or its name
    ``"module:function"``); every configuration is checked against the task's config keys."""

    name: str
    task: str | Task
    configs: list[dict[str, Any]]

    def __post_init__(self) -> None:
        task = self.task if isinstance(self.task, Task) else load_task(self.task)
        self.task = task.name
        for cfg in self.configs:
            try:
                task.check(cfg)
            except ValueError as exc:
                raise GridError(f"grid {self.name}: {exc}") from exc


def load_task(name: str) -> Task:
    """The task called ``name``, or a :class:`GridError` that says why it cannot be used."""
    try:
        return resolve_task(name)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        raise GridError(f"cannot use task {name!r}: {exc}") from exc


@dataclass
class GridResult:
    """The records of a grid, one per configuration, in the grid's order."""

    grid: Grid
    records: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def ok(self) -> list[dict[str, Any]]:
        """The records of the runs that finished."""
        return [r for r in self.records if r["status"] == "ok"]

    def n_lost(self) -> int:
        """How many runs failed or diverged."""
        return sum(r["status"] != "ok" for r in self.records)

    def frame(self):
        """The finished runs as a pandas DataFrame: one row per run, config keys then result keys as columns."""
        import pandas as pd

        return pd.DataFrame([{**r["config"], **r["result"]} for r in self.ok()])

    def summary(self) -> str:
        """One line of counts, then one line per run that did not finish."""
        counts = {s: sum(r["status"] == s for r in self.records) for s in STATUSES}
        stored = sum(r["from_store"] for r in self.records)
        lines = [f"grid {self.grid.name}: {len(self.records)} runs, {len(self.records) - stored} computed, "
                 f"{stored} from the store; {counts['ok']} ok, {counts['failed']} failed, "
                 f"{counts['diverged']} diverged ({self.seconds:.1f} s)"]
        lines += [f"  {r['status']}: {r['config']}: {r['error']}" for r in self.records if r["status"] != "ok"]
        return "\n".join(lines)
