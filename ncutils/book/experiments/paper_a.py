"""Paper A's grids: the block-structure run (a06), the NC-vs-invariant sweep (a07), the assumption in training (a08)."""

from __future__ import annotations

from typing import Any

from ncutils.models import INITS
from ncutils.paper_a.training import run_config
from ncutils.runs import Grid

A06_KNOBS = ("model", "data", "init", "lr", "epochs", "probe_every", "train_per_class", "test_per_class", "device")


def ntk_block_structure(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter a06: one training run with the chapter's knobs and seed."""
    return [Grid("a06_ntk_block_structure", run_config, [{**{k: cfg[k] for k in A06_KNOBS}, "seed": seed}])]


def sweep_part(spec: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """The runs of one part of the sweep: its ``lrs`` × the three initialisations, with ``seed``, or with
    the seeds seed+1 … seed+k for a part with ``more_seeds=k``; its other keys go to every run."""
    spec = dict(spec)
    lrs, more = spec.pop("lrs"), spec.pop("more_seeds", 0)
    seeds = [seed + k for k in range(1, more + 1)] if more else [seed]
    return [{**spec, "init": init, "lr": lr, "seed": s} for s in seeds for init in INITS for lr in lrs]


def nc_vs_invariant(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter a07: every part of the profile's ``sweep`` as one grid."""
    configs = [c for spec in cfg["sweep"].values() for c in sweep_part(spec, seed)]
    return [Grid("a07_nc_vs_invariant", run_config, configs)]


def cross_entropy(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter e02: every run of the profile's ``sweep`` with MSE (a07's config, unchanged) and its
    cross-entropy twin (the same config plus ``loss="cross_entropy"``)."""
    mse_runs = [c for spec in cfg["sweep"].values() for c in sweep_part(spec, seed)]
    return [Grid("e02_cross_entropy", run_config, mse_runs + [{**c, "loss": "cross_entropy"} for c in mse_runs])]


def assumption_in_training(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter a08: every part of the profile's ``runs`` as its ``lrs`` × ``weight_decays``, with ``seed``, dense
    probes and the assumption's extras (``probe_assumption``); its other keys go to every run."""
    configs = []
    for spec in cfg["runs"].values():
        spec = dict(spec)
        lrs, wds = spec.pop("lrs"), spec.pop("weight_decays")
        configs += [{**spec, "lr": lr, "weight_decay": wd, "seed": seed, "probe_assumption": True}
                    for lr in lrs for wd in wds]
    return [Grid("a08_assumption_in_training", run_config, configs)]
