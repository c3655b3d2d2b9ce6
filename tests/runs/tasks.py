"""Test-only tasks for the runner's tests (imported by the Dask workers as ``tests.runs.tasks``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ncutils.core import Diverged, task


@task(config_keys={"start", "steps", "sleep", "diverge"})
def demo_task(config: dict, workdir: Path | None) -> dict:
    """x ← (x² + 1) mod 10007 for ``steps`` steps, saving its state after every step (a retried run resumes;
    ``resumed_at`` says where); ``diverge`` raises :class:`Diverged` half-way."""
    ckpt = workdir / "state.json"
    state = json.loads(ckpt.read_text()) if ckpt.exists() else {"step": 0, "x": config["start"]}
    resumed_at = state["step"]
    while state["step"] < config["steps"]:
        state = {"step": state["step"] + 1, "x": (state["x"] ** 2 + 1) % 10007}
        tmp = ckpt.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(ckpt)
        time.sleep(config.get("sleep", 0.0))
        if config.get("diverge") and state["step"] == config["steps"] // 2:
            raise Diverged(f"demo diverged at step {state['step']}")
    return {"x": state["x"], "resumed_at": resumed_at}


def not_a_task(config: dict, workdir: Path | None) -> dict:
    """A plain function: the runner refuses it."""
    return {}
