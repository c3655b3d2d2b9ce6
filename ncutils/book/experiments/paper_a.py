"""Paper A's grids: the block-structure run (a06), the NC-vs-invariant sweep (a07), the assumption in training
(a08) and the extensions (e01, e02)."""

from __future__ import annotations

from typing import Any

from ncutils.models import INITS
from ncutils.paper_a.ensemble import GROUP_SIZES, group_configs, run_group, stackable
from ncutils.paper_a.training import DEFAULTS, run_config
from ncutils.runs import Grid

A06_KNOBS = ("model", "data", "init", "lr", "epochs", "probe_every", "train_per_class", "test_per_class", "device")


def ntk_block_structure(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter a06: the training run of the chapter's knobs and, unless ``resnet`` is empty, the ResNet20 run of
    its settings (the paper's architecture at a scale the profile affords), each with the chapter's seed."""
    runs = [{k: cfg[k] for k in A06_KNOBS}] + ([{**cfg["resnet"], "device": cfg["device"]}] if cfg["resnet"] else [])
    return [Grid("a06_ntk_block_structure", run_config, [{**run, "seed": seed} for run in runs])]


def sweep_part(spec: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """The runs of one part of the sweep: its ``lrs`` × its ``inits`` (default: the three initialisations),
    with the seeds seed, …, seed+k−1 for a part with ``seeds=k`` (default 1); its other keys go to every run."""
    spec = dict(spec)
    lrs, k, inits = spec.pop("lrs"), spec.pop("seeds", 1), spec.pop("inits", INITS)
    return [{**spec, "init": init, "lr": lr, "seed": seed + i} for i in range(k) for init in inits for lr in lrs]


def sweep_grids(name: str, configs: list[dict[str, Any]]) -> list[Grid]:
    """``configs`` as grids: the runs that can train at once on the CPU (:func:`stackable`: a07's MLPs fifteen at a
    time, one seed's lrs × inits; its CNNs two at a time; :data:`ncutils.paper_a.ensemble.GROUP_SIZES`) in groups
    (grid ``name-groups``, task :func:`run_group`, the models in plan order, a group with fewer members than its
    model's size after the full ones), every other run alone (grid ``name``, task :func:`run_config`).

    Dask starts tasks in the order they are submitted, so the short, partly filled groups fill the workers' ends:
    a07's 9-member MLP group (~157 s) after its CNN pairs (~190 s) took the chapter's sweep from 877 to 837 s in a
    simulation with the measured run times."""
    grouped = [c for c in configs if stackable(c)]
    single = [c for c in configs if not stackable(c)]
    groups = [g for model in dict.fromkeys(c["model"] for c in grouped)
              for g in group_configs([c for c in grouped if c["model"] == model], GROUP_SIZES[model])]
    groups.sort(key=lambda g: len(g["members"]) < GROUP_SIZES[g["members"][0]["model"]])  # stable: plan order kept
    grids = [Grid(f"{name}-groups", run_group, groups)] if grouped else []
    return grids + ([Grid(name, run_config, single)] if single else [])


def nc_vs_invariant(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter a07: every part of the profile's ``sweep``."""
    return sweep_grids("a07_nc_vs_invariant", [c for spec in cfg["sweep"].values() for c in sweep_part(spec, seed)])


def cross_entropy(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter e02: every run of the profile's ``sweep`` with MSE (a07's config, unchanged) and its
    cross-entropy twin (the same config plus ``loss="cross_entropy"``)."""
    mse_runs = [c for spec in cfg["sweep"].values() for c in sweep_part(spec, seed)]
    return sweep_grids("e02_cross_entropy", mse_runs + [{**c, "loss": "cross_entropy"} for c in mse_runs])


def imbalanced_class_sizes(n_classes: int, majority: int, ratio: int) -> list[int]:
    """Train sizes of chapter e01: the first half of the classes with ``majority`` samples, the second half
    (the minority) with ``majority // ratio``."""
    if n_classes % 2 or majority % ratio:
        raise ValueError(f"need an even number of classes and a majority size divisible by the ratio, got "
                         f"C={n_classes}, majority={majority}, ratio={ratio}")
    return [majority] * (n_classes // 2) + [majority // ratio] * (n_classes // 2)


def imbalanced_training(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter e01: each part of ``training`` (:func:`sweep_part`: its lrs × its inits, the chapter's seed) on each
    imbalance ratio of the part's ``ratios`` (default: the chapter's ``training_ratios``), with ``class_sizes`` from
    :func:`imbalanced_class_sizes` (ratio 1: the balanced sizes given explicitly, so that every run goes through the
    same batches and probe). A part's ``batch_per_class`` (the majority's share of a batch) must give every ratio a
    whole minority share of at least 2, the fewest per class the probe's estimators take."""
    configs = []
    # the parts of other models first: their runs are the longest, so the MLP runs fill the workers' ends
    # (Dask starts tasks in the order they are submitted)
    for name, spec in sorted(cfg["training"].items(), key=lambda part: part[1]["model"] == "mlp"):
        spec = dict(spec)
        n_classes, ratios = spec.pop("n_classes"), spec.pop("ratios", cfg["training_ratios"])
        batch = spec.get("batch_per_class", DEFAULTS["batch_per_class"])
        if any(batch % ratio or batch // ratio < 2 for ratio in ratios):
            raise ValueError(f"training part {name!r}: batch_per_class = {batch} must be a multiple of every ratio "
                             f"{ratios} with at least 2 per minority class in a batch")
        configs += [{**c, "class_sizes": imbalanced_class_sizes(n_classes, spec["train_per_class"], ratio)}
                    for ratio in ratios for c in sweep_part(spec, seed)]
    return [Grid("e01_imbalanced_classes", run_config, configs)]


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
