"""Kernels: block-structured (paper A), closed-form 2-layer NNGP/NTK (paper B), empirical NTK.

``empirical_ntk`` and friends need torch; they are imported on first use so that
``from ncutils.kernels import block_kernel`` stays light.
"""

from importlib import import_module
from typing import Any

from ncutils.kernels.block import block_kernel, block_spectrum, within_class_basis

_LAZY = {
    # name -> submodule that defines it (imported on first access)
    "nngp_fc2": "ncutils.kernels.fc2",
    "ntk_fc2": "ncutils.kernels.fc2",
    "ntk_fc2_official_erf": "ncutils.kernels.fc2",
    "ntk_derivative_term_fc2": "ncutils.kernels.fc2",
    "empirical_ntk": "ncutils.kernels.empirical",
    "feature_kernel": "ncutils.kernels.empirical",
    "ntk_probe": "ncutils.kernels.empirical",
}

__all__ = ["block_kernel", "block_spectrum", "within_class_basis", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ncutils.kernels' has no attribute {name!r}")
