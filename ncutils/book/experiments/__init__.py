"""The runs of the book: per chapter with a grid, one function from its settings to its grids.

``experiment(cfg, seed) -> list[Grid]`` takes the chapter's *resolved* settings (profile plus
overrides, :func:`ncutils.book.settings.resolve`) and seed. The chapter runs it through
:meth:`ncutils.book.Chapter.run`, the command line through ``python -m ncutils.book grid NAME``:
both plan the same runs, from here alone. Registered by name (imported on use, so that a chapter
depends on its own experiment's code only).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ncutils.book.settings import resolve

EXPERIMENTS: dict[str, str] = {
    "a06_ntk_block_structure": "ncutils.book.experiments.paper_a:ntk_block_structure",
    "a07_nc_vs_invariant": "ncutils.book.experiments.paper_a:nc_vs_invariant",
    "a08_assumption_in_training": "ncutils.book.experiments.paper_a:assumption_in_training",
    "e02_cross_entropy": "ncutils.book.experiments.paper_a:cross_entropy",
    "e03_attention_block_structure": "ncutils.book.experiments.attention:attention_block_structure",
    "e01_imbalanced_classes": "ncutils.book.experiments.paper_a:imbalanced_training",
    "b06_trained_fcn": "ncutils.book.experiments.paper_b:trained_fcn",
    "b07_adaptive_kernel": "ncutils.book.experiments.paper_b:adaptive_kernel",
    "b08_imbalanced": "ncutils.book.experiments.paper_b:imbalanced",
    "b10_beyond_lazy": "ncutils.book.experiments.paper_b:beyond_lazy",
    "b09_four_class_mixture": "ncutils.book.experiments.paper_b:four_class_mixture",
}

Experiment = Callable[[dict[str, Any], int], list]


def experiment_module(chapter: str) -> str:
    """The module that defines the experiment of ``chapter`` (a ValueError naming the chapters with one, if none)."""
    if chapter not in EXPERIMENTS:
        raise ValueError(f"chapter {chapter!r} runs no grid: chapters with grids are {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[chapter].partition(":")[0]


def experiment(chapter: str) -> Experiment:
    """The experiment function of ``chapter``."""
    module = experiment_module(chapter)
    return getattr(importlib.import_module(module), EXPERIMENTS[chapter].partition(":")[2])


def plan(chapter: str, profile: str, seed: int = 0, params: dict[str, Any] | None = None) -> list:
    """The grids that ``chapter`` runs at ``profile`` with ``seed`` and knob overrides ``params``."""
    return experiment(chapter)(resolve(chapter, profile, params), seed)
