"""The contract between the code that computes a run and the runner that schedules it.

A *task* is a function ``fn(config: dict, workdir: pathlib.Path | None) -> dict`` that computes one
run from a JSON-serialisable configuration and returns JSON-serialisable results. It may
checkpoint into ``workdir`` (stable across retries) and raises :class:`Diverged` when the run
diverged. :func:`task` declares the configuration keys a task accepts; a configuration with any
other key is refused, by the task and before a grid is submitted.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

TaskFn = Callable[[dict[str, Any], Path | None], dict[str, Any]]


class Diverged(RuntimeError):
    """Raised by a task whose run diverged (NaN or inf loss): recorded as ``diverged``, not ``failed``."""


class Task:
    """A task function with the configuration keys it accepts; call it like the function."""

    def __init__(self, fn: TaskFn, config_keys: Iterable[str]) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.config_keys = frozenset(config_keys)

    @property
    def name(self) -> str:
        """``"module:function"``, the name by which a worker imports the task."""
        return f"{self.fn.__module__}:{self.fn.__name__}"

    def check(self, config: dict[str, Any]) -> None:
        """Refuse a configuration with keys this task does not know (ValueError naming them)."""
        unknown = sorted(set(config) - self.config_keys)
        if unknown:
            raise ValueError(f"{self.name}: unknown config key(s) {unknown}; allowed: {sorted(self.config_keys)}")

    def __call__(self, config: dict[str, Any], workdir: Path | None = None) -> dict[str, Any]:
        self.check(config)
        return self.fn(config, workdir)

    def __reduce__(self):  # pickled by name, like a function
        return resolve_task, (self.name,)

    def __repr__(self) -> str:
        return f"Task({self.name})"


def task(config_keys: Iterable[str]) -> Callable[[TaskFn], Task]:
    """Decorator: make ``fn`` a :class:`Task` accepting ``config_keys``."""
    return lambda fn: Task(fn, config_keys)


def resolve_task(name: str) -> Task:
    """The task called ``"module:function"`` (ImportError or AttributeError if there is none)."""
    module, sep, attr = name.partition(":")
    if not sep:
        raise ValueError(f"task name {name!r} must be 'module:function'")
    found = getattr(importlib.import_module(module), attr)
    if not isinstance(found, Task):
        raise TypeError(f"{name} is not a task: decorate it with ncutils.core.task(config_keys=...)")
    return found
