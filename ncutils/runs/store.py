"""The result store: one JSON record per run, keyed by its configuration and its task's code.

A record's key is config-hash + the code version of the task's import closure
(:func:`ncutils.core.task_code_version`), so a run is computed again when its configuration or the
code it runs changes, and not when unrelated code changes. Records are written atomically; two
grids that share a run (same task and configuration) share its record.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ncutils.core.jsonable import plain
from ncutils.core.paths import DATA_DIR
from ncutils.core.versioning import config_hash, task_code_version
from ncutils.runs.grid import GridError

DEFAULT_STORE = DATA_DIR / "store"


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
        """The record stored under ``folder``/``key``, or None."""
        f = self._file(folder, key)
        return json.loads(self.fs.cat_file(f)) if self.fs.exists(f) else None

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
