"""Registered experiment grids for ``python -m ncutils.sweep run NAME --profile P``.

``GRIDS`` maps a grid name to ``"module:function"``; the function takes a profile name and
returns a :class:`ncutils.sweep.Grid`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ncutils.sweep import Diverged, Grid, resolve_task

GRIDS: dict[str, str] = {
    "demo": "ncutils.grids:demo_grid",
    "a07_nc_vs_invariant": "ncutils.train.paper_a:sweep_grid",
    "b06_trained_fcn": "ncutils.train.fc2:balanced_grid",
    "b07_adaptive_kernel": "ncutils.adaptive:adaptive_grid",
    "b08_imbalanced": "ncutils.train.fc2:imbalanced_grid",
}


def build_grid(name: str, profile: str) -> Grid:
    """The grid ``name`` at ``profile``."""
    from ncutils.sweep import SweepError

    if name not in GRIDS:
        raise SweepError(f"unknown grid {name!r}: registered grids are {sorted(GRIDS)}")
    return resolve_task(GRIDS[name])(profile)


DEMO_KEYS = frozenset({"start", "steps", "sleep", "diverge"})


def demo_task(config: dict, workdir: Path) -> dict:
    """A small checkpointing computation (x ← (x² + 1) mod 10007 for ``steps`` steps) for the tests.

    It saves its state after every step, so a retried run resumes; ``resumed_at`` says where.
    """
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


def demo_grid(profile: str) -> Grid:
    """Four demo runs."""
    return Grid("demo", "ncutils.grids:demo_task", [{"start": s, "steps": 20} for s in range(4)], DEMO_KEYS)


def noop_task(config: dict, workdir: Path) -> dict:
    """Does nothing: measures the sweep's own overhead per task (bench/sweep_overhead.py)."""
    return {"i": config["i"]}
