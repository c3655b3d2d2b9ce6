"""The result store: one JSON record per run, keyed by its configuration and its task's code.

A record's key is config-hash + the code version of the task's import closure
(:func:`ncutils.core.task_code_version`), so a run is computed again when its configuration or the
code it runs changes, and not when unrelated code changes. Records are written atomically; two
grids that share a run (same task and configuration) share its record. A record is checked when it
is read (valid JSON, the fields of a record, the key and configuration of its file): a bad one is
named in a warning, moved aside (``<file>.bad-<time>``) and its run computed again.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from ncutils.core.jsonable import plain
from ncutils.core.paths import DATA_DIR
from ncutils.core.versioning import config_hash, task_code_version
from ncutils.runs.grid import STATUSES, GridError

DEFAULT_STORE = DATA_DIR / "store"
RECORD_FIELDS = ("config", "key", "status", "result", "error")


class ResultStore:
    """JSON results under ``root`` (a local folder or an fsspec URL shared by the workers)."""

    def __init__(self, root: str | Path = DEFAULT_STORE, workdirs: str | Path | None = None) -> None:
        import fsspec

        self.root = str(root).rstrip("/")
        self.fs, self.path = fsspec.core.url_to_fs(self.root)
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        local = "file" in protocols
        self.workdirs = Path(workdirs) if workdirs else (Path(self.path) / "_work" if local else DATA_DIR / "runs")
        try:
            self.fs.makedirs(self.path, exist_ok=True)
            probe = f"{self.path}/.write-test-{os.getpid()}"
            self.fs.pipe_file(probe, b"ok")
            self.fs.rm_file(probe)
        except (OSError, PermissionError) as exc:
            raise GridError(f"result store {self.root} is not writable ({exc}): pass a writable --store PATH") from exc

    @staticmethod
    def key(config: dict[str, Any], task: str) -> str:
        """The key of a run of ``task`` (``"module:function"``) with ``config``."""
        return f"{config_hash(config)}-{task_code_version(task)}"

    @staticmethod
    def folder(task: str) -> str:
        """The folder of a task's records (records are shared by task, whatever the grid)."""
        return task.replace(":", ".")

    def _file(self, folder: str, key: str) -> str:
        return f"{self.path}/{folder}/{key}.json"

    def get(self, folder: str, key: str) -> dict[str, Any] | None:
        """The record stored under ``folder``/``key``; None if there is none, or if the file does not hold
        a valid record of that run (then it is moved aside with a warning, so that the run is computed again)."""
        f = self._file(folder, key)
        if not self.fs.exists(f):
            return None
        try:
            record = json.loads(self.fs.cat_file(f))
            problem = record_problem(record, key)
        except (ValueError, UnicodeDecodeError) as exc:
            record, problem = None, f"is not valid JSON ({type(exc).__name__}: {exc})"
        if problem is None:
            return record
        aside = f"{f}.bad-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        self.fs.mv(f, aside)
        warnings.warn(f"result store: {f} {problem}; moved to {aside} and the run will be computed again", stacklevel=2)
        return None

    def put(self, folder: str, key: str, record: dict[str, Any]) -> None:
        """Write atomically: a temporary file renamed into place, so readers never see half a result."""
        f = self._file(folder, key)
        self.fs.makedirs(f.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{f}.tmp-{os.getpid()}-{time.monotonic_ns()}"
        self.fs.pipe_file(tmp, json.dumps(record, default=plain).encode())
        self.fs.mv(tmp, f)

    def workdir(self, folder: str, key: str) -> Path:
        """A run's working folder (stable across retries, for checkpoints)."""
        d = self.workdirs / folder / key
        d.mkdir(parents=True, exist_ok=True)
        return d


def record_problem(record: Any, key: str) -> str | None:
    """What is wrong with ``record`` as the stored record of the run ``key``, or None."""
    if not isinstance(record, dict):
        return f"holds a {type(record).__name__}, not a record"
    missing = [f for f in RECORD_FIELDS if f not in record]
    if missing:
        return f"lacks the field(s) {missing}"
    if record["key"] != key:
        return f"holds the record of another run (key {record['key']})"
    if not isinstance(record["config"], dict) or config_hash(record["config"]) != key.split("-")[0]:
        return "holds a configuration that does not match its key"
    if record["status"] not in STATUSES or (record["status"] == "ok") != (record["result"] is not None):
        return f"has status {record['status']!r} with {'a' if record['result'] is not None else 'no'} result"
    return None
