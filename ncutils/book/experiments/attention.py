"""Chapter e03's grid: the ViT trained with paper A's recipe over initialisations × learning rates."""

from __future__ import annotations

from typing import Any

from ncutils.book.experiments.paper_a import sweep_part
from ncutils.paper_a.training import run_config
from ncutils.runs import Grid


def attention_block_structure(cfg: dict[str, Any], seed: int) -> list[Grid]:
    """Chapter e03: every part of the profile's ``sweep`` (each part's lrs × the three inits) as one grid."""
    return [Grid("e03_attention_block_structure", run_config,
                 [c for spec in cfg["sweep"].values() for c in sweep_part(spec, seed)])]
