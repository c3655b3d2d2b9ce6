"""Tasks of the benchmarks themselves (not of the book)."""

from __future__ import annotations

from pathlib import Path

from ncutils.core import task


@task(config_keys={"i"})
def noop_task(config: dict, workdir: Path | None) -> dict:
    """Does nothing: measures the runner's own overhead per task (bench/sweep_overhead.py)."""
    return {"i": config["i"]}
