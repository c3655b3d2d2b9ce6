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


@dataclass(frozen=True)
class GridProgress:
    """Where a grid's run stands: runs in all, served from the store, computed so far, seconds since start."""

    name: str
    total: int
    from_store: int
    computed: int
    seconds: float

    @property
    def done(self) -> int:
        return self.from_store + self.computed

    def seconds_left(self) -> float | None:
        """An estimate from the pace of the runs computed so far (None before the first)."""
        if self.computed == 0:
            return None
        return self.seconds / self.computed * (self.total - self.done)

    def describe(self) -> str:
        """One line, e.g. ``grid a07: 14/33 runs (6 from the store), about 8 min left``."""
        left = self.seconds_left()
        eta = "" if left is None or self.done == self.total else f", about {_duration(left)} left"
        return f"grid {self.name}: {self.done}/{self.total} runs ({self.from_store} from the store){eta}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


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
